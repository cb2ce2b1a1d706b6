// The complete deck schema: every module's key table, in the order sections appear in docs.
#pragma once

#include "tessera/core/keys.hpp"

#include <vector>

namespace tessera {

std::vector<const KeyTable*> all_key_tables();

} // namespace tessera
