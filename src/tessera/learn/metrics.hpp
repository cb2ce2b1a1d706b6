// How well learned edge scores recover a known gene regulatory network (SPEC §2.2, §3.5): AUPRC, AUPRC
// ratio, AUROC and early precision per cell type, and the metrics.json that `tessera train` writes.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace tessera {

// One scored candidate edge source -> target (gene indices); a higher score means "more likely an edge".
struct EdgeScore {
  int source;
  int target;
  double score;
};

struct RecoveryMetrics {
  double auprc;           // average precision (sklearn's average_precision_score)
  double auprc_ratio;     // auprc / edge_density: 1 is (nearly) what random scores give, see grn_recovery
  double auroc;           // Mann–Whitney statistic, ties counted 1/2
  double early_precision; // precision of the top k = positives predictions (BEELINE), ties shared fairly
  double edge_density;    // positives / candidates
  std::size_t positives;
  std::size_t candidates;
};

// Ranks every candidate edge j -> k of an n_genes network (every ordered pair, j != k unless
// include_self_edges) by its score and compares the ranking with the true edges `truth` (source, target,
// sign; the sign is ignored, a repeated edge counts once).
// - A candidate absent from `scores` has score -inf: ranked last, tied with every other absent one.
// - Scores of self edges are ignored when they are not candidates (a graph ODE scores its self loops), and so
//   are self edges of `truth`.
// - Tied scores never depend on input order. AUPRC evaluates precision at the end of each tied block
//   (sklearn); AUROC counts a tied positive/negative pair as 1/2; early precision takes the expected number
//   of positives among the top k when ties are broken uniformly at random, so a tied block straddling rank k
//   contributes its fraction of positives for each of its places above k. (BEELINE's own script keeps the
//   whole straddling block; both agree when the k-th and (k+1)-th scores differ.)
// - Random scores give AUROC 1/2 and early precision = edge density on average, and AUPRC
//   H_n/n + (P-1)(n-H_n)/(n(n-1)) (n candidates, P positives, H_n the n-th harmonic number), slightly above
//   the density when P is small.
// Throws input_error for n_genes < 1, gene indices out of range (truth or scores), a NaN score (±inf are
// allowed), a pair scored twice, or a ranking without positives or without negatives.
RecoveryMetrics grn_recovery(const std::vector<EdgeScore>& scores,
                             const std::vector<std::array<int, 3>>& truth, int n_genes,
                             bool include_self_edges = false);

// A JSON object {"<type>": {"auprc": ..., "auprc_ratio": ..., "auroc": ..., "early_precision": ...,
// "edge_density": ..., "positives": ..., "candidates": ...}, ...} with types in map order, type names escaped
// and doubles written with 17 significant digits (they read back exactly; a non-finite one, which
// grn_recovery never produces, is written null). Ends with a newline.
std::string metrics_json(const std::map<std::string, RecoveryMetrics>& per_type);

} // namespace tessera
