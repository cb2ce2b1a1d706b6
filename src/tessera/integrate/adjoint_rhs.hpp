// A right-hand side that training can differentiate: forward RHS, state-VJP and parameter-VJP (the shape of
// mfem's TimeDependentAdjointOperator), what the discrete adjoint of an integrator needs (SPEC §3.3).
#pragma once

#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace tessera {

// Gradients of parameters in the layout of the model's parameter values (sets x values per set).
using ParameterGradient = Kokkos::View<double**, Kokkos::LayoutRight>;

// One forward evaluation's activations kept for the VJP at the same stage (see AdjointGeneRhs's tape
// hooks); its layout is the model's.
using ActivationSlot = Kokkos::View<double*>;

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

  // ---- Activation tape (optional; the defaults keep none). A model whose VJP would recompute costly
  // intermediate values of its forward (graph_ode: the hidden layers' products) may instead keep them from
  // a forward evaluation and read them back in the VJP at the same state. The integrator owns the slots
  // (one per stage evaluation it will differentiate; Rk4Adjoint in Storage::stages mode) and tells the model
  // which slot the next evaluate() fills and which slot the next vjp() reads, so several solves can hold
  // tapes at once and a model used elsewhere (simulation, prediction, CVODES) never pays for one. The slot's
  // layout is the model's; the model sizes it when recording. Both the forward and the VJP must see the same
  // parameters, cells and cell types as when the slot was recorded (as for stored stage states).

  // Bytes one recorded evaluation of n_cells cells takes (0: the model keeps no tape, and callers skip the
  // hooks below).
  virtual std::size_t tape_bytes(std::size_t /*n_cells*/) const { return 0; }
  // While `slot` is not null, every evaluate() overwrites it with that evaluation's activations; null
  // stops recording. The caller keeps the slot alive meanwhile.
  virtual void record_activations(ActivationSlot* /*slot*/) const {}
  // While `slot` is not null, vjp() reads the activations from it instead of recomputing them; it must hold
  // what a recording evaluate() at the same x left. Null goes back to recomputing.
  virtual void replay_activations(const ActivationSlot* /*slot*/) const {}

  void vjp_state(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar) const {
    vjp(t, x, lambda, x_bar, ParameterGradient());
  }
  void vjp_params(double t, ConstGeneState x, ConstGeneState lambda, ParameterGradient theta_bar) const {
    vjp(t, x, lambda, GeneState(), theta_bar);
  }
};

} // namespace tessera
