#include "tessera/learn/lbfgs.hpp"

#include "tessera/learn/l1_lbfgs.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/learn/stopping_rule.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tessera {

std::string train_lbfgs(const TrajectoryObjective& objective, TrainableGeneModel& model,
                        const TrainParams& params, TrainProgress& progress,
                        const std::function<void(const TrainRecord&)>& report,
                        const std::function<bool()>& stop_requested) {
  const TimeSplit split = split_times(objective.dataset().n_times(), params.val_fraction);
  const std::vector<ObservationWindow> training = all_training_windows(params, split);
  const std::vector<ObservationWindow> validation = validation_windows(params, split);
  ModelParameters& parameters = model.parameters();
  const auto& values = parameters.values();
  ParameterGradient gradient("tessera::train::gradient", values.extent(0), values.extent(1));
  const auto begin = std::chrono::steady_clock::now();

  // The objective of lbfgs (its weight-decay term included) whatever params.optimizer says; its l1 term is
  // minimize_l1_lmvm's, on the split variables, not the subgradient training_objective would add.
  TrainParams lbfgs_params = params;
  lbfgs_params.optimizer = TrainOptimizer::lbfgs;
  lbfgs_params.l1 = 0.0;
  auto f = [&](const std::vector<double>& x, std::vector<double>& g) {
    parameters.set_flat(x);
    const double loss = training_objective(objective, model, lbfgs_params, training, gradient).total();
    const auto gh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
    std::copy(gh.data(), gh.data() + gh.size(), g.begin());
    return loss;
  };
  StoppingRule stopping(params);
  auto monitor = [&](long long iteration, double loss, double gnorm, const std::vector<double>& x) {
    if (iteration == 0) return false; // the starting point: no step taken yet
    parameters.set_flat(x);
    TrainRecord r;
    r.iteration = iteration;
    r.train = loss;
    r.grad_norm = gnorm;
    r.validation = validation.empty() ? NAN : objective.evaluate(model, validation, ParameterGradient());
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    progress.stopped = stopping.observe(iteration, r.train, r.validation, r.grad_norm);
    if (params.keep_best && stopping.improved_best()) {
      progress.best_iteration = iteration;
      progress.best_parameters = x;
    }
    progress.iteration = iteration;
    progress.records.push_back(r);
    if (report) report(r);
    // Asked on every rank at every iteration (the poll is collective), even when the rule already stops.
    const bool requested = stop_requested && stop_requested();
    return !progress.stopped.empty() || requested;
  };
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  std::vector<double> x(h.data(), h.data() + h.size());
  petsc::LmvmOptions options;
  options.max_iterations = params.iterations;
  options.gatol = params.stop_grad_norm;
  options.from_options = params.tao_from_options;
  // train.l1 applies to the sparse tensors of every set (add_l1_penalty's selection).
  std::vector<bool> penalised(x.size(), false);
  for (int set = 0; set < parameters.n_sets(); ++set)
    for (const TensorSpec& t : parameters.layout().tensors())
      if (t.sparse)
        for (std::size_t e = t.offset; e < t.offset + t.size(); ++e)
          penalised[static_cast<std::size_t>(set) * parameters.layout().size() + e] = true;
  const std::string reason = minimize_l1_lmvm(x, penalised, params.l1, options, f, monitor);
  parameters.set_flat(x);
  return reason;
}

} // namespace tessera
