// What tessera asks of the machine it runs on: the physical memory a deck's estimate is held against, so a
// deck that cannot fit is refused before anything is allocated, and the processor the kernels run on, which
// `tessera info` names.
#pragma once

#include <string>

namespace tessera {

// Bytes of physical memory of this node (sysconf); 0 when the system does not say.
double physical_memory_bytes();

// The processor Kokkos' default execution space runs on and the memory it can allocate: for a GPU backend
// the device Kokkos selected (its name and global memory, from the runtime's device properties); for a host
// backend (Serial, OpenMP, Threads) the CPU model and the node's physical memory.
struct ExecutionDevice {
  std::string name;
  double memory_bytes = 0.0; // 0 when unknown
};
ExecutionDevice execution_device();

} // namespace tessera
