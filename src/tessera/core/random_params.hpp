// The seed of every random draw in a run (SPEC §4.3). Read from the deck's `random` section.
#pragma once

#include "tessera/core/keys.hpp"

#include <cstdint>

namespace tessera {

class Deck;

const KeyTable& random_keys();
std::uint64_t read_seed(const Deck& deck);

} // namespace tessera
