// Build identity of tessera: version and git hash, stored in every output's provenance.
#pragma once

#include <string>

namespace tessera {

std::string version();  // "0.1.0"
std::string git_hash(); // `git describe --always --dirty` at configure time, or "unknown"

} // namespace tessera
