#include "tessera/learn/ridge_baseline.hpp"

#include "tessera/core/error.hpp"
#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/learn/lapack.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera {

namespace {

// Stands in for a gene model in TrajectoryObjective::visit_tissue: keeps the signalling graph and ligand
// exchange the objective builds for the model, so the baselines see the same neighbours and weights.
class SignalingCapture final : public CellGeneModel {
public:
  void set_cell_types(Kokkos::View<const int*>) override {}
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override {
    graph_ = graph;
    exchange_ = exchange;
  }
  void evaluate(double, ConstGeneState, GeneState) const override {
    throw runtime_error("the ridge baseline's signalling capture is not a gene model");
  }
  const SignalingGraph* graph() const { return graph_; }
  const LigandExchange* exchange() const { return exchange_; }

private:
  const SignalingGraph* graph_ = nullptr;
  const LigandExchange* exchange_ = nullptr;
};

// The Gram matrices of one (type, target): columns [regressors..., 1, y], m x m, full (symmetric).
struct TargetSystem {
  std::vector<Regressor> regressors;
  std::vector<double> shift; // subtracted from each regressor before summing (less cancellation)
  std::size_t offset = 0;    // of its training Gram in the buffer; the validation Gram follows
  std::size_t m() const { return regressors.size() + 2; }
};

struct Solution {
  std::vector<double> coefficient, standardised, mean; // per regressor, of the shifted columns
  double intercept = 0.0;                              // of the shifted columns
  bool ok = true;
};

// Ridge on standardised regressors, intercept unpenalised, from the training Gram `g` (m x m, columns
// [z - shift, 1, y]); `active` limits the columns used (others get coefficient 0). lambda = 0 is least
// squares. Not ok when the system is singular.
Solution solve_ridge(const double* g, std::size_t m, const std::vector<char>& active, double lambda) {
  const std::size_t p = m - 2, one = m - 2, y = m - 1;
  Solution out;
  out.coefficient.assign(p, 0.0);
  out.standardised.assign(p, 0.0);
  out.mean.assign(p, 0.0);
  const double n = g[one * m + one];
  if (!(n > 0.0)) return out;
  auto mean = [&](std::size_t a) { return g[a * m + one] / n; };
  for (std::size_t a = 0; a < p; ++a)
    out.mean[a] = mean(a);
  auto covariance = [&](std::size_t a, std::size_t b) { return g[a * m + b] / n - mean(a) * mean(b); };
  const double sd_y = std::sqrt(std::max(covariance(y, y), 0.0));
  // A regressor that does not vary over the rows (relative to its size) cannot be told from the intercept.
  std::vector<std::size_t> used;
  std::vector<double> sd;
  for (std::size_t a = 0; a < p; ++a) {
    const double s = std::sqrt(std::max(covariance(a, a), 0.0));
    if (active[a] && s > 1e-12 * std::max(1.0, std::fabs(mean(a)))) {
      used.push_back(a);
      sd.push_back(s);
    }
  }
  const int q = static_cast<int>(used.size());
  if (q > 0) {
    std::vector<double> a(static_cast<std::size_t>(q) * static_cast<std::size_t>(q)),
        b(static_cast<std::size_t>(q));
    for (int r = 0; r < q; ++r) {
      for (int c = 0; c < q; ++c)
        a[static_cast<std::size_t>(r * q + c)] =
            covariance(used[static_cast<std::size_t>(r)], used[static_cast<std::size_t>(c)]) /
                (sd[static_cast<std::size_t>(r)] * sd[static_cast<std::size_t>(c)]) +
            (r == c ? lambda : 0.0);
      b[static_cast<std::size_t>(r)] =
          covariance(used[static_cast<std::size_t>(r)], y) / sd[static_cast<std::size_t>(r)];
    }
    if (!lapack::solve_positive_definite(q, a, b)) {
      out.ok = false;
      return out;
    }
    for (int r = 0; r < q; ++r) {
      const std::size_t column = used[static_cast<std::size_t>(r)];
      out.coefficient[column] = b[static_cast<std::size_t>(r)] / sd[static_cast<std::size_t>(r)];
      out.standardised[column] = sd_y > 0.0 ? b[static_cast<std::size_t>(r)] / sd_y : 0.0;
    }
  }
  out.intercept = mean(y);
  for (std::size_t a = 0; a < p; ++a)
    out.intercept -= out.coefficient[a] * mean(a);
  return out;
}

// sum (y - intercept - coefficient . z)^2 over the rows of the Gram `g` (here the validation Gram weighted
// by dt^2: the squared one-step error of x + dt * derivative).
double squared_error(const double* g, std::size_t m, const Solution& s) {
  std::vector<double> v(m, 0.0);
  for (std::size_t a = 0; a + 2 < m; ++a)
    v[a] = -s.coefficient[a];
  v[m - 2] = -s.intercept;
  v[m - 1] = 1.0;
  double sum = 0.0;
  for (std::size_t a = 0; a < m; ++a) {
    double row = 0.0;
    for (std::size_t b = 0; b < m; ++b)
      row += g[a * m + b] * v[b];
    sum += v[a] * row;
  }
  return std::max(sum, 0.0); // a quadratic form of a positive semi-definite matrix; rounding may dip below 0
}

DerivativeFit to_fit(const TargetSystem& system, const Solution& s, double observations) {
  DerivativeFit fit;
  fit.regressors = system.regressors;
  fit.coefficient = s.coefficient;
  fit.standardised = s.standardised;
  fit.intercept = s.intercept;
  for (std::size_t a = 0; a < s.coefficient.size(); ++a) {
    fit.intercept -= s.coefficient[a] * system.shift[a]; // back to the unshifted columns
    fit.mean.push_back(s.mean[a] + system.shift[a]);
  }
  fit.observations = observations;
  return fit;
}

} // namespace

std::vector<double> ridge_lambdas() {
  std::vector<double> out;
  for (int e = -6; e <= 2; ++e)
    out.push_back(std::pow(10.0, e));
  return out;
}

DerivativeBaselines fit_derivative_baselines(const TrajectoryObjective& objective,
                                             const std::vector<std::vector<std::vector<int>>>& candidates,
                                             const std::vector<LigandReceptorPair>& pairs,
                                             const TimeSplit& split, double memory_bytes) {
  const TrajectoryDataset& ds = objective.dataset();
  const std::size_t T = ds.cell_types.size(), G = ds.n_genes(), N = ds.n_cells();
  if (candidates.size() != T)
    throw runtime_error("ridge baseline: candidate graphs for " + std::to_string(candidates.size()) +
                        " cell types, the dataset has " + std::to_string(T));

  // Each gene column is shifted by the gene's mean over the whole dataset (every rank holds it: the same
  // shift everywhere), so the raw sums below lose little to cancellation.
  std::vector<double> gene_mean(G, 0.0);
  for (std::size_t v = 0; v < ds.expression.size(); ++v)
    gene_mean[v % G] += ds.expression[v];
  for (double& mean : gene_mean)
    mean /= static_cast<double>(ds.n_times() * N);

  // The ridge's Gram matrices, or (beyond the memory budget) only the relaxation's: [x_k, 1, y].
  double ridge_bytes = 0.0;
  for (std::size_t c = 0; c < T; ++c) {
    if (candidates[c].size() != G)
      throw runtime_error("ridge baseline: candidate graph of type " + std::to_string(c) + " has " +
                          std::to_string(candidates[c].size()) + " targets");
    for (std::size_t k = 0; k < G; ++k) {
      const double m = static_cast<double>(candidates[c][k].size() + pairs.size() + 3);
      ridge_bytes += 2.0 * m * m * sizeof(double);
    }
  }
  const bool fit_ridge = ridge_bytes <= memory_bytes;

  std::vector<TargetSystem> systems(T * G);
  std::size_t buffer = 0;
  for (std::size_t c = 0; c < T; ++c)
    for (std::size_t k = 0; k < G; ++k) {
      TargetSystem& system = systems[c * G + k];
      for (const int j : fit_ridge ? candidates[c][k] : std::vector<int>{}) {
        system.regressors.push_back({Regressor::regulator, j});
        system.shift.push_back(gene_mean[static_cast<std::size_t>(j)]);
      }
      system.regressors.push_back({Regressor::self, static_cast<int>(k)});
      system.shift.push_back(gene_mean[k]);
      for (std::size_t q = 0; q < pairs.size(); ++q)
        if (fit_ridge && static_cast<std::size_t>(pairs[q].receptor) == k) {
          system.regressors.push_back({Regressor::ligand, static_cast<int>(q)});
          system.shift.push_back(0.0);
        }
      system.offset = buffer;
      buffer += 2 * system.m() * system.m();
    }
  std::vector<double> gram(buffer, 0.0);

  SignalingCapture capture;
  std::vector<int> times = split.train_starts;
  times.insert(times.end(), split.validation_starts.begin(), split.validation_starts.end());
  std::vector<double> z;
  for (std::size_t t = 0; t < times.size(); ++t) {
    const int k = times[t];
    const bool validation = t >= split.train_starts.size();
    const auto now = static_cast<std::size_t>(k);
    const double dt = ds.time[now + 1] - ds.time[now];
    objective.visit_tissue(
        capture, k, [&](const Cells<>& cells, GeneState x_device, const std::vector<std::size_t>& rows) {
          const std::size_t n = rows.size();
          const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_device);
          const auto type = Kokkos::create_mirror_view_and_copy(
              Kokkos::HostSpace(), Kokkos::subview(cells.type, std::make_pair(std::size_t(0), n)));
          // s(i, q): the ligand of pair q received by owned cell i, as the model's intercellular edges see
          // it.
          std::vector<double> signal(n * pairs.size(), 0.0);
          if (capture.exchange() != nullptr && capture.graph() != nullptr) {
            const auto ligand = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                                    capture.exchange()->gather(x_device));
            const SignalingGraph& graph = *capture.graph();
            const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.offsets);
            const auto source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.source);
            const auto weight = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.weight);
            for (std::size_t q = 0; q < pairs.size(); ++q) {
              const int column = capture.exchange()->column_of(pairs[q].ligand);
              for (std::size_t i = 0; i < n; ++i)
                for (int e = offsets(i); e < offsets(i + 1); ++e)
                  signal[i * pairs.size() + q] +=
                      (weight.extent(0) ? weight(e) : 1.0) * ligand(source(e), column);
            }
          }
          const double row_weight = validation ? dt * dt : 1.0;
          for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::size_t>(type(i));
            for (std::size_t g = 0; g < G; ++g) {
              const TargetSystem& system = systems[c * G + g];
              const std::size_t m = system.m();
              z.resize(m);
              for (std::size_t a = 0; a + 2 < m; ++a) {
                const Regressor& r = system.regressors[a];
                const double value = r.kind == Regressor::ligand
                                         ? signal[i * pairs.size() + static_cast<std::size_t>(r.index)]
                                         : x(i, static_cast<std::size_t>(r.index));
                z[a] = value - system.shift[a];
              }
              z[m - 2] = 1.0;
              z[m - 1] = (ds.x(now + 1, rows[i], g) - x(i, g)) / dt;
              double* sums = gram.data() + system.offset + (validation ? m * m : 0);
              for (std::size_t a = 0; a < m; ++a) {
                const double za = row_weight * z[a];
                for (std::size_t b = a; b < m; ++b)
                  sums[a * m + b] += za * z[b];
              }
            }
          }
        });
  }
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, gram.data(), static_cast<int>(gram.size()), MPI_DOUBLE, MPI_SUM,
                           objective.decomposition().comm()),
             "MPI_Allreduce");
  for (const TargetSystem& system : systems) // the lower triangles, from the upper ones summed above
    for (std::size_t half = 0; half < 2; ++half) {
      const std::size_t m = system.m();
      double* sums = gram.data() + system.offset + half * m * m;
      for (std::size_t a = 0; a < m; ++a)
        for (std::size_t b = 0; b < a; ++b)
          sums[a * m + b] = sums[b * m + a];
    }

  DerivativeBaselines out;
  out.validation_pairs = split.validation_starts.size();
  const double validation_values =
      static_cast<double>(out.validation_pairs) * static_cast<double>(N) * static_cast<double>(G);
  const auto training = [&](const TargetSystem& s) { return gram.data() + s.offset; };
  const auto held_out = [&](const TargetSystem& s) { return gram.data() + s.offset + s.m() * s.m(); };
  const auto all_columns = [](const TargetSystem& s) { return std::vector<char>(s.m() - 2, 1); };
  const auto self_column = [](const TargetSystem& s) {
    std::vector<char> active(s.m() - 2, 0);
    for (std::size_t a = 0; a < active.size(); ++a)
      active[a] = s.regressors[a].kind == Regressor::self ? 1 : 0;
    return active;
  };

  // The penalty: the smallest one-step validation error summed over every target (one lambda for all, so
  // the choice rests on every held-out value at once).
  out.lambdas = ridge_lambdas();
  out.lambda = 1e-2;
  out.selection = "fixed (no validation pairs)";
  if (!fit_ridge) {
    out.lambdas.clear();
    out.lambda = std::numeric_limits<double>::quiet_NaN();
    out.selection = "not fitted: its Gram matrices would take " + std::to_string(ridge_bytes / 1048576.0) +
                    " MiB per rank, more than " + std::to_string(memory_bytes / 1048576.0) + " MiB";
  } else if (out.validation_pairs > 0) {
    double best = std::numeric_limits<double>::infinity();
    for (const double lambda : out.lambdas) {
      double sse = 0.0;
      bool ok = true;
      for (const TargetSystem& s : systems) {
        const Solution solution = solve_ridge(training(s), s.m(), all_columns(s), lambda);
        ok = ok && solution.ok;
        sse += squared_error(held_out(s), s.m(), solution);
      }
      out.validation_sse.push_back(ok ? sse : std::numeric_limits<double>::infinity());
      if (out.validation_sse.back() < best) {
        best = out.validation_sse.back();
        out.lambda = lambda;
      }
    }
    out.selection = "smallest one-step validation error over lambda = 1e-6 .. 1e2 (decades)";
  }

  const double nan = std::numeric_limits<double>::quiet_NaN();
  double ridge_sse = 0.0, relaxation_sse = 0.0, no_change_sse = 0.0;
  out.ridge.assign(T, std::vector<DerivativeFit>(G));
  out.relaxation.assign(T, std::vector<DerivativeFit>(G));
  for (std::size_t c = 0; c < T; ++c)
    for (std::size_t k = 0; k < G; ++k) {
      const TargetSystem& s = systems[c * G + k];
      const double observations = training(s)[(s.m() - 2) * s.m() + s.m() - 2];
      const Solution ridge = solve_ridge(training(s), s.m(), all_columns(s), fit_ridge ? out.lambda : 0.0);
      if (!ridge.ok)
        throw runtime_error("ridge baseline: the system of gene " + ds.genes[k] + " in type " +
                            ds.cell_types[c] + " is singular at lambda " + std::to_string(out.lambda));
      // Least squares on one standardised column is singular only if it is constant, which solve_ridge
      // leaves out: always ok.
      const Solution relaxation = solve_ridge(training(s), s.m(), self_column(s), 0.0);
      out.ridge[c][k] = to_fit(s, ridge, observations);
      out.relaxation[c][k] = to_fit(s, relaxation, observations);
      ridge_sse += squared_error(held_out(s), s.m(), ridge);
      relaxation_sse += squared_error(held_out(s), s.m(), relaxation);
      no_change_sse += held_out(s)[s.m() * s.m() - 1];
    }
  out.ridge_mse = validation_values > 0 && fit_ridge ? ridge_sse / validation_values : nan;
  if (!fit_ridge) out.ridge.clear();
  out.relaxation_mse = validation_values > 0 ? relaxation_sse / validation_values : nan;
  out.no_change_mse = validation_values > 0 ? no_change_sse / validation_values : nan;
  return out;
}

} // namespace tessera
