// The candidate gene graph of a per-edge gene model (sigmoid, hill when trained): every edge j -> k that the
// model may learn, per cell type, with one global index per edge so that a per-edge parameter is one value
// per index; and the LR pairs grouped by receptor gene, each addressing its ligand's column of the exchange.
#pragma once

#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/signaling.hpp"

#include <Kokkos_Core.hpp>

#include <vector>

namespace tessera {

class CandidateEdges {
public:
  CandidateEdges() = default;
  // The graph of each of the `n_types` cell types: `network`'s edges of that type (or for every type) or,
  // with `dense`, every ordered pair j -> k, j != k (GeneNetwork::regulators). `pairs` in the model's order;
  // their ligand columns are those of a LigandExchange over the pairs' ligand genes (sorted, unique), as
  // SignalingParams::ligand_genes() gives them.
  CandidateEdges(const GeneNetwork& network, int n_types, bool dense,
                 const std::vector<LigandReceptorPair>& pairs);

  int n_genes() const { return n_genes_; }
  int n_types() const { return n_types_; }
  int n_edges() const { return static_cast<int>(source_host_.size()); }
  int n_pairs() const { return static_cast<int>(pair_receptor_host_.size()); }

  // CSR over rows type * G + target: the edges e into gene k of a cell of type c are
  // [offsets(c * G + k), offsets(c * G + k + 1)), sources ascending. e is the global edge index.
  Kokkos::View<const int*> offsets() const { return offsets_; }
  Kokkos::View<const int*> source() const { return source_; }

  // Host copies per edge e (the read-out and model.h5 name edges by them).
  int type(int e) const { return type_host_[static_cast<std::size_t>(e)]; }
  int source(int e) const { return source_host_[static_cast<std::size_t>(e)]; }
  int target(int e) const { return target_host_[static_cast<std::size_t>(e)]; }
  const std::vector<int>& offsets_host() const { return offsets_host_; }
  // The edge index of (type, source, target), -1 when it is not a candidate.
  int find(int type, int source, int target) const;

  // CSR over receptor gene k: the LR pairs with receptor k are receptor_pair(p) for p in
  // [receptor_offsets(k), receptor_offsets(k + 1)) (pair indices ascending), receptor_column(p) the column of
  // its ligand in LigandExchange::gather().
  Kokkos::View<const int*> receptor_offsets() const { return receptor_offsets_; }
  Kokkos::View<const int*> receptor_pair() const { return receptor_pair_; }
  Kokkos::View<const int*> receptor_column() const { return receptor_column_; }
  int pair_receptor(int q) const { return pair_receptor_host_[static_cast<std::size_t>(q)]; }
  int pair_ligand(int q) const { return pair_ligand_host_[static_cast<std::size_t>(q)]; }

  // train.group_lasso's groups of a per-edge model whose set holds one value per edge from `edge_offset`
  // (edge e at edge_offset + e) and one per (receiver type, LR pair) from `pair_offset` (c * n_pairs() + q):
  // per cell type and regulator gene j, its outgoing candidate edges j -> k (genes without one: no group),
  // then each LR pair's value of each type alone (a pair is one edge; its group lasso is its |value|).
  // Grouped by regulator, not by target: a gene of the dense graph regulates few others or none, while
  // every target has regulators, so whole groups of decoys can vanish together.
  std::vector<std::vector<std::size_t>> regulator_groups(std::size_t edge_offset,
                                                         std::size_t pair_offset) const;

  // Re-addresses the ligand columns by `exchange` (a model may be given an exchange over more ligand genes
  // than its own pairs'); runtime_error when a pair's ligand is not carried.
  void use_columns_of(const LigandExchange& exchange);

private:
  int n_genes_ = 0, n_types_ = 0;
  std::vector<int> offsets_host_, type_host_, source_host_, target_host_;
  std::vector<int> pair_ligand_host_, pair_receptor_host_, receptor_pair_host_;
  std::vector<int> receptor_columns_host_;
  Kokkos::View<int*> offsets_, source_;
  Kokkos::View<int*> receptor_offsets_, receptor_pair_, receptor_column_;
};

} // namespace tessera
