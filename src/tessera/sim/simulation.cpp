#include "tessera/sim/simulation.hpp"

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/core/machine.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/field/cell_coupling.hpp"
#include "tessera/field/diffusion_fields.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/hill.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/field_grid_file.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/io/summary_csv.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/load_balance.hpp"
#include "tessera/sim/dataset_recorder.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/domain.hpp"
#include "tessera/tissue/initial_tissue.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/spatial_order.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace tessera {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Adds the wall time of a scope to one phase counter.
class PhaseTimer {
public:
  explicit PhaseTimer(double& total) : total_(total), start_(Clock::now()) {}
  ~PhaseTimer() { total_ += seconds_since(start_); }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

private:
  double& total_;
  Clock::time_point start_;
};

// The rows of `all` whose centre lies in this rank's box.
std::vector<std::size_t> rows_in_box(const CartesianDecomposition& decomposition, const CellSnapshot& all) {
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < all.size(); ++i) {
    double p[3] = {0.0, 0.0, 0.0};
    for (int a = 0; a < all.dim; ++a)
      p[a] = all.position[i * all.dim + a];
    if (decomposition.owns(p)) rows.push_back(i);
  }
  return rows;
}

// Device cells made of `rows` of `all`. Without `below_time` (initial cells) the cycle and death clocks
// start at 0; with it (a checkpoint) both continue from the file.
Cells<> cells_from_rows(const CellSnapshot& all, const std::vector<std::size_t>& rows, int n_genes,
                        const std::vector<double>* below_time) {
  Cells<> cells(all.dim, n_genes, rows.size());
  cells.n_owned = rows.size();
  auto id = Kokkos::create_mirror_view(cells.id);
  auto type = Kokkos::create_mirror_view(cells.type);
  auto position = Kokkos::create_mirror_view(cells.position);
  auto radius = Kokkos::create_mirror_view(cells.radius);
  auto genes = Kokkos::create_mirror_view(cells.genes);
  auto cycle = Kokkos::create_mirror_view(cells.cycle);
  auto below = Kokkos::create_mirror_view(cells.below_time);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::size_t i = rows[k];
    id(k) = all.id[i];
    type(k) = all.type[i];
    for (int a = 0; a < 3; ++a)
      position(k, a) = a < all.dim ? all.position[i * all.dim + a] : 0.0;
    radius(k) = all.radius[i];
    for (int g = 0; g < n_genes; ++g)
      genes(k, g) = all.genes[i * all.n_genes + g];
    cycle(k) = below_time ? all.cycle[i] : 0.0;
    below(k) = below_time ? (*below_time)[i] : 0.0;
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.type, type);
  Kokkos::deep_copy(cells.position, position);
  Kokkos::deep_copy(cells.radius, radius);
  Kokkos::deep_copy(cells.genes, genes);
  Kokkos::deep_copy(cells.cycle, cycle);
  Kokkos::deep_copy(cells.below_time, below);
  return cells;
}

// A checkpoint's cells on this rank: the rows it read are its own when the decomposition is the writer's
// (same cells, same order); otherwise every row was read and this rank keeps those in its box.
Cells<> cells_from_checkpoint(const CartesianDecomposition& decomposition, const SimulationCheckpoint& c,
                              int n_genes) {
  const CellSnapshot& all = c.cells.cells;
  std::vector<std::size_t> rows;
  if (c.all_rows) {
    rows = rows_in_box(decomposition, all);
  } else {
    rows.resize(all.size());
    std::iota(rows.begin(), rows.end(), std::size_t(0));
  }
  return cells_from_rows(all, rows, n_genes, &c.cells.below_time);
}

// The key that sets the initial count, as a deck names it: cells.init.count, .density, .spacing or .file.
const char* initial_count_key(const DeckView& init, const InitialTissue& tissue) {
  switch (tissue.placement) {
  case Placement::lattice:
  case Placement::hexagonal:
    return "spacing";
  case Placement::file:
    return "file";
  case Placement::random:
    break;
  }
  return init.has("density") ? "density" : "count";
}

// Refuses an initial tissue whose cells hold far more volume than the region they are put in. Soft spheres
// may overlap, and a confluent tissue fills its region (volume fraction ~1), but at 8 times the region's
// volume every cell lies inside dozens of others: no pair force model means anything there, and the
// neighbour rows grow with the density until the neighbour search never finishes (5e6 cells of radius 5 um
// in a 200 um box are 330 times their box). The smallest radius makes this a lower bound on the volume.
void check_initial_tissue_is_physical(const Deck& deck, const SimulationSetup& s, double count) {
  constexpr double max_fill = 8.0;
  const double radius = *std::min_element(s.types.radius.begin(), s.types.radius.end());
  const double one_cell = s.domain.dim == 2 ? std::acos(-1.0) * radius * radius
                                            : 4.0 / 3.0 * std::acos(-1.0) * std::pow(radius, 3);
  const double region = initial_region_volume(s.domain, s.init);
  if (!(count * one_cell > max_fill * region)) return;
  const DeckView init = deck.section("cells").section("init");
  const std::string unit = s.domain.dim == 2 ? " um^2" : " um^3";
  init.fail(initial_count_key(init, s.init),
            format_number(count) + " cells of radius >= " + format_number(radius) +
                " um (cells.radius) fill " + format_number(count * one_cell) + unit + ", " +
                format_number(count * one_cell / region) + " times the " + format_number(region) + unit +
                " of the region they start in (domain" +
                (s.init.region == InitialRegion::sphere ? ", cells.init.radius" : "") + "); more than " +
                format_number(max_fill) +
                " times cannot be a tissue: fewer cells, a larger domain or smaller " + "cells");
}

// Refuses an initial tissue that cannot fit in memory, before anything is allocated. The estimate is a lower
// bound per rank (cells spread evenly over the ranks): 373 bytes per cell plus 3 vectors of G doubles for
// the integrator (rk4's: 565 bytes per cell at G = 8, measured in docs/performance.md; CVODE keeps more),
// plus the graph_ode model's tables on every rank. Ranks that share a node share its memory, so this catches
// only what cannot fit at all, never a deck that would.
void check_initial_tissue_fits(const Deck& deck, const SimulationSetup& s, double count, int n_ranks) {
  const double memory = physical_memory_bytes();
  if (memory <= 0) return;
  const double genes = s.network.n_genes();
  const double per_cell = 373.0 + 3.0 * 8.0 * genes;
  const double model = s.uses_learned_model() && s.learned_model.resident_bytes
                           ? s.learned_model.resident_bytes(s.network.n_genes(), s.types.count())
                           : 0.0;
  const double per_rank = count / std::max(1, n_ranks) * per_cell + model;
  if (!(per_rank > memory)) return;
  auto gib = [](double bytes) { return format_number(bytes / (1024.0 * 1024.0 * 1024.0)) + " GiB"; };
  const std::string need = "at least " + gib(per_rank) + " per rank on " + std::to_string(n_ranks) +
                           " rank(s), more than this node's " + gib(memory) + " of memory";
  if (model > memory && s.learned_model.family == "graph_ode")
    deck.section("grn")
        .section("graph_ode")
        .fail("hidden",
              "the graph_ode model (heads, hidden, mlp_width, mlp_layers, and one set per cell type under "
              "share: per_type) needs " +
                  need + ": choose a smaller architecture");
  if (model > memory)
    deck.section("grn").fail("model", "the " + s.learned_model.family + " model needs " + need);
  const DeckView init = deck.section("cells").section("init");
  init.fail(initial_count_key(init, s.init), format_number(count) + " initial cells with " +
                                                 format_number(genes) + " genes need " + need +
                                                 ": fewer cells, or more ranks on more nodes");
}

// One past the largest id among the owned cells (0 for none). A free function, as the kernels below: nvcc
// allows no device lambda in a constructor or a private member function.
std::uint64_t past_largest_id(const Cells<>& cells) {
  std::uint64_t past = 0;
  const auto ids = cells.id;
  Kokkos::parallel_reduce(
      "tessera::sim::max_id", Kokkos::RangePolicy<>(0, cells.n_owned),
      KOKKOS_LAMBDA(const std::size_t i, std::uint64_t& m) { m = ids(i) + 1 > m ? ids(i) + 1 : m; },
      Kokkos::Max<std::uint64_t>(past));
  return past;
}

// Each owned cell of a dividing type starts at a random point of its cycle (period[type] < 1e300).
void start_cycles(const Cells<>& cells, const Kokkos::View<double*>& period, const CounterRng& rng) {
  const auto ids = cells.id;
  const auto type = cells.type;
  const auto cycle = cells.cycle;
  Kokkos::parallel_for(
      "tessera::sim::initial_cycle", Kokkos::RangePolicy<>(0, cells.n_owned),
      KOKKOS_LAMBDA(const std::size_t i) {
        if (!(period(type(i)) < 1e300)) return;
        double u[4];
        rng.uniform4(ids(i), 0, RandomPurpose::init_cycle, 0, u);
        cycle(i) = u[0] * period(type(i));
      });
}

// The smallest id of an owned cell with a non-finite gene, and that gene (val = the largest uint64 when
// every gene is finite).
Kokkos::MinLoc<std::uint64_t, int>::value_type first_non_finite(const Cells<>& cells) {
  const auto genes = cells.genes;
  const auto ids = cells.id;
  const int G = cells.n_genes;
  using Reducer = Kokkos::MinLoc<std::uint64_t, int>;
  typename Reducer::value_type worst;
  Kokkos::parallel_reduce(
      "tessera::sim::check_finite", Kokkos::RangePolicy<>(0, static_cast<int>(cells.n_owned)),
      KOKKOS_LAMBDA(const int i, typename Reducer::value_type& acc) {
        for (int g = 0; g < G; ++g) {
          const double x = genes(i, g);
          if (!(x - x == 0.0)) { // false for NaN and +-inf
            if (ids(i) < acc.val) {
              acc.val = ids(i);
              acc.loc = g;
            }
          }
        }
      },
      Reducer(worst));
  return worst;
}

} // namespace

double SimulationSetup::interaction_range() const {
  double range = mechanics.cutoff(types.radius);
  if (signaling.active()) range = std::max(range, signaling.range);
  return range;
}

void use_training_graph(const Deck& deck, const TrainableModelSpec& model, const CellTypes& types,
                        GeneNetwork& network) {
  const DeckView train = deck.section("train");
  if (!train.given("prior") || model.dense) return;
  network.use_prior_graph();
  std::vector<std::string> skipped; // `train` warns about them
  parse_prior_table(train.file_text("prior"), train.path("prior"), types.names, network, skipped);
}

SimulationSetup read_simulation_setup(const Deck& deck, int n_ranks, EndTime end_time) {
  SimulationSetup s;
  s.domain = read_domain(deck);
  s.rank_grid = read_rank_grid(deck, s.domain.dim, n_ranks);
  s.balance = read_balance(deck);
  s.balance_every = read_balance_every(deck);
  const std::array<int, 3> grid = rank_grid_dims(s.domain, s.rank_grid, n_ranks);
  if (s.balance)
    for (const int boxes : grid)
      if (boxes > RankBoxes::max_balanced)
        deck.section("parallel")
            .fail("balance", "cells holds at most " + std::to_string(RankBoxes::max_balanced) +
                                 " boxes per axis, and the rank grid has " + std::to_string(boxes) +
                                 ": set parallel.dims or use none");
  s.types = read_cell_types(deck);
  s.network = read_gene_network(deck, s.types.names);
  s.init = read_initial_tissue(deck, s.domain, s.types, s.network.genes);
  s.time = read_time_params(deck, end_time);
  s.output = read_output_params(deck);
  s.mechanics = read_mechanics(deck, s.types.count());
  s.lifecycle = read_lifecycle(deck, s.types.count(), s.network.genes);
  s.signaling = read_signaling(deck, s.network);
  if (s.network.model != "hill") {
    s.learned_model = read_trainable_model_spec(deck, s.network.model);
  } else if (is_trainable_family("hill")) {
    // A hill deck runs its own parameters unless it names a trained hill model.
    TrainableModelSpec hill = read_trainable_model_spec(deck, "hill");
    if (!hill.model_file.empty()) s.learned_model = std::move(hill);
  }
  // A fitted model (its grn.<family>.model_file) on the graph it was trained on; predict reads its model from
  // predict.model and applies the same itself.
  if (s.uses_learned_model() && !s.learned_model.model_file.empty())
    use_training_graph(deck, s.learned_model, s.types, s.network);
  s.fields = read_field_params(deck, s.domain, s.types, s.network, s.time.dt);
  if (s.fields.active()) {
    // PETSc's field grid gives each rank the voxels of its box: equal boxes an equal share of them, balanced
    // ones are cut on voxel faces. Its blocks are fixed once created, so the boxes cannot move during a run.
    if (s.balance_every > 0)
      deck.section("parallel")
          .fail("balance_every",
                "the diffusible fields' grid keeps the rank boxes it was made on: with fields, "
                "boxes are balanced at the start (and at a restart) only; set 0");
    if (!s.balance) voxels_per_rank_box(s.fields, s.domain, grid);
  }
  s.seed = read_seed(deck);
  s.signaling.field_receptors = s.fields.receptors;
  if (!s.fields.receptors.empty() && s.uses_learned_model())
    deck.section("fields").fail("receptors", "only the hill model senses fields so far; grn.model " +
                                                 s.learned_model.family + " does not");
  if (s.output.dataset && (s.lifecycle.divides() || s.lifecycle.dies()))
    deck.section("output").fail("dataset", "a dataset needs the same cells at every observation: remove "
                                           "cells.division and cells.death, or set output.dataset: false");
  // In floating point first: a tiny lattice spacing gives more sites than a long long holds.
  const double count = initial_cell_count_estimate(s.domain, s.init);
  if (count > static_cast<double>(s.types.max_cells)) {
    const DeckView cells = deck.section("cells");
    const bool lattice = s.init.placement == Placement::lattice || s.init.placement == Placement::hexagonal;
    const std::string what =
        lattice ? "the lattice of step cells.init.spacing = " + format_number(s.init.spacing) + " um has"
                : "cells.init.count asks for";
    const std::string message = what + " " + format_number(count) +
                                " cells, more than cells.max_cells = " + std::to_string(s.types.max_cells);
    cells.section("init").fail(lattice ? "spacing" : "count", message);
  }
  check_initial_tissue_is_physical(deck, s, count);
  check_initial_tissue_fits(deck, s, count, n_ranks);
  // Ghosts reach one box across: each rank box must be at least as wide as the interaction range, and a
  // periodic axis longer than twice the range (or a cell would meet two images of the same neighbour; at
  // exactly twice both lie at d = range, which counts as a neighbour).
  const double range = s.interaction_range();
  for (int a = 0; a < s.domain.dim && range > 0; ++a) {
    if (s.domain.periodic[a] && s.domain.extent(a) <= 2 * range)
      deck.section("domain").fail(
          "hi", "a periodic axis must be longer than twice the interaction range (" + format_number(range) +
                    " um: max of the mechanics cutoff and signaling.range); axis " + std::to_string(a) +
                    " is " + format_number(s.domain.extent(a)) + " um");
  }
  return s;
}

// Ghosts reach one box across: every rank box must be at least the interaction range wide. Equal boxes give
// every rank the same verdict, balanced ones are cut at least that wide; agree() makes it one error.
void Simulation::check_box_widths() const {
  mpi::agree(comm_, [&] {
    if (range_ <= 0) return;
    for (int a = 0; a < setup_.domain.dim; ++a) {
      const double box = decomposition_->box_hi(a) - decomposition_->box_lo(a);
      if (box < range_)
        throw input_error("the rank boxes are " + format_number(box) + " um wide along axis " +
                          std::to_string(a) + ", less than the interaction range " + format_number(range_) +
                          " um: run on fewer ranks, set parallel.dims, or enlarge the domain");
    }
  });
}

Simulation::Simulation(MPI_Comm comm, const SimulationSetup& setup)
    : comm_(comm), setup_(setup), range_(setup.interaction_range()) {
  rng_.seed = setup.seed;
  decomposition_ = std::make_unique<CartesianDecomposition>(comm, setup_.domain, setup.rank_grid);
  check_box_widths();
  t_ = setup.start_time;
  const int n_genes = setup_.network.n_genes();
  if (setup.checkpoint)
    cells_ = cells_from_checkpoint(*decomposition_, *setup.checkpoint, n_genes);
  else if (setup.initial_cells)
    cells_ = cells_from_rows(*setup.initial_cells, rows_in_box(*decomposition_, *setup.initial_cells),
                             n_genes, nullptr);
  else
    cells_ = create_initial_tissue(*decomposition_, setup_.types, setup.init, rng_, n_genes);
  neighbour_ranks_ = neighbour_ranks(*decomposition_);
  if (setup.balance) {
    // Cut the boxes where these cells split evenly (with fields on the voxel faces, so that each rank's box
    // is a block of the fields' grid); the rank grid and the neighbours stay, and migration takes every cell
    // to its new box's rank, across several boxes where the cut moved far.
    decomposition_->set_cuts(balanced_box_cuts(comm, setup_.domain, decomposition_->dims(), cells_.position,
                                               cells_.n_owned, range_,
                                               setup_.fields.active() ? &setup_.fields.voxels : nullptr));
    check_box_widths();
    migrate(*decomposition_, neighbour_ranks_, cells_);
  }
  mechanics_ = std::make_unique<Mechanics>(setup.mechanics, setup_.domain, setup.seed);
  // Ids 0 .. count-1 belong to the initial tissue; daughters continue from there.
  std::uint64_t max_id = past_largest_id(cells_);
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &max_id, 1, MPI_UINT64_T, MPI_MAX, comm), "MPI_Allreduce");
  // A checkpoint knows the next id: the largest id alive may have died since it was handed out.
  if (setup.checkpoint) max_id = setup.checkpoint->state.next_id;
  lifecycle_ =
      std::make_unique<Lifecycle>(setup.lifecycle, setup_.domain, setup.seed, setup_.types.max_cells, max_id);
  // Cells of a dividing type start at a random point of their cycle, so divisions spread over time instead
  // of all happening in one step.
  // Cells read from a tessera.h5 step keep the cycle clock they had there.
  const bool cycle_from_file =
      setup.checkpoint ||
      (!setup.initial_cells && setup.init.placement == Placement::file && setup.init.file_is_hdf5);
  if (setup.lifecycle.divides() && !cycle_from_file) {
    Kokkos::View<double*> period("tessera::sim::division_time", setup.lifecycle.division_time.size());
    auto ph = Kokkos::create_mirror_view(period);
    for (std::size_t c = 0; c < setup.lifecycle.division_time.size(); ++c)
      ph(c) = setup.lifecycle.division_time[c];
    Kokkos::deep_copy(period, ph);
    start_cycles(cells_, period, rng_);
  }
  ligands_ = LigandExchange(setup_.signaling.ligand_genes());
  if (setup_.uses_learned_model()) {
    auto learned = setup_.learned_model.build(comm, setup_.network, setup_.signaling, setup_.types.names);
    learned_ = learned.get();
    model_ = std::move(learned);
  } else
    model_ = std::make_unique<HillModel>(setup_.network, setup_.types.count(), setup_.signaling);
  if (setup_.time.integrator == GeneIntegrator::rk4)
    rk4_ = std::make_unique<Rk4Integrator>(setup_.time.dt_grn);
  else // refused on every rank alike where genes live in device memory
    mpi::agree(comm,
               [&] { cvode_ = std::make_unique<CvodeIntegrator>(decomposition_->comm(), setup_.time); });
  if (setup_.fields.active()) {
    petsc_ = std::make_unique<petsc::Session>(comm);
    mpi::agree(comm, [&] { fields_ = std::make_unique<DiffusionFields>(*decomposition_, setup_.fields); });
    if (setup.checkpoint)
      restore_fields(setup.checkpoint->fields);
    else
      read_initial_fields(comm);
  }
  if (setup.checkpoint) {
    const SimulationState& state = setup.checkpoint->state;
    t_ = state.time;
    step_ = state.step;
    divisions_ = state.divisions;
    deaths_ = state.deaths;
    cap_reported_ = state.cap_reported;
    if (cvode_) cvode_->set_initial_step(state.cvode_step);
  }
}

Simulation::~Simulation() = default;

void Simulation::wrap_gene_model(const GeneModelWrapper& wrap) {
  model_ = wrap(std::move(model_));
}

long long Simulation::total_steps() const {
  TimeParams span = setup_.time;
  span.end -= setup_.start_time;
  return span.steps();
}

long long Simulation::global_cells() const {
  return mpi::sum(comm_, static_cast<std::int64_t>(cells_.n_owned));
}

void Simulation::step() {
  const double t0 = t_, t1 = t_ + setup_.time.dt;
  const bool interacting = range_ > 0;
  if (interacting) {
    {
      PhaseTimer timer(phases_.migrate);
      // Re-cut balanced boxes where the cells are now; the rank grid, and so every rank's neighbours, stay,
      // and this step's migration takes each cell to its new box's rank.
      if (setup_.balance_every > 0 && step_ > 0 && step_ % setup_.balance_every == 0)
        decomposition_->set_cuts(balanced_box_cuts(comm_, setup_.domain, decomposition_->dims(),
                                                   cells_.position, cells_.n_owned, range_));
      migrate(*decomposition_, neighbour_ranks_, cells_);
      // Cells drift and divide; every 20 steps put neighbours in space next to each other in memory again.
      if (step_ % 20 == 0) sort_cells_spatially(cells_, range_);
    }
    if (fields_) advance_fields();
    {
      PhaseTimer timer(phases_.halo);
      halo_ = refresh_ghosts(*decomposition_, range_, cells_);
    }
    NeighbourList neighbours;
    {
      PhaseTimer timer(phases_.neighbours);
      neighbours = search_.build(cells_, range_);
      if (setup_.signaling.active()) graph_ = build_signaling_graph(cells_, neighbours, setup_.signaling);
    }
    {
      PhaseTimer timer(phases_.mechanics);
      mechanics_->advance(cells_, neighbours, setup_.time.dt, step_);
    }
  }
  if (fields_ && !interacting) advance_fields();
  {
    PhaseTimer timer(phases_.grn);
    advance_genes(t0, t1);
  }
  {
    PhaseTimer timer(phases_.lifecycle);
    const auto cycle = cells_.cycle;
    const double dt = setup_.time.dt;
    Kokkos::parallel_for(
        "tessera::sim::cycle", Kokkos::RangePolicy<>(0, cells_.n_owned),
        KOKKOS_LAMBDA(const std::size_t i) { cycle(i) += dt; });
    last_events_ = lifecycle_->apply(comm_, cells_, setup_.time.dt, step_);
    divisions_ += last_events_.divisions;
    deaths_ += last_events_.deaths;
  }
  t_ = t1;
  ++step_;
  check_finite();
}

void Simulation::advance_genes(double t0, double t1) {
  ScopedRegion region("tessera::sim::grn");
  const auto rows = std::make_pair(std::size_t(0), cells_.n_owned);
  GeneState genes = Kokkos::subview(cells_.genes, rows, Kokkos::ALL);
  model_->set_cell_types(cells_.type);
  if (setup_.signaling.active()) {
    ligands_.set_halo(range_ > 0 ? &halo_ : nullptr, cells_.n_owned, cells_.n_ghost);
    model_->set_signaling(&graph_, &ligands_);
  }
  if (rk4_) {
    rk4_->advance(*model_, genes, t0, t1);
    return;
  }
  try {
    mpi::agree(comm_, [&] { cvode_->advance(*model_, genes, t0, t1); });
  } catch (const Error& e) {
    // Name the step and the worst cell: each rank knows its own worst row.
    const long row = cvode_->failure().worst_row;
    long long id = -1;
    if (row >= 0 && static_cast<std::size_t>(row) < cells_.n_owned) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells_.id);
      id = static_cast<long long>(h(row));
    }
    long long worst = id;
    MPI_Allreduce(&id, &worst, 1, MPI_LONG_LONG, MPI_MAX, comm_);
    Error err(e.code(), std::string("step ") + std::to_string(step_ + 1) + " (t = " + format_number(t0) +
                            " min): " + e.what() +
                            (worst >= 0 ? "; worst cell id " + std::to_string(worst) : ""));
    err.mark_agreed(e.origin_rank());
    throw err;
  }
}

void Simulation::advance_fields() {
  PhaseTimer timer(phases_.fields);
  ScopedRegion region("tessera::sim::fields");
  const CellSnapshot cells = snapshot(cells_);
  const CellFieldTerms terms = cell_field_terms(*fields_, cells);
  try {
    mpi::agree(comm_, [&] { fields_->advance(setup_.time.dt, terms.source, terms.uptake); });
    if (!setup_.fields.receptors.empty()) {
      // What the receptors sense over the step: the new fields at the cells' centres (before mechanics).
      const std::vector<double> sensed = fields_->sample(cells.position, cells.size());
      const auto n_substrates = static_cast<std::size_t>(fields_->n_substrates());
      if (field_values_.extent(0) < cells.size())
        field_values_ = Kokkos::View<double**, Kokkos::LayoutRight>(
            "tessera::sim::field_values", cells.size() + cells.size() / 4 + 8, n_substrates);
      auto host = Kokkos::create_mirror_view(field_values_);
      for (std::size_t i = 0; i < cells.size(); ++i)
        for (std::size_t f = 0; f < n_substrates; ++f)
          host(i, f) = sensed[i * n_substrates + f];
      Kokkos::deep_copy(field_values_, host);
      model_->set_field_values(field_values_);
    }
  } catch (const Error& e) {
    Error err(e.code(),
              "step " + std::to_string(step_ + 1) + " (t = " + format_number(t_) + " min): " + e.what());
    err.mark_agreed(e.origin_rank());
    throw err;
  }
}

void Simulation::check_finite() const {
  const auto worst = first_non_finite(cells_);
  std::uint64_t local = worst.val, global = 0;
  mpi::check(MPI_Allreduce(&local, &global, 1, MPI_UINT64_T, MPI_MIN, comm_), "MPI_Allreduce");
  if (global != std::numeric_limits<std::uint64_t>::max()) {
    int gene = local == global ? worst.loc : -1;
    MPI_Allreduce(MPI_IN_PLACE, &gene, 1, MPI_INT, MPI_MAX, comm_);
    Error err = runtime_error(
        "step " + std::to_string(step_) + " (t = " + format_number(t_) +
        " min): gene state is not finite; worst cell id " + std::to_string(global) + ", gene '" +
        (gene >= 0 ? setup_.network.genes[static_cast<size_t>(gene)] : std::string("?")) +
        "'. Reduce time.dt_grn (rk4) or check the grn parameters.");
    err.mark_agreed(0);
    throw err;
  }
}

void Simulation::write_checkpoint(const std::string& directory, const RunProvenance& provenance) const {
  CheckpointCells local;
  local.cells = snapshot(cells_);
  const auto below = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(),
      Kokkos::subview(cells_.below_time, std::make_pair(std::size_t(0), cells_.n_owned)));
  local.below_time.assign(below.data(), below.data() + cells_.n_owned);
  SimulationState state;
  state.step = step_;
  state.time = t_;
  state.next_id = lifecycle_->next_id();
  state.divisions = divisions_;
  state.deaths = deaths_;
  state.cap_reported = cap_reported_;
  state.cvode_step = cvode_ ? cvode_->initial_step() : 0.0;
  if (!fields_) {
    write_simulation_checkpoint(comm_, directory, state, local, provenance, decomposition_->dims(), nullptr,
                                decomposition_->balanced());
    return;
  }
  CheckpointFields fields;
  fields.names = field_names();
  fields.voxels = setup_.fields.voxels;
  fields.lo = fields_->owned_lo();
  fields.count = fields_->owned_count();
  for (int f = 0; f < fields_->n_substrates(); ++f)
    fields.values.push_back(fields_->values(f));
  write_simulation_checkpoint(comm_, directory, state, local, provenance, decomposition_->dims(), &fields,
                              decomposition_->balanced());
}

void Simulation::restore_fields(const std::vector<std::vector<double>>& grids) {
  // Each rank takes its own block out of the whole grid, whichever decomposition wrote it: the values are
  // the writer's to the bit.
  const auto& lo = fields_->owned_lo();
  const auto& n = fields_->owned_count();
  const auto& voxels = setup_.fields.voxels;
  for (int f = 0; f < fields_->n_substrates(); ++f) {
    const std::vector<double>& grid = grids.at(static_cast<std::size_t>(f));
    std::vector<double> block;
    block.reserve(fields_->n_owned_voxels());
    for (int k = 0; k < n[2]; ++k)
      for (int j = 0; j < n[1]; ++j)
        for (int i = 0; i < n[0]; ++i)
          block.push_back(grid[(static_cast<std::size_t>(lo[2] + k) * static_cast<std::size_t>(voxels[1]) +
                                static_cast<std::size_t>(lo[1] + j)) *
                                   static_cast<std::size_t>(voxels[0]) +
                               static_cast<std::size_t>(lo[0] + i)]);
    fields_->set_values(f, block);
  }
}

void Simulation::read_initial_fields(MPI_Comm comm) {
  const FieldParams& p = setup_.fields;
  bool any = false;
  for (const Substrate& s : p.substrates)
    any = any || !s.initial_file.empty();
  if (!any) return;
  // Every rank reads the whole grid (as a restart does) and keeps its block; substrates without a file keep
  // their constant. Collective, so a bad file fails every rank with the same input error.
  std::vector<std::int64_t> dims;
  for (int a = setup_.domain.dim - 1; a >= 0; --a)
    dims.push_back(p.voxels[static_cast<std::size_t>(a)]);
  std::size_t n_voxels = 1;
  for (const std::int64_t d : dims)
    n_voxels *= static_cast<std::size_t>(d);
  std::vector<std::vector<double>> grids;
  mpi::agree(comm, [&] {
    for (std::size_t f = 0; f < p.substrates.size(); ++f) {
      const Substrate& s = p.substrates[f];
      grids.push_back(s.initial_file.empty()
                          ? std::vector<double>(n_voxels, s.initial)
                          : read_field_grid("fields.substrates[" + std::to_string(f) + "].initial_file",
                                            s.initial_file, s.initial_dataset, dims));
    }
  });
  restore_fields(grids);
}

std::vector<std::string> Simulation::field_names() const {
  std::vector<std::string> names;
  for (const Substrate& s : setup_.fields.substrates)
    names.push_back(s.name);
  return names;
}

RunSummary Simulation::run(const std::string& directory, const RunProvenance& provenance, Log& log,
                           const RunControl& control) {
  const auto start = Clock::now();
  RunSummary summary;
  summary.first_step = step_;
  const bool resumed = setup_.checkpoint != nullptr;
  const ResumePoint resume{step_, setup_.output.every};
  SimulationOutput output =
      resumed ? SimulationOutput(comm_, directory, provenance, setup_.domain.dim, setup_.output.gene_columns,
                                 resume)
              : SimulationOutput(comm_, directory, provenance, setup_.domain.dim, setup_.output.gene_columns);
  SummaryCsv csv = resumed ? SummaryCsv(comm_, directory + "/summary.csv", setup_.types.names,
                                        setup_.network.genes, resume, field_names())
                           : SummaryCsv(comm_, directory + "/summary.csv", setup_.types.names,
                                        setup_.network.genes, field_names());
  if (fields_) {
    FieldGrid grid;
    grid.names = field_names();
    grid.voxels = setup_.fields.voxels;
    grid.spacing = setup_.fields.spacing;
    grid.origin = setup_.domain.lo;
    output.set_fields(grid);
  }
  std::unique_ptr<DatasetRecorder> dataset;
  if (setup_.output.dataset) dataset = std::make_unique<DatasetRecorder>(comm_, setup_, learned_);
  const long long steps = total_steps();
  auto write = [&] {
    PhaseTimer timer(phases_.output);
    ScopedRegion region("tessera::sim::output");
    const CellSnapshot snap = snapshot(cells_);
    if (fields_) {
      FieldBlock block;
      block.lo = fields_->owned_lo();
      block.count = fields_->owned_count();
      for (int f = 0; f < fields_->n_substrates(); ++f)
        block.values.push_back(fields_->values(f));
      output.write_step(step_, t_, snap, &block);
    } else {
      output.write_step(step_, t_, snap);
    }
    std::vector<double> field_columns;
    for (int f = 0; fields_ && f < fields_->n_substrates(); ++f) {
      const FieldStats stats = fields_->stats(f);
      field_columns.insert(field_columns.end(), {stats.min, stats.mean, stats.max, stats.total});
    }
    csv.append(step_, t_, snap, field_columns);
    if (dataset) dataset->record(t_, snap);
  };
  auto checkpoint = [&] {
    const auto t0 = Clock::now();
    {
      PhaseTimer timer(phases_.checkpoint);
      ScopedRegion region("tessera::sim::checkpoint");
      write_checkpoint(directory, provenance);
    }
    ++summary.checkpoints;
    if (control.checkpoint_took) control.checkpoint_took(seconds_since(t0));
  };
  const auto& dims = decomposition_->dims();
  log.info("tessera " + provenance.command + ": " + std::to_string(global_cells()) + " cells, " +
           std::to_string(setup_.network.n_genes()) + " genes, " + std::to_string(steps - step_) +
           " steps of " + format_number(setup_.time.dt) + " min on " + std::to_string(mpi::size(comm_)) +
           " rank(s) (" + std::to_string(dims[0]) + "x" + std::to_string(dims[1]) +
           (setup_.domain.dim == 3 ? "x" + std::to_string(dims[2]) : "") + "), interaction range " +
           format_number(range_) + " um, output in " + directory);
  if (decomposition_->balanced()) {
    // Where parallel.balance cut the boxes, so a user can see what each rank holds.
    std::string cuts;
    for (int a = 0; a < setup_.domain.dim; ++a) {
      if (dims[static_cast<std::size_t>(a)] < 2) continue;
      cuts += std::string(cuts.empty() ? "" : "; ") + "xyz"[a] + " at";
      for (int i = 1; i < dims[static_cast<std::size_t>(a)]; ++i)
        cuts += (i > 1 ? ", " : " ") + format_number(decomposition_->edge(a, i));
    }
    log.info("tessera " + provenance.command +
             ": rank boxes balanced over the cells (parallel.balance: cells), cut " +
             (cuts.empty() ? std::string("nowhere") : cuts) + " um");
  }
  // A restarted run's state at its first step is the checkpoint's, already written (or, off the output
  // cadence, not wanted: ResumePoint).
  if (!resumed) write();
  const long long checkpoint_every = setup_.output.checkpoint_every;
  RankLoad load;
  while (step_ < steps) {
    step();
    load.cell_steps += static_cast<long long>(cells_.n_owned);
    if (last_events_.capped && !cap_reported_) {
      log.warn("step " + std::to_string(step_) +
               ": cells.max_cells = " + std::to_string(setup_.types.max_cells) +
               " reached; divisions beyond it are skipped from now on");
      cap_reported_ = true;
    }
    // Every rank gets the same answer (the poll is collective), so every rank leaves after the same step.
    const std::string stop = control.stop_requested ? control.stop_requested() : std::string();
    const bool last = step_ == steps || !stop.empty();
    if (step_ % setup_.output.every == 0 || last) write();
    if (control.checkpoints && (last || (checkpoint_every > 0 && step_ % checkpoint_every == 0)))
      checkpoint();
    if (step_ % setup_.output.progress_every == 0 || last)
      log.info(progress_line(step_, steps, t_, global_cells(), seconds_since(start)));
    if (!stop.empty()) {
      summary.stopped_by = stop;
      break;
    }
  }
  if (control.checkpoints && step_ == steps && summary.checkpoints == 0) checkpoint();
  // A stopped run's tessera.h5 keeps complete = 0: steps up to time.end are still to come.
  if (summary.stopped_by.empty())
    output.finish();
  else
    output.close();
  if (dataset) dataset->write(directory + "/dataset.h5", provenance.invocation);
  summary.steps = step_;
  summary.cells = global_cells();
  summary.divisions = divisions_;
  summary.deaths = deaths_;
  summary.simulated_min = t_;
  summary.wall_s = seconds_since(start);
  summary.phases = phases_;
  load.cells = static_cast<long long>(cells_.n_owned);
  summary.balance = measure_rank_balance(comm_, load);
  return summary;
}

} // namespace tessera
