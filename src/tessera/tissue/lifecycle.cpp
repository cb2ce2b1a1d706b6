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
  const int n = static_cast<int>(cells.n_owned);
  // fate: 0 = lives, 1 = dies, 2 = candidate for division.
  Kokkos::View<int*> fate("tessera::lifecycle::fate", static_cast<std::size_t>(n));
  const auto id = cells.id;
  const auto type = cells.type;
  const auto genes = cells.genes;
  const auto cycle = cells.cycle;
  const auto below = cells.below_time;
  const auto division_time = division_time_;
  const auto death_rate = death_rate_;
  const CounterRng rng = rng_;
  const int death_gene = params_.death_gene, division_gene = params_.division_gene;
  const double threshold = params_.death_threshold, delay = params_.death_delay, gain = params_.division_gain,
               quiescent_below = params_.division_threshold;
  const auto s = static_cast<std::uint64_t>(step);
  Kokkos::parallel_for(
      "tessera::lifecycle::fate", Kokkos::RangePolicy<>(0, n), KOKKOS_LAMBDA(const int i) {
        const int c = type(i);
        int f = 0;
        if (death_rate(c) > 0.0) {
          double u[4];
          rng.uniform4(id(i), s, RandomPurpose::death, 0, u);
          if (u[0] < 1.0 - math::exp(-death_rate(c) * dt)) f = 1;
        }
        if (death_gene >= 0) {
          below(i) = genes(i, death_gene) < threshold ? below(i) + dt : 0.0;
          if (below(i) >= delay && genes(i, death_gene) < threshold) f = 1;
        }
        if (f == 0 && division_time(c) < 1e300 &&
            (division_gene < 0 || genes(i, division_gene) >= quiescent_below)) {
          const double x =
              division_gene >= 0 && genes(i, division_gene) > 0.0 ? genes(i, division_gene) : 0.0;
          if (cycle(i) >= division_time(c) / (1.0 + gain * x)) f = 2;
        }
        fate(i) = f;
      });
  auto fate_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fate);
  auto id_h = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(),
      Kokkos::subview(cells.id, std::make_pair(std::size_t(0), static_cast<std::size_t>(n))));

  // Division: every rank learns every candidate parent id, in global id order, and daughters take ids
  // next_id, next_id + 1, ... in that order; max_cells admits the first candidates only.
  std::vector<std::uint64_t> mine;
  std::vector<int> dead_rows;
  for (int i = 0; i < n; ++i) {
    if (fate_h(i) == 2) mine.push_back(id_h(i));
    if (fate_h(i) == 1) dead_rows.push_back(i);
  }
  const int ranks = mpi::size(comm);
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks), 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(std::accumulate(counts.begin(), counts.end(), 0)));
  mpi::check(MPI_Allgatherv(mine.data(), count, MPI_UINT64_T, all.data(), counts.data(), displs.data(),
                            MPI_UINT64_T, comm),
             "MPI_Allgatherv");
  std::sort(all.begin(), all.end());
  const long long alive = mpi::sum(comm, static_cast<std::int64_t>(n - static_cast<int>(dead_rows.size())));
  const long long room = std::max<long long>(0, max_cells_ - alive);
  const std::size_t admitted = std::min<std::size_t>(all.size(), static_cast<std::size_t>(room));
  events.capped = admitted < all.size();
  events.deaths = mpi::sum(comm, static_cast<std::int64_t>(dead_rows.size()));
  events.divisions = static_cast<long long>(admitted);

  // This rank's admitted parents and their daughters' ids.
  std::vector<int> parent_rows;
  std::vector<std::uint64_t> daughter_ids;
  for (int i = 0; i < n; ++i) {
    if (fate_h(i) != 2) continue;
    const auto rank_in_all =
        static_cast<std::size_t>(std::lower_bound(all.begin(), all.end(), id_h(i)) - all.begin());
    if (rank_in_all >= admitted) continue;
    parent_rows.push_back(i);
    daughter_ids.push_back(next_id_ + rank_in_all);
  }
  next_id_ += admitted;

  // Daughters are appended after the owned rows as copies of their parents, then both are placed at
  // p -+ (R/2) e along a random unit vector e, and both clocks restart.
  const std::size_t n_daughters = parent_rows.size();
  cells.reserve(static_cast<std::size_t>(n) + n_daughters);
  if (n_daughters > 0) {
    Kokkos::View<int*> parents("tessera::lifecycle::parents", n_daughters);
    Kokkos::View<std::uint64_t*> new_ids("tessera::lifecycle::daughter_ids", n_daughters);
    auto ph = Kokkos::create_mirror_view(parents);
    auto nh = Kokkos::create_mirror_view(new_ids);
    for (std::size_t k = 0; k < n_daughters; ++k) {
      ph(k) = parent_rows[k];
      nh(k) = daughter_ids[k];
    }
    Kokkos::deep_copy(parents, ph);
    Kokkos::deep_copy(new_ids, nh);
    cells.for_each_field([&](auto field) {
      Kokkos::parallel_for("tessera::lifecycle::copy_parent", Kokkos::RangePolicy<>(0, n_daughters),
                           CopyParents<decltype(field)>{field, parents, static_cast<std::size_t>(n)});
    });
    const auto pos = cells.position;
    const auto radius = cells.radius;
    const auto cyc = cells.cycle;
    const auto below_time = cells.below_time;
    const auto ids = cells.id;
    const Walls walls = walls_;
    const int dim = cells.dim;
    Kokkos::parallel_for(
        "tessera::lifecycle::place_daughters", Kokkos::RangePolicy<>(0, n_daughters),
        KOKKOS_LAMBDA(const std::size_t k) {
          const int p = parents(k);
          const int d = n + static_cast<int>(k);
          double e[4];
          rng.normal4(ids(p), s, RandomPurpose::division, 0, e);
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
          ids(d) = new_ids(k);
          cyc(p) = cyc(d) = 0.0;
          below_time(d) = below_time(p);
        });
  }
  std::size_t total = static_cast<std::size_t>(n) + n_daughters;

  // Remove the dead: refill their rows from the end (which may hold daughters).
  if (!dead_rows.empty()) total = remove_rows(cells, total, dead_rows);
  Kokkos::fence();
  cells.n_owned = total;
  return events;
}

} // namespace tessera
