#include "tessera/learn/objective.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace tessera {

namespace {

// One observation interval's forward solve and its adjoint sweep: the rk4 discrete adjoint or CVODES.
class Segment {
public:
  virtual ~Segment() = default;
  // `tape`: the model whose activations the forward may keep for the reverse sweep (rk4 only; null: none).
  virtual void forward(const GeneRhs& rhs, GeneState x, double t0, double t1, const AdjointGeneRhs* tape) = 0;
  virtual void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
                       ParameterGradient theta_bar) = 0;
};

template <class Adjoint>
class SegmentOf final : public Segment {
public:
  template <class... Args>
  explicit SegmentOf(Args&&... args) : adjoint_(std::forward<Args>(args)...) {}
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1, const AdjointGeneRhs* tape) override {
    if constexpr (std::is_same_v<Adjoint, Rk4Adjoint>)
      adjoint_.forward(rhs, x, t0, t1, tape);
    else
      adjoint_.forward(rhs, x, t0, t1); // CVODES keeps no tape
  }
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar) override {
    adjoint_.reverse(rhs, adjoint, x_bar, theta_bar);
  }

private:
  Adjoint adjoint_;
};

std::unique_ptr<Segment> make_segment(const ObjectiveOptions& options, MPI_Comm group, bool store_stages) {
  if (options.use_cvode)
    return std::make_unique<SegmentOf<CvodesAdjoint>>(group, options.cvode, options.cvodes);
  return std::make_unique<SegmentOf<Rk4Adjoint>>(options.dt, store_stages ? Rk4Adjoint::Storage::stages
                                                                          : Rk4Adjoint::Storage::checkpoints);
}

// An rk4 segment that borrows its adjoint from the objective's pool.
class PooledRk4Segment final : public Segment {
public:
  explicit PooledRk4Segment(Rk4Adjoint& adjoint) : adjoint_(adjoint) {}
  void forward(const GeneRhs& rhs, GeneState x, double t0, double t1, const AdjointGeneRhs* tape) override {
    adjoint_.forward(rhs, x, t0, t1, tape);
  }
  void reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
               ParameterGradient theta_bar) override {
    adjoint_.reverse(rhs, adjoint, x_bar, theta_bar);
  }

private:
  Rk4Adjoint& adjoint_;
};

// y += x over n x G states: the misfit cotangent of an observation time joins the adjoint arriving there.
struct AddState {
  GeneState y;
  ConstGeneState x;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t r, const std::size_t g) const {
    y(r, g) += x(r, g);
  }
};

void add_to(GeneState y, GeneState x) {
  Kokkos::parallel_for("tessera::train::add_misfit",
                       Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {y.extent(0), y.extent(1)}),
                       AddState{y, x});
}

void sum_over(MPI_Comm comm, std::vector<double>& values) {
  mpi::check(
      MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm),
      "MPI_Allreduce");
}

} // namespace

// Per storage, the adjoint of each interval of a window (index j), created on first use.
struct Rk4AdjointPool {
  double dt = 0.0;
  std::vector<std::unique_ptr<Rk4Adjoint>> stages, checkpoints;
  Rk4Adjoint& get(bool store_stages, std::size_t j) {
    auto& pool = store_stages ? stages : checkpoints;
    if (pool.size() <= j) pool.resize(j + 1);
    if (!pool[j])
      pool[j] = std::make_unique<Rk4Adjoint>(dt, store_stages ? Rk4Adjoint::Storage::stages
                                                              : Rk4Adjoint::Storage::checkpoints);
    return *pool[j];
  }
};

TrajectoryObjective::TrajectoryObjective(MPI_Comm world, const Domain& domain, std::array<int, 3> rank_grid,
                                         SignalingParams signaling, const TrajectoryDataset& dataset,
                                         double dt)
    : TrajectoryObjective(world, domain, rank_grid, std::move(signaling), dataset, [dt] {
        ObjectiveOptions o;
        o.dt = dt;
        return o;
      }()) {}

TrajectoryObjective::TrajectoryObjective(MPI_Comm world, const Domain& domain, std::array<int, 3> rank_grid,
                                         SignalingParams signaling, const TrajectoryDataset& dataset,
                                         ObjectiveOptions options)
    : world_(world), domain_(domain), signaling_(std::move(signaling)), dataset_(&dataset),
      options_(std::move(options)) {
  const int size = mpi::size(world);
  mpi::agree(world, [&] {
    if (options_.groups < 1 || size % options_.groups != 0)
      throw input_error("parallel.groups = " + std::to_string(options_.groups) + " does not divide the " +
                        std::to_string(size) + " rank(s): every group needs the same number of ranks");
  });
  // Consecutive ranks form a group: on a cluster they share a node, and the spatial halo stays local.
  const int per_group = size / options_.groups;
  group_index_ = mpi::rank(world) / per_group;
  group_ = mpi::Communicator::split(world, group_index_, mpi::rank(world));
  decomposition_ = std::make_unique<CartesianDecomposition>(group_.get(), domain_, rank_grid);
  mpi::agree(world, [&] {
    if (dataset.dim != domain_.dim)
      throw input_error("the dataset is " + std::to_string(dataset.dim) + "-D but domain.dim is " +
                        std::to_string(domain_.dim));
    if (dataset.n_times() < 2) throw input_error("the dataset needs at least 2 observation times to train");
    const std::size_t n = dataset.n_cells(), d = static_cast<std::size_t>(dataset.dim);
    const std::size_t frames = dataset.positions_per_time ? dataset.n_times() : 1;
    for (std::size_t f = 0; f < frames; ++f)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a) {
          const double p = dataset.positions[(f * n + i) * d + a];
          if (!(p >= domain_.lo[a] && p <= domain_.hi[a]))
            throw input_error(
                "cell id " + std::to_string(dataset.cell_id[i]) + " lies outside the domain" +
                (dataset.positions_per_time ? " at time " + format_number(dataset.time[f]) : "") +
                ": coordinate " + std::to_string(a) + " = " + format_number(p) + " not in [" +
                format_number(domain_.lo[a]) + ", " + format_number(domain_.hi[a]) + "]");
        }
    if (signaling_.active())
      for (int a = 0; a < domain_.dim; ++a) {
        const double box = decomposition_->box_hi(a) - decomposition_->box_lo(a);
        if (box < signaling_.range)
          throw input_error("the rank boxes are " + format_number(box) + " um wide along axis " +
                            std::to_string(a) + ", less than signaling.range " +
                            format_number(signaling_.range) +
                            " um: run on fewer ranks (or more parallel.groups), set parallel.dims, or "
                            "enlarge the domain");
        // Longer than twice: at exactly twice a cell meets two images of one neighbour at d = r_sig.
        if (domain_.periodic[a] && domain_.extent(a) <= 2 * signaling_.range)
          throw input_error("a periodic axis must be longer than twice signaling.range; axis " +
                            std::to_string(a) + " is " + format_number(domain_.extent(a)) + " um");
      }
  });
}

TrajectoryObjective::~TrajectoryObjective() = default;

std::size_t TrajectoryObjective::owned_cells(int start) const {
  const TrajectoryDataset& ds = *dataset_;
  const std::size_t n = ds.n_cells(), d = static_cast<std::size_t>(ds.dim);
  const std::size_t frame = ds.positions_per_time ? static_cast<std::size_t>(start) : 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double p[3] = {0.0, 0.0, 0.0};
    for (std::size_t a = 0; a < d; ++a)
      p[a] = ds.positions[(frame * n + i) * d + a];
    if (decomposition_->owns(p)) ++count;
  }
  return count;
}

void TrajectoryObjective::visit_tissue(
    CellGeneModel& model, int k,
    const std::function<void(const Cells<>&, GeneState, const std::vector<std::size_t>&)>& visit) const {
  const TrajectoryDataset& ds = *dataset_;
  const std::size_t N = ds.n_cells(), G = ds.n_genes(), d = static_cast<std::size_t>(ds.dim);
  if (k < 0 || static_cast<std::size_t>(k) >= ds.n_times())
    throw runtime_error("time index " + std::to_string(k) + " out of range");
  const std::size_t frame = ds.positions_per_time ? static_cast<std::size_t>(k) : 0;
  // The tissue at t_k: this rank's cells, in dataset order.
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < N; ++i) {
    double p[3] = {0.0, 0.0, 0.0};
    for (std::size_t a = 0; a < d; ++a)
      p[a] = ds.positions[(frame * N + i) * d + a];
    if (decomposition_->owns(p)) rows.push_back(i);
  }
  const std::size_t n = rows.size();
  Cells<> cells(domain_.dim, static_cast<int>(G), n);
  {
    auto id = Kokkos::create_mirror_view(cells.id);
    auto type = Kokkos::create_mirror_view(cells.type);
    auto position = Kokkos::create_mirror_view(cells.position);
    auto radius = Kokkos::create_mirror_view(cells.radius);
    auto genes = Kokkos::create_mirror_view(cells.genes);
    Kokkos::deep_copy(position, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t i = rows[r];
      id(r) = ds.cell_id[i];
      type(r) = ds.cell_type[i];
      for (std::size_t a = 0; a < d; ++a)
        position(r, a) = ds.positions[(frame * N + i) * d + a];
      radius(r) = 1.0;
      for (std::size_t g = 0; g < G; ++g)
        genes(r, g) = ds.x(static_cast<std::size_t>(k), i, g);
    }
    Kokkos::deep_copy(cells.id, id);
    Kokkos::deep_copy(cells.type, type);
    Kokkos::deep_copy(cells.position, position);
    Kokkos::deep_copy(cells.radius, radius);
    Kokkos::deep_copy(cells.genes, genes);
  }
  cells.n_owned = n;
  cells.n_ghost = 0;

  HaloPlan halo;
  SignalingGraph graph;
  LigandExchange exchange(signaling_.ligand_genes());
  if (signaling_.active()) {
    halo = refresh_ghosts(*decomposition_, signaling_.range, cells);
    NeighbourSearch search;
    const NeighbourList neighbours = search.build(cells, signaling_.range);
    graph = build_signaling_graph(cells, neighbours, signaling_);
    exchange.set_halo(&halo, cells.n_owned, cells.n_ghost);
    model.set_signaling(&graph, &exchange);
  } else {
    model.set_signaling(nullptr, nullptr);
  }
  model.set_cell_types(cells.type);

  GeneState x("tessera::train::x", n, G);
  Kokkos::deep_copy(x, Kokkos::subview(cells.genes, std::make_pair(std::size_t(0), n), Kokkos::ALL));
  try {
    visit(cells, x, rows);
  } catch (...) {
    model.set_signaling(nullptr, nullptr);
    throw;
  }
  model.set_signaling(nullptr, nullptr); // the graph and exchange end here
}

double TrajectoryObjective::evaluate(TrainableGeneModel& model, const std::vector<ObservationWindow>& windows,
                                     ParameterGradient gradient) const {
  const TrajectoryDataset& ds = *dataset_;
  const std::size_t N = ds.n_cells(), G = ds.n_genes();
  const bool want_gradient = gradient.extent(0) > 0;
  const auto& values = model.parameters().values();
  ParameterGradient local;
  if (want_gradient)
    local = ParameterGradient("tessera::train::theta_bar", values.extent(0), values.extent(1));
  double scored = 0.0; // observation times scored, over all windows
  for (const ObservationWindow& w : windows) {
    if (w.start < 0 || w.end <= w.start || static_cast<std::size_t>(w.end) >= ds.n_times())
      throw runtime_error("observation window (" + std::to_string(w.start) + ", " + std::to_string(w.end) +
                          ") out of range");
    scored += w.end - w.start;
  }
  const double scale = 1.0 / (scored * static_cast<double>(N) * static_cast<double>(G));
  double loss = 0.0;

  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(options_.groups)) != group_index_) continue;
    const ObservationWindow w = windows[i];
    visit_tissue(model, w.start, [&](const Cells<>&, GeneState x, const std::vector<std::size_t>& rows) {
      const std::size_t n = rows.size();
      const int intervals = w.end - w.start;
      // Stored stage states of the whole window: 5 states (start and 4 stages) per rk4 substep. Agreed over
      // the group, since all its ranks must take the same path.
      double substeps = 0.0;
      for (int j = 0; j < intervals; ++j) {
        const auto k = static_cast<std::size_t>(w.start + j);
        substeps += std::ceil((ds.time[k + 1] - ds.time[k]) / options_.dt);
      }
      const double stage_bytes =
          mpi::max(group_.get(), substeps * 5.0 * static_cast<double>(n * G) * sizeof(double));
      const bool store_stages = stage_bytes <= options_.stage_memory_bytes;
      // With the stages, the activation tape (4 model evaluations recorded per substep: graph_ode keeps its
      // hidden layers, (L-2) x n x G x M values each) while both fit; else the VJPs recompute them.
      const double tape_bytes =
          mpi::max(group_.get(), substeps * 4.0 * static_cast<double>(model.tape_bytes(n)));
      const bool keep_tape =
          store_stages && !options_.use_cvode && stage_bytes + tape_bytes <= options_.stage_memory_bytes;
      std::vector<std::unique_ptr<Segment>> segments;
      // dL/dx(t_j) from the misfit at t_j, one per scored time: the reverse sweep adds it on arrival.
      std::vector<GeneState> misfit_bar;
      for (int j = 0; j < intervals; ++j) {
        const auto k = static_cast<std::size_t>(w.start + j);
        if (options_.use_cvode) {
          segments.push_back(make_segment(options_, group_.get(), store_stages));
        } else {
          if (!rk4_pool_) {
            rk4_pool_ = std::make_unique<Rk4AdjointPool>();
            rk4_pool_->dt = options_.dt;
          }
          segments.push_back(
              std::make_unique<PooledRk4Segment>(rk4_pool_->get(store_stages, static_cast<std::size_t>(j))));
        }
        segments.back()->forward(model, x, ds.time[k], ds.time[k + 1],
                                 keep_tape && want_gradient ? &model : nullptr);
        const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
        GeneState bar("tessera::train::x_bar", n, G);
        auto bh = Kokkos::create_mirror_view(bar);
        for (std::size_t r = 0; r < n; ++r)
          for (std::size_t g = 0; g < G; ++g) {
            const double diff = xh(r, g) - ds.x(k + 1, rows[r], g);
            loss += diff * diff;
            bh(r, g) = 2.0 * scale * diff;
          }
        if (want_gradient) {
          Kokkos::deep_copy(bar, bh);
          misfit_bar.push_back(bar);
        }
      }
      if (!want_gradient) return;
      GeneState x_bar = misfit_bar.back();
      for (int j = intervals - 1; j >= 0; --j) {
        segments[static_cast<std::size_t>(j)]->reverse(model, model, x_bar, local);
        if (j > 0) add_to(x_bar, misfit_bar[static_cast<std::size_t>(j - 1)]);
      }
    });
  }

  loss *= scale;
  std::vector<double> total{loss};
  sum_over(world_, total);
  if (want_gradient) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), local);
    std::vector<double> g(h.data(), h.data() + h.size());
    sum_over(world_, g);
    std::copy(g.begin(), g.end(), h.data());
    Kokkos::deep_copy(gradient, h);
  }
  return total[0];
}

double TrajectoryObjective::evaluate(TrainableGeneModel& model, const std::vector<int>& starts,
                                     ParameterGradient gradient) const {
  std::vector<ObservationWindow> windows;
  for (const int k : starts)
    windows.push_back({k, k + 1});
  return evaluate(model, windows, gradient);
}

void TrajectoryObjective::predict(TrainableGeneModel& model, ObservationWindow w,
                                  std::vector<double>& predicted) const {
  const TrajectoryDataset& ds = *dataset_;
  const std::size_t N = ds.n_cells(), G = ds.n_genes();
  if (w.start < 0 || w.end <= w.start || static_cast<std::size_t>(w.end) >= ds.n_times())
    throw runtime_error("prediction window out of range");
  const auto intervals = static_cast<std::size_t>(w.end - w.start);
  predicted.assign(intervals * N * G, 0.0);
  // Group 0 integrates; each of its rows is owned by one rank, so the sum over ranks assembles the tissue.
  if (group_index_ == 0)
    visit_tissue(model, w.start, [&](const Cells<>&, GeneState x, const std::vector<std::size_t>& rows) {
      for (std::size_t j = 0; j < intervals; ++j) {
        const auto k = static_cast<std::size_t>(w.start) + j;
        const auto segment = make_segment(options_, group_.get(), false); // no reverse sweep follows
        segment->forward(model, x, ds.time[k], ds.time[k + 1], nullptr);
        const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
        for (std::size_t r = 0; r < rows.size(); ++r)
          for (std::size_t g = 0; g < G; ++g)
            predicted[(j * N + rows[r]) * G + g] = xh(r, g);
      }
    });
  sum_over(world_, predicted);
}

} // namespace tessera
