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

RecoveryMetrics grn_recovery(const std::vector<EdgeScore>& scores,
                             const std::vector<std::array<int, 3>>& truth, int n_genes,
                             bool include_self_edges) {
  if (n_genes < 1) throw input_error("GRN recovery: " + std::to_string(n_genes) + " genes");
  const auto n = static_cast<std::size_t>(n_genes);
  const auto pair = [n](int source, int target) {
    return static_cast<std::size_t>(source) * n + static_cast<std::size_t>(target);
  };

  // Dense n x n tables: a candidate's score (-inf when absent) and whether it is a true edge.
  constexpr double absent = -std::numeric_limits<double>::infinity();
  std::vector<double> score(n * n, absent);
  std::vector<char> scored(n * n, 0);
  std::vector<char> positive(n * n, 0);

  for (const std::array<int, 3>& edge : truth) {
    if (!in_range(edge[0], n_genes) || !in_range(edge[1], n_genes))
      throw input_error("GRN recovery: true edge " + edge_name(edge[0], edge[1]) +
                        " names a gene outside [0, " + std::to_string(n_genes) + ")");
    positive[pair(edge[0], edge[1])] = 1;
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
  }

  std::vector<Candidate> ranked;
  ranked.reserve(include_self_edges ? n * n : n * (n - 1));
  std::size_t positives = 0;
  for (int j = 0; j < n_genes; ++j)
    for (int k = 0; k < n_genes; ++k) {
      if (j == k && !include_self_edges) continue;
      const bool is_positive = positive[pair(j, k)] != 0;
      ranked.push_back({score[pair(j, k)], is_positive});
      positives += is_positive ? 1 : 0;
    }
  const std::size_t candidates = ranked.size();
  const std::size_t negatives = candidates - positives;
  if (positives == 0)
    throw input_error("GRN recovery: no true edge among the " + std::to_string(candidates) +
                      " candidate edges");
  if (negatives == 0)
    throw input_error("GRN recovery: every one of the " + std::to_string(candidates) +
                      " candidate edges is a true edge, so there is nothing to rank against");

  // Every metric is computed per block of equal scores, so the order inside a block (which std::sort leaves
  // unspecified) never matters.
  std::sort(ranked.begin(), ranked.end(),
            [](const Candidate& a, const Candidate& b) { return a.score > b.score; });

  const double P = static_cast<double>(positives);
  const double N = static_cast<double>(negatives);
  const std::size_t k = positives; // early precision looks at the top k
  double average_precision = 0.0;
  double concordant = 0.0;      // positive/negative pairs ordered correctly, ties counted 1/2
  double top_k_positives = 0.0; // expected positives among the top k under random tie breaking
  std::size_t above = 0, positives_above = 0;
  for (std::size_t begin = 0; begin < candidates;) {
    std::size_t end = begin;
    std::size_t block_positives = 0;
    while (end < candidates && ranked[end].score == ranked[begin].score) {
      block_positives += ranked[end].positive ? 1 : 0;
      ++end;
    }
    const std::size_t block = end - begin;
    const std::size_t block_negatives = block - block_positives;
    const std::size_t through = above + block, positives_through = positives_above + block_positives;

    average_precision += static_cast<double>(block_positives) / P * static_cast<double>(positives_through) /
                         static_cast<double>(through);
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

  RecoveryMetrics metrics{};
  metrics.positives = positives;
  metrics.candidates = candidates;
  metrics.edge_density = P / static_cast<double>(candidates);
  metrics.auprc = average_precision;
  metrics.auprc_ratio = average_precision / metrics.edge_density;
  metrics.auroc = concordant / (P * N);
  metrics.early_precision = top_k_positives / static_cast<double>(k);
  return metrics;
}

std::string metrics_json(const std::map<std::string, RecoveryMetrics>& per_type) {
  std::ostringstream out;
  out.imbue(std::locale::classic()); // a decimal point whatever the global locale
  out << std::setprecision(17);
  out << '{';
  bool first = true;
  for (const auto& [type, m] : per_type) {
    out << (first ? "\n  " : ",\n  ");
    first = false;
    write_json_string(out, type);
    const std::pair<const char*, double> fields[] = {{"auprc", m.auprc},
                                                     {"auprc_ratio", m.auprc_ratio},
                                                     {"auroc", m.auroc},
                                                     {"early_precision", m.early_precision},
                                                     {"edge_density", m.edge_density}};
    out << ": {";
    for (const auto& [key, value] : fields) {
      out << '"' << key << "\": ";
      write_json_number(out, value);
      out << ", ";
    }
    out << "\"positives\": " << m.positives << ", \"candidates\": " << m.candidates << '}';
  }
  out << (first ? "}\n" : "\n}\n");
  return out.str();
}

} // namespace tessera
