#include "tessera/learn/petsc.hpp"

#include <petscsys.h>
#include <petsctao.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <utility>

namespace tessera::petsc {

void check(int code, const char* call) {
  if (code == 0) return;
  const char* text = nullptr;
  char* specific = nullptr;
  PetscErrorMessage(static_cast<PetscErrorCode>(code), &text, &specific);
  std::string message =
      std::string(call) + " failed: " + (text ? text : "PETSc error " + std::to_string(code));
  if (specific && std::strlen(specific) > 0) message += " (" + std::string(specific) + ")";
  throw runtime_error(message);
}

std::string version() {
  char text[256] = {0};
  check(PetscGetVersion(text, sizeof text), "PetscGetVersion");
  // "Petsc Release Version 3.18.5, Feb 27, 2023 " -> "3.18.5"
  std::string s = text;
  const std::string marker = "Version ";
  const auto at = s.find(marker);
  if (at != std::string::npos) s = s.substr(at + marker.size());
  if (const auto comma = s.find(','); comma != std::string::npos) s.resize(comma);
  return s;
}

Session::Session(MPI_Comm comm) {
  PetscBool initialized = PETSC_FALSE;
  check(PetscInitialized(&initialized), "PetscInitialized");
  if (initialized) return;
  PETSC_COMM_WORLD = comm;
  check(PetscInitializeNoArguments(), "PetscInitializeNoArguments");
  check(PetscPopSignalHandler(), "PetscPopSignalHandler");
  owns_ = true;
}

Session::~Session() {
  if (owns_) PetscFinalize();
}

ScopedOption::ScopedOption(std::string name, const std::string& value) : name_(std::move(name)) {
  check(PetscOptionsSetValue(nullptr, name_.c_str(), value.c_str()), "PetscOptionsSetValue");
}

ScopedOption::~ScopedOption() {
  PetscOptionsClearValue(nullptr, name_.c_str());
}

namespace {

// RAII for the two PETSc objects TAO needs.
struct VecHandle {
  Vec v = nullptr;
  ~VecHandle() {
    if (v) VecDestroy(&v);
  }
};
struct TaoHandle {
  Tao tao = nullptr;
  ~TaoHandle() {
    if (tao) TaoDestroy(&tao);
  }
};

struct LmvmContext {
  const ObjectiveAndGradient* f;
  const LmvmMonitor* monitor;
  std::vector<double> x, g;
  std::exception_ptr error;
  bool stop = false; // the monitor asked to stop
};

void copy_out(Vec v, std::vector<double>& out) {
  const PetscScalar* a = nullptr;
  check(VecGetArrayRead(v, &a), "VecGetArrayRead");
  std::copy(a, a + out.size(), out.begin());
  check(VecRestoreArrayRead(v, &a), "VecRestoreArrayRead");
}

PetscErrorCode objective_and_gradient(Tao, Vec x, PetscReal* f, Vec g, void* raw) {
  auto* c = static_cast<LmvmContext*>(raw);
  try {
    copy_out(x, c->x);
    c->g.assign(c->x.size(), 0.0);
    *f = (*c->f)(c->x, c->g);
    PetscScalar* a = nullptr;
    check(VecGetArray(g, &a), "VecGetArray");
    std::copy(c->g.begin(), c->g.end(), a);
    check(VecRestoreArray(g, &a), "VecRestoreArray");
  } catch (...) {
    c->error = std::current_exception();
    return PETSC_ERR_USER;
  }
  return 0;
}

PetscErrorCode monitor(Tao tao, void* raw) {
  auto* c = static_cast<LmvmContext*>(raw);
  try {
    PetscInt its = 0;
    PetscReal f = 0, gnorm = 0, cnorm = 0, xdiff = 0;
    TaoConvergedReason reason;
    check(TaoGetSolutionStatus(tao, &its, &f, &gnorm, &cnorm, &xdiff, &reason), "TaoGetSolutionStatus");
    Vec x = nullptr;
    check(TaoGetSolution(tao, &x), "TaoGetSolution");
    copy_out(x, c->x);
    if (*c->monitor) c->stop = (*c->monitor)(static_cast<long long>(its), f, gnorm, c->x);
  } catch (...) {
    c->error = std::current_exception();
    return PETSC_ERR_USER;
  }
  return 0;
}

// TAO's own tests (gatol, grtol, iterations), then the monitor's verdict: TAO calls this right after the
// monitor at each iteration.
PetscErrorCode convergence_test(Tao tao, void* raw) {
  const PetscErrorCode rc = TaoDefaultConvergenceTest(tao, nullptr);
  if (rc != 0) return rc;
  TaoConvergedReason reason;
  if (TaoGetConvergedReason(tao, &reason) != 0) return PETSC_ERR_LIB;
  if (static_cast<LmvmContext*>(raw)->stop && reason == TAO_CONTINUE_ITERATING)
    return TaoSetConvergedReason(tao, TAO_CONVERGED_USER);
  return 0;
}

} // namespace

std::string minimize_lmvm(std::vector<double>& x, const LmvmOptions& options, const ObjectiveAndGradient& f,
                          const LmvmMonitor& monitor_fn) {
  LmvmContext context{&f, &monitor_fn, x, {}, nullptr, false};
  VecHandle solution;
  TaoHandle tao;
  const auto n = static_cast<PetscInt>(x.size());
  check(VecCreateSeq(PETSC_COMM_SELF, n, &solution.v), "VecCreateSeq");
  {
    PetscScalar* a = nullptr;
    check(VecGetArray(solution.v, &a), "VecGetArray");
    std::copy(x.begin(), x.end(), a);
    check(VecRestoreArray(solution.v, &a), "VecRestoreArray");
  }
  check(TaoCreate(PETSC_COMM_SELF, &tao.tao), "TaoCreate");
  check(TaoSetType(tao.tao, options.lower.empty() ? TAOLMVM : TAOBLMVM), "TaoSetType");
  if (options.from_options) check(TaoSetFromOptions(tao.tao), "TaoSetFromOptions");
  check(TaoSetSolution(tao.tao, solution.v), "TaoSetSolution");
  VecHandle lower, upper;
  if (!options.lower.empty()) {
    if (options.lower.size() != x.size())
      throw runtime_error("minimize_lmvm: " + std::to_string(options.lower.size()) + " lower bounds for " +
                          std::to_string(x.size()) + " variables");
    check(VecDuplicate(solution.v, &lower.v), "VecDuplicate");
    check(VecDuplicate(solution.v, &upper.v), "VecDuplicate");
    PetscScalar* a = nullptr;
    check(VecGetArray(lower.v, &a), "VecGetArray");
    for (std::size_t i = 0; i < x.size(); ++i)
      a[i] = std::isfinite(options.lower[i]) ? options.lower[i] : PETSC_NINFINITY;
    check(VecRestoreArray(lower.v, &a), "VecRestoreArray");
    check(VecSet(upper.v, PETSC_INFINITY), "VecSet");
    check(TaoSetVariableBounds(tao.tao, lower.v, upper.v), "TaoSetVariableBounds");
  }
  check(TaoSetObjectiveAndGradient(tao.tao, nullptr, objective_and_gradient, &context),
        "TaoSetObjectiveAndGradient");
  check(TaoSetMaximumIterations(tao.tao, static_cast<PetscInt>(options.max_iterations)),
        "TaoSetMaximumIterations");
  // The iteration budget is the user's; function evaluations are bounded by the line search's own limits.
  check(TaoSetMaximumFunctionEvaluations(tao.tao, PETSC_DEFAULT), "TaoSetMaximumFunctionEvaluations");
  check(TaoSetTolerances(tao.tao, options.gatol, options.grtol, 0.0), "TaoSetTolerances");
  check(TaoSetMonitor(tao.tao, monitor, &context, nullptr), "TaoSetMonitor");
  check(TaoSetConvergenceTest(tao.tao, convergence_test, &context), "TaoSetConvergenceTest");
  const PetscErrorCode rc = TaoSolve(tao.tao);
  if (context.error) std::rethrow_exception(context.error);
  check(rc, "TaoSolve");
  copy_out(solution.v, x);
  TaoConvergedReason reason;
  check(TaoGetConvergedReason(tao.tao, &reason), "TaoGetConvergedReason");
  return TaoConvergedReasons[reason];
}

} // namespace tessera::petsc
