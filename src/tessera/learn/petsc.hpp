// The PETSc adapter: error codes become tessera::Error naming the call, and PETSc's own lifetime is an RAII
// guard. Training's TAO optimizers and (later) diffusion fields go through this header only.
#pragma once

#include "tessera/core/error.hpp"

#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

namespace tessera::petsc {

// Throws runtime_error("<call> failed: <PETSc's message>") when code is non-zero.
void check(int code, const char* call);

// "3.18.5": the version of the PETSc library linked (not of the headers compiled against).
std::string version();

// Initialises PETSc on `comm` (collective) unless it already is, and finalises it on destruction if this
// guard initialised it. PETSc's signal handler is turned off: tessera reports its own errors.
class Session {
public:
  explicit Session(MPI_Comm comm);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

private:
  bool owns_ = false;
};

// Puts `name value` (e.g. "-tao_lmvm_mat_lmvm_hist_size", "10") into PETSc's options database for this
// object's lifetime, as PETSC_OPTIONS does for a whole run: what minimize_lmvm reads when from_options is
// set. Needs a live Session.
class ScopedOption {
public:
  ScopedOption(std::string name, const std::string& value);
  ~ScopedOption();
  ScopedOption(const ScopedOption&) = delete;
  ScopedOption& operator=(const ScopedOption&) = delete;

private:
  std::string name_;
};

// TAO's limited-memory variable-metric method (TAOLMVM, L-BFGS with a More-Thuente line search) on this
// process alone (PETSC_COMM_SELF): callers whose objective is itself collective call it on every rank with
// identical inputs, and every rank then takes identical steps. With lower bounds it is TAO's
// bound-constrained variant (TAOBLMVM: projected L-BFGS, |g| then the norm of the projected gradient). Needs
// a live Session.
struct LmvmOptions {
  long long max_iterations = 100;
  double gatol = 0.0; // stop when |g| <= gatol (0: run all iterations unless the line search fails)
  double grtol = 0.0; // stop when |g| / |f| <= grtol
  // Empty: unconstrained. Else one bound per variable, x >= lower (-infinity: that variable is free); x
  // must start feasible.
  std::vector<double> lower;
  // Configure TAO through TaoSetFromOptions before the settings above (which therefore win): PETSc's own
  // set-up step. Besides reading -tao_* options (PETSC_OPTIONS), it is what gives the L-BFGS matrix's
  // diagonal initial Hessian J0 the BFGS matrix's convex ratio theta = 0.125 between the BFGS and DFP updates
  // of that diagonal (MatSetFromOptions_LMVMBFGS copies it; without the step the diagonal keeps the diagonal
  // Broyden type's theta = 0, the only one of the copied parameters whose defaults differ in PETSc 3.18).
  // Measured both ways (docs/performance.md): the recovery suite's hill fits, warm-started from the ridge,
  // reach a given fit in about a third of the iterations with it; the hill parameter-recovery fit from a
  // constant start stalls near a train loss of 1e-11 with it and goes on to 1e-17 without.
  bool from_options = true;
};
// f(x) and its gradient g (resized to x's length by the caller's function).
using ObjectiveAndGradient = std::function<double(const std::vector<double>& x, std::vector<double>& g)>;
// After each iteration (0: the starting point): the iteration, f, |g| and x. Returns true to stop there
// (TAO's reason is then CONVERGED_USER).
using LmvmMonitor =
    std::function<bool(long long iteration, double f, double gnorm, const std::vector<double>& x)>;
// Minimises f from x (updated in place). Returns TAO's converged reason (e.g. "CONVERGED_GATOL",
// "DIVERGED_MAXITS", "CONVERGED_USER"). Exceptions thrown by `f` or `monitor` are rethrown after TAO is torn
// down.
std::string minimize_lmvm(std::vector<double>& x, const LmvmOptions& options, const ObjectiveAndGradient& f,
                          const LmvmMonitor& monitor);

} // namespace tessera::petsc
