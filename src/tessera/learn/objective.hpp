// The training objective of SPEC §3.2 over a trajectory dataset and its exact gradient (SPEC §3.3): windows
// of observation times integrated from an observed state, the mean squared error at every observation time
// they reach, the adjoint sweep back through them (rk4 discrete adjoint or CVODES), the reverse halo and the
// allreduce; windows shared out over data-parallel groups (SPEC §3.4).
#pragma once

#include "tessera/grn/signaling.hpp"
#include "tessera/grn/trainable_model.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/integrate/time_params.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/domain.hpp"

#include <mpi.h>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace tessera {

// Integrate from the observed state at time index `start` through `end` (> start), scoring the prediction
// at every observation time start + 1 .. end: one_step windows are (k, k + 1), `window` mode (k, k + h),
// `full` mode (0, last training time).
struct ObservationWindow {
  int start = 0, end = 1;
};

// How the objective integrates between observation times.
struct ObjectiveOptions {
  double dt = 0.1;             // rk4 step (at most; every interval is split into equal substeps)
  bool use_cvode = false;      // CVODES adjoint instead of the rk4 discrete adjoint
  TimeParams cvode;            // tolerances and method when use_cvode
  CvodesAdjointOptions cvodes; // checkpointing and backward tolerances when use_cvode
  int groups = 1;              // data-parallel groups (MPI_Comm_split); must divide the number of ranks
  // rk4 keeps the four stage states of every substep of a window (no RHS in the reverse sweep) while they
  // fit in this many bytes per rank; beyond, one state per substep and the stages recomputed (3 more RHS
  // evaluations per substep), so `full` and long windows on large tissues still fit. With the stage states
  // it also keeps the model's activation tape (graph_ode: 4 x substeps x n x G x (L-2) x M doubles, so the
  // VJPs recompute no hidden layer) while states and tape together fit; else the VJPs recompute them.
  double stage_memory_bytes = 1024.0 * 1024.0 * 1024.0;
};

// L = 1 / (sum_w (end_w - start_w) N G) sum_w sum_{j = start_w + 1}^{end_w} sum_{cells, genes}
//     (x_pred(t_j; x_obs(t_{start_w})) - x_obs(t_j))^2.
// Each window builds the tissue at t_start from the dataset: the ranks of its group keep the cells whose
// position at t_start lies in their box; ghosts, neighbour list and signalling graph stay frozen over the
// window (exact for static positions; with per-time positions the graph of t_start is used). Window i of a
// call goes to group i mod groups; the loss and gradient are summed over all ranks, so every rank gets the
// same. Collective on `world`.
struct Rk4AdjointPool; // objective.cpp

class TrajectoryObjective {
public:
  // Throws input_error when a position lies outside the domain, the groups do not divide the ranks, or a
  // group's rank boxes are narrower than signaling.range (agreed across ranks). `dataset` must outlive the
  // objective.
  TrajectoryObjective(MPI_Comm world, const Domain& domain, std::array<int, 3> rank_grid,
                      SignalingParams signaling, const TrajectoryDataset& dataset, ObjectiveOptions options);
  // One group, rk4 with step dt.
  TrajectoryObjective(MPI_Comm world, const Domain& domain, std::array<int, 3> rank_grid,
                      SignalingParams signaling, const TrajectoryDataset& dataset, double dt);
  ~TrajectoryObjective();

  // The loss over `windows` (repeats allowed); when `gradient` is not empty it is overwritten with
  // dL/dtheta (sets x values per set), the same on every rank.
  double evaluate(TrainableGeneModel& model, const std::vector<ObservationWindow>& windows,
                  ParameterGradient gradient) const;
  // One-step windows (k, k + 1) for each k in `starts`.
  double evaluate(TrainableGeneModel& model, const std::vector<int>& starts,
                  ParameterGradient gradient) const;

  // The prediction from the observed state at t_start through t_end, without gradient: on return
  // `predicted` holds (end - start) x N x G values (dataset cell order) for times start + 1 .. end on every
  // rank. Collective on `world`; every group computes it (the cost of one window).
  void predict(TrainableGeneModel& model, ObservationWindow window, std::vector<double>& predicted) const;

  // The tissue at time index k as evaluate() builds it on this rank's group: this rank's cells (dataset rows
  // `rows`, in dataset order; ghosts after them), the model's cell types and signalling set, x = the
  // observed state at t_k; then `visit(cells, x, rows)`, after which the model's signalling is unset. Any
  // gene model will do: the ridge baseline passes one that only keeps the signalling graph and exchange.
  // Collective on the group's communicator.
  void visit_tissue(CellGeneModel& model, int k,
                    const std::function<void(const Cells<>& cells, GeneState x,
                                             const std::vector<std::size_t>& rows)>& visit) const;

  std::size_t owned_cells(int start) const; // this rank's cells at time index `start` (in its group)
  MPI_Comm world() const { return world_; }
  MPI_Comm group_comm() const { return group_.get(); }
  int group() const { return group_index_; }
  int groups() const { return options_.groups; }
  const CartesianDecomposition& decomposition() const { return *decomposition_; }
  const TrajectoryDataset& dataset() const { return *dataset_; }
  const ObjectiveOptions& options() const { return options_; }

private:
  MPI_Comm world_;
  mpi::Communicator group_;
  int group_index_ = 0;
  Domain domain_;
  SignalingParams signaling_;
  const TrajectoryDataset* dataset_;
  ObjectiveOptions options_;
  std::unique_ptr<CartesianDecomposition> decomposition_;
  // The rk4 adjoints of earlier windows, reused by the next ones: their stage states and activation tape
  // keep their memory, which fresh ones would allocate and first-touch again (tens of MB per window: page
  // faults cost as much as a tenth of the window's arithmetic). evaluate() was never thread-safe.
  mutable std::unique_ptr<Rk4AdjointPool> rk4_pool_;
};

} // namespace tessera
