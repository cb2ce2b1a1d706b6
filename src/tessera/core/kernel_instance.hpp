// Which instance of the execution space runs a kernel of a given size. Waking a host thread pool costs about
// 5-50 us per kernel (OpenMP threads asleep under OMP_WAIT_POLICY=passive) and milliseconds when ranks x
// threads oversubscribe the cores, more than a kernel over a few hundred rows costs; the ODE solvers launch
// thousands of such kernels per step on small states (CVODES' adjoint on a 7-cell test ran 4x slower at 2
// threads than at 1). A kernel whose work (the evaluated state's cells x genes) is below kSerialKernelBelow
// therefore runs on a one-thread instance of the same space when the backend is a threaded host one; device
// backends, Serial and larger kernels get the default instance. The results are the same either way: no
// kernel's arithmetic depends on how it is split.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <type_traits>

namespace tessera {

// Work (a model evaluation's cells x genes) below which a host kernel runs on one thread.
inline constexpr std::size_t kSerialKernelBelow = 256;

namespace detail {
#if defined(KOKKOS_ENABLE_OPENMP) && KOKKOS_VERSION >= 40000
// A one-thread OpenMP instance, made on first use and released by Kokkos::finalize.
Kokkos::OpenMP one_thread_openmp();
#endif
} // namespace detail

template <class ExecutionSpace = Kokkos::DefaultExecutionSpace>
ExecutionSpace execution_for(std::size_t work) {
#if defined(KOKKOS_ENABLE_OPENMP) && KOKKOS_VERSION >= 40000
  if constexpr (std::is_same_v<ExecutionSpace, Kokkos::OpenMP>)
    if (work < kSerialKernelBelow) return detail::one_thread_openmp();
#endif
  (void)work;
  return ExecutionSpace();
}

// RangePolicy over [begin, end) on execution_for(work): `work` is what the kernel's cost grows with (a model
// evaluation's cells x genes), the same for every kernel of one evaluation.
template <class ExecutionSpace = Kokkos::DefaultExecutionSpace>
Kokkos::RangePolicy<ExecutionSpace> range_for(std::size_t begin, std::size_t end, std::size_t work) {
  return Kokkos::RangePolicy<ExecutionSpace>(execution_for<ExecutionSpace>(work), begin, end);
}

} // namespace tessera
