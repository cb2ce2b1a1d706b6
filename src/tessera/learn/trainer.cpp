#include "tessera/learn/trainer.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/core/units.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace tessera {

namespace {

// Draws of the start-time sampling: key 'train' keeps them apart from the parameter initialisation's keys
// (the set index) under the same purpose.
constexpr std::uint64_t sampling_key = 0x747261696eull;

std::vector<double> to_host(const ParameterGradient& g) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  return std::vector<double>(h.data(), h.data() + h.size());
}

void from_host(const std::vector<double>& values, const ParameterGradient& g) {
  auto h = Kokkos::create_mirror_view(g);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(g, h);
}

} // namespace

OneStepObjective::OneStepObjective(MPI_Comm comm, const Domain& domain, std::array<int, 3> rank_grid,
                                   SignalingParams signaling, const TrajectoryDataset& dataset, double dt)
    : comm_(comm), domain_(domain), signaling_(std::move(signaling)), dataset_(&dataset), dt_(dt) {
  decomposition_ = std::make_unique<CartesianDecomposition>(comm, domain_, rank_grid);
  mpi::agree(comm, [&] {
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
                            " um: run on fewer ranks, set parallel.dims, or enlarge the domain");
        if (domain_.periodic[a] && domain_.extent(a) < 2 * signaling_.range)
          throw input_error("a periodic axis must be at least twice signaling.range; axis " +
                            std::to_string(a) + " is " + format_number(domain_.extent(a)) + " um");
      }
  });
}

std::size_t OneStepObjective::owned_cells(int start) const {
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

void OneStepObjective::visit_tissue(
    GraphOdeModel& model, int k,
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

double OneStepObjective::evaluate(GraphOdeModel& model, const std::vector<int>& starts,
                                  ParameterGradient gradient) const {
  const TrajectoryDataset& ds = *dataset_;
  const std::size_t N = ds.n_cells(), G = ds.n_genes();
  const bool want_gradient = gradient.extent(0) > 0;
  const auto& values = model.parameters().values();
  ParameterGradient local;
  if (want_gradient)
    local = ParameterGradient("tessera::train::theta_bar", values.extent(0), values.extent(1));
  const double scale =
      1.0 / (static_cast<double>(starts.size()) * static_cast<double>(N) * static_cast<double>(G));
  double loss = 0.0;

  for (const int k : starts) {
    if (k < 0 || static_cast<std::size_t>(k) + 1 >= ds.n_times())
      throw runtime_error("one_step start index " + std::to_string(k) + " out of range");
    visit_tissue(model, k, [&](const Cells<>&, GeneState x, const std::vector<std::size_t>& rows) {
      const std::size_t n = rows.size();
      Rk4Adjoint rk4(dt_);
      rk4.forward(model, x, ds.time[static_cast<std::size_t>(k)], ds.time[static_cast<std::size_t>(k) + 1]);

      const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
      GeneState x_bar("tessera::train::x_bar", n, G);
      auto xbh = Kokkos::create_mirror_view(x_bar);
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t g = 0; g < G; ++g) {
          const double diff = xh(r, g) - ds.x(static_cast<std::size_t>(k) + 1, rows[r], g);
          loss += diff * diff;
          xbh(r, g) = 2.0 * scale * diff;
        }
      if (want_gradient) {
        Kokkos::deep_copy(x_bar, xbh);
        rk4.reverse(model, model, x_bar, local);
      }
    });
  }

  loss *= scale;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce");
  if (want_gradient) {
    std::vector<double> g = to_host(local);
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, g.data(), static_cast<int>(g.size()), MPI_DOUBLE, MPI_SUM, comm_),
               "MPI_Allreduce");
    from_host(g, gradient);
  }
  return loss;
}

double AdamW::step(GraphOdeParameters& parameters, const ParameterGradient& gradient) {
  std::vector<double> g = to_host(gradient);
  const auto values = parameters.values();
  auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  const std::size_t size = g.size();
  if (m_.empty()) {
    m_.assign(size, 0.0);
    v_.assign(size, 0.0);
  }
  double norm = 0.0;
  for (double v : g)
    norm += v * v;
  norm = std::sqrt(norm);
  if (std::isfinite(params_.clip) && norm > params_.clip) {
    const double s = params_.clip / norm;
    for (double& v : g)
      v *= s;
  }
  ++t_;
  const double c1 = 1.0 - std::pow(params_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(params_.beta2, static_cast<double>(t_));
  double* p = theta.data();
  for (std::size_t e = 0; e < size; ++e) {
    m_[e] = params_.beta1 * m_[e] + (1.0 - params_.beta1) * g[e];
    v_[e] = params_.beta2 * v_[e] + (1.0 - params_.beta2) * g[e] * g[e];
    const double m_hat = m_[e] / c1, v_hat = v_[e] / c2;
    p[e] -= params_.lr * (m_hat / (std::sqrt(v_hat) + params_.eps) + params_.weight_decay * p[e]);
  }
  Kokkos::deep_copy(values, theta);
  return norm;
}

TimeSplit split_times(std::size_t n_times, double val_fraction) {
  TimeSplit s;
  const int total = static_cast<int>(n_times);
  const int held = static_cast<int>(std::floor(val_fraction * total));
  s.n_train = std::max(2, total - held);
  if (s.n_train > total) s.n_train = total;
  for (int k = 0; k + 1 < s.n_train; ++k)
    s.train_starts.push_back(k);
  for (int k = s.n_train - 1; k + 1 < total; ++k)
    s.validation_starts.push_back(k);
  return s;
}

std::vector<int> sample_starts(const std::vector<int>& train_starts, long long count, std::uint64_t seed,
                               long long iteration) {
  std::vector<int> pool = train_starts;
  if (count >= static_cast<long long>(pool.size())) return pool;
  const CounterRng rng{seed};
  for (long long i = 0; i < count; ++i) {
    double u[4];
    rng.uniform4(sampling_key, static_cast<std::uint64_t>(iteration), RandomPurpose::parameters,
                 static_cast<std::uint64_t>(i), u);
    const std::size_t left = pool.size() - static_cast<std::size_t>(i);
    std::size_t j = static_cast<std::size_t>(i) + std::min(left - 1, static_cast<std::size_t>(u[0] * left));
    std::swap(pool[static_cast<std::size_t>(i)], pool[j]);
  }
  pool.resize(static_cast<std::size_t>(count));
  return pool;
}

void check_dataset_matches(const TrajectoryDataset& dataset, const std::vector<std::string>& genes,
                           const std::vector<std::string>& cell_types, const std::string& dataset_path) {
  auto compare = [&](const std::vector<std::string>& deck, const std::vector<std::string>& data,
                     const std::string& what, const std::string& key) {
    const std::size_t n = std::min(deck.size(), data.size());
    for (std::size_t i = 0; i < n; ++i)
      if (deck[i] != data[i])
        throw input_error(dataset_path + ": " + what + " " + std::to_string(i) + " is '" + data[i] +
                          "' but the deck's " + key + " has '" + deck[i] + "'");
    if (deck.size() != data.size())
      throw input_error(
          dataset_path + ": the dataset has " + std::to_string(data.size()) + " " + what +
          "s but the deck's " + key + " has " + std::to_string(deck.size()) +
          (data.size() > n ? " (first extra: '" + data[n] + "')" : " (missing: '" + deck[n] + "')"));
  };
  compare(genes, dataset.genes, "gene", "grn.genes");
  compare(cell_types, dataset.cell_types, "cell type", "cells.types");
}

std::vector<TrainRecord> train_one_step(const OneStepObjective& objective, GraphOdeModel& model,
                                        const TrainParams& params, std::uint64_t seed, AdamW& optimizer,
                                        const std::function<void(const TrainRecord&)>& report) {
  const TimeSplit split = split_times(objective.dataset().n_times(), params.val_fraction);
  const auto& values = model.parameters().values();
  ParameterGradient gradient("tessera::train::gradient", values.extent(0), values.extent(1));
  std::vector<TrainRecord> records;
  const auto begin = std::chrono::steady_clock::now();
  for (long long it = 1; it <= params.iterations; ++it) {
    TrainRecord r;
    r.iteration = it;
    const std::vector<int> starts = sample_starts(split.train_starts, params.time_points_per_iter, seed, it);
    r.train = objective.evaluate(model, starts, gradient);
    r.validation = split.validation_starts.empty()
                       ? NAN
                       : objective.evaluate(model, split.validation_starts, ParameterGradient());
    r.grad_norm = optimizer.step(model.parameters(), gradient);
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    records.push_back(r);
    if (report) report(r);
  }
  return records;
}

GradientCheck check_gradient(const OneStepObjective& objective, GraphOdeModel& model,
                             const std::vector<int>& starts, const ParameterGradient& gradient, int count,
                             std::uint64_t seed) {
  const std::vector<double> g = to_host(gradient);
  std::vector<int> all(g.size());
  std::iota(all.begin(), all.end(), 0);
  const std::vector<int> chosen = sample_starts(all, count, seed, 0);
  const auto values = model.parameters().values();
  auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  double largest = 0.0;
  for (double v : g)
    largest = std::max(largest, std::fabs(v));
  GradientCheck out;
  for (const int e : chosen) {
    const double saved = theta.data()[e];
    const double h = 1e-6 * std::max(1.0, std::fabs(saved));
    auto loss_at = [&](double v) {
      theta.data()[e] = v;
      Kokkos::deep_copy(values, theta);
      return objective.evaluate(model, starts, ParameterGradient());
    };
    const double j0 = loss_at(saved), jp = loss_at(saved + h), jm = loss_at(saved - h);
    const double jp2 = loss_at(saved + 2 * h), jm2 = loss_at(saved - 2 * h);
    loss_at(saved);
    // A ReLU kink inside the stencil (a zero bias of a dead unit, say): the second differences at h and 2h
    // do not scale like a smooth function's, and central differences average two one-sided slopes.
    // Many small kinks (one per state that crosses it) show instead as central differences at h and 2h
    // that differ by more than the O(h^2) and rounding (1e-16 |L| / h) terms of a smooth function.
    const double d1 = (jp - 2 * j0 + jm) / h, d2 = (jp2 - 2 * j0 + jm2) / (2 * h);
    const double fd = (jp - jm) / (2 * h), fd2 = (jp2 - jm2) / (4 * h);
    const double noise = 1e-16 * std::fabs(j0) / h;
    if (std::fabs(d2 - 2 * d1) > 0.2 * std::fabs(d1) + 1e-9 * std::fabs(j0) ||
        std::fabs(fd2 - fd) > 1e-3 * std::fabs(fd) + 100 * noise) {
      ++out.at_kinks;
      continue;
    }
    const double denominator =
        std::max({std::fabs(fd), std::fabs(g[e]), 1e-6 * largest, 1e3 * noise, 1e-300});
    out.worst = std::max(out.worst, std::fabs(fd - g[e]) / denominator);
    ++out.checked;
  }
  return out;
}

} // namespace tessera
