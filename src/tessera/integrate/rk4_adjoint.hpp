// The exact discrete adjoint of the `rk4` integrator (SPEC §2.3, §3.3): a forward pass that keeps x at the
// start of every substep, and a reverse sweep through the four stages of each substep, stage states
// recomputed from those checkpoints, with the RHS's vector-Jacobian products.
#pragma once

#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"
#include "tessera/integrate/rk4.hpp"

#include <vector>

namespace tessera {

class Rk4Adjoint {
public:
  explicit Rk4Adjoint(double max_substep) : stepper_(max_substep) {}

  // Advances x (n x G) from t0 to t1 exactly as Rk4Integrator::advance (the same substeps and the same
  // operations, so bit-identical results), keeping a copy of x at the start of each substep: memory
  // substeps x n x G. Collective like rhs.evaluate().
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1);

  // After forward(): x_bar holds dL/dx(t1) on entry and dL/dx(t0) on return; theta_bar += dL/dtheta (an
  // empty View skips it). `rhs` and `adjoint` are the model forward() used (usually one object). Collective
  // like the model's VJP.
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar);

  long long substeps() const { return static_cast<long long>(checkpoints_.size()); }

private:
  Rk4Integrator stepper_;
  double t0_ = 0.0, h_ = 0.0;
  std::vector<GeneState> checkpoints_; // x at the start of each substep
  GeneState slope_, stage_[3], cotangent_, stage_bar_, end_bar_;
};

} // namespace tessera
