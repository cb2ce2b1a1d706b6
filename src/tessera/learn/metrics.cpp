#include "tessera/learn/metrics.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <locale>
#include <sstream>
#include <utility>

namespace tessera {

namespace {

std::string edge_name(int source, int target) {
  return std::to_string(source) + " -> " + std::to_string(target);
}

bool in_range(int gene, int n_genes) {
  return gene >= 0 && gene < n_genes;
}

struct Candidate {
  double score;
  bool positive;
};

void write_json_string(std::ostringstream& out, const std::string& text) {
  out << '"';
  for (const char c : text) {
    switch (c) {
    case '"':
      out << "\\\"";
      break;
    case '\\':
      out << "\\\\";
      break;
    case '\b':
      out << "\\b";
      break;
    case '\f':
      out << "\\f";
      break;
    case '\n':
      out << "\\n";
      break;
    case '\r':
      out << "\\r";
      break;
    case '\t':
      out << "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x",
                      static_cast<unsigned>(static_cast<unsigned char>(c)));
        out << escaped;
      } else {
        out << c; // UTF-8 bytes pass through unchanged
      }
    }
  }
  out << '"';
}

// JSON has no inf or NaN: a non-finite value (only a hand-made RecoveryMetrics holds one) is written null.
void write_json_number(std::ostringstream& out, double value) {
  if (std::isfinite(value))
    out << value;
  else
    out << "null";
}

} // namespace

std::vector<std::array<int, 2>> dense_candidates(int n_genes) {
  std::vector<std::array<int, 2>> out;
  for (int j = 0; j < n_genes; ++j)
    for (int k = 0; k < n_genes; ++k)
      if (j != k) out.push_back({j, k});
  return out;
}

RecoveryMetrics grn_recovery(const std::vector<EdgeScore>& scores,
                             const std::vector<std::array<int, 3>>& truth,
                             const std::vector<std::array<int, 2>>& candidates, int n_genes,
                             bool signed_scores) {
  if (n_genes < 1) throw input_error("GRN recovery: " + std::to_string(n_genes) + " genes");
  const auto n = static_cast<std::size_t>(n_genes);
  const auto pair = [n](int source, int target) {
    return static_cast<std::size_t>(source) * n + static_cast<std::size_t>(target);
  };

  // Dense n x n tables: a pair's score (-inf when absent), its model sign, its true sign (0: not a true
  // edge) and whether it is a candidate.
  constexpr double absent = -std::numeric_limits<double>::infinity();
  std::vector<double> score(n * n, absent), model_sign(n * n, 0.0);
  std::vector<char> scored(n * n, 0), candidate(n * n, 0);
  std::vector<int> true_sign(n * n, 0);

  std::size_t true_edges = 0; // distinct true edges j != k
  for (const std::array<int, 3>& edge : truth) {
    if (!in_range(edge[0], n_genes) || !in_range(edge[1], n_genes))
      throw input_error("GRN recovery: true edge " + edge_name(edge[0], edge[1]) +
                        " names a gene outside [0, " + std::to_string(n_genes) + ")");
    int& sign = true_sign[pair(edge[0], edge[1])];
    if (edge[0] == edge[1] || sign != 0) continue;
    sign = edge[2] < 0 ? -1 : 1;
    ++true_edges;
  }
  std::vector<std::size_t> ranked_pairs;
  for (const std::array<int, 2>& edge : candidates) {
    if (!in_range(edge[0], n_genes) || !in_range(edge[1], n_genes))
      throw input_error("GRN recovery: candidate edge " + edge_name(edge[0], edge[1]) +
                        " names a gene outside [0, " + std::to_string(n_genes) + ")");
    char& is_candidate = candidate[pair(edge[0], edge[1])];
    if (edge[0] == edge[1] || is_candidate) continue;
    is_candidate = 1;
    ranked_pairs.push_back(pair(edge[0], edge[1]));
  }
  for (const EdgeScore& edge : scores) {
    if (!in_range(edge.source, n_genes) || !in_range(edge.target, n_genes))
      throw input_error("GRN recovery: scored edge " + edge_name(edge.source, edge.target) +
                        " names a gene outside [0, " + std::to_string(n_genes) + ")");
    if (std::isnan(edge.score))
      throw input_error("GRN recovery: scored edge " + edge_name(edge.source, edge.target) +
                        " has score NaN");
    char& seen = scored[pair(edge.source, edge.target)];
    if (seen)
      throw input_error("GRN recovery: edge " + edge_name(edge.source, edge.target) + " is scored twice");
    seen = 1;
    score[pair(edge.source, edge.target)] = edge.score;
    model_sign[pair(edge.source, edge.target)] = edge.sign;
  }

  std::vector<Candidate> ranked;
  ranked.reserve(ranked_pairs.size());
  std::size_t positives = 0, right_signs = 0;
  for (const std::size_t p : ranked_pairs) {
    const bool is_positive = true_sign[p] != 0;
    ranked.push_back({score[p], is_positive});
    positives += is_positive ? 1 : 0;
    const double s = model_sign[p];
    right_signs += is_positive && (true_sign[p] > 0 ? s > 0.0 : s < 0.0) ? 1 : 0;
  }
  const std::size_t n_candidates = ranked.size();
  const std::size_t negatives = n_candidates - positives;
  if (positives == 0)
    throw input_error("GRN recovery: no true edge among the " + std::to_string(n_candidates) +
                      " candidate edges");
  if (negatives == 0)
    throw input_error("GRN recovery: every one of the " + std::to_string(n_candidates) +
                      " candidate edges is a true edge, so there is nothing to rank against");

  // Every metric is computed per block of equal scores, so the order inside a block (which std::sort leaves
  // unspecified) never matters.
  std::sort(ranked.begin(), ranked.end(),
            [](const Candidate& a, const Candidate& b) { return a.score > b.score; });

  const double P = static_cast<double>(positives);
  const double N = static_cast<double>(negatives);
  const double recall_unit = 1.0 / static_cast<double>(true_edges); // missed true edges are never recalled
  const std::size_t k = positives;                                  // early precision looks at the top k
  double average_precision = 0.0;
  double concordant = 0.0;      // positive/negative pairs ordered correctly, ties counted 1/2
  double top_k_positives = 0.0; // expected positives among the top k under random tie breaking
  std::size_t above = 0, positives_above = 0;
  for (std::size_t begin = 0; begin < n_candidates;) {
    std::size_t end = begin;
    std::size_t block_positives = 0;
    while (end < n_candidates && ranked[end].score == ranked[begin].score) {
      block_positives += ranked[end].positive ? 1 : 0;
      ++end;
    }
    const std::size_t block = end - begin;
    const std::size_t block_negatives = block - block_positives;
    const std::size_t through = above + block, positives_through = positives_above + block_positives;

    average_precision += static_cast<double>(block_positives) * recall_unit *
                         static_cast<double>(positives_through) / static_cast<double>(through);
    // Negatives ranked strictly below this block: N - (negatives above) - (negatives in the block).
    const std::size_t negatives_below = negatives - (through - positives_through);
    concordant += static_cast<double>(block_positives) *
                  (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(block_negatives));
    if (above < k) {
      const std::size_t places =
          std::min(k, through) - above; // of this block's places, those within the top k
      top_k_positives +=
          static_cast<double>(places) * static_cast<double>(block_positives) / static_cast<double>(block);
    }
    above = through;
    positives_above = positives_through;
    begin = end;
  }

  const double n_ranked = static_cast<double>(n_candidates);
  double harmonic = 0.0; // H_n, summed from the small terms up
  for (std::size_t i = n_candidates; i >= 1; --i)
    harmonic += 1.0 / static_cast<double>(i);

  RecoveryMetrics metrics{};
  metrics.positives = positives;
  metrics.candidates = n_candidates;
  metrics.missed = true_edges - positives;
  metrics.random_precision = P / n_ranked;
  metrics.random_auprc =
      P * recall_unit *
      (harmonic / n_ranked + (P - 1.0) * (n_ranked - harmonic) / (n_ranked * (n_ranked - 1.0)));
  metrics.auprc = average_precision;
  metrics.auprc_ratio = average_precision / metrics.random_precision;
  metrics.auroc = concordant / (P * N);
  metrics.early_precision = top_k_positives / static_cast<double>(k);
  metrics.sign_accuracy =
      signed_scores ? static_cast<double>(right_signs) / P : std::numeric_limits<double>::quiet_NaN();
  return metrics;
}

namespace {

// `"key": value, ` for each field (non-finite numbers as null), the start of a JSON object's members.
template <std::size_t N>
void write_json_numbers(std::ostringstream& out, const std::pair<const char*, double> (&fields)[N]) {
  for (const auto& [key, value] : fields) {
    out << '"' << key << "\": ";
    write_json_number(out, value);
    out << ", ";
  }
}

void write_recovery(std::ostringstream& out, const RecoveryMetrics& m) {
  const std::pair<const char*, double> fields[] = {{"auprc", m.auprc},
                                                   {"auprc_ratio", m.auprc_ratio},
                                                   {"auroc", m.auroc},
                                                   {"early_precision", m.early_precision},
                                                   {"sign_accuracy", m.sign_accuracy}};
  out << '{';
  write_json_numbers(out, fields);
  out << "\"positives\": " << m.positives << ", \"candidates\": " << m.candidates
      << ", \"missed\": " << m.missed << '}';
}

// What a uniformly random order of the same candidates scores on average (sign accuracy: a coin).
void write_random_order(std::ostringstream& out, const RecoveryMetrics& m) {
  out << "{\"auprc\": ";
  write_json_number(out, m.random_auprc);
  out << ", \"auprc_ratio\": ";
  write_json_number(out, m.random_auprc / m.random_precision);
  out << ", \"auroc\": 0.5, \"early_precision\": ";
  write_json_number(out, m.random_precision);
  out << ", \"sign_accuracy\": 0.5, \"precision\": ";
  write_json_number(out, m.random_precision);
  out << '}';
}

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "-";
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string general(double value) {
  if (!std::isfinite(value)) return "-";
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::setprecision(3) << value;
  return out.str();
}

// "AUPRC / ratio / sign accuracy" of one ranking, padded to a column.
std::string triple(double auprc, double ratio, double sign) {
  std::string cell = fixed(auprc, 3) + " / " + fixed(ratio, 2) + " / " + fixed(sign, 2);
  cell.resize(std::max<std::size_t>(cell.size(), 22), ' ');
  return cell;
}

std::string padded(std::string text, std::size_t width) {
  text.resize(std::max(text.size(), width), ' ');
  return text;
}

} // namespace

std::string metrics_json(const TrainMetrics& metrics) {
  std::ostringstream out;
  out.imbue(std::locale::classic()); // a decimal point whatever the global locale
  out << std::setprecision(17);
  // The key of the model's own ranking, named by model_score.
  const auto model_key = [&] {
    write_json_string(out, metrics.model_score);
    out << ": ";
  };
  out << "{\n  \"model_score\": ";
  write_json_string(out, metrics.model_score);
  out << ",\n  \"grn\": {";
  bool first = true;
  for (const auto& [type, m] : metrics.types) {
    out << (first ? "\n    " : ",\n    ");
    first = false;
    write_json_string(out, type);
    out << ": {\n      ";
    model_key();
    write_recovery(out, m.model);
    out << ",\n      \"jacobian\": ";
    write_recovery(out, m.jacobian);
    if (m.has_weight) {
      out << ",\n      \"weight\": ";
      write_recovery(out, m.weight);
    }
    out << ",\n      \"ridge\": ";
    write_recovery(out, m.ridge);
    out << ",\n      \"random_order\": ";
    write_random_order(out, m.model);
    out << "\n    }";
  }
  out << (first ? "},\n" : "\n  },\n");

  out << "  \"lr_pairs\": {\"scored\": " << (metrics.lr_scored ? "true" : "false");
  if (metrics.lr_scored) {
    out << ",\n    ";
    model_key();
    write_recovery(out, metrics.lr_model);
    out << ",\n    \"ridge\": ";
    write_recovery(out, metrics.lr_ridge);
    out << ",\n    \"random_order\": ";
    write_random_order(out, metrics.lr_model);
  }
  out << ",\n    \"pairs\": [";
  for (std::size_t q = 0; q < metrics.lr.size(); ++q) {
    const LrPairScores& p = metrics.lr[q];
    out << (q == 0 ? "\n      {\"ligand\": " : ",\n      {\"ligand\": ");
    write_json_string(out, p.ligand);
    out << ", \"receptor\": ";
    write_json_string(out, p.receptor);
    out << ", ";
    model_key();
    write_json_number(out, p.model);
    out << ", \"ridge\": ";
    write_json_number(out, p.ridge);
    out << ", \"true\": " << (p.is_true ? "true" : "false") << '}';
  }
  out << (metrics.lr.empty() ? "]},\n" : "\n    ]},\n");

  const ValidationMse& mse = metrics.mse;
  const std::pair<const char*, double> fields[] = {{"model", mse.model},
                                                   {"no_change", mse.no_change},
                                                   {"relaxation", mse.relaxation},
                                                   {"ridge", mse.ridge}};
  out << "  \"validation_mse\": {";
  write_json_numbers(out, fields);
  out << "\"pairs\": " << mse.pairs << "},\n";
  out << "  \"ridge\": {\"lambda\": ";
  write_json_number(out, metrics.ridge_lambda);
  out << ", \"selection\": ";
  write_json_string(out, metrics.ridge_selection);
  out << "}\n}\n";
  return out.str();
}

std::vector<std::string> metrics_table(const TrainMetrics& metrics) {
  std::vector<std::string> lines;
  std::size_t width = 10;
  for (const auto& entry : metrics.types)
    width = std::max(width, entry.first.size() + 2);
  if (!metrics.types.empty() || metrics.lr_scored) {
    lines.push_back(
        "recovery of the true network, AUPRC / AUPRC ratio / sign accuracy over the candidate edges:");
    const std::string second = "jacobian";
    lines.push_back("  " + padded("type", width) + padded("cand.", 7) + padded("true", 6) +
                    padded(metrics.model_score, 22) + "  " + padded(second, 22) + "  " + padded("ridge", 22) +
                    "  " + "random order");
    auto row = [&](const std::string& name, const RecoveryMetrics& model, const RecoveryMetrics& jacobian,
                   const RecoveryMetrics& ridge) {
      std::string line = "  " + padded(name, width) + padded(std::to_string(model.candidates), 7) +
                         padded(std::to_string(model.positives), 6) +
                         triple(model.auprc, model.auprc_ratio, model.sign_accuracy) + "  " +
                         triple(jacobian.auprc, jacobian.auprc_ratio, jacobian.sign_accuracy) + "  " +
                         triple(ridge.auprc, ridge.auprc_ratio, ridge.sign_accuracy) + "  " +
                         triple(model.random_auprc, model.random_auprc / model.random_precision, 0.5);
      line.erase(line.find_last_not_of(' ') + 1); // the last column's padding
      lines.push_back(line);
    };
    for (const auto& [type, m] : metrics.types)
      row(type, m.model, m.jacobian, m.ridge);
    if (metrics.lr_scored) {
      RecoveryMetrics none = metrics.lr_model;
      none.auprc = none.auprc_ratio = none.sign_accuracy = std::numeric_limits<double>::quiet_NaN();
      row("LR pairs", metrics.lr_model, none, metrics.lr_ridge);
    }
  }
  const ValidationMse& mse = metrics.mse;
  if (mse.pairs > 0)
    lines.push_back("one-step validation MSE over " + std::to_string(mse.pairs) + " pair(s): model " +
                    general(mse.model) + ", no change " + general(mse.no_change) + ", relaxation " +
                    general(mse.relaxation) + ", ridge " + general(mse.ridge) + " (ridge lambda " +
                    general(metrics.ridge_lambda) + ")");
  else
    lines.push_back("no validation MSE: train.val_fraction holds out no time point");
  return lines;
}

} // namespace tessera
