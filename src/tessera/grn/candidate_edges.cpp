#include "tessera/grn/candidate_edges.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"

#include <algorithm>
#include <string>

namespace tessera {

CandidateEdges::CandidateEdges(const GeneNetwork& network, int n_types, bool dense,
                               const std::vector<LigandReceptorPair>& pairs)
    : n_genes_(network.n_genes()), n_types_(n_types) {
  const int G = n_genes_;
  offsets_host_.assign(1, 0);
  for (int c = 0; c < n_types; ++c) {
    const std::vector<std::vector<int>> regulators = network.regulators(c, dense);
    for (int k = 0; k < G; ++k) {
      for (const int j : regulators[static_cast<std::size_t>(k)]) {
        type_host_.push_back(c);
        source_host_.push_back(j);
        target_host_.push_back(k);
      }
      offsets_host_.push_back(static_cast<int>(source_host_.size()));
    }
  }
  offsets_ = to_device("tessera::grn::candidate_edges::offsets", offsets_host_);
  source_ = to_device("tessera::grn::candidate_edges::source", source_host_);

  std::vector<int> ligands;
  for (const LigandReceptorPair& p : pairs) {
    pair_ligand_host_.push_back(p.ligand);
    pair_receptor_host_.push_back(p.receptor);
    ligands.push_back(p.ligand);
  }
  std::sort(ligands.begin(), ligands.end());
  ligands.erase(std::unique(ligands.begin(), ligands.end()), ligands.end());
  std::vector<int> receptor_offsets{0};
  for (int k = 0; k < G; ++k) {
    for (std::size_t q = 0; q < pairs.size(); ++q)
      if (pairs[q].receptor == k) {
        receptor_pair_host_.push_back(static_cast<int>(q));
        receptor_columns_host_.push_back(static_cast<int>(
            std::lower_bound(ligands.begin(), ligands.end(), pairs[q].ligand) - ligands.begin()));
      }
    receptor_offsets.push_back(static_cast<int>(receptor_pair_host_.size()));
  }
  receptor_offsets_ = to_device("tessera::grn::candidate_edges::receptor_offsets", receptor_offsets);
  receptor_pair_ = to_device("tessera::grn::candidate_edges::receptor_pair", receptor_pair_host_);
  receptor_column_ = to_device("tessera::grn::candidate_edges::receptor_column", receptor_columns_host_);
}

int CandidateEdges::find(int type, int source, int target) const {
  if (type < 0 || type >= n_types_ || target < 0 || target >= n_genes_) return -1;
  const std::size_t row = static_cast<std::size_t>(type * n_genes_ + target);
  const auto first = source_host_.begin() + offsets_host_[row];
  const auto last = source_host_.begin() + offsets_host_[row + 1];
  const auto it = std::lower_bound(first, last, source);
  return it != last && *it == source ? static_cast<int>(it - source_host_.begin()) : -1;
}

void CandidateEdges::use_columns_of(const LigandExchange& exchange) {
  std::vector<int> columns;
  for (const int q : receptor_pair_host_) {
    const int column = exchange.column_of(pair_ligand_host_[static_cast<std::size_t>(q)]);
    if (column < 0)
      throw runtime_error("candidate edges: ligand gene " +
                          std::to_string(pair_ligand_host_[static_cast<std::size_t>(q)]) +
                          " is not carried by the ligand exchange");
    columns.push_back(column);
  }
  if (columns == receptor_columns_host_) return;
  receptor_columns_host_ = std::move(columns);
  receptor_column_ = to_device("tessera::grn::candidate_edges::receptor_column", receptor_columns_host_);
}

std::vector<std::vector<std::size_t>> CandidateEdges::regulator_groups(std::size_t edge_offset,
                                                                       std::size_t pair_offset) const {
  std::vector<std::vector<std::size_t>> groups;
  std::vector<std::vector<std::size_t>> by_source(static_cast<std::size_t>(n_genes_));
  for (int c = 0; c < n_types_; ++c) {
    for (auto& g : by_source)
      g.clear();
    for (int e = 0; e < n_edges(); ++e)
      if (type(e) == c) by_source[static_cast<std::size_t>(source(e))].push_back(edge_offset + e);
    for (auto& g : by_source)
      if (!g.empty()) groups.push_back(g);
  }
  for (int a = 0; a < n_types_ * n_pairs(); ++a)
    groups.push_back({pair_offset + static_cast<std::size_t>(a)});
  return groups;
}

} // namespace tessera
