// What tessera asks of the machine it runs on: the physical memory a deck's estimate is held against, so a
// deck that cannot fit is refused before anything is allocated.
#pragma once

namespace tessera {

// Bytes of physical memory of this node (sysconf); 0 when the system does not say.
double physical_memory_bytes();

} // namespace tessera
