#include "tessera/learn/trainer.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/core/units.hpp"
#include "tessera/learn/group_lasso.hpp"
#include "tessera/learn/lr_schedule.hpp"
#include "tessera/learn/stopping_rule.hpp"

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

} // namespace

TimeSplit split_times(std::size_t n_times, double val_fraction) {
  TimeSplit s;
  const int total = static_cast<int>(n_times);
  const int held = static_cast<int>(std::floor(val_fraction * total));
  s.n_times = total;
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

namespace {

// Windows from each of `starts` through the mode's reach (1 for one_step, train.window for window mode),
// cut at time index `last`. (`full` mode has one window and does not come here.)
std::vector<ObservationWindow> windows_from(const std::vector<int>& starts, const TrainParams& params,
                                            int last) {
  const long long reach = params.mode == TrainMode::window ? params.window : 1;
  std::vector<ObservationWindow> windows;
  for (const int k : starts)
    windows.push_back({k, static_cast<int>(std::min<long long>(k + reach, last))});
  return windows;
}

} // namespace

std::vector<ObservationWindow> training_windows(const TrainParams& params, const TimeSplit& split,
                                                std::uint64_t seed, long long iteration) {
  if (params.mode == TrainMode::full) return {{0, split.n_train - 1}};
  return windows_from(sample_starts(split.train_starts, params.time_points_per_iter, seed, iteration), params,
                      split.n_train - 1);
}

std::vector<ObservationWindow> all_training_windows(const TrainParams& params, const TimeSplit& split) {
  if (params.mode == TrainMode::full) return {{0, split.n_train - 1}};
  return windows_from(split.train_starts, params, split.n_train - 1);
}

std::vector<ObservationWindow> validation_windows(const TrainParams& params, const TimeSplit& split) {
  if (split.validation_starts.empty()) return {};
  if (params.mode == TrainMode::full) return {{split.n_train - 1, split.n_times - 1}};
  return windows_from(split.validation_starts, params, split.n_times - 1);
}

namespace {

// Sum over the sparse (weight) tensors of every set of penalty(w, derivative), adding each `derivative` to
// `gradient` (unless empty): the one pass over the parameters that l1 and l2 share. The callers scale the
// sum, as they did before sharing it (the same roundings).
template <class Penalty>
double add_sparse_weight_penalty(const ModelParameters& parameters, const ParameterGradient& gradient,
                                 Penalty penalty) {
  const bool want_gradient = gradient.extent(0) > 0;
  const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
  double sum = 0.0;
  for (int set = 0; set < parameters.n_sets(); ++set)
    for (const TensorSpec& t : parameters.layout().tensors()) {
      if (!t.sparse) continue;
      for (std::size_t e = t.offset; e < t.offset + t.size(); ++e) {
        double derivative = 0.0;
        sum += penalty(theta(set, e), derivative);
        if (want_gradient) g(set, e) += derivative;
      }
    }
  if (want_gradient) Kokkos::deep_copy(gradient, g);
  return sum;
}

} // namespace

double add_l1_penalty(const ModelParameters& parameters, double l1, const ParameterGradient& gradient) {
  if (l1 == 0.0) return 0.0;
  return l1 * add_sparse_weight_penalty(parameters, gradient, [l1](const double w, double& derivative) {
           derivative = l1 * (w > 0 ? 1.0 : w < 0 ? -1.0 : 0.0);
           return std::fabs(w);
         });
}

double add_l2_penalty(const ModelParameters& parameters, double l2, const ParameterGradient& gradient) {
  if (l2 == 0.0) return 0.0;
  return 0.5 * l2 * add_sparse_weight_penalty(parameters, gradient, [l2](const double w, double& derivative) {
           derivative = l2 * w;
           return w * w;
         });
}

namespace {

// 0.5 weight_decay |theta|^2 over every parameter, its gradient weight_decay * theta added to `gradient`
// (unless empty): the term lbfgs minimises (AdamW decays outside the loss).
double add_weight_decay_term(const ModelParameters& parameters, double weight_decay,
                             const ParameterGradient& gradient) {
  if (weight_decay == 0.0) return 0.0;
  const bool want_gradient = gradient.extent(0) > 0;
  const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
  double squares = 0.0;
  for (std::size_t e = 0; e < theta.size(); ++e) {
    squares += theta.data()[e] * theta.data()[e];
    if (want_gradient) g.data()[e] += weight_decay * theta.data()[e];
  }
  if (want_gradient) Kokkos::deep_copy(gradient, g);
  return 0.5 * weight_decay * squares;
}

} // namespace

ObjectiveTerms training_objective(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                  const TrainParams& params, const std::vector<ObservationWindow>& windows,
                                  ParameterGradient gradient) {
  ObjectiveTerms terms;
  terms.data = objective.evaluate(model, windows, gradient);
  terms.l1 = add_l1_penalty(model.parameters(), params.l1, gradient);
  terms.l2 = add_l2_penalty(model.parameters(), params.l2, gradient);
  if (params.group_lasso > 0.0)
    terms.group_lasso =
        add_group_lasso_penalty(model.parameters(), model.regulator_groups(), params.group_lasso, gradient);
  if (params.optimizer == TrainOptimizer::lbfgs)
    terms.weight_decay = add_weight_decay_term(model.parameters(), params.weight_decay, gradient);
  return terms;
}

void train_adamw(const TrajectoryObjective& objective, TrainableGeneModel& model, const TrainParams& params,
                 std::uint64_t seed, AdamW& optimizer, TrainProgress& progress,
                 const std::function<void(const TrainRecord&)>& report,
                 const std::function<void(const TrainProgress&)>& after_step,
                 const std::function<bool()>& stop_requested) {
  const TimeSplit split = split_times(objective.dataset().n_times(), params.val_fraction);
  const std::vector<ObservationWindow> validation = validation_windows(params, split);
  const auto& values = model.parameters().values();
  ParameterGradient gradient("tessera::train::gradient", values.extent(0), values.extent(1));
  const double wall_before = progress.records.empty() ? 0.0 : progress.records.back().wall_s;
  LearningRateSchedule schedule(params);
  StoppingRule stopping(params);
  for (const TrainRecord& r : progress.records) {
    schedule.observe(r.iteration, r.train, r.validation);
    stopping.observe(r.iteration, r.train, r.validation, r.grad_norm);
  }
  progress.stopped = stopping.stopped();
  // The parameters the validation loss is evaluated at are those before the step (a copy: create_mirror,
  // not a view that may alias host parameters).
  auto before_step = Kokkos::create_mirror(Kokkos::HostSpace(), values);
  const auto begin = std::chrono::steady_clock::now();
  for (long long it = progress.iteration + 1; it <= params.iterations && progress.stopped.empty(); ++it) {
    TrainRecord r;
    r.iteration = it;
    r.train =
        training_objective(objective, model, params, training_windows(params, split, seed, it), gradient)
            .total();
    r.validation = validation.empty() ? NAN : objective.evaluate(model, validation, ParameterGradient());
    if (params.keep_best) Kokkos::deep_copy(before_step, values);
    r.lr = schedule.rate(it);
    optimizer.set_learning_rate(r.lr);
    r.grad_norm = optimizer.step(model.parameters(), gradient);
    r.wall_s = wall_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    schedule.observe(it, r.train, r.validation);
    progress.stopped = stopping.observe(it, r.train, r.validation, r.grad_norm);
    if (params.keep_best && stopping.improved_best()) {
      progress.best_iteration = it;
      progress.best_parameters.assign(before_step.data(), before_step.data() + before_step.size());
    }
    progress.iteration = it;
    progress.records.push_back(r);
    if (report) report(r);
    if (after_step) after_step(progress);
    if (stop_requested && stop_requested()) break;
  }
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

void check_dataset_in_domain(const TrajectoryDataset& dataset, const Domain& domain,
                             const std::string& dataset_path) {
  if (dataset.dim != domain.dim)
    throw input_error(dataset_path + ": the dataset's positions are " + std::to_string(dataset.dim) +
                      "-D but the deck's domain.dim is " + std::to_string(domain.dim));
  const std::size_t n = dataset.n_cells(), d = static_cast<std::size_t>(dataset.dim);
  const std::size_t frames = dataset.positions_per_time ? dataset.n_times() : 1;
  const char* axis_name[3] = {"x", "y", "z"};
  for (std::size_t f = 0; f < frames; ++f)
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t a = 0; a < d; ++a) {
        const double p = dataset.positions[(f * n + i) * d + a];
        if (p >= domain.lo[a] && p <= domain.hi[a]) continue;
        const std::string index = "[" + std::to_string(a) + "]";
        throw input_error(dataset_path + ": cell id " + std::to_string(dataset.cell_id[i]) +
                          (dataset.positions_per_time ? " at time " + format_number(dataset.time[f]) + " min"
                                                      : std::string()) +
                          " lies outside the deck's domain: " + axis_name[a] + " = " + format_number(p) +
                          " is not in [domain.lo" + index + ", domain.hi" + index + "] = [" +
                          format_number(domain.lo[a]) + ", " + format_number(domain.hi[a]) +
                          "] um; set domain.lo and domain.hi to a box holding every position of the dataset");
      }
}

GradientCheck check_gradient(const TrajectoryObjective& objective, TrainableGeneModel& model,
                             const TrainParams& params, const std::vector<ObservationWindow>& windows,
                             const ParameterGradient& gradient, int count, std::uint64_t seed) {
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
      return training_objective(objective, model, params, windows, ParameterGradient()).total();
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
