// What differs between the Kokkos versions tessera builds against: Debian's 3.4 (math functions in
// Kokkos::Experimental, no ScopedRegion) and current 4.x installs (OpenMP/CUDA/HIP).
#pragma once

#include <Kokkos_Core.hpp>

#include <string>

namespace tessera {

namespace math {
#if KOKKOS_VERSION >= 30700
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::floor;
using Kokkos::log;
using Kokkos::log1p;
using Kokkos::pow;
using Kokkos::sin;
using Kokkos::sqrt;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::floor;
using Kokkos::Experimental::log;
using Kokkos::Experimental::log1p;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::sqrt;
#endif
} // namespace math

// Names a phase for profiling tools (Kokkos Tools, nsys): push on construction, pop on destruction.
class ScopedRegion {
public:
  explicit ScopedRegion(const std::string& name) { Kokkos::Profiling::pushRegion(name); }
  ~ScopedRegion() { Kokkos::Profiling::popRegion(); }
  ScopedRegion(const ScopedRegion&) = delete;
  ScopedRegion& operator=(const ScopedRegion&) = delete;
};

} // namespace tessera
