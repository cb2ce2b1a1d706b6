#include "tessera/tissue/mechanics.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/kokkos_compat.hpp"
#include "tessera/io/deck.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

const KeyTable& mechanics_keys() {
  static const KeyTable table = [] {
    KeyTable t("mechanics", "Centre-based overdamped mechanics (SPEC §1.3). Pair parameters are the means of "
                            "the two cells' types' values.");
    t.add("frozen", KeyType::boolean)
        .def("false")
        .describe("Cells do not move (spatial transcriptomics: positions are data).");
    t.add("drag", KeyType::real_list)
        .one_per_type()
        .def("1")
        .positive()
        .describe("eta: drag coefficient per type (force x min / um).");
    t.add("repulsion", KeyType::real_list)
        .one_per_type()
        .def("10")
        .non_negative()
        .describe("k_rep: repulsion strength per type (force units).");
    t.add("adhesion_range", KeyType::real_list)
        .one_per_type()
        .def("1.2")
        .at_least(1)
        .describe("a: adhesion acts up to a x (R_i + R_j); a >= 1.");
    t.add("adhesion", KeyType::real_matrix)
        .one_per_type()
        .non_negative()
        .describe("k_adh: T x T symmetric matrix of adhesion strengths between types. Default: no adhesion.");
    t.add("motility", KeyType::real_list, Dimension::diffusivity)
        .one_per_type()
        .def("0")
        .non_negative()
        .describe("D_c: Brownian motility per type.");
    return t;
  }();
  return table;
}

double MechanicsParams::cutoff(const std::vector<double>& radius) const {
  if (frozen) return 0.0;
  const double a = *std::max_element(adhesion_range.begin(), adhesion_range.end());
  const double r = *std::max_element(radius.begin(), radius.end());
  return a * 2.0 * r;
}

MechanicsParams read_mechanics(const Deck& deck, int n_types) {
  const DeckView s = deck.section("mechanics");
  MechanicsParams p;
  p.frozen = s.boolean("frozen");
  p.drag = s.per_type("drag", n_types);
  p.repulsion = s.per_type("repulsion", n_types);
  p.adhesion_range = s.per_type("adhesion_range", n_types);
  p.motility = s.per_type("motility", n_types);
  p.adhesion.assign(static_cast<std::size_t>(n_types * n_types), 0.0);
  if (s.has("adhesion")) {
    const auto m = s.matrix("adhesion");
    for (int i = 0; i < n_types; ++i)
      for (int j = 0; j < n_types; ++j) {
        if (m[i][j] != m[j][i])
          s.fail("adhesion", "the matrix must be symmetric (entry [" + std::to_string(i) + "][" +
                                 std::to_string(j) + "] differs from [" + std::to_string(j) + "][" +
                                 std::to_string(i) + "])");
        p.adhesion[static_cast<std::size_t>(i * n_types + j)] = m[i][j];
      }
  }
  return p;
}

namespace {

// One owned cell's displacement: pair forces over its neighbour row, then Brownian motion.
struct DisplacementFunctor {
  Kokkos::View<const std::uint64_t*> id;
  Kokkos::View<const int*> type;
  Kokkos::View<const double* [3], Kokkos::LayoutRight> pos;
  Kokkos::View<const double*> radius;
  Kokkos::View<const int*> offsets, neighbours;
  Kokkos::View<const double*> drag, repulsion, range, motility;
  Kokkos::View<const double**, Kokkos::LayoutRight> adhesion;
  Kokkos::View<double* [3], Kokkos::LayoutRight> displacement;
  CounterRng rng;
  double dt;
  std::uint64_t step;
  int dim;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int ci = type(i);
    double force[3] = {0, 0, 0};
    for (int e = offsets(i); e < offsets(i + 1); ++e) {
      const int j = neighbours(e);
      const int cj = type(j);
      const double r[3] = {pos(i, 0) - pos(j, 0), pos(i, 1) - pos(j, 1), pos(i, 2) - pos(j, 2)};
      const double d = math::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
      const double R = radius(i) + radius(j);
      const double a = 0.5 * (range(ci) + range(cj));
      if (d >= a * R && d >= R) continue;
      if (d <= 0.0) continue; // coincident centres: no direction; Brownian motion separates them
      const double f =
          PairForce::magnitude(d, R, 0.5 * (repulsion(ci) + repulsion(cj)), adhesion(ci, cj), a) / d;
      for (int k = 0; k < 3; ++k)
        force[k] += f * r[k];
    }
    double xi[4] = {0, 0, 0, 0};
    const double noise = math::sqrt(2.0 * motility(ci) * dt);
    if (noise > 0.0) rng.normal4(id(i), step, RandomPurpose::motility, 0, xi);
    for (int k = 0; k < 3; ++k)
      displacement(i, k) = k < dim ? dt / drag(ci) * force[k] + noise * xi[k] : 0.0;
  }
};
} // namespace

Mechanics::Mechanics(const MechanicsParams& params, const Domain& domain, std::uint64_t seed)
    : frozen_(params.frozen), n_types_(static_cast<int>(params.drag.size())), walls_(domain), rng_{seed} {
  drag_ = to_device("tessera::mechanics::drag", params.drag);
  repulsion_ = to_device("tessera::mechanics::repulsion", params.repulsion);
  range_ = to_device("tessera::mechanics::adhesion_range", params.adhesion_range);
  motility_ = to_device("tessera::mechanics::motility", params.motility);
  adhesion_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::mechanics::adhesion", n_types_, n_types_);
  auto h = Kokkos::create_mirror_view(adhesion_);
  for (int i = 0; i < n_types_; ++i)
    for (int j = 0; j < n_types_; ++j)
      h(i, j) = params.adhesion[static_cast<std::size_t>(i * n_types_ + j)];
  Kokkos::deep_copy(adhesion_, h);
}

void Mechanics::advance(Cells<>& cells, const NeighbourList& neighbours, double dt, long long step) {
  if (frozen_) return;
  ScopedRegion region("tessera::tissue::mechanics");
  const int n = static_cast<int>(cells.n_owned);
  if (displacement_.extent(0) < cells.n_owned)
    displacement_ =
        Kokkos::View<double* [3], Kokkos::LayoutRight>("tessera::mechanics::displacement", cells.capacity());
  const DisplacementFunctor f{cells.id,
                              cells.type,
                              cells.position,
                              cells.radius,
                              neighbours.offsets,
                              neighbours.neighbours,
                              drag_,
                              repulsion_,
                              range_,
                              motility_,
                              adhesion_,
                              displacement_,
                              rng_,
                              dt,
                              static_cast<std::uint64_t>(step),
                              cells.dim};
  Kokkos::parallel_for("tessera::tissue::mechanics_forces", Kokkos::RangePolicy<>(0, n), f);
  // Positions move only after every displacement is computed (forces use positions at t).
  const auto pos = cells.position;
  const auto disp = displacement_;
  const Walls walls = walls_;
  Kokkos::parallel_for(
      "tessera::tissue::mechanics_move", Kokkos::RangePolicy<>(0, n), KOKKOS_LAMBDA(const int i) {
        double p[3] = {pos(i, 0) + disp(i, 0), pos(i, 1) + disp(i, 1), pos(i, 2) + disp(i, 2)};
        walls.apply(p);
        for (int k = 0; k < 3; ++k)
          pos(i, k) = p[k];
      });
}

} // namespace tessera
