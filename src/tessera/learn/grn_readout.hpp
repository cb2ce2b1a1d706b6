// The learned GRN read-out of a trained model of any family (SPEC §2.2, §2.4, §3.5): per cell type and
// candidate edge j -> k the model's signed edge parameter (hill K, sigmoid W) when its family has one, the
// mean head-averaged attention when it has attention (graph_ode), and always the mean |df_k/dx_j| and mean
// df_k/dx_j; per (sender type, receiver type, ligand, receptor) the same for the intercellular edges; and
// the files grn_<type>.tsv and lr_scores.tsv that `tessera train` writes.
#pragma once

#include "tessera/grn/trainable_model.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/trainer.hpp"

#include <mpi.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace tessera {

// One intracellular edge source -> target (gene indices; the self loop is k -> k) of one cell type.
struct LearnedEdge {
  int source = 0;
  int target = 0;
  double weight = NAN;          // the model's signed parameter of the edge (NaN: its family has none)
  double attention = NAN;       // mean over the type's cells and the time points of the head-averaged alpha
  double jacobian = 0.0;        // mean |df_target / dx_source| over the same cells and times
  double jacobian_signed = 0.0; // mean df_target / dx_source: the edge's sign as the model sees it
  // mean |df_target / du_source| * sd(u_source) / sd(dx_target/dt) over the type's cells at the read-out
  // times (finite differences of consecutive ones), u the coordinate the model reads the regulator in
  // (TrainableGeneModel::regulator_coordinate: x itself, so jacobian * sd(x_source) / ..., except for
  // sigmoid's log inputs, u = log(x + epsilon)): the standardisation of the ridge baseline's coefficients in
  // the model's own regressors, so that edges into targets of different scales compare, and a log-input
  // regulator near 0, where du/dx is large, is not ranked by its steep local slope. NaN where an sd is 0.
  double effect = NAN;
};

// The intercellular edges from cells of one type to cells of another through one LR pair.
struct LearnedLrScore {
  int sender_type = 0;
  int receiver_type = 0;
  int ligand = 0;
  int receptor = 0;
  double weight = NAN;    // the model's signed parameter of the pair in receiver cells (NaN: none)
  double attention = NAN; // mean alpha over those edges (every receiver cell, time point and sender)
  long long edges = 0;    // how many edges the mean is over (summed over the time points)
};

struct LearnedGrn {
  bool has_weight = false;    // the family has signed edge parameters (weight columns)
  bool has_attention = false; // the family has attention (attention columns)
  // Per cell type (dataset order): the candidate edges (with attention: those seen in at least one cell of
  // the type), sorted by attention descending when the family has attention, else by effect descending;
  // then jacobian descending, then source and target index.
  std::vector<std::vector<LearnedEdge>> edges;
  // Sorted by sender type, receiver type, ligand, receptor; only combinations with at least one edge.
  std::vector<LearnedLrScore> lr;
};

// The training time indices [0, n_train) of split_times(n_times, val_fraction).
std::vector<int> readout_time_indices(std::size_t n_times, double val_fraction);

// Scores over the tissues that objective.visit_tissue() builds at the time indices `times`. The Jacobian
// comes from G VJPs per time point (lambda = e_k in every cell gives x_bar(i, j) = df_ik/dx_ij) of the cells'
// own terms (TrainableGeneModel::set_intracellular_vjp): for a family that cannot leave out the
// intercellular path (graph_ode), the entry of a pair (ligand l, receptor k) also holds the neighbours'
// df_nk/dx_il. Sums and counts are reduced over the objective's communicator: every rank gets the same
// result. Collective.
LearnedGrn learned_grn(const TrajectoryObjective& objective, TrainableGeneModel& model,
                       const std::vector<int>& times);

// Writes grn_<type>.tsv for every type (the edges j != k, ranked as in LearnedGrn: self loops are no
// candidate edges, so they are left out; columns source, target, then weight and sign when the family has
// weights, attention when it has attention, then jacobian and jacobian_signed, then effect when it has no
// attention) and lr_scores.tsv (sender
// and receiver type, ligand, receptor, weight / attention as the family has them, edges) into `directory`
// (serial: call on one rank).
// Returns the paths written.
std::vector<std::string> write_learned_grn(const std::string& directory, const LearnedGrn& grn,
                                           const TrajectoryDataset& dataset);

} // namespace tessera
