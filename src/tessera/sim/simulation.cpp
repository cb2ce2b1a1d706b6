#include "tessera/sim/simulation.hpp"

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/io/summary_csv.hpp"
#include "tessera/tissue/domain.hpp"
#include "tessera/tissue/initial_tissue.hpp"

#include <chrono>
#include <cmath>
#include <limits>

namespace tessera {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
} // namespace

SimulationSetup read_simulation_setup(const Deck& deck, int n_ranks) {
  SimulationSetup s;
  s.domain = read_domain(deck);
  s.rank_grid = read_rank_grid(deck, s.domain.dim, n_ranks);
  s.types = read_cell_types(deck);
  s.network = read_gene_network(deck, s.types.names);
  s.init = read_initial_tissue(deck, s.network.n_genes());
  s.time = read_time_params(deck);
  s.output = read_output_params(deck);
  s.seed = read_seed(deck);
  // In floating point first: a tiny lattice spacing gives more sites than a long long holds.
  const double count = initial_cell_count_estimate(s.domain, s.init);
  if (count > static_cast<double>(s.types.max_cells)) {
    const DeckView cells = deck.section("cells");
    const std::string what =
        s.init.placement == Placement::lattice
            ? "the lattice of step cells.init.spacing = " + format_number(s.init.spacing) + " um has"
            : "cells.init.count asks for";
    cells.section("init").fail(s.init.placement == Placement::lattice ? "spacing" : "count",
                               what + " " + format_number(count) + " cells, more than cells.max_cells = " +
                                   std::to_string(s.types.max_cells));
  }
  return s;
}

Simulation::Simulation(MPI_Comm comm, const SimulationSetup& setup)
    : comm_(comm), domain_(setup.domain), types_(setup.types), network_(setup.network), time_(setup.time),
      output_(setup.output) {
  rng_.seed = setup.seed;
  decomposition_ = std::make_unique<CartesianDecomposition>(comm, domain_, setup.rank_grid);
  cells_ = create_initial_tissue(*decomposition_, types_, setup.init, rng_, network_.n_genes());
  hill_ = std::make_unique<HillModel>(network_, types_.count());
  if (time_.integrator == GeneIntegrator::rk4)
    rk4_ = std::make_unique<Rk4Integrator>(time_.dt_grn);
  else
    cvode_ = std::make_unique<CvodeIntegrator>(decomposition_->comm(), time_);
}

long long Simulation::global_cells() const {
  return mpi::sum(comm_, static_cast<std::int64_t>(cells_.n_owned));
}

void Simulation::step() {
  const double t0 = t_, t1 = t_ + time_.dt;
  const auto rows = std::make_pair(std::size_t(0), cells_.n_owned);
  GeneState genes = Kokkos::subview(cells_.genes, rows, Kokkos::ALL);
  hill_->set_cell_types(cells_.type);
  {
    ScopedRegion region("tessera::sim::grn");
    if (rk4_) {
      rk4_->advance(*hill_, genes, t0, t1);
    } else {
      try {
        mpi::agree(comm_, [&] { cvode_->advance(*hill_, genes, t0, t1); });
      } catch (const Error& e) {
        // Name the step and the worst cell: each rank knows its own worst row; rank 0 of the failure reports.
        const long row = cvode_->failure().worst_row;
        long long id = -1;
        if (row >= 0 && static_cast<std::size_t>(row) < cells_.n_owned) {
          auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells_.id);
          id = static_cast<long long>(h(row));
        }
        long long worst = id;
        MPI_Allreduce(&id, &worst, 1, MPI_LONG_LONG, MPI_MAX, comm_);
        Error err(e.code(), std::string("step ") + std::to_string(step_ + 1) + " (t = " + std::to_string(t0) +
                                " min): " + e.what() +
                                (worst >= 0 ? "; worst cell id " + std::to_string(worst) : ""));
        err.mark_agreed(e.origin_rank());
        throw err;
      }
    }
  }
  // Cell-cycle clocks advance with time (division arrives with mechanics in the simulation issue).
  const auto cycle = cells_.cycle;
  const double dt = time_.dt;
  Kokkos::parallel_for(
      "tessera::sim::cycle", Kokkos::RangePolicy<>(0, cells_.n_owned),
      KOKKOS_LAMBDA(const std::size_t i) { cycle(i) += dt; });
  t_ = t1;
  ++step_;
  check_finite();
}

void Simulation::check_finite() const {
  const auto genes = cells_.genes;
  const auto ids = cells_.id;
  const int G = cells_.n_genes;
  using Reducer = Kokkos::MinLoc<std::uint64_t, int>;
  typename Reducer::value_type worst;
  Kokkos::parallel_reduce(
      "tessera::sim::check_finite", Kokkos::RangePolicy<>(0, static_cast<int>(cells_.n_owned)),
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
  std::uint64_t local = worst.val, global = 0;
  mpi::check(MPI_Allreduce(&local, &global, 1, MPI_UINT64_T, MPI_MIN, comm_), "MPI_Allreduce");
  if (global != std::numeric_limits<std::uint64_t>::max()) {
    int gene = local == global ? worst.loc : -1;
    MPI_Allreduce(MPI_IN_PLACE, &gene, 1, MPI_INT, MPI_MAX, comm_);
    Error err = runtime_error("step " + std::to_string(step_) + " (t = " + std::to_string(t_) +
                              " min): gene state is not finite; worst cell id " + std::to_string(global) +
                              ", gene '" +
                              (gene >= 0 ? network_.genes[static_cast<size_t>(gene)] : std::string("?")) +
                              "'. Reduce time.dt_grn (rk4) or check the grn parameters.");
    err.mark_agreed(0);
    throw err;
  }
}

RunSummary Simulation::run(const std::string& directory, const RunProvenance& provenance, Log& log) {
  const auto start = std::chrono::steady_clock::now();
  RunSummary summary;
  SimulationOutput output(comm_, directory, provenance, domain_.dim);
  SummaryCsv csv(comm_, directory + "/summary.csv", types_.names, network_.genes);
  const long long steps = time_.steps();
  auto write = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    ScopedRegion region("tessera::sim::output");
    const CellSnapshot snap = snapshot(cells_);
    output.write_step(step_, t_, snap);
    csv.append(step_, t_, snap);
    summary.output_s += seconds_since(t0);
  };
  log.info("tessera run: " + std::to_string(global_cells()) + " cells, " +
           std::to_string(network_.n_genes()) + " genes, " + std::to_string(steps) + " steps of " +
           std::to_string(time_.dt) + " min on " + std::to_string(mpi::size(comm_)) + " rank(s) (" +
           std::to_string(decomposition_->dims()[0]) + "x" + std::to_string(decomposition_->dims()[1]) +
           (domain_.dim == 3 ? "x" + std::to_string(decomposition_->dims()[2]) : "") + "), output in " +
           directory);
  write();
  while (step_ < steps) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    summary.grn_s += seconds_since(t0);
    if (step_ % output_.every == 0 || step_ == steps) write();
    if (step_ % output_.progress_every == 0 || step_ == steps)
      log.info(progress_line(step_, steps, t_, global_cells(), seconds_since(start)));
  }
  summary.steps = step_;
  summary.cells = global_cells();
  summary.simulated_min = t_;
  summary.wall_s = seconds_since(start);
  return summary;
}

} // namespace tessera
