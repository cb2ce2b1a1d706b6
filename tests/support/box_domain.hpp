// The non-cubic, off-origin box the decomposition tests share: 100 x 30 (x 20) um from (-10, 0, 5), so that
// no axis has the same extent or origin as another.
#pragma once

#include "tessera/tissue/domain.hpp"

namespace tessera::test {

inline Domain box_domain(int dim) {
  Domain d;
  d.dim = dim;
  d.lo = {-10, 0, 5};
  d.hi = {90, 30, 25};
  return d;
}

} // namespace tessera::test
