// The exact discrete adjoint of the `rk4` integrator (SPEC §2.3, §3.3): a forward pass that keeps the
// input of every RHS evaluation (or only x at the start of every substep), and a reverse sweep through the
// four stages of each substep with the RHS's vector-Jacobian products.
#pragma once

#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"
#include "tessera/integrate/rk4.hpp"

#include <cstddef>
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
  // With `tape` (the adjoint side of `rhs`, usually the same object) and Storage::stages, each stage
  // evaluation also records the model's activations into a slot of its own (AdjointGeneRhs's tape hooks;
  // tape->tape_bytes(n) per stage, 4 per substep, held here), so that reverse() with that adjoint runs VJPs
  // that recompute nothing (graph_ode: two of its three M x M products per node). Without it, or when the
  // model keeps no tape, forward() records nothing and the VJPs recompute. The values are the same.
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1, const AdjointGeneRhs* tape = nullptr);

  // After forward(): x_bar holds dL/dx(t1) on entry and dL/dx(t0) on return; theta_bar += dL/dtheta (an
  // empty View skips it). `rhs` and `adjoint` are the model forward() used (usually one object); each VJP
  // reads its stage's tape slot when forward() recorded one for this `adjoint`. Collective like the model's
  // VJP.
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar);

  long long substeps() const { return substeps_; }
  Storage storage() const { return storage_; }
  // Bytes of activations the last forward() recorded (0: none, the VJPs recompute).
  std::size_t tape_bytes() const;

private:
  Rk4Integrator stepper_;
  Storage storage_;
  long long substeps_ = 0;
  double t0_ = 0.0, h_ = 0.0;
  // `stages`: 4 per substep, the RHS's inputs in the order forward() evaluated them (X1 = x, X2, X3, X4);
  // `checkpoints`: x at the start of each substep.
  std::vector<GeneState> saved_;
  // The activation tape: one slot per entry of saved_ (`stages` only), filled by `taped_by_`'s evaluations
  // during forward(); null when the last forward() recorded none.
  std::vector<ActivationSlot> tape_;
  const AdjointGeneRhs* taped_by_ = nullptr;
  GeneState slope_, stage_[3], cotangent_, stage_bar_, end_bar_;
};

} // namespace tessera
