// How well learned edge scores recover a known gene regulatory network (SPEC §2.2, §3.5): AUPRC, AUPRC
// ratio against a random order of the candidate edges, AUROC, early precision and sign accuracy, and the
// metrics.json that `tessera train` writes (the model beside the baselines of ridge_baseline.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace tessera {

// One scored candidate edge source -> target (gene indices); a higher score means "more likely an edge".
// `sign`: the model's sign of the edge (only its sign is read; 0 = none), for sign accuracy.
struct EdgeScore {
  int source;
  int target;
  double score;
  double sign = 0.0;
};

struct RecoveryMetrics {
  double auprc;            // average precision, recall over every true edge j != k (see grn_recovery)
  double auprc_ratio;      // auprc / random_precision
  double auroc;            // Mann–Whitney statistic over the candidates, ties counted 1/2
  double early_precision;  // precision of the top k = positives predictions (BEELINE), ties shared fairly
  double random_precision; // positives / candidates: the precision of a random order of the candidates
  double random_auprc;     // the expected AUPRC of a uniformly random order of the candidates
  double sign_accuracy;    // fraction of the true candidate edges whose sign is right; NaN without signs
  std::size_t positives;   // true edges among the candidates
  std::size_t candidates;  // candidate edges j != k
  std::size_t missed;      // true edges j != k outside the candidates (never recalled)
};

// Every ordered pair j != k of n_genes genes (the candidates of a dense graph).
std::vector<std::array<int, 2>> dense_candidates(int n_genes);

// Ranks the candidate edges (source, target) by their scores and compares the ranking with the true edges
// `truth` (source, target, sign; a repeated edge counts once, its first sign counts). Self loops are never
// candidates, scored or true: they are ignored wherever they appear, as are repeated candidates.
// - A candidate absent from `scores` has score -inf: ranked last, tied with every other absent one. Scores of
//   edges that are not candidates are ignored.
// - AUPRC is the average precision over every true edge j != k, so a true edge outside the candidates
//   counts as never recalled (precision 0); with every true edge among the candidates it is sklearn's
//   average_precision_score over the candidates. Its reference is the precision of a random order of the
//   candidates, positives / candidates (not the density over all gene pairs: a prior graph that holds the
//   truth would otherwise score well for any ranking); a random order has an AUPRC ratio of about
//   positives / (positives + missed), slightly above when positives are few: random_auprc is its exact
//   expectation, (P / (P + missed)) (H_n / n + (P - 1)(n - H_n) / (n (n - 1))), n candidates, P positives.
// - Tied scores never depend on input order. AUPRC evaluates precision at the end of each tied block
//   (sklearn); AUROC counts a tied positive/negative pair as 1/2; early precision takes the expected number
//   of positives among the top k when ties are broken uniformly at random, so a tied block straddling rank k
//   contributes its fraction of positives for each of its places above k. (BEELINE's own script keeps the
//   whole straddling block; both agree when the k-th and (k+1)-th scores differ.)
// - Sign accuracy: with `signed_scores`, the fraction of the true candidate edges whose EdgeScore::sign has
//   the true sign (an unscored edge or sign 0 counts as wrong); NaN otherwise.
// Throws input_error for n_genes < 1, gene indices out of range (truth, candidates or scores), a NaN score
// (±inf are allowed), a pair scored twice, or a ranking without positives or without negatives.
RecoveryMetrics grn_recovery(const std::vector<EdgeScore>& scores,
                             const std::vector<std::array<int, 3>>& truth,
                             const std::vector<std::array<int, 2>>& candidates, int n_genes,
                             bool signed_scores = false);

// What `tessera train` reports beside the learned network (metrics.json, the closing table).
struct TypeRecovery {
  RecoveryMetrics model; // the model's headline ranking (TrainMetrics::model_score; sign: see train_metrics)
  RecoveryMetrics jacobian; // the model's mean |df_k/dx_j| (sign: its mean signed Jacobian)
  RecoveryMetrics ridge;    // the ridge baseline's |standardised coefficient| and its sign
  bool has_weight = false;  // the family has signed edge parameters:
  RecoveryMetrics weight{}; // ranked by |parameter|, signed by it
};

// One-step validation MSE (SPEC §3.2's loss over the validation pairs (k, k+1)); NaN without held-out times.
struct ValidationMse {
  double model = 0, no_change = 0, relaxation = 0, ridge = 0;
  std::size_t pairs = 0; // validation pairs (k, k+1)
};

// A ligand–receptor pair's scores: the model's (its mean attention over its intercellular edges, all sender
// and receiver types; or its largest |weight| over the receiver types) and the ridge baseline's largest
// |standardised coefficient| over the receiver types.
struct LrPairScores {
  std::string ligand, receptor;
  double model = 0.0, ridge = 0.0;
  bool is_true = false;
};

struct TrainMetrics {
  // What ranks the model's edges: "attention" (graph_ode) or "effect" (families without attention, hill and
  // sigmoid: the mean |df_k/dx_j| times sd(x_j) / sd(dx_k/dt), x_j in the coordinate the model reads it in
  // (LearnedEdge::effect), the parameter times the target's gain in the ridge baseline's standardisation, so
  // that edges of different targets compare; signed by the
  // parameter); the key of TypeRecovery::model and of the LR scores in metrics.json.
  std::string model_score = "attention";
  std::map<std::string, TypeRecovery> types; // cell types with a truth whose ranking has both classes
  bool lr_scored = false;                    // lr_pairs holds a ranking with true and decoy pairs
  RecoveryMetrics lr_model{}, lr_ridge{};
  std::vector<LrPairScores> lr;
  ValidationMse mse;
  double ridge_lambda = 0.0;
  std::string ridge_selection; // how the ridge's lambda was chosen
};

// metrics.json (docs/file-formats.md): {"model_score": "attention"|"weight", "grn": {"<type>":
// {"<model_score>":
// {...}, "jacobian": {...}, "ridge":
// {...}, "random_order": {...}}}, "lr_pairs": {...}, "validation_mse": {...}, "ridge": {...}}; types in map
// order, names escaped, doubles with 17 significant digits (they read back exactly; a non-finite one is
// written null). Ends with a newline.
std::string metrics_json(const TrainMetrics& metrics);

// The closing table of `tessera train`: per type AUPRC / ratio / sign accuracy of the model, the ridge
// baseline and a random order, then the validation MSE of the model and the baselines. One line each.
std::vector<std::string> metrics_table(const TrainMetrics& metrics);

} // namespace tessera
