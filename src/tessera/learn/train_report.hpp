// What `tessera train` reports when it is done (SPEC §3.5): the learned network and the one-step
// predictions of the model beside the baselines fitted on the same data and candidate edges (ridge,
// relaxation, no change) and beside a random order, in metrics.json and the closing table.
#pragma once

#include "tessera/grn/signaling.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/grn_readout.hpp"
#include "tessera/learn/metrics.hpp"
#include "tessera/learn/ridge_baseline.hpp"

#include <string>
#include <vector>

namespace tessera {

// The metrics of the model's read-out `grn` and of the ridge baseline, both over the model's candidate
// edges candidates[c][k] (regulators j != k of gene k in type c): for each cell type with a truth (its own
// name, else "*") whose candidates hold true and false edges, the model's ranking (|weight| and its sign
// when the family has signed edge parameters; else attention, signs from the mean signed Jacobian), the
// |Jacobian| ranking (signs: the mean signed Jacobian) and the ridge ranking (|standardised coefficient|, its
// sign). LR pairs: the
// model's `pairs` are the candidates and, when the dataset has a truth, its /ligand_receptor pairs the true
// ones (a simulated dataset records the pairs it simulated), ranked by the model's score (mean attention, or
// largest |weight| over receiver types) and by the ridge's largest |standardised coefficient| of the pair's
// signal; no signs. `model_validation_mse`: the model's one-step validation MSE.
TrainMetrics train_metrics(const LearnedGrn& grn, const DerivativeBaselines& baselines,
                           const TrajectoryDataset& dataset,
                           const std::vector<std::vector<std::vector<int>>>& candidates,
                           const std::vector<LigandReceptorPair>& pairs, double model_validation_mse);

// The loss of SPEC §3.2 over `windows` when every prediction is the window's first observation ("no
// change"): the reference for the training and validation losses of the same windows (NaN without windows).
// Serial: every rank holds the dataset.
double no_change_loss(const TrajectoryDataset& dataset, const std::vector<ObservationWindow>& windows);

// Writes `directory`/metrics.json (serial: call on one rank). Returns its path.
std::string write_train_metrics(const std::string& directory, const TrainMetrics& metrics);

} // namespace tessera
