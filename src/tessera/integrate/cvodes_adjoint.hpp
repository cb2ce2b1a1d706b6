// The CVODES adjoint of the `cvode` integrator (SPEC §2.3, §3.3): CVodeF with checkpoints on the forward
// pass, then CVodeB on lambda' = -(df/dx)^T lambda with dL/dtheta as a quadrature excluded from error
// control.
#pragma once

#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"
#include "tessera/integrate/time_params.hpp"

#include <mpi.h>

#include <memory>

namespace tessera {

struct CvodesAdjointOptions {
  // CVODES steps between checkpoints. The reverse pass recomputes the forward solution one checkpoint
  // interval at a time and keeps y and dy/dt at every step of one interval (cubic Hermite interpolation):
  // memory 2 x (steps_per_checkpoint + 1) state vectors, plus one Nordsieck history per checkpoint.
  long steps_per_checkpoint = 50;
  // The backward problem's tolerances are rtol x factor and atol x factor x max|x_bar(t1)| (see reverse()).
  // On graph_ode the adjoint's RHS -(df/dx)^T lambda jumps wherever a ReLU / LeakyReLU unit switches along
  // the trajectory, so the backward pass takes several times the forward's steps at the same tolerance; a
  // factor above 1 trades gradient accuracy (about rtol x factor) for fewer steps.
  double backward_tolerance_factor = 1.0;
};

// Cumulative counts over every forward() and reverse() of this object.
struct CvodesAdjointStats {
  long forward_steps = 0; // CVodeF's steps (the first forward pass only)
  long checkpoints = 0;
  long backward_steps = 0;
  long backward_nonlinear_iterations = 0;
  long backward_linear_iterations = 0; // GMRES iterations (BDF only)
  long rhs_evaluations = 0;            // forward RHS: CVodeF's and the recomputation inside reverse()
  long state_vjps = 0;     // backward RHS and exact Jacobian-vector products of the backward problem
  long parameter_vjps = 0; // quadrature RHS
};

class CvodesAdjoint {
public:
  // Collective on comm. The method, rtol, atol and max_steps of `params` apply to both passes (see
  // reverse()).
  CvodesAdjoint(MPI_Comm comm, const TimeParams& params, CvodesAdjointOptions options = {});
  ~CvodesAdjoint();
  CvodesAdjoint(const CvodesAdjoint&) = delete;
  CvodesAdjoint& operator=(const CvodesAdjoint&) = delete;

  // Collective. Advances x (n x G; n may differ between ranks and between calls) from t0 to t1 exactly as
  // CvodeIntegrator::advance from a fresh start (same method, tolerances and solvers), storing checkpoints.
  // x holds x(t1) on return. Every call starts from CVODE's own first step, so the result depends on the
  // arguments only. Throws runtime_error on solver failure.
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1);

  // Collective. After forward(): x_bar holds dL/dx(t1) on entry and dL/dx(t0) on return; theta_bar +=
  // dL/dtheta = integral over [t0, t1] of lambda^T df/dtheta, this rank's cells only (sum over ranks for the
  // whole tissue; an empty View skips the quadrature). `rhs` must be the model forward() used (the forward
  // solution is recomputed between checkpoints); `adjoint` is its VJP (usually the same object).
  // Backward tolerances: rtol as the forward's; atol = atol x max|x_bar(t1)| (over all ranks), because
  // lambda is linear in x_bar(t1) and so the gradient's relative accuracy does not depend on how the loss is
  // scaled (both times options.backward_tolerance_factor, 1 by default). Throws runtime_error on solver
  // failure. theta_bar must be empty on every rank or on none.
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar);

  const CvodesAdjointStats& stats() const { return stats_; }

private:
  struct State;
  void rebuild(std::size_t rows, std::size_t cols);
  void run_forward(const GeneRhs& rhs);
  void prepare_backward(std::size_t quadrature_length);

  MPI_Comm comm_;
  TimeParams params_;
  CvodesAdjointOptions options_;
  std::unique_ptr<State> state_;
  CvodesAdjointStats stats_;
};

} // namespace tessera
