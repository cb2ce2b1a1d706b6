#include "tessera/tissue/initial_tissue.hpp"

#include "tessera/core/error.hpp"
#include "tessera/tissue/cell_file.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

namespace {

constexpr double pi = 3.141592653589793;

std::array<long long, 3> lattice_sites(const Domain& domain, double spacing) {
  std::array<long long, 3> n{1, 1, 1};
  for (int a = 0; a < domain.dim; ++a)
    n[a] = static_cast<long long>(std::floor(domain.extent(a) / spacing));
  return n;
}

double lattice_coordinate(const Domain& domain, double spacing, int axis, long long k) {
  return domain.lo[axis] + (static_cast<double>(k) + 0.5) * spacing;
}

// The hexagonal lattice's rows lie hex_row_step(spacing) apart: neighbours in adjacent rows are then
// `spacing` away, as within a row.
double hex_row_step(double spacing) {
  return spacing * std::sqrt(3.0) / 2.0;
}

// Sites along x (per row) and rows along y. A box typed as a whole number of sites or rows (a multiple of
// sqrt(3)/2 given to 7 digits) gets that number: the slack only decides whether a last site that still lies
// half a step inside the box is kept.
std::array<double, 2> hexagonal_sites(const Domain& domain, double spacing) {
  return {std::floor(domain.extent(0) / spacing + 1e-6),
          std::floor(domain.extent(1) / hex_row_step(spacing) + 1e-6)};
}

// Site k (x fastest) of a hexagonal lattice: row j = k / nx at y = lo + (j + 1/2) row_step, sites at
// x = lo + (i + 1/4) spacing, odd rows shifted by spacing / 2, so the rows interleave and a periodic box of
// nx spacings closes every row with a neighbour at `spacing` across the seam.
void hexagonal_site(const Domain& domain, double spacing, long long nx, long long k, double* p) {
  const long long i = k % nx, j = k / nx;
  p[0] = domain.lo[0] + (static_cast<double>(i) + 0.25 + (j % 2 == 1 ? 0.5 : 0.0)) * spacing;
  p[1] = domain.lo[1] + (static_cast<double>(j) + 0.5) * hex_row_step(spacing);
}

int draw_type(const CellTypes& types, double u) {
  double cumulative = 0.0;
  for (int t = 0; t < types.count(); ++t) {
    cumulative += types.fractions[t];
    if (u < cumulative) return t;
  }
  return types.count() - 1;
}

// Site index range [first, last] (clamped to the lattice, empty when it has no site along `axis`) that may
// touch the ball along `axis`, one site of slack each side so rounding cannot drop a site the exact test
// keeps.
std::pair<long long, long long> ball_index_range(const Domain& domain, const InitialTissue& init, int axis) {
  const double sites = std::floor(domain.extent(axis) / init.spacing);
  if (sites < 1.0) return {0, -1};
  const double s = init.spacing, lo = domain.lo[axis], c = init.center[axis], r = init.radius;
  const double first = std::clamp(std::ceil((c - r - lo) / s - 0.5) - 1.0, 0.0, sites - 1.0);
  const double last = std::clamp(std::floor((c + r - lo) / s - 0.5) + 1.0, 0.0, sites - 1.0);
  return {static_cast<long long>(first), static_cast<long long>(last)};
}

// Rows of lattice sites along x inside the ball, in lattice order (z, then y, outer; x fastest): calls
// row(k1, k2, first, last) for each non-empty row with its run of x indices. The run is exact under
// inside_initial_sphere: the ball's intersection with a row is contiguous (the squared distance is monotone
// in |x - cx| even in rounded arithmetic), so it is found from the site nearest the centre outwards.
template <class Row>
void for_each_ball_row(const Domain& domain, const InitialTissue& init, Row&& row) {
  const int dim = domain.dim;
  const double s = init.spacing;
  const auto [x_lo, x_hi] = ball_index_range(domain, init, 0);
  const auto [y_lo, y_hi] = ball_index_range(domain, init, 1);
  const std::pair<long long, long long> z_range =
      dim == 3 ? ball_index_range(domain, init, 2) : std::pair<long long, long long>{0, 0};
  double p[3] = {0, 0, 0};
  auto inside = [&](long long k) {
    p[0] = lattice_coordinate(domain, s, 0, k);
    return inside_initial_sphere(init, dim, p);
  };
  if (x_lo > x_hi) return;
  const double nearest = std::round((init.center[0] - domain.lo[0]) / s - 0.5);
  const long long centre =
      static_cast<long long>(std::clamp(nearest, static_cast<double>(x_lo), static_cast<double>(x_hi)));
  for (long long k2 = z_range.first; k2 <= z_range.second; ++k2) {
    if (dim == 3) p[2] = lattice_coordinate(domain, s, 2, k2);
    for (long long k1 = y_lo; k1 <= y_hi; ++k1) {
      p[1] = lattice_coordinate(domain, s, 1, k1);
      long long seed = -1;
      for (long long k = std::max(x_lo, centre - 1); k <= std::min(x_hi, centre + 1) && seed < 0; ++k)
        if (inside(k)) seed = k;
      if (seed < 0) continue;
      long long first = seed, last = seed;
      while (first > x_lo && inside(first - 1))
        --first;
      while (last < x_hi && inside(last + 1))
        ++last;
      row(k1, k2, first, last);
    }
  }
}

double ball_rows(const Domain& domain, const InitialTissue& init) {
  double rows = 1.0;
  for (int a = 1; a < domain.dim; ++a) {
    const auto [first, last] = ball_index_range(domain, init, a);
    rows *= static_cast<double>(last - first + 1);
  }
  return rows;
}

long long ball_lattice_count(const Domain& domain, const InitialTissue& init) {
  long long count = 0;
  for_each_ball_row(domain, init, [&](long long, long long, long long first, long long last) {
    count += last - first + 1;
  });
  return count;
}

double initial_gene(const InitialTissue& init, const CounterRng& rng, std::uint64_t id, int g) {
  if (init.genes != InitialGenes::uniform)
    return g < static_cast<int>(init.gene_value.size()) ? init.gene_value[g] : 0.0;
  double v[4];
  rng.uniform4(id, 0, RandomPurpose::init_genes, static_cast<std::uint64_t>(g / 4), v);
  return init.gene_low[g] + v[g % 4] * (init.gene_high[g] - init.gene_low[g]);
}

// Rejection sampling in the ball's bounding cube: draw j of cell `id` uses counter index j. Acceptance is
// pi/4 (2-D) or pi/6 (3-D), so 200 draws fail with probability below 1e-60.
void random_in_ball(const InitialTissue& init, int dim, const CounterRng& rng, std::uint64_t id, double* p) {
  for (std::uint64_t draw = 0; draw < 200; ++draw) {
    double u[4];
    rng.uniform4(id, 0, RandomPurpose::init_position, draw, u);
    for (int a = 0; a < dim; ++a)
      p[a] = init.center[a] + (2.0 * u[a] - 1.0) * init.radius;
    if (inside_initial_sphere(init, dim, p)) return;
  }
  throw runtime_error("initial tissue: no position inside the sphere for cell " + std::to_string(id) +
                      " after 200 draws");
}

// Host copies of a Cells' views, filled row by row and copied to the cells' memory space at the end.
struct HostCells {
  explicit HostCells(Cells<>& cells)
      : id(Kokkos::create_mirror_view(cells.id)), type(Kokkos::create_mirror_view(cells.type)),
        position(Kokkos::create_mirror_view(cells.position)),
        radius(Kokkos::create_mirror_view(cells.radius)), genes(Kokkos::create_mirror_view(cells.genes)),
        cycle(Kokkos::create_mirror_view(cells.cycle)) {}

  void copy_to(Cells<>& cells) const {
    Kokkos::deep_copy(cells.id, id);
    Kokkos::deep_copy(cells.type, type);
    Kokkos::deep_copy(cells.position, position);
    Kokkos::deep_copy(cells.radius, radius);
    Kokkos::deep_copy(cells.genes, genes);
    Kokkos::deep_copy(cells.cycle, cycle);
  }

  decltype(Cells<>::id)::HostMirror id;
  decltype(Cells<>::type)::HostMirror type;
  decltype(Cells<>::position)::HostMirror position;
  decltype(Cells<>::radius)::HostMirror radius;
  decltype(Cells<>::genes)::HostMirror genes;
  decltype(Cells<>::cycle)::HostMirror cycle;
};

Cells<> cells_from_file(const CartesianDecomposition& decomposition, const CellTypes& types,
                        const InitialTissue& init, const CounterRng& rng, int n_genes) {
  CellFileSchema schema;
  schema.domain = decomposition.domain();
  schema.type_names = types.names;
  schema.type_radius = types.radius;
  schema.gene_names = init.gene_names;
  schema.all_genes_required = init.genes == InitialGenes::file;
  const CellFileCells file = read_cell_file(init.file, init.file_step, schema,
                                            [&](const double* p) { return decomposition.owns(p); });
  const CellSnapshot& kept = file.kept;
  const int dim = kept.dim;
  Cells<> cells(dim, n_genes, kept.size());
  cells.n_owned = kept.size();
  HostCells h(cells);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    h.id(i) = kept.id[i];
    h.type(i) = kept.type[i];
    for (int a = 0; a < 3; ++a)
      h.position(i, a) = a < dim ? kept.position[i * dim + a] : 0.0;
    h.radius(i) = kept.radius[i];
    h.cycle(i) = kept.cycle[i];
    for (int g = 0; g < n_genes; ++g)
      h.genes(i, g) = file.has_gene[g] ? kept.genes[i * n_genes + g] : initial_gene(init, rng, kept.id[i], g);
  }
  h.copy_to(cells);
  return cells;
}

} // namespace

bool inside_initial_sphere(const InitialTissue& init, int dim, const double* position) {
  double d2 = 0.0;
  for (int a = 0; a < dim; ++a) {
    const double d = position[a] - init.center[a];
    d2 += d * d;
  }
  return d2 <= init.radius * init.radius;
}

double initial_region_volume(const Domain& domain, const InitialTissue& init) {
  if (init.region == InitialRegion::box) return domain.volume();
  const double r = init.radius;
  return domain.dim == 2 ? pi * r * r : 4.0 / 3.0 * pi * r * r * r;
}

double initial_cell_count_estimate(const Domain& domain, const InitialTissue& init) {
  switch (init.placement) {
  case Placement::random:
    return static_cast<double>(init.count);
  case Placement::file:
    return static_cast<double>(init.file_cells);
  case Placement::hexagonal: {
    const auto n = hexagonal_sites(domain, init.spacing);
    return n[0] * n[1];
  }
  case Placement::lattice:
    break;
  }
  if (init.region == InitialRegion::sphere) {
    // Counting costs one step per row of the ball; past 1e7 rows the ball holds ~1e10 sites or more, where
    // the volume ratio is exact to well under a per mille.
    if (ball_rows(domain, init) <= 1e7) return static_cast<double>(ball_lattice_count(domain, init));
    return initial_region_volume(domain, init) / std::pow(init.spacing, domain.dim);
  }
  double sites = 1.0;
  for (int a = 0; a < domain.dim; ++a)
    sites *= std::floor(domain.extent(a) / init.spacing);
  return sites;
}

long long initial_cell_count(const Domain& domain, const InitialTissue& init) {
  switch (init.placement) {
  case Placement::random:
    return init.count;
  case Placement::file:
    return init.file_cells;
  case Placement::hexagonal: {
    const auto n = hexagonal_sites(domain, init.spacing);
    return static_cast<long long>(n[0]) * static_cast<long long>(n[1]);
  }
  case Placement::lattice:
    break;
  }
  if (init.region == InitialRegion::sphere) return ball_lattice_count(domain, init);
  const auto n = lattice_sites(domain, init.spacing);
  return n[0] * n[1] * n[2];
}

Cells<> create_initial_tissue(const CartesianDecomposition& decomposition, const CellTypes& types,
                              const InitialTissue& init, const CounterRng& rng, int n_genes) {
  if (init.placement == Placement::file) return cells_from_file(decomposition, types, init, rng, n_genes);
  const Domain& domain = decomposition.domain();
  const int dim = domain.dim;

  // First pass: positions of the candidates this rank owns.
  std::vector<std::uint64_t> ids;
  std::vector<double> positions;
  auto offer = [&](std::uint64_t id, const double* p) {
    if (!decomposition.owns(p)) return;
    ids.push_back(id);
    positions.insert(positions.end(), p, p + 3);
  };
  if (init.placement == Placement::random) {
    for (long long c = 0; c < init.count; ++c) {
      const auto id = static_cast<std::uint64_t>(c);
      double p[3] = {0, 0, 0};
      if (init.region == InitialRegion::sphere) {
        random_in_ball(init, dim, rng, id, p);
      } else {
        // Draw index 0 of a box cell: the same positions as before spheres existed.
        double u[4];
        rng.uniform4(id, 0, RandomPurpose::init_position, 0, u);
        for (int a = 0; a < dim; ++a)
          p[a] = domain.lo[a] + u[a] * domain.extent(a);
      }
      offer(id, p);
    }
  } else if (init.placement == Placement::hexagonal) {
    const long long total = initial_cell_count(domain, init);
    const auto nx = static_cast<long long>(hexagonal_sites(domain, init.spacing)[0]);
    for (long long c = 0; c < total; ++c) {
      double p[3] = {0, 0, 0};
      hexagonal_site(domain, init.spacing, nx, c, p);
      offer(static_cast<std::uint64_t>(c), p);
    }
  } else if (init.region == InitialRegion::sphere) {
    std::uint64_t next_id = 0;
    for_each_ball_row(domain, init, [&](long long k1, long long k2, long long first, long long last) {
      double p[3] = {0, lattice_coordinate(domain, init.spacing, 1, k1),
                     dim == 3 ? lattice_coordinate(domain, init.spacing, 2, k2) : 0.0};
      for (long long k = first; k <= last; ++k) {
        p[0] = lattice_coordinate(domain, init.spacing, 0, k);
        offer(next_id++, p);
      }
    });
  } else {
    const long long total = initial_cell_count(domain, init);
    const auto sites = lattice_sites(domain, init.spacing);
    for (long long c = 0; c < total; ++c) {
      double p[3] = {0, 0, 0};
      long long rest = c;
      for (int a = 0; a < dim; ++a) {
        const long long k = rest % sites[a];
        rest /= sites[a];
        p[a] = lattice_coordinate(domain, init.spacing, a, k);
      }
      offer(static_cast<std::uint64_t>(c), p);
    }
  }

  Cells<> cells(dim, n_genes, ids.size());
  cells.n_owned = ids.size();
  HostCells h(cells);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint64_t id = ids[i];
    h.id(i) = id;
    for (int a = 0; a < 3; ++a)
      h.position(i, a) = positions[3 * i + a];
    double u[4];
    rng.uniform4(id, 0, RandomPurpose::init_type, 0, u);
    const int t = draw_type(types, u[0]);
    h.type(i) = t;
    h.radius(i) = types.radius[t];
    h.cycle(i) = 0.0;
    for (int g = 0; g < n_genes; ++g)
      h.genes(i, g) = initial_gene(init, rng, id, g);
  }
  h.copy_to(cells);
  return cells;
}

} // namespace tessera
