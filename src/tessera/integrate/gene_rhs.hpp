// The interface between gene models and time integrators: the right-hand side dx/dt = f(t, x) over every
// local cell's genes at once (one kernel launch per evaluation, never one call per cell).
#pragma once

#include <Kokkos_Core.hpp>

namespace tessera {

using GeneState = Kokkos::View<double**, Kokkos::LayoutRight>; // cells x genes
using ConstGeneState = Kokkos::View<const double**, Kokkos::LayoutRight>;

class GeneRhs {
public:
  virtual ~GeneRhs() = default;
  // dxdt = f(t, x) for the n local cells (x and dxdt are n x G). Collective on the model's communicator when
  // the model couples cells across ranks.
  virtual void evaluate(double t, ConstGeneState x, GeneState dxdt) const = 0;
};

} // namespace tessera
