#include "tessera/tissue/lifecycle.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/kokkos_compat.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/tissue/compaction.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tessera {

namespace {

// A cell's fate at the end of a step.
constexpr int lives = 0, dies = 1, divides = 2;

// Each owned cell's fate (death first: a dying cell does not divide); counts the deaths.
struct Fate {
  Kokkos::View<const std::uint64_t*> id;
  Kokkos::View<const int*> type;
  Kokkos::View<const double**, Kokkos::LayoutRight> genes;
  Kokkos::View<const double*> cycle;
  Kokkos::View<double*> below;
  Kokkos::View<const double*> division_time, death_rate;
  Kokkos::View<int*> fate;
  CounterRng rng;
  int death_gene, division_gene;
  double threshold, delay, gain, quiescent_below, dt;
  std::uint64_t step;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, std::size_t& n_dead) const {
    const int c = type(i);
    int f = lives;
    if (death_rate(c) > 0.0) {
      double u[4];
      rng.uniform4(id(i), step, RandomPurpose::death, 0, u);
      if (u[0] < 1.0 - math::exp(-death_rate(c) * dt)) f = dies;
    }
    if (death_gene >= 0) {
      below(i) = genes(i, death_gene) < threshold ? below(i) + dt : 0.0;
      if (below(i) >= delay && genes(i, death_gene) < threshold) f = dies;
    }
    if (f == lives && division_time(c) < 1e300 &&
        (division_gene < 0 || genes(i, division_gene) >= quiescent_below)) {
      const double x = division_gene >= 0 && genes(i, division_gene) > 0.0 ? genes(i, division_gene) : 0.0;
      if (cycle(i) >= division_time(c) / (1.0 + gain * x)) f = divides;
    }
    fate(i) = f;
    if (f == dies) ++n_dead;
  }
};

// The candidates for division, compacted in ascending row order (count, exclusive scan, fill: no atomics):
// rows(k) and id(k) of the k-th.
struct CompactCandidates {
  using value_type = std::size_t;
  Kokkos::View<const int*> fate;
  Kokkos::View<const std::uint64_t*> cell_id;
  Kokkos::View<int*> rows;
  Kokkos::View<std::uint64_t*> id;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, value_type& next, const bool final) const {
    if (fate(i) != divides) return;
    if (final) {
      rows(next) = static_cast<int>(i);
      id(next) = cell_id(i);
    }
    ++next;
  }
};

// The candidates whose id is among the admitted ones (the first of the sorted global list), in candidate
// order: parent row and daughter id next_id + the id's place in that list (a binary search, as the host's
// std::lower_bound).
struct AdmitParents {
  using value_type = std::size_t;
  Kokkos::View<const int*> rows;
  Kokkos::View<const std::uint64_t*> id;
  Kokkos::View<const std::uint64_t*> admitted; // ascending
  Kokkos::View<int*> parents;
  Kokkos::View<std::uint64_t*> daughter_id;
  std::uint64_t next_id;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k, value_type& next, const bool final) const {
    std::size_t lo = 0, hi = admitted.extent(0);
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (admitted(mid) < id(k))
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == admitted.extent(0)) return;
    if (final) {
      parents(next) = rows(k);
      daughter_id(next) = next_id + lo;
    }
    ++next;
  }
};

// field(first + k, :) = field(parents(k), :): daughters start as copies of their parents. A functor: the
// kernel is launched from the generic lambda for_each_field calls, where nvcc allows no device lambda.
template <class Field>
struct CopyParents {
  Field field;
  Kokkos::View<int*> parents;
  std::size_t first;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k) const {
    for (std::size_t c = 0; c < field.extent(1); ++c)
      field(first + k, c) = field(parents(k), c);
  }
};

// Parent p and daughter d (row first + k) placed at p -+ (R/2) e along a random unit vector e; both clocks
// restart, the daughter takes its id and the parent's time below the death threshold.
struct PlaceDaughters {
  Kokkos::View<double* [3], Kokkos::LayoutRight> pos;
  Kokkos::View<const double*> radius;
  Kokkos::View<double*> cycle, below_time;
  Kokkos::View<std::uint64_t*> ids;
  Kokkos::View<const int*> parents;
  Kokkos::View<const std::uint64_t*> daughter_id;
  Walls walls;
  CounterRng rng;
  std::uint64_t step;
  int first, dim;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k) const {
    const int p = parents(k);
    const int d = first + static_cast<int>(k);
    double e[4];
    rng.normal4(ids(p), step, RandomPurpose::division, 0, e);
    if (dim == 2) e[2] = 0.0;
    double norm = math::sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
    if (norm < 1e-12) {
      e[0] = 1.0;
      e[1] = e[2] = 0.0;
      norm = 1.0;
    }
    const double half = 0.5 * radius(p) / norm;
    double a[3], b[3];
    for (int j = 0; j < 3; ++j) {
      a[j] = pos(p, j) - half * e[j];
      b[j] = pos(p, j) + half * e[j];
    }
    walls.apply(a);
    walls.apply(b);
    for (int j = 0; j < 3; ++j) {
      pos(p, j) = a[j];
      pos(d, j) = b[j];
    }
    ids(d) = daughter_id(k);
    cycle(p) = cycle(d) = 0.0;
    below_time(d) = below_time(p);
  }
};

} // namespace

const KeyTable& division_keys() {
  static const KeyTable table = [] {
    KeyTable t("cells.division", "Cell division (SPEC §1.4): a cell divides when its cycle clock reaches "
                                 "time / (1 + gain * x_gene), and, with a threshold, only while x_gene is at "
                                 "or above it.");
    t.add("time", KeyType::real_list, Dimension::time)
        .one_per_type()
        .def(".inf")
        .positive()
        .infinite_ok()
        .describe("T_div: cycle length per type; `.inf` = never divides.");
    t.add("gene", KeyType::text).describe("Gene whose expression shortens the cycle (optional).");
    t.add("gain", KeyType::real).def("0").non_negative().describe("g_div: strength of the gene's effect.");
    t.add("threshold", KeyType::real)
        .def("0")
        .non_negative()
        .describe("The cell divides only while the gene is at or above this (quiescence below it, e.g. "
                  "hypoxia; its cycle clock keeps running); 0: no threshold.");
    return t;
  }();
  return table;
}

const KeyTable& death_keys() {
  static const KeyTable table = [] {
    KeyTable t("cells.death", "Cell death (SPEC §1.4): at a constant rate, and/or when a gene stays low.");
    t.add("rate", KeyType::real_list, Dimension::rate)
        .one_per_type()
        .def("0")
        .non_negative()
        .describe("mu: death rate per type (probability 1 - exp(-mu dt) per step).");
    t.add("gene", KeyType::text).describe("Gene whose expression keeps the cell alive (optional).");
    t.add("threshold", KeyType::real)
        .def("0")
        .non_negative()
        .describe("The cell dies when the gene stays below this...");
    t.add("delay", KeyType::real, Dimension::time)
        .def("0")
        .non_negative()
        .describe("... for at least this long.");
    return t;
  }();
  return table;
}

bool LifecycleParams::divides() const {
  return std::any_of(division_time.begin(), division_time.end(), [](double t) { return std::isfinite(t); });
}

bool LifecycleParams::dies() const {
  return death_gene >= 0 || std::any_of(death_rate.begin(), death_rate.end(), [](double m) { return m > 0; });
}

LifecycleParams read_lifecycle(const Deck& deck, int n_types, const std::vector<std::string>& genes) {
  const DeckView cells = deck.section("cells");
  const DeckView div = cells.section("division");
  const DeckView death = cells.section("death");
  LifecycleParams p;
  auto gene_of = [&](const DeckView& s) {
    if (!s.has("gene")) return -1;
    const auto it = std::find(genes.begin(), genes.end(), s.text("gene"));
    if (it == genes.end()) s.fail("gene", "unknown gene '" + s.text("gene") + "' (not in grn.genes)");
    return static_cast<int>(it - genes.begin());
  };
  p.division_time = div.per_type("time", n_types);
  p.division_gene = gene_of(div);
  p.division_gain = div.real("gain");
  p.division_threshold = div.real("threshold");
  if (p.division_threshold > 0 && p.division_gene < 0)
    div.fail("threshold", "needs cells.division.gene (the gene it applies to)");
  p.death_rate = death.per_type("rate", n_types);
  p.death_gene = gene_of(death);
  p.death_threshold = death.real("threshold");
  p.death_delay = death.real("delay");
  return p;
}

Lifecycle::Lifecycle(const LifecycleParams& params, const Domain& domain, std::uint64_t seed,
                     long long max_cells, std::uint64_t next_id)
    : params_(params), walls_(domain), rng_{seed}, max_cells_(max_cells), next_id_(next_id) {
  division_time_ = to_device("tessera::lifecycle::division_time", params.division_time);
  death_rate_ = to_device("tessera::lifecycle::death_rate", params.death_rate);
}

LifecycleEvents Lifecycle::apply(MPI_Comm comm, Cells<>& cells, double dt, long long step) {
  ScopedRegion region("tessera::tissue::lifecycle");
  LifecycleEvents events;
  cells.n_ghost = 0;
  if (!active()) return events;
  const std::size_t n = cells.n_owned;
  // Each cell's fate, and the number of deaths (an exact integer sum: any order gives the same count).
  Kokkos::View<int*> fate("tessera::lifecycle::fate", n);
  const CounterRng rng = rng_;
  const auto s = static_cast<std::uint64_t>(step);
  std::size_t n_dead = 0;
  Kokkos::parallel_reduce("tessera::lifecycle::fate", Kokkos::RangePolicy<>(0, n),
                          Fate{cells.id, cells.type, cells.genes, cells.cycle, cells.below_time,
                               division_time_, death_rate_, fate, rng, params_.death_gene,
                               params_.division_gene, params_.death_threshold, params_.death_delay,
                               params_.division_gain, params_.division_threshold, dt, s},
                          n_dead);

  // Division: every rank learns every candidate parent id, in global id order, and daughters take ids
  // next_id, next_id + 1, ... in that order; max_cells admits the first candidates only. The candidates are
  // compacted on the device in row order; their ids are the one copy to the host (the MPI message), the
  // admitted part of the sorted global list the one copy back.
  Kokkos::View<int*> candidate_row("tessera::lifecycle::candidate_row", n);
  Kokkos::View<std::uint64_t*> candidate_id("tessera::lifecycle::candidate_id", n);
  std::size_t n_candidates = 0;
  Kokkos::parallel_scan("tessera::lifecycle::candidates", Kokkos::RangePolicy<>(0, n),
                        CompactCandidates{fate, cells.id, candidate_row, candidate_id}, n_candidates);
  const auto mine = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(candidate_id, std::make_pair(std::size_t(0), n_candidates)));
  const int ranks = mpi::size(comm);
  int count = static_cast<int>(n_candidates);
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks), 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(std::accumulate(counts.begin(), counts.end(), 0)));
  mpi::check(MPI_Allgatherv(mine.data(), count, MPI_UINT64_T, all.data(), counts.data(), displs.data(),
                            MPI_UINT64_T, comm),
             "MPI_Allgatherv");
  std::sort(all.begin(), all.end());
  const long long alive = mpi::sum(comm, static_cast<std::int64_t>(n - n_dead));
  const long long room = std::max<long long>(0, max_cells_ - alive);
  const std::size_t admitted = std::min<std::size_t>(all.size(), static_cast<std::size_t>(room));
  events.capped = admitted < all.size();
  events.deaths = mpi::sum(comm, static_cast<std::int64_t>(n_dead));
  events.divisions = static_cast<long long>(admitted);

  // This rank's admitted parents (in row order) and their daughters' ids: next_id + the parent's place in
  // the global list.
  std::size_t n_daughters = 0;
  Kokkos::View<int*> parents("tessera::lifecycle::parents", n_candidates);
  Kokkos::View<std::uint64_t*> new_ids("tessera::lifecycle::daughter_ids", n_candidates);
  if (n_candidates > 0 && admitted > 0) {
    const std::vector<std::uint64_t> first(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(admitted));
    Kokkos::parallel_scan("tessera::lifecycle::admit", Kokkos::RangePolicy<>(0, n_candidates),
                          AdmitParents{candidate_row, candidate_id,
                                       to_device("tessera::lifecycle::admitted", first), parents, new_ids,
                                       next_id_},
                          n_daughters);
  }
  next_id_ += admitted;

  // Daughters are appended after the owned rows as copies of their parents, then both are placed at
  // p -+ (R/2) e along a random unit vector e, and both clocks restart.
  cells.reserve(n + n_daughters);
  if (n_daughters > 0) {
    cells.for_each_field([&](auto field) {
      Kokkos::parallel_for("tessera::lifecycle::copy_parent", Kokkos::RangePolicy<>(0, n_daughters),
                           CopyParents<decltype(field)>{field, parents, n});
    });
    Kokkos::parallel_for("tessera::lifecycle::place_daughters", Kokkos::RangePolicy<>(0, n_daughters),
                         PlaceDaughters{cells.position, cells.radius, cells.cycle, cells.below_time, cells.id,
                                        parents, new_ids, walls_, rng, s, static_cast<int>(n), cells.dim});
  }
  std::size_t total = n + n_daughters;

  // Remove the dead: refill their rows from the end (which may hold daughters).
  if (n_dead > 0) {
    Kokkos::View<int*> dead("tessera::lifecycle::dead", total);
    Kokkos::parallel_for(
        "tessera::lifecycle::dead", Kokkos::RangePolicy<>(0, n),
        KOKKOS_LAMBDA(const std::size_t i) { dead(i) = fate(i) == dies ? 1 : 0; });
    total = remove_rows(cells, total, dead, n_dead);
  }
  Kokkos::fence();
  cells.n_owned = total;
  return events;
}

} // namespace tessera
