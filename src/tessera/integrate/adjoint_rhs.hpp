// A right-hand side that training can differentiate: forward RHS, state-VJP and parameter-VJP (the shape of
// mfem's TimeDependentAdjointOperator), what the discrete adjoint of an integrator needs (SPEC §3.3).
#pragma once

#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

// Gradients of parameters in the layout of the model's parameter values (sets x values per set).
using ParameterGradient = Kokkos::View<double**, Kokkos::LayoutRight>;

// The VJPs of a GeneRhs. Not derived from GeneRhs, so that a gene model can be both without inheriting
// GeneRhs twice; integrators take the forward and the adjoint side as two references to the same object.
class AdjointGeneRhs {
public:
  virtual ~AdjointGeneRhs() = default;

  // x_bar = lambda^T df/dx(t, x) (overwritten) and theta_bar += lambda^T df/dtheta (accumulated, so callers
  // sum over stages and time steps). x, lambda and x_bar are the n local cells x G; either output may be an
  // empty View to skip it. Collective like evaluate().
  virtual void vjp(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
                   ParameterGradient theta_bar) const = 0;

  void vjp_state(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar) const {
    vjp(t, x, lambda, x_bar, ParameterGradient());
  }
  void vjp_params(double t, ConstGeneState x, ConstGeneState lambda, ParameterGradient theta_bar) const {
    vjp(t, x, lambda, GeneState(), theta_bar);
  }
};

} // namespace tessera
