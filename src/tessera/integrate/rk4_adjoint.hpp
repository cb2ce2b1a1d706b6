// The exact discrete adjoint of the `rk4` integrator (SPEC §2.3, §3.3): a forward pass that keeps the
// input of every RHS evaluation (or only x at the start of every substep), and a reverse sweep through the
// four stages of each substep with the RHS's vector-Jacobian products.
#pragma once

#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"
#include "tessera/integrate/rk4.hpp"

#include <vector>

namespace tessera {

class Rk4Adjoint {
public:
  // What forward() keeps for the reverse sweep. `stages`: the four stage states of every substep (memory
  // 4 x substeps x n x G), so the reverse sweep runs the four VJPs only. `checkpoints`: x at the start of
  // each substep (substeps x n x G), the reverse sweep recomputing the other three stage states with three
  // RHS evaluations per substep: for intervals of many substeps where four copies would not fit.
  enum class Storage { stages, checkpoints };

  explicit Rk4Adjoint(double max_substep, Storage storage = Storage::stages)
      : stepper_(max_substep), storage_(storage) {}

  // Advances x (n x G) from t0 to t1 exactly as Rk4Integrator::advance (it is that function, with the
  // states it evaluates the RHS at copied aside: bit-identical results). Collective like rhs.evaluate().
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1);

  // After forward(): x_bar holds dL/dx(t1) on entry and dL/dx(t0) on return; theta_bar += dL/dtheta (an
  // empty View skips it). `rhs` and `adjoint` are the model forward() used (usually one object). Collective
  // like the model's VJP.
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar);

  long long substeps() const { return substeps_; }
  Storage storage() const { return storage_; }

private:
  Rk4Integrator stepper_;
  Storage storage_;
  long long substeps_ = 0;
  double t0_ = 0.0, h_ = 0.0;
  // `stages`: 4 per substep, the RHS's inputs in the order forward() evaluated them (X1 = x, X2, X3, X4);
  // `checkpoints`: x at the start of each substep.
  std::vector<GeneState> saved_;
  GeneState slope_, stage_[3], cotangent_, stage_bar_, end_bar_;
};

} // namespace tessera
