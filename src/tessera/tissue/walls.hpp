// Domain boundaries inside kernels (SPEC §1.2): reflecting axes mirror a position back inside, periodic
// axes wrap it.
#pragma once

#include "tessera/tissue/domain.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

struct Walls {
  double lo[3] = {0, 0, 0};
  double hi[3] = {0, 0, 0};
  int periodic[3] = {0, 0, 0};
  int dim = 2;

  explicit Walls(const Domain& d) : dim(d.dim) {
    for (int a = 0; a < 3; ++a) {
      lo[a] = d.lo[a];
      hi[a] = d.hi[a];
      periodic[a] = d.periodic[a] ? 1 : 0;
    }
  }

  KOKKOS_INLINE_FUNCTION void apply(double p[3]) const {
    for (int a = 0; a < dim; ++a) {
      const double length = hi[a] - lo[a];
      if (periodic[a]) {
        // Wrap into [lo, hi); a displacement is far below one period, so one correction is exact enough,
        // and the loop guards the rare case of several.
        while (p[a] < lo[a])
          p[a] += length;
        while (p[a] >= hi[a])
          p[a] -= length;
      } else {
        if (p[a] < lo[a]) p[a] = 2 * lo[a] - p[a];
        if (p[a] > hi[a]) p[a] = 2 * hi[a] - p[a];
        // Beyond twice the box: clamp rather than bounce forever.
        if (p[a] < lo[a]) p[a] = lo[a];
        if (p[a] > hi[a]) p[a] = hi[a];
      }
    }
  }
};

} // namespace tessera
