#include "tessera/grn/hill.hpp"

#include <cmath>

namespace tessera {

namespace {
Kokkos::View<double*> to_view(const std::string& label, const std::vector<double>& v) {
  Kokkos::View<double*> out(label, v.size());
  auto h = Kokkos::create_mirror_view(out);
  for (size_t i = 0; i < v.size(); ++i)
    h(i) = v[i];
  Kokkos::deep_copy(out, h);
  return out;
}
} // namespace

HillModel::HillModel(const GeneNetwork& network, int n_types) : n_genes_(network.n_genes()) {
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
  production_ = to_view("tessera::hill::production", network.production);
  basal_ = to_view("tessera::hill::basal", network.basal);
  decay_ = to_view("tessera::hill::decay", network.decay);
}

void HillModel::evaluate(double /*t*/, ConstGeneState x, GeneState dxdt) const {
  const HillRhsFunctor f{cell_type_,       x,        dxdt,     edges_.offsets, edges_.source,
                         edges_.activates, edges_.K, edges_.n, edges_.n_int,   edges_.h_pow_n,
                         production_,      basal_,   decay_,   n_genes_};
  Kokkos::parallel_for("tessera::grn::hill_rhs", Kokkos::RangePolicy<>(0, static_cast<int>(x.extent(0))), f);
}

} // namespace tessera
