#include "tessera/core/machine.hpp"

#include <Kokkos_Core.hpp>

#include <fstream>
#include <type_traits>
#include <unistd.h>

namespace tessera {

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0.0;
  return static_cast<double>(pages) * static_cast<double>(page_size);
}

namespace {

// The "model name" line of /proc/cpuinfo (Linux on x86 and most ARM servers); empty where there is none.
std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    if (begin != std::string::npos) return line.substr(begin);
  }
  return {};
}

} // namespace

ExecutionDevice execution_device() {
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::Cuda>) {
    const auto& prop = Kokkos::Cuda().cuda_device_prop();
    return {prop.name, static_cast<double>(prop.totalGlobalMem)};
  }
#endif
#if defined(KOKKOS_ENABLE_HIP)
  if constexpr (std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::HIP>) {
    const auto& prop = Kokkos::HIP().hip_device_prop();
    return {prop.name, static_cast<double>(prop.totalGlobalMem)};
  }
#endif
  if constexpr (!Kokkos::SpaceAccessibility<Kokkos::DefaultExecutionSpace, Kokkos::HostSpace>::accessible)
    return {std::string("a ") + Kokkos::DefaultExecutionSpace::name() + " device", 0.0};
  const std::string model = cpu_model_name();
  return {model.empty() ? "CPU (model not reported by /proc/cpuinfo)" : model, physical_memory_bytes()};
}

} // namespace tessera
