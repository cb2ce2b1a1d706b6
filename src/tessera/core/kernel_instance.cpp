#include "tessera/core/kernel_instance.hpp"

#include <optional>

namespace tessera::detail {

#if defined(KOKKOS_ENABLE_OPENMP) && KOKKOS_VERSION >= 40000
Kokkos::OpenMP one_thread_openmp() {
  // Kernels are launched from the master thread only (MPI_THREAD_FUNNELED), so first use needs no lock. The
  // instance owns per-thread data that Kokkos::finalize must outlive: a finalize hook releases it.
  static std::optional<Kokkos::OpenMP> instance;
  if (!instance) {
    instance.emplace(1);
    Kokkos::push_finalize_hook([] { instance.reset(); });
  }
  return *instance;
}
#endif

} // namespace tessera::detail
