// SUNDIALS CVODE for the gene ODEs (SPEC §2.3, `cvode`): one MPI N_Vector whose local data is the owned
// cells' gene View, BDF with matrix-free Newton–GMRES or Adams with fixed-point iteration.
#pragma once

#include "tessera/integrate/gene_rhs.hpp"
#include "tessera/integrate/sundials.hpp"
#include "tessera/integrate/time_params.hpp"

#include <memory>

namespace tessera {

struct CvodeStats {
  long steps = 0;
  long rhs_evaluations = 0;
  long nonlinear_iterations = 0;
};

// What went wrong in a failed advance: the message and the local cell (row) with the largest weighted
// local error estimate, so the caller can name it.
struct CvodeFailure {
  std::string message;
  long worst_row = -1;
};

class CvodeIntegrator {
public:
  // Collective on comm.
  CvodeIntegrator(MPI_Comm comm, const TimeParams& params);
  ~CvodeIntegrator();

  // Collective. Advances x (n x G, n may differ between ranks and between calls) from t0 to t1. Neighbours
  // are frozen over the interval, so the integrator restarts (CVodeReInit) at every call. Throws
  // runtime_error on solver failure; `failure()` then tells the worst local row.
  void advance(const GeneRhs& rhs, GeneState x, double t0, double t1);

  // The first internal step of the next advance(): the last accepted one (0 before any). A checkpoint keeps
  // it, so a restarted run integrates its next step exactly as the uninterrupted run does.
  double initial_step() const { return last_step_; }
  void set_initial_step(double h) { last_step_ = h; }

  const CvodeStats& stats() const { return stats_; }
  const CvodeFailure& failure() const { return failure_; }

private:
  struct State;
  void rebuild(GeneState x);

  MPI_Comm comm_;
  TimeParams params_;
  std::unique_ptr<State> state_;
  CvodeStats stats_;
  CvodeFailure failure_;
  double last_step_ = 0; // last accepted internal step, the first step of the next advance()
};

} // namespace tessera
