#include "tessera/integrate/cvode.hpp"

#include "tessera/parallel/mpi.hpp"

#include <cvode/cvode_ls.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <cmath>

namespace tessera {

// Everything tied to one vector layout (local length); rebuilt when the number of local cells changes.
struct CvodeIntegrator::State {
  explicit State(MPI_Comm comm) : context(comm) {}
  sundials::Context context;
  sundials::Vector y;
  sundials::CvodeMemory memory;
  sundials::LinearSolver linear;
  sundials::NonlinearSolver nonlinear;
  std::size_t rows = 0, cols = 0;
  double* data = nullptr;
  std::string last_message;
};

namespace {

// What the C callback needs for one advance() call.
struct CallbackData {
  const GeneRhs* rhs;
  std::size_t rows, cols;
  MPI_Comm comm;
  int ranks;
};

// CVODE calls this with the state as an N_Vector; the data is viewed in place as the cells x genes View.
// An exception must not cross the C library, and a failure on one rank must fail the RHS on every rank
// (CVODE's next step is collective), so the status is agreed before returning.
int cvode_rhs(realtype t, N_Vector y, N_Vector ydot, void* user_data) {
  const auto* data = static_cast<const CallbackData*>(user_data);
  int status = 0;
  try {
    Kokkos::View<const double**, Kokkos::LayoutRight, Kokkos::MemoryUnmanaged> x(N_VGetArrayPointer(y),
                                                                                 data->rows, data->cols);
    Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::MemoryUnmanaged> f(N_VGetArrayPointer(ydot),
                                                                           data->rows, data->cols);
    data->rhs->evaluate(t, x, f);
    Kokkos::fence();
  } catch (...) {
    status = -1;
  }
  if (data->ranks > 1) MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MIN, data->comm);
  return status;
}

void error_handler(int /*code*/, const char* module, const char* function, char* msg, void* data) {
  auto* text = static_cast<std::string*>(data);
  *text =
      std::string(module ? module : "CVODE") + "::" + (function ? function : "") + ": " + (msg ? msg : "");
}

} // namespace

CvodeIntegrator::CvodeIntegrator(MPI_Comm comm, const TimeParams& params) : comm_(comm), params_(params) {
  sundials::require_host_genes("time.integrator");
}

CvodeIntegrator::~CvodeIntegrator() = default;

void CvodeIntegrator::rebuild(GeneState x) {
  state_ = std::make_unique<State>(comm_);
  State& s = *state_;
  s.rows = x.extent(0);
  s.cols = x.extent(1);
  s.data = x.data();
  const auto local = static_cast<sunindextype>(s.rows * s.cols);
  const auto global = static_cast<sunindextype>(mpi::sum(comm_, static_cast<std::int64_t>(local)));
  s.y = sundials::Vector(sundials::check_ptr(
      N_VMake_Parallel(comm_, local, global, x.data(), s.context.get()), "N_VMake_Parallel"));
  const int lmm = params_.method == CvodeMethod::adams ? CV_ADAMS : CV_BDF;
  s.memory = sundials::CvodeMemory(sundials::check_ptr(CVodeCreate(lmm, s.context.get()), "CVodeCreate"));
  void* mem = s.memory.get();
  sundials::check(CVodeSetErrHandlerFn(mem, error_handler, &s.last_message), "CVodeSetErrHandlerFn");
  sundials::check(CVodeInit(mem, cvode_rhs, 0.0, s.y.get()), "CVodeInit");
  sundials::check(CVodeSStolerances(mem, params_.rtol, params_.atol), "CVodeSStolerances");
  sundials::check(CVodeSetMaxNumSteps(mem, params_.max_steps), "CVodeSetMaxNumSteps");
  if (params_.method == CvodeMethod::adams) {
    s.nonlinear = sundials::NonlinearSolver(sundials::check_ptr(
        SUNNonlinSol_FixedPoint(s.y.get(), 0, s.context.get()), "SUNNonlinSol_FixedPoint"));
    sundials::check(CVodeSetNonlinearSolver(mem, s.nonlinear.get()), "CVodeSetNonlinearSolver");
  } else {
    // Matrix-free Newton–Krylov: CVODE forms Jacobian–vector products by finite differences of the RHS.
    s.linear = sundials::LinearSolver(sundials::check_ptr(
        SUNLinSol_SPGMR(s.y.get(), SUN_PREC_NONE, 0, s.context.get()), "SUNLinSol_SPGMR"));
    sundials::check(CVodeSetLinearSolver(mem, s.linear.get(), nullptr), "CVodeSetLinearSolver");
  }
}

void CvodeIntegrator::advance(const GeneRhs& rhs, GeneState x, double t0, double t1) {
  // The vector wraps the View's memory; rebuild when the View moved or changed shape (cells divided,
  // died or migrated) on any rank — the decision must be collective since N_Vector norms are.
  const bool mine_changed =
      !state_ || state_->rows != x.extent(0) || state_->cols != x.extent(1) || state_->data != x.data();
  int changed = mine_changed ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &changed, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
  if (changed) rebuild(x);
  State& s = *state_;
  CallbackData user{&rhs, s.rows, s.cols, comm_, mpi::size(comm_)};
  void* mem = s.memory.get();
  sundials::check(CVodeSetUserData(mem, &user), "CVodeSetUserData");
  sundials::check(CVodeReInit(mem, t0, s.y.get()), "CVodeReInit");
  // A re-initialised CVODE would start again from a tiny first step and order 1; the dynamics are smooth
  // across steps (only the neighbours' weights move a little), so start from the last accepted step size.
  if (last_step_ > 0)
    sundials::check(CVodeSetInitStep(mem, std::min(last_step_, t1 - t0)), "CVodeSetInitStep");
  sundials::check(CVodeSetStopTime(mem, t1), "CVodeSetStopTime");
  realtype t = t0;
  const int flag = CVode(mem, t1, s.y.get(), &t, CV_NORMAL);
  long n = 0;
  CVodeGetNumSteps(mem, &n);
  stats_.steps += n;
  CVodeGetNumRhsEvals(mem, &n);
  stats_.rhs_evaluations += n;
  CVodeGetNumNonlinSolvIters(mem, &n);
  stats_.nonlinear_iterations += n;
  realtype h_last = 0;
  if (flag >= 0 && CVodeGetLastStep(mem, &h_last) >= 0 && h_last > 0) last_step_ = h_last;
  if (flag < 0) {
    // Locate the worst cell: the largest |local error estimate| x error weight.
    failure_ = CvodeFailure{};
    N_Vector errors = N_VClone(s.y.get());
    N_Vector weights = N_VClone(s.y.get());
    if (errors && weights && CVodeGetEstLocalErrors(mem, errors) >= 0 &&
        CVodeGetErrWeights(mem, weights) >= 0) {
      const double* e = N_VGetArrayPointer(errors);
      const double* w = N_VGetArrayPointer(weights);
      double worst = -1.0;
      for (std::size_t k = 0; k < s.rows * s.cols; ++k) {
        const double v = std::isfinite(e[k] * w[k]) ? std::fabs(e[k] * w[k]) : INFINITY;
        if (v > worst) {
          worst = v;
          failure_.worst_row = static_cast<long>(k / s.cols);
        }
      }
    }
    if (errors) N_VDestroy(errors);
    if (weights) N_VDestroy(weights);
    failure_.message = "CVODE failed at t = " + std::to_string(t) +
                       " min: " + sundials::cvode_flag_name(flag) +
                       (s.last_message.empty() ? "" : " (" + s.last_message + ")");
    throw runtime_error(failure_.message);
  }
}

} // namespace tessera
