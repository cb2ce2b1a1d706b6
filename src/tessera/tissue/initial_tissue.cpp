#include "tessera/tissue/initial_tissue.hpp"

#include "tessera/core/error.hpp"

#include <cmath>

namespace tessera {

namespace {

std::array<long long, 3> lattice_sites(const Domain& domain, double spacing) {
  std::array<long long, 3> n{1, 1, 1};
  for (int a = 0; a < domain.dim; ++a)
    n[a] = static_cast<long long>(std::floor(domain.extent(a) / spacing));
  return n;
}

int draw_type(const CellTypes& types, double u) {
  double cumulative = 0.0;
  for (int t = 0; t < types.count(); ++t) {
    cumulative += types.fractions[t];
    if (u < cumulative) return t;
  }
  return types.count() - 1;
}

} // namespace

double initial_cell_count_estimate(const Domain& domain, const InitialTissue& init) {
  if (init.placement == Placement::random) return static_cast<double>(init.count);
  double sites = 1.0;
  for (int a = 0; a < domain.dim; ++a)
    sites *= std::floor(domain.extent(a) / init.spacing);
  return sites;
}

long long initial_cell_count(const Domain& domain, const InitialTissue& init) {
  if (init.placement == Placement::random) return init.count;
  const auto n = lattice_sites(domain, init.spacing);
  return n[0] * n[1] * n[2];
}

Cells<> create_initial_tissue(const CartesianDecomposition& decomposition, const CellTypes& types,
                              const InitialTissue& init, const CounterRng& rng, int n_genes) {
  const Domain& domain = decomposition.domain();
  const int dim = domain.dim;
  const long long total = initial_cell_count(domain, init);
  const auto sites = lattice_sites(domain, init.spacing);

  // First pass: positions of the candidates this rank owns.
  std::vector<std::uint64_t> ids;
  std::vector<double> positions;
  for (long long c = 0; c < total; ++c) {
    const auto id = static_cast<std::uint64_t>(c);
    double p[3] = {0, 0, 0};
    if (init.placement == Placement::random) {
      double u[4];
      rng.uniform4(id, 0, RandomPurpose::init_position, 0, u);
      for (int a = 0; a < dim; ++a)
        p[a] = domain.lo[a] + u[a] * domain.extent(a);
    } else {
      long long rest = c;
      for (int a = 0; a < dim; ++a) {
        const long long k = rest % sites[a];
        rest /= sites[a];
        p[a] = domain.lo[a] + (static_cast<double>(k) + 0.5) * init.spacing;
      }
    }
    if (!decomposition.owns(p)) continue;
    ids.push_back(id);
    positions.insert(positions.end(), p, p + 3);
  }

  Cells<> cells(dim, n_genes, ids.size());
  cells.n_owned = ids.size();
  auto id_h = Kokkos::create_mirror_view(cells.id);
  auto type_h = Kokkos::create_mirror_view(cells.type);
  auto pos_h = Kokkos::create_mirror_view(cells.position);
  auto radius_h = Kokkos::create_mirror_view(cells.radius);
  auto genes_h = Kokkos::create_mirror_view(cells.genes);
  auto cycle_h = Kokkos::create_mirror_view(cells.cycle);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint64_t id = ids[i];
    id_h(i) = id;
    for (int a = 0; a < 3; ++a)
      pos_h(i, a) = positions[3 * i + a];
    double u[4];
    rng.uniform4(id, 0, RandomPurpose::init_type, 0, u);
    const int t = draw_type(types, u[0]);
    type_h(i) = t;
    radius_h(i) = types.radius[t];
    cycle_h(i) = 0.0;
    for (int g = 0; g < n_genes; ++g) {
      if (init.genes == InitialGenes::constant) {
        genes_h(i, g) = init.gene_value[g];
      } else {
        double v[4];
        rng.uniform4(id, 0, RandomPurpose::init_genes, static_cast<std::uint64_t>(g / 4), v);
        genes_h(i, g) = init.gene_low[g] + v[g % 4] * (init.gene_high[g] - init.gene_low[g]);
      }
    }
  }
  Kokkos::deep_copy(cells.id, id_h);
  Kokkos::deep_copy(cells.type, type_h);
  Kokkos::deep_copy(cells.position, pos_h);
  Kokkos::deep_copy(cells.radius, radius_h);
  Kokkos::deep_copy(cells.genes, genes_h);
  Kokkos::deep_copy(cells.cycle, cycle_h);
  return cells;
}

} // namespace tessera
