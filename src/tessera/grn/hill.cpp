#include "tessera/grn/hill.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include <algorithm>
#include <cmath>

namespace tessera {

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
  std::vector<std::vector<const LigandReceptorPair*>> by_receptor(static_cast<std::size_t>(G));
  for (const auto& p : signaling.pairs)
    by_receptor[static_cast<std::size_t>(p.receptor)].push_back(&p);
  const std::size_t n_pairs = signaling.pairs.size();
  lr_offsets_ = Kokkos::View<int*>("tessera::hill::lr_offsets", static_cast<std::size_t>(G) + 1);
  lr_column_ = Kokkos::View<int*>("tessera::hill::lr_column", n_pairs);
  lr_n_int_ = Kokkos::View<int*>("tessera::hill::lr_n_int", n_pairs);
  lr_K_ = Kokkos::View<double*>("tessera::hill::lr_K", n_pairs);
  lr_n_ = Kokkos::View<double*>("tessera::hill::lr_n", n_pairs);
  lr_h_pow_n_ = Kokkos::View<double*>("tessera::hill::lr_h_pow_n", n_pairs);
  auto lo = Kokkos::create_mirror_view(lr_offsets_);
  auto lc = Kokkos::create_mirror_view(lr_column_);
  auto lni = Kokkos::create_mirror_view(lr_n_int_);
  auto lK = Kokkos::create_mirror_view(lr_K_);
  auto ln = Kokkos::create_mirror_view(lr_n_);
  auto lh = Kokkos::create_mirror_view(lr_h_pow_n_);
  int q = 0;
  for (int k = 0; k < G; ++k) {
    lo(k) = q;
    for (const LigandReceptorPair* p : by_receptor[static_cast<std::size_t>(k)]) {
      lc(q) = static_cast<int>(std::lower_bound(ligands.begin(), ligands.end(), p->ligand) - ligands.begin());
      lK(q) = p->K;
      ln(q) = p->n;
      lni(q) = (p->n == std::floor(p->n) && p->n >= 1 && p->n <= 16) ? static_cast<int>(p->n) : 0;
      lh(q) = std::pow(p->h, p->n);
      ++q;
    }
  }
  lo(G) = q;
  Kokkos::deep_copy(lr_offsets_, lo);
  Kokkos::deep_copy(lr_column_, lc);
  Kokkos::deep_copy(lr_n_int_, lni);
  Kokkos::deep_copy(lr_K_, lK);
  Kokkos::deep_copy(lr_n_, ln);
  Kokkos::deep_copy(lr_h_pow_n_, lh);
  // Field receptors grouped by receptor gene, as the LR pairs.
  const std::size_t n_receptors = signaling.field_receptors.size();
  fr_offsets_ = Kokkos::View<int*>("tessera::hill::fr_offsets", static_cast<std::size_t>(G) + 1);
  fr_column_ = Kokkos::View<int*>("tessera::hill::fr_column", n_receptors);
  fr_n_int_ = Kokkos::View<int*>("tessera::hill::fr_n_int", n_receptors);
  fr_K_ = Kokkos::View<double*>("tessera::hill::fr_K", n_receptors);
  fr_n_ = Kokkos::View<double*>("tessera::hill::fr_n", n_receptors);
  fr_h_pow_n_ = Kokkos::View<double*>("tessera::hill::fr_h_pow_n", n_receptors);
  {
    auto fo = Kokkos::create_mirror_view(fr_offsets_);
    auto fc = Kokkos::create_mirror_view(fr_column_);
    auto fni = Kokkos::create_mirror_view(fr_n_int_);
    auto fK = Kokkos::create_mirror_view(fr_K_);
    auto fn = Kokkos::create_mirror_view(fr_n_);
    auto fh = Kokkos::create_mirror_view(fr_h_pow_n_);
    int r = 0;
    for (int k = 0; k < G; ++k) {
      fo(k) = r;
      for (const FieldReceptor& f : signaling.field_receptors) {
        if (f.receptor != k) continue;
        fc(r) = f.substrate;
        fK(r) = f.K;
        fn(r) = f.n;
        fni(r) = (f.n == std::floor(f.n) && f.n >= 1 && f.n <= 16) ? static_cast<int>(f.n) : 0;
        fh(r) = std::pow(f.h, f.n);
        ++r;
      }
    }
    fo(G) = r;
    Kokkos::deep_copy(fr_offsets_, fo);
    Kokkos::deep_copy(fr_column_, fc);
    Kokkos::deep_copy(fr_n_int_, fni);
    Kokkos::deep_copy(fr_K_, fK);
    Kokkos::deep_copy(fr_n_, fn);
    Kokkos::deep_copy(fr_h_pow_n_, fh);
  }
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
