#include "tessera/integrate/cvodes_adjoint.hpp"

#include "tessera/core/error.hpp"
#include "tessera/integrate/sundials.hpp"
#include "tessera/parallel/mpi.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_ls.h>
#include <nvector/nvector_parallel.h>
#include <nvector/nvector_serial.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace tessera {

namespace {

// The N_Vector's host data seen as a gene View, in the genes' memory space: only ever built where that space
// is host-accessible (sundials::require_host_genes refuses the others), and so typed that the models' RHS
// and VJPs take it in every build.
using HostUnmanaged =
    Kokkos::View<double**, Kokkos::LayoutRight, GeneState::memory_space, Kokkos::MemoryUnmanaged>;

HostUnmanaged host_view(N_Vector v, std::size_t rows, std::size_t cols) {
  return HostUnmanaged(N_VGetArrayPointer(v), rows, cols);
}

// What the C callbacks need. The forward RHS (CVodeF, and the recomputation between checkpoints inside
// CVodeB) and the backward ones (state VJP, quadrature) share it.
struct CallbackData {
  const GeneRhs* rhs = nullptr;
  const AdjointGeneRhs* adjoint = nullptr;
  std::size_t rows = 0, cols = 0;
  MPI_Comm comm = MPI_COMM_NULL;
  int ranks = 1;
  bool quadrature = false;     // false: the quadrature RHS returns zeros (theta_bar not asked for)
  ParameterGradient parameter; // scratch for one parameter VJP, the shape of theta_bar
  std::string error;           // the first exception a callback caught
  long rhs_evaluations = 0, state_vjps = 0, parameter_vjps = 0;
};

// An exception must not cross the C library, and a failure on one rank must fail the callback on every rank
// (the next CVODES operation is collective), so the status is agreed before returning.
template <class Body>
int collective_call(CallbackData& data, const Body& body) {
  int status = 0;
  try {
    body();
    Kokkos::fence();
  } catch (const std::exception& e) {
    if (data.error.empty()) data.error = e.what();
    status = -1;
  } catch (...) {
    if (data.error.empty()) data.error = "unknown exception";
    status = -1;
  }
  if (data.ranks > 1) MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MIN, data.comm);
  return status;
}

int forward_rhs(realtype t, N_Vector y, N_Vector ydot, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  return collective_call(data, [&] {
    ++data.rhs_evaluations;
    data.rhs->evaluate(t, host_view(y, data.rows, data.cols), host_view(ydot, data.rows, data.cols));
  });
}

// lambda' = -(df/dx)^T lambda at the interpolated forward state y(t).
int backward_rhs(realtype t, N_Vector y, N_Vector lambda, N_Vector lambda_dot, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  return collective_call(data, [&] {
    ++data.state_vjps;
    data.adjoint->vjp_state(t, host_view(y, data.rows, data.cols), host_view(lambda, data.rows, data.cols),
                            host_view(lambda_dot, data.rows, data.cols));
    N_VScale(-1.0, lambda_dot, lambda_dot); // local: no communication
  });
}

// The backward problem is linear in lambda, so its Jacobian-vector product is the backward RHS applied to v:
// exact, and no more expensive than CVODE's difference quotient (one VJP either way).
int backward_jacobian_times(N_Vector v, N_Vector jv, realtype t, N_Vector y, N_Vector /*lambda*/,
                            N_Vector /*lambda_dot*/, void* user_data, N_Vector /*tmp*/) {
  return backward_rhs(t, y, v, jv, user_data);
}

// q' = -lambda^T df/dtheta with q(t1) = 0, integrated backward: q(t0) = integral over [t0, t1] of
// lambda^T df/dtheta = dL/dtheta. The vector is this rank's partial sum (serial, not distributed).
int quadrature_rhs(realtype t, N_Vector y, N_Vector lambda, N_Vector q_dot, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  if (!data.quadrature) {
    N_VConst(0.0, q_dot);
    return 0;
  }
  return collective_call(data, [&] {
    ++data.parameter_vjps;
    Kokkos::deep_copy(data.parameter, 0.0); // vjp accumulates
    data.adjoint->vjp_params(t, host_view(y, data.rows, data.cols), host_view(lambda, data.rows, data.cols),
                             data.parameter);
    Kokkos::deep_copy(host_view(q_dot, data.parameter.extent(0), data.parameter.extent(1)), data.parameter);
    N_VScale(-1.0, q_dot, q_dot);
  });
}

void error_handler(int /*code*/, const char* module, const char* function, char* msg, void* data) {
  auto* text = static_cast<std::string*>(data);
  *text =
      std::string(module ? module : "CVODES") + "::" + (function ? function : "") + ": " + (msg ? msg : "");
}

} // namespace

// Everything tied to one vector layout (local rows x genes); rebuilt when it changes. Members are destroyed
// in reverse order: the CVODES memory (which owns the backward problem) before the solvers and vectors it
// points to, the context last.
struct CvodesAdjoint::State {
  explicit State(MPI_Comm comm) : context(comm) {}
  sundials::Context context;
  std::string last_message;
  CallbackData callbacks;
  sundials::Vector y, lambda, quadrature;
  GeneState x0; // x(t0) of the last forward(), to redo it if the backward problem must be rebuilt
  double t0 = 0.0, t1 = 0.0;
  bool has_forward = false;
  sundials::LinearSolver linear, linear_backward;
  sundials::NonlinearSolver nonlinear, nonlinear_backward;
  sundials::CvodeMemory memory;
  int which = -1;                    // the backward problem, once created
  std::size_t quadrature_length = 0; // 0: the backward problem has no quadrature
};

CvodesAdjoint::CvodesAdjoint(MPI_Comm comm, const TimeParams& params, CvodesAdjointOptions options)
    : comm_(comm), params_(params), options_(options) {
  sundials::require_host_genes("train.integrator");
  if (options_.steps_per_checkpoint < 1)
    throw runtime_error("cvodes adjoint: steps_per_checkpoint must be >= 1");
  if (!(options_.backward_tolerance_factor > 0.0))
    throw runtime_error("cvodes adjoint: backward_tolerance_factor must be > 0");
}

CvodesAdjoint::~CvodesAdjoint() = default;

void CvodesAdjoint::rebuild(std::size_t rows, std::size_t cols) {
  state_.reset(); // the old CVODES memory goes before its context
  state_ = std::make_unique<State>(comm_);
  State& s = *state_;
  s.callbacks.rows = rows;
  s.callbacks.cols = cols;
  s.callbacks.comm = comm_;
  s.callbacks.ranks = mpi::size(comm_);
  const auto local = static_cast<sunindextype>(rows * cols);
  const auto global = static_cast<sunindextype>(mpi::sum(comm_, static_cast<std::int64_t>(local)));
  SUNContext ctx = s.context.get();
  s.y = sundials::Vector(sundials::check_ptr(N_VNew_Parallel(comm_, local, global, ctx), "N_VNew_Parallel"));
  s.lambda = sundials::Vector(sundials::check_ptr(N_VClone(s.y.get()), "N_VClone"));
  N_VConst(0.0, s.y.get());
  s.x0 =
      GeneState(Kokkos::view_alloc(std::string("tessera::cvodes_adjoint::x0"), Kokkos::WithoutInitializing),
                rows, cols);

  const int lmm = params_.method == CvodeMethod::adams ? CV_ADAMS : CV_BDF;
  s.memory = sundials::CvodeMemory(sundials::check_ptr(CVodeCreate(lmm, ctx), "CVodeCreate"));
  void* mem = s.memory.get();
  // Set before CVodeCreateB, which copies the handler into the backward problem's memory.
  sundials::check(CVodeSetErrHandlerFn(mem, error_handler, &s.last_message), "CVodeSetErrHandlerFn");
  sundials::check(CVodeInit(mem, forward_rhs, 0.0, s.y.get()), "CVodeInit");
  sundials::check(CVodeSetUserData(mem, &s.callbacks), "CVodeSetUserData");
  sundials::check(CVodeSStolerances(mem, params_.rtol, params_.atol), "CVodeSStolerances");
  sundials::check(CVodeSetMaxNumSteps(mem, params_.max_steps), "CVodeSetMaxNumSteps");
  // The forward solvers of CvodeIntegrator, so that forward() takes its steps.
  if (params_.method == CvodeMethod::adams) {
    s.nonlinear = sundials::NonlinearSolver(
        sundials::check_ptr(SUNNonlinSol_FixedPoint(s.y.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    sundials::check(CVodeSetNonlinearSolver(mem, s.nonlinear.get()), "CVodeSetNonlinearSolver");
  } else {
    s.linear = sundials::LinearSolver(
        sundials::check_ptr(SUNLinSol_SPGMR(s.y.get(), SUN_PREC_NONE, 0, ctx), "SUNLinSol_SPGMR"));
    sundials::check(CVodeSetLinearSolver(mem, s.linear.get(), nullptr), "CVodeSetLinearSolver");
  }
  // Cubic Hermite interpolation between the stored steps: needs only y and dy/dt per step.
  sundials::check(CVodeAdjInit(mem, options_.steps_per_checkpoint, CV_HERMITE), "CVodeAdjInit");
}

void CvodesAdjoint::run_forward(const GeneRhs& rhs) {
  State& s = *state_;
  void* mem = s.memory.get();
  s.callbacks.rhs = &rhs;
  s.callbacks.error.clear();
  s.last_message.clear();
  Kokkos::deep_copy(host_view(s.y.get(), s.callbacks.rows, s.callbacks.cols), s.x0);
  // CVodeB's recomputation from the first checkpoint fixes the initial step to the one of that pass; 0
  // lets CVODE estimate it again, so that forward() depends on its arguments only.
  sundials::check(CVodeSetInitStep(mem, 0.0), "CVodeSetInitStep");
  sundials::check(CVodeReInit(mem, s.t0, s.y.get()), "CVodeReInit");
  sundials::check(CVodeAdjReInit(mem), "CVodeAdjReInit"); // drops the previous checkpoints
  sundials::check(CVodeSetStopTime(mem, s.t1), "CVodeSetStopTime");
  s.has_forward = false;
  realtype t = s.t0;
  int checkpoints = 0;
  const long evaluations = s.callbacks.rhs_evaluations;
  const int flag = s.t1 > s.t0 ? CVodeF(mem, s.t1, s.y.get(), &t, CV_NORMAL, &checkpoints) : CV_SUCCESS;
  stats_.rhs_evaluations += s.callbacks.rhs_evaluations - evaluations;
  if (flag < 0)
    throw runtime_error("CVODES forward (CVodeF) failed at t = " + std::to_string(t) +
                        " min: " + sundials::cvode_flag_name(flag) +
                        (s.last_message.empty() ? "" : " (" + s.last_message + ")") +
                        (s.callbacks.error.empty() ? "" : " [" + s.callbacks.error + "]"));
  long steps = 0;
  CVodeGetNumSteps(mem, &steps);
  stats_.forward_steps += steps;
  stats_.checkpoints += checkpoints;
  s.has_forward = true;
}

void CvodesAdjoint::forward(const GeneRhs& rhs, GeneState x, double t0, double t1) {
  if (t1 < t0) throw runtime_error("cvodes adjoint: forward() needs t1 >= t0");
  // The decision must be collective, since N_Vector norms are.
  const bool mine_changed =
      !state_ || state_->callbacks.rows != x.extent(0) || state_->callbacks.cols != x.extent(1);
  int changed = mine_changed ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &changed, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
  if (changed) rebuild(x.extent(0), x.extent(1));
  State& s = *state_;
  Kokkos::deep_copy(s.x0, x);
  s.t0 = t0;
  s.t1 = t1;
  run_forward(rhs);
  Kokkos::deep_copy(x, host_view(s.y.get(), s.callbacks.rows, s.callbacks.cols));
}

// Creates the backward problem (or re-initialises it) for a quadrature of `quadrature_length` values.
void CvodesAdjoint::prepare_backward(std::size_t quadrature_length) {
  State& s = *state_;
  void* mem = s.memory.get();
  SUNContext ctx = s.context.get();
  if (s.which < 0) {
    const int lmm = params_.method == CvodeMethod::adams ? CV_ADAMS : CV_BDF;
    sundials::check(CVodeCreateB(mem, lmm, &s.which), "CVodeCreateB");
    sundials::check(CVodeInitB(mem, s.which, backward_rhs, s.t1, s.lambda.get()), "CVodeInitB");
    sundials::check(CVodeSetUserDataB(mem, s.which, &s.callbacks), "CVodeSetUserDataB");
    sundials::check(CVodeSetMaxNumStepsB(mem, s.which, params_.max_steps), "CVodeSetMaxNumStepsB");
    // The backward problem is as stiff as the forward one (same Jacobian, transposed): the same method.
    if (params_.method == CvodeMethod::adams) {
      s.nonlinear_backward = sundials::NonlinearSolver(
          sundials::check_ptr(SUNNonlinSol_FixedPoint(s.lambda.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
      sundials::check(CVodeSetNonlinearSolverB(mem, s.which, s.nonlinear_backward.get()),
                      "CVodeSetNonlinearSolverB");
    } else {
      s.linear_backward = sundials::LinearSolver(
          sundials::check_ptr(SUNLinSol_SPGMR(s.lambda.get(), SUN_PREC_NONE, 0, ctx), "SUNLinSol_SPGMR"));
      sundials::check(CVodeSetLinearSolverB(mem, s.which, s.linear_backward.get(), nullptr),
                      "CVodeSetLinearSolverB");
      sundials::check(CVodeSetJacTimesB(mem, s.which, nullptr, backward_jacobian_times), "CVodeSetJacTimesB");
    }
    s.quadrature_length = quadrature_length;
    if (quadrature_length > 0) {
      s.quadrature = sundials::Vector(sundials::check_ptr(
          N_VNew_Serial(static_cast<sunindextype>(quadrature_length), ctx), "N_VNew_Serial"));
      N_VConst(0.0, s.quadrature.get());
      sundials::check(CVodeQuadInitB(mem, s.which, quadrature_rhs, s.quadrature.get()), "CVodeQuadInitB");
      // The quadrature is an integral of known values: it steers no step (and being a per-rank partial sum,
      // its norm would differ between ranks and desynchronise their steps).
      sundials::check(CVodeSetQuadErrConB(mem, s.which, SUNFALSE), "CVodeSetQuadErrConB");
    }
  } else {
    sundials::check(CVodeReInitB(mem, s.which, s.t1, s.lambda.get()), "CVodeReInitB");
    if (s.quadrature_length > 0) {
      N_VConst(0.0, s.quadrature.get());
      sundials::check(CVodeQuadReInitB(mem, s.which, s.quadrature.get()), "CVodeQuadReInitB");
    }
  }
}

void CvodesAdjoint::reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
                            ParameterGradient theta_bar) {
  if (!state_ || !state_->has_forward)
    throw runtime_error("cvodes adjoint: reverse() needs a forward() first");
  if (x_bar.extent(0) != state_->callbacks.rows || x_bar.extent(1) != state_->callbacks.cols)
    throw runtime_error("cvodes adjoint: x_bar has another shape than the forward state");
  const std::size_t wanted = theta_bar.size();
  // A quadrature of another length cannot be attached to the existing backward problem (CVODES keeps every
  // backward problem it was given, and CVodeB integrates them all): rebuild, and redo the forward pass.
  int rebuild_needed = (wanted > 0 && state_->which >= 0 && state_->quadrature_length != wanted) ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &rebuild_needed, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
  if (rebuild_needed) {
    const GeneState x0 = state_->x0;
    const double t0 = state_->t0, t1 = state_->t1;
    rebuild(x0.extent(0), x0.extent(1));
    Kokkos::deep_copy(state_->x0, x0);
    state_->t0 = t0;
    state_->t1 = t1;
    run_forward(rhs);
  }
  State& s = *state_;
  if (!(s.t1 > s.t0)) return; // an empty interval: x_bar and theta_bar stay as they are

  // Backward absolute tolerance in units of the terminal cotangent (see the header).
  double scale = 0.0;
  {
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
    for (std::size_t e = 0; e < host.size(); ++e)
      scale = std::max(scale, std::fabs(host.data()[e]));
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, &scale, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
    if (!std::isfinite(scale)) throw runtime_error("cvodes adjoint: x_bar(t1) is not finite");
    if (scale == 0.0) scale = 1.0; // lambda stays zero; any tolerance will do
  }

  Kokkos::deep_copy(host_view(s.lambda.get(), s.callbacks.rows, s.callbacks.cols), x_bar);
  prepare_backward(wanted);
  void* mem = s.memory.get();
  const double factor = options_.backward_tolerance_factor;
  sundials::check(CVodeSStolerancesB(mem, s.which, params_.rtol * factor, params_.atol * factor * scale),
                  "CVodeSStolerancesB");
  s.callbacks.rhs = &rhs;
  s.callbacks.adjoint = &adjoint;
  s.callbacks.quadrature = wanted > 0;
  if (wanted > 0 && (s.callbacks.parameter.extent(0) != theta_bar.extent(0) ||
                     s.callbacks.parameter.extent(1) != theta_bar.extent(1)))
    s.callbacks.parameter =
        ParameterGradient(Kokkos::view_alloc(std::string("tessera::cvodes_adjoint::parameter_vjp"),
                                             Kokkos::WithoutInitializing),
                          theta_bar.extent(0), theta_bar.extent(1));
  s.callbacks.error.clear();
  s.last_message.clear();

  const long evaluations = s.callbacks.rhs_evaluations, state_vjps = s.callbacks.state_vjps,
             parameter_vjps = s.callbacks.parameter_vjps;
  const int flag = CVodeB(mem, s.t0, CV_NORMAL);
  stats_.rhs_evaluations += s.callbacks.rhs_evaluations - evaluations;
  stats_.state_vjps += s.callbacks.state_vjps - state_vjps;
  stats_.parameter_vjps += s.callbacks.parameter_vjps - parameter_vjps;
  void* backward = CVodeGetAdjCVodeBmem(mem, s.which);
  long n = 0;
  if (backward && CVodeGetNumSteps(backward, &n) >= 0) stats_.backward_steps += n;
  if (backward && CVodeGetNumNonlinSolvIters(backward, &n) >= 0) stats_.backward_nonlinear_iterations += n;
  if (backward && params_.method == CvodeMethod::bdf && CVodeGetNumLinIters(backward, &n) >= 0)
    stats_.backward_linear_iterations += n;
  if (flag < 0) {
    realtype t = s.t1;
    if (backward) CVodeGetCurrentTime(backward, &t);
    throw runtime_error("CVODES backward (CVodeB) failed at t = " + std::to_string(t) +
                        " min: " + sundials::cvode_flag_name(flag) +
                        (s.last_message.empty() ? "" : " (" + s.last_message + ")") +
                        (s.callbacks.error.empty() ? "" : " [" + s.callbacks.error + "]"));
  }

  realtype t = 0.0;
  sundials::check(CVodeGetB(mem, s.which, &t, s.lambda.get()), "CVodeGetB");
  Kokkos::deep_copy(x_bar, host_view(s.lambda.get(), s.callbacks.rows, s.callbacks.cols));
  if (wanted > 0) {
    sundials::check(CVodeGetQuadB(mem, s.which, &t, s.quadrature.get()), "CVodeGetQuadB");
    const auto q = host_view(s.quadrature.get(), theta_bar.extent(0), theta_bar.extent(1));
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);
    for (std::size_t i = 0; i < host.extent(0); ++i)
      for (std::size_t j = 0; j < host.extent(1); ++j)
        host(i, j) += q(i, j);
    Kokkos::deep_copy(theta_bar, host);
  }
}

} // namespace tessera
