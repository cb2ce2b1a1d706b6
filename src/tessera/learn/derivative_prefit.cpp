#include "tessera/learn/derivative_prefit.hpp"

#include "tessera/core/error.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>

namespace tessera {

std::vector<int> derivative_times(const TimeSplit& split) {
  std::vector<int> times;
  for (int k = 1; k + 1 < split.n_train; ++k)
    times.push_back(k);
  return times;
}

double central_derivative(const TrajectoryDataset& dataset, int k, std::size_t row, std::size_t g) {
  const auto t = static_cast<std::size_t>(k);
  const double h1 = dataset.time[t] - dataset.time[t - 1], h2 = dataset.time[t + 1] - dataset.time[t];
  return (-h2 * h2 * dataset.x(t - 1, row, g) + (h2 * h2 - h1 * h1) * dataset.x(t, row, g) +
          h1 * h1 * dataset.x(t + 1, row, g)) /
         (h1 * h2 * (h1 + h2));
}

double derivative_matching_loss(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                const std::vector<int>& times, ParameterGradient gradient) {
  const TrajectoryDataset& ds = objective.dataset();
  const std::size_t N = ds.n_cells(), G = ds.n_genes();
  const bool want_gradient = gradient.extent(0) > 0;
  const auto& values = model.parameters().values();
  ParameterGradient local;
  if (want_gradient)
    local = ParameterGradient("tessera::prefit::theta_bar", values.extent(0), values.extent(1));
  for (const int k : times)
    if (k < 1 || static_cast<std::size_t>(k) + 1 >= ds.n_times())
      throw runtime_error("derivative time index " + std::to_string(k) + " has no central difference");
  const double scale =
      times.empty() ? 0.0 : 1.0 / (static_cast<double>(times.size()) * static_cast<double>(N * G));
  double loss = 0.0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(objective.groups())) != objective.group()) continue;
    const int k = times[i];
    const double t = ds.time[static_cast<std::size_t>(k)];
    objective.visit_tissue(model, k, [&](const Cells<>&, GeneState x, const std::vector<std::size_t>& rows) {
      const std::size_t n = rows.size();
      GeneState f("tessera::prefit::f", n, G);
      model.evaluate(t, x, f);
      const auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
      // The residual's derivative, 2 scale (f - dx/dt), is the VJP's lambda; f's storage is reused for it.
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t g = 0; g < G; ++g) {
          const double residual = fh(r, g) - central_derivative(ds, k, rows[r], g);
          loss += residual * residual;
          fh(r, g) = 2.0 * scale * residual;
        }
      if (!want_gradient) return;
      Kokkos::deep_copy(f, fh);
      model.vjp(t, x, f, GeneState(), local);
    });
  }
  std::vector<double> sums{loss * scale};
  std::vector<double> g;
  if (want_gradient) {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), local);
    g.assign(h.data(), h.data() + h.size());
  }
  sums.insert(sums.end(), g.begin(), g.end());
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_DOUBLE, MPI_SUM,
                           objective.world()),
             "MPI_Allreduce");
  if (want_gradient) {
    auto h = Kokkos::create_mirror_view(gradient);
    std::copy(sums.begin() + 1, sums.end(), h.data());
    Kokkos::deep_copy(gradient, h);
  }
  return sums[0];
}

PrefitResult prefit_derivatives(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                const TimeSplit& split, long long iterations, double l2,
                                bool tao_from_options) {
  PrefitResult result;
  const std::vector<int> times = derivative_times(split);
  if (times.empty()) {
    result.reason = "no derivative rows";
    return result;
  }
  ModelParameters& parameters = model.parameters();
  const auto& values = parameters.values();
  ParameterGradient gradient("tessera::prefit::gradient", values.extent(0), values.extent(1));
  auto f = [&](const std::vector<double>& x, std::vector<double>& g) {
    parameters.set_flat(x);
    const double loss = derivative_matching_loss(objective, model, times, gradient) +
                        add_l2_penalty(parameters, l2, gradient);
    const auto gh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
    std::copy(gh.data(), gh.data() + gh.size(), g.begin());
    return loss;
  };
  auto monitor = [&](long long iteration, double loss, double, const std::vector<double>&) {
    if (iteration == 0) result.initial_loss = loss;
    result.final_loss = loss;
    result.iterations = iteration;
    return false;
  };
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  std::vector<double> x(h.data(), h.data() + h.size());
  petsc::LmvmOptions options;
  options.max_iterations = iterations;
  options.from_options = tao_from_options;
  result.reason = petsc::minimize_lmvm(x, options, f, monitor);
  parameters.set_flat(x);
  return result;
}

} // namespace tessera
