#include "tessera/grn/hill.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace tessera {

namespace {

// One Hill input term K s^n / (h^n + s^n) of a receptor gene, s read from column `column` of its input (the
// ligand exchange for an LR pair, the sampled substrates for a field receptor).
struct InputTerm {
  int receptor, column;
  double K, h, n;
};

struct InputTables {
  Kokkos::View<int*> offsets, column, n_int;
  Kokkos::View<double*> K, n, h_pow_n;
};

// The terms grouped by receptor gene in their given order: those of gene k are [offsets(k), offsets(k+1)).
// n_int is n where n is a whole number in [1, 16] (hill_power multiplies then), else 0.
InputTables grouped_by_receptor(const std::string& prefix, int G, const std::vector<InputTerm>& terms) {
  const std::string label = "tessera::hill::" + prefix + "_";
  std::vector<int> offsets, column, n_int;
  std::vector<double> K, n, h_pow_n;
  for (int k = 0; k < G; ++k) {
    offsets.push_back(static_cast<int>(column.size()));
    for (const InputTerm& term : terms) {
      if (term.receptor != k) continue;
      column.push_back(term.column);
      K.push_back(term.K);
      n.push_back(term.n);
      n_int.push_back((term.n == std::floor(term.n) && term.n >= 1 && term.n <= 16) ? static_cast<int>(term.n)
                                                                                    : 0);
      h_pow_n.push_back(std::pow(term.h, term.n));
    }
  }
  offsets.push_back(static_cast<int>(column.size()));
  return {to_device(label + "offsets", offsets),
          to_device(label + "column", column),
          to_device(label + "n_int", n_int),
          to_device(label + "K", K),
          to_device(label + "n", n),
          to_device(label + "h_pow_n", h_pow_n)};
}

} // namespace

HillModel::HillModel(const GeneNetwork& network, int n_types, const SignalingParams& signaling)
    : n_genes_(network.n_genes()), has_pairs_(signaling.active()),
      has_field_receptors_(!signaling.field_receptors.empty()) {
  const int G = n_genes_;
  std::vector<std::vector<const RegulatoryEdge*>> rows(static_cast<size_t>(n_types * G));
  for (const RegulatoryEdge& e : network.edges)
    for (int c = 0; c < n_types; ++c)
      if (e.type < 0 || e.type == c) rows[static_cast<size_t>(c * G + e.target)].push_back(&e);

  std::size_t total = 0;
  for (const auto& r : rows)
    total += r.size();
  edges_.offsets = Kokkos::View<int*>("tessera::hill::offsets", rows.size() + 1);
  edges_.source = Kokkos::View<int*>("tessera::hill::source", total);
  edges_.activates = Kokkos::View<int*>("tessera::hill::activates", total);
  edges_.K = Kokkos::View<double*>("tessera::hill::K", total);
  edges_.n = Kokkos::View<double*>("tessera::hill::n", total);
  edges_.n_int = Kokkos::View<int*>("tessera::hill::n_int", total);
  edges_.h_pow_n = Kokkos::View<double*>("tessera::hill::h_pow_n", total);
  auto off = Kokkos::create_mirror_view(edges_.offsets);
  auto src = Kokkos::create_mirror_view(edges_.source);
  auto act = Kokkos::create_mirror_view(edges_.activates);
  auto K = Kokkos::create_mirror_view(edges_.K);
  auto n = Kokkos::create_mirror_view(edges_.n);
  auto ni = Kokkos::create_mirror_view(edges_.n_int);
  auto hn = Kokkos::create_mirror_view(edges_.h_pow_n);
  int e = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    off(r) = e;
    for (const RegulatoryEdge* edge : rows[r]) {
      src(e) = edge->source;
      act(e) = edge->sign > 0 ? 1 : 0;
      K(e) = edge->K;
      n(e) = edge->n;
      ni(e) =
          (edge->n == std::floor(edge->n) && edge->n >= 1 && edge->n <= 16) ? static_cast<int>(edge->n) : 0;
      hn(e) = std::pow(edge->h, edge->n);
      ++e;
    }
  }
  off(rows.size()) = e;
  Kokkos::deep_copy(edges_.offsets, off);
  Kokkos::deep_copy(edges_.source, src);
  Kokkos::deep_copy(edges_.activates, act);
  Kokkos::deep_copy(edges_.K, K);
  Kokkos::deep_copy(edges_.n, n);
  Kokkos::deep_copy(edges_.n_int, ni);
  Kokkos::deep_copy(edges_.h_pow_n, hn);
  // LR pairs grouped by receptor gene; the ligand is addressed by its column in the ligand exchange.
  const std::vector<int> ligands = signaling.ligand_genes();
  std::vector<InputTerm> pairs;
  for (const auto& p : signaling.pairs)
    pairs.push_back(
        {p.receptor,
         static_cast<int>(std::lower_bound(ligands.begin(), ligands.end(), p.ligand) - ligands.begin()), p.K,
         p.h, p.n});
  const InputTables lr = grouped_by_receptor("lr", G, pairs);
  lr_offsets_ = lr.offsets;
  lr_column_ = lr.column;
  lr_n_int_ = lr.n_int;
  lr_K_ = lr.K;
  lr_n_ = lr.n;
  lr_h_pow_n_ = lr.h_pow_n;
  // Field receptors grouped by receptor gene, as the LR pairs; the substrate is the column.
  std::vector<InputTerm> receptors;
  for (const FieldReceptor& f : signaling.field_receptors)
    receptors.push_back({f.receptor, f.substrate, f.K, f.h, f.n});
  const InputTables fr = grouped_by_receptor("fr", G, receptors);
  fr_offsets_ = fr.offsets;
  fr_column_ = fr.column;
  fr_n_int_ = fr.n_int;
  fr_K_ = fr.K;
  fr_n_ = fr.n;
  fr_h_pow_n_ = fr.h_pow_n;
  production_ = to_device("tessera::hill::production", network.production);
  basal_ = to_device("tessera::hill::basal", network.basal);
  decay_ = to_device("tessera::hill::decay", network.decay);
}

void HillModel::evaluate(double /*t*/, ConstGeneState x, GeneState dxdt) const {
  const int n = static_cast<int>(x.extent(0));
  const bool signaling = has_pairs_ && graph_ && exchange_;
  if (signaling) {
    // Collective: ghost cells' ligand values come from their owners.
    const auto ligands = exchange_->gather(x);
    if (signal_.extent(0) < x.extent(0) || signal_.extent(1) != ligands.extent(1))
      signal_ = Kokkos::View<double**, Kokkos::LayoutRight>(
          "tessera::hill::signal", x.extent(0) + x.extent(0) / 4 + 8, ligands.extent(1));
    const ReceivedSignalFunctor received{graph_->offsets, graph_->source, graph_->weight, ligands, signal_};
    Kokkos::parallel_for("tessera::grn::received_signal", range_for(0, n, n * n_genes_), received);
  }
  if (has_field_receptors_ && field_values_.extent(0) < x.extent(0))
    throw runtime_error("HillModel: the field values cover " + std::to_string(field_values_.extent(0)) +
                        " cells, not the " + std::to_string(x.extent(0)) + " evaluated");
  const HillRhsFunctor f{
      cell_type_,  x,           dxdt,         edges_.offsets, edges_.source, edges_.activates,
      edges_.K,    edges_.n,    edges_.n_int, edges_.h_pow_n, production_,   basal_,
      decay_,      lr_offsets_, lr_column_,   lr_n_int_,      lr_K_,         lr_n_,
      lr_h_pow_n_, signal_,     n_genes_,     signaling,      fr_offsets_,   fr_column_,
      fr_n_int_,   fr_K_,       fr_n_,        fr_h_pow_n_,    field_values_, has_field_receptors_};
  Kokkos::parallel_for("tessera::grn::hill_rhs", range_for(0, n, n * n_genes_), f);
}

} // namespace tessera
