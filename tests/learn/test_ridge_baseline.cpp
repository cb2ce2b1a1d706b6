// The baselines of `tessera train` (SPEC §3.5): the ridge fit of finite-difference derivatives against an
// independent implementation (explicit design matrix, two-pass centring, Gaussian elimination, brute-force
// neighbour signals) to 1e-10, recovery of a known linear ODE's coefficients, the relaxation and
// "no change" predictors by hand, and the same fits on every rank count (1e-12).
#include "tessera/learn/ridge_baseline.hpp"
#include "tessera/learn/train_report.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"

#include "learn_fixture.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace tessera;

namespace {

constexpr int n_cells = 40;
constexpr int n_genes = 3;
constexpr double val_fraction = 0.34; // 6 time points: starts 0..2 train, 3..4 validate
const std::vector<double> times = {0.0, 0.5, 1.2, 1.5, 2.3, 3.0};

// Receptor C (gene 2) hears ligand A (gene 0) of neighbours within 12 um, w = exp(-d / 10 um).
SignalingParams signaling() {
  return test::learn_signaling({{0, 2}});
}

// The candidate regulators of the fixture's network (A -> B, B -| C everywhere, C -> A in type 1) plus the
// decoy B -> A in type 0.
std::vector<std::vector<std::vector<int>>> candidates() {
  const GeneNetwork net = test::learn_network();
  std::vector<std::vector<std::vector<int>>> out = {net.regulators(0, false), net.regulators(1, false)};
  out[0][0].push_back(1);
  return out;
}

TrajectoryDataset cells_only(std::mt19937& rng) {
  TrajectoryDataset ds;
  ds.genes = test::learn_network().genes;
  ds.cell_types = {"epi", "mes"};
  ds.ligand_receptor = {{0, 2}};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n_cells; ++i) {
    ds.cell_id.push_back(static_cast<std::uint64_t>(100 + i));
    ds.cell_type.push_back(i % 2);
    ds.positions.push_back(1.0 + 58.0 * u(rng));
    ds.positions.push_back(1.0 + 38.0 * u(rng));
  }
  ds.time = times;
  return ds;
}

// s_i: the ligand A that cell i receives at time index k, by brute force over every pair of cells.
double received_signal(const TrajectoryDataset& ds, std::size_t k, std::size_t i) {
  double s = 0.0;
  for (std::size_t n = 0; n < ds.n_cells(); ++n) {
    if (n == i) continue;
    const double dx = ds.positions[2 * n] - ds.positions[2 * i],
                 dy = ds.positions[2 * n + 1] - ds.positions[2 * i + 1];
    const double d = std::sqrt(dx * dx + dy * dy);
    if (d <= 12.0) s += std::exp(-d / 10.0) * ds.x(k, n, 0);
  }
  return s;
}

// Expression drawn at random at every time point: nothing linear to find, a plain test of the arithmetic.
TrajectoryDataset random_dataset() {
  std::mt19937 rng(3);
  TrajectoryDataset ds = cells_only(rng);
  std::uniform_real_distribution<double> u(0.1, 1.9);
  for (std::size_t k = 0; k < times.size(); ++k)
    for (int v = 0; v < n_cells * n_genes; ++v)
      ds.expression.push_back(u(rng));
  return ds;
}

// The independent ridge: rows = cells of type c x training pairs, columns = regulators, self, signal.
struct Reference {
  std::vector<double> coefficient, standardised, mean;
  double intercept = 0.0;
};

std::vector<double> gauss_solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      for (std::size_t c = col; c < n; ++c)
        a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n);
  for (std::size_t r = n; r-- > 0;) {
    double sum = b[r];
    for (std::size_t c = r + 1; c < n; ++c)
      sum -= a[r][c] * x[c];
    x[r] = sum / a[r][r];
  }
  return x;
}

// The design row of (cell i, time index k) for target `target` of type c: regulators, self, the signal
// when the target is the receptor.
std::vector<double> design_row(const TrajectoryDataset& ds, const std::vector<int>& regulators, int target,
                               std::size_t k, std::size_t i) {
  std::vector<double> row;
  for (const int j : regulators)
    row.push_back(ds.x(k, i, static_cast<std::size_t>(j)));
  row.push_back(ds.x(k, i, static_cast<std::size_t>(target)));
  if (target == 2) row.push_back(received_signal(ds, k, i));
  return row;
}

Reference reference_ridge(const TrajectoryDataset& ds, const std::vector<int>& regulators, int c, int target,
                          const std::vector<int>& starts, double lambda, bool self_only) {
  std::vector<std::vector<double>> rows;
  std::vector<double> y;
  for (const int k : starts)
    for (std::size_t i = 0; i < ds.n_cells(); ++i) {
      if (ds.cell_type[i] != c) continue;
      rows.push_back(design_row(ds, regulators, target, static_cast<std::size_t>(k), i));
      const auto now = static_cast<std::size_t>(k);
      y.push_back((ds.x(now + 1, i, static_cast<std::size_t>(target)) -
                   ds.x(now, i, static_cast<std::size_t>(target))) /
                  (ds.time[now + 1] - ds.time[now]));
    }
  const std::size_t n = rows.size(), p = rows[0].size();
  std::vector<std::size_t> used;
  for (std::size_t a = 0; a < p; ++a)
    if (!self_only || a == regulators.size()) used.push_back(a);
  auto mean_of = [&](auto value) {
    double sum = 0.0;
    for (std::size_t r = 0; r < n; ++r)
      sum += value(r);
    return sum / static_cast<double>(n);
  };
  std::vector<double> mean(p), sd(p);
  for (std::size_t a = 0; a < p; ++a) {
    mean[a] = mean_of([&](std::size_t r) { return rows[r][a]; });
    sd[a] =
        std::sqrt(mean_of([&](std::size_t r) { return (rows[r][a] - mean[a]) * (rows[r][a] - mean[a]); }));
  }
  const double mean_y = mean_of([&](std::size_t r) { return y[r]; });
  const double sd_y = std::sqrt(mean_of([&](std::size_t r) { return (y[r] - mean_y) * (y[r] - mean_y); }));
  const std::size_t q = used.size();
  std::vector<std::vector<double>> a(q, std::vector<double>(q, 0.0));
  std::vector<double> b(q, 0.0);
  for (std::size_t u = 0; u < q; ++u) {
    for (std::size_t v = 0; v < q; ++v)
      a[u][v] = mean_of([&](std::size_t r) {
                  return (rows[r][used[u]] - mean[used[u]]) / sd[used[u]] *
                         (rows[r][used[v]] - mean[used[v]]) / sd[used[v]];
                }) +
                (u == v ? lambda : 0.0);
    b[u] = mean_of(
        [&](std::size_t r) { return (rows[r][used[u]] - mean[used[u]]) / sd[used[u]] * (y[r] - mean_y); });
  }
  const std::vector<double> beta = gauss_solve(a, b);
  Reference out;
  out.mean = mean;
  out.coefficient.assign(p, 0.0);
  out.standardised.assign(p, 0.0);
  out.intercept = mean_y;
  for (std::size_t u = 0; u < q; ++u) {
    out.coefficient[used[u]] = beta[u] / sd[used[u]];
    out.standardised[used[u]] = beta[u] / sd_y;
    out.intercept -= out.coefficient[used[u]] * mean[used[u]];
  }
  return out;
}

// Sum over validation pairs, cells and genes of (x + dt f(x) - x_next)^2 with the given fits.
double one_step_sse(const TrajectoryDataset& ds, const std::vector<std::vector<DerivativeFit>>& fits,
                    const std::vector<int>& starts) {
  double sse = 0.0;
  for (const int k : starts)
    for (std::size_t i = 0; i < ds.n_cells(); ++i)
      for (int g = 0; g < n_genes; ++g) {
        const auto now = static_cast<std::size_t>(k);
        const DerivativeFit& fit =
            fits[static_cast<std::size_t>(ds.cell_type[i])][static_cast<std::size_t>(g)];
        double f = fit.intercept;
        for (std::size_t a = 0; a < fit.regressors.size(); ++a) {
          const Regressor& r = fit.regressors[a];
          f += fit.coefficient[a] * (r.kind == Regressor::ligand
                                         ? received_signal(ds, now, i)
                                         : ds.x(now, i, static_cast<std::size_t>(r.index)));
        }
        const double e = ds.x(now, i, static_cast<std::size_t>(g)) + (ds.time[now + 1] - ds.time[now]) * f -
                         ds.x(now + 1, i, static_cast<std::size_t>(g));
        sse += e * e;
      }
  return sse;
}

DerivativeBaselines fit(MPI_Comm comm, const TrajectoryDataset& ds) {
  const TrajectoryObjective objective(comm, test::learn_box(), {0, 0, 0}, signaling(), ds, 0.1);
  return fit_derivative_baselines(objective, candidates(), signaling().pairs,
                                  split_times(ds.n_times(), val_fraction));
}

void expect_close(double value, double reference, double tolerance, const std::string& what) {
  EXPECT_NEAR(value, reference, tolerance * std::max(1.0, std::fabs(reference))) << what;
}

} // namespace

TEST(RidgeBaseline, EqualsAnIndependentSolution) {
  const TrajectoryDataset ds = random_dataset();
  const DerivativeBaselines b = fit(MPI_COMM_WORLD, ds);
  const TimeSplit split = split_times(ds.n_times(), val_fraction);
  ASSERT_EQ(split.train_starts, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(split.validation_starts, (std::vector<int>{3, 4}));
  const auto graph = candidates();
  // The penalty: the smallest validation SSE over the grid, each SSE recomputed from reference fits.
  ASSERT_EQ(b.validation_sse.size(), ridge_lambdas().size());
  std::size_t best = 0;
  for (std::size_t l = 0; l < ridge_lambdas().size(); ++l) {
    std::vector<std::vector<DerivativeFit>> fits(2, std::vector<DerivativeFit>(n_genes));
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < n_genes; ++k) {
        const Reference r =
            reference_ridge(ds, graph[c][k], c, k, split.train_starts, ridge_lambdas()[l], false);
        DerivativeFit& f = fits[c][k];
        f.regressors = b.ridge[c][k].regressors;
        f.coefficient = r.coefficient;
        f.intercept = r.intercept;
      }
    expect_close(b.validation_sse[l], one_step_sse(ds, fits, split.validation_starts), 1e-10,
                 "validation SSE at lambda " + std::to_string(ridge_lambdas()[l]));
    if (b.validation_sse[l] < b.validation_sse[best]) best = l;
  }
  EXPECT_EQ(b.lambda, ridge_lambdas()[best]);
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      const DerivativeFit& f = b.ridge[c][k];
      const std::size_t p = graph[c][k].size() + 1 + (k == 2 ? 1 : 0);
      ASSERT_EQ(f.regressors.size(), p);
      EXPECT_EQ(f.regressors[graph[c][k].size()].kind, Regressor::self);
      if (k == 2) EXPECT_EQ(f.regressors.back().kind, Regressor::ligand);
      const Reference r = reference_ridge(ds, graph[c][k], c, k, split.train_starts, b.lambda, false);
      const std::string where = "type " + std::to_string(c) + " gene " + std::to_string(k);
      for (std::size_t a = 0; a < p; ++a) {
        expect_close(f.coefficient[a], r.coefficient[a], 1e-10, where + " coefficient " + std::to_string(a));
        expect_close(f.standardised[a], r.standardised[a], 1e-10,
                     where + " standardised " + std::to_string(a));
        // The operating point a warm start linearises at.
        expect_close(f.mean[a], r.mean[a], 1e-10, where + " mean " + std::to_string(a));
      }
      expect_close(f.intercept, r.intercept, 1e-10, where + " intercept");
      // The relaxation: least squares on the target alone.
      const Reference relax = reference_ridge(ds, graph[c][k], c, k, split.train_starts, 0.0, true);
      const DerivativeFit& g = b.relaxation[c][k];
      for (std::size_t a = 0; a < p; ++a)
        expect_close(g.coefficient[a], relax.coefficient[a], 1e-10,
                     where + " relaxation " + std::to_string(a));
      expect_close(g.intercept, relax.intercept, 1e-10, where + " relaxation intercept");
    }
  // The predictors' validation MSE, over 2 pairs x 40 cells x 3 genes.
  const double values = 2.0 * n_cells * n_genes;
  expect_close(b.ridge_mse, one_step_sse(ds, b.ridge, split.validation_starts) / values, 1e-10, "ridge MSE");
  expect_close(b.relaxation_mse, one_step_sse(ds, b.relaxation, split.validation_starts) / values, 1e-10,
               "relaxation MSE");
  double no_change = 0.0;
  for (const int k : split.validation_starts)
    for (std::size_t i = 0; i < ds.n_cells(); ++i)
      for (int g = 0; g < n_genes; ++g) {
        const double d = ds.x(static_cast<std::size_t>(k) + 1, i, static_cast<std::size_t>(g)) -
                         ds.x(static_cast<std::size_t>(k), i, static_cast<std::size_t>(g));
        no_change += d * d;
      }
  expect_close(b.no_change_mse, no_change / values, 1e-12, "no-change MSE");
  EXPECT_EQ(b.validation_pairs, 2u);
}

TEST(RidgeBaseline, RecoversAKnownLinearOde) {
  // x(t_{k+1}) = x(t_k) + dt (b_c + A_c x(t_k) + v s(t_k)): forward Euler, so the finite-difference
  // derivative is exactly linear in the state. True edges: A -> B (+0.8), B -| C (-0.6) in both types,
  // C -> A (+0.5) in type 1; decays 0.3, 0.4, 0.5; the signal of A feeds C with weight 0.05. The decoy B -> A
  // of type 0 has coefficient 0.
  std::mt19937 rng(5);
  TrajectoryDataset ds = cells_only(rng);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  ds.expression.resize(times.size() * n_cells * n_genes);
  for (std::size_t i = 0; i < n_cells; ++i)
    for (int g = 0; g < n_genes; ++g)
      ds.x(0, i, static_cast<std::size_t>(g)) = u(rng);
  const double decay[3] = {0.3, 0.4, 0.5}, basal[2][3] = {{0.2, 0.1, 0.9}, {0.3, 0.2, 0.8}};
  for (std::size_t k = 0; k + 1 < times.size(); ++k) {
    const double dt = times[k + 1] - times[k];
    for (std::size_t i = 0; i < n_cells; ++i) {
      const int c = ds.cell_type[i];
      const double a = ds.x(k, i, 0), b = ds.x(k, i, 1), cc = ds.x(k, i, 2);
      const double f[3] = {basal[c][0] - decay[0] * a + (c == 1 ? 0.5 * cc : 0.0),
                           basal[c][1] + 0.8 * a - decay[1] * b,
                           basal[c][2] - 0.6 * b - decay[2] * cc + 0.05 * received_signal(ds, k, i)};
      for (int g = 0; g < n_genes; ++g)
        ds.x(k + 1, i, static_cast<std::size_t>(g)) = ds.x(k, i, static_cast<std::size_t>(g)) + dt * f[g];
    }
  }
  const DerivativeBaselines b = fit(MPI_COMM_WORLD, ds);
  EXPECT_EQ(b.lambda, 1e-6); // exact data: the least penalty predicts best
  // Expected coefficients by (type, target): regulator j -> value, self -> -decay, ligand -> 0.05.
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      const DerivativeFit& f = b.ridge[c][k];
      for (std::size_t a = 0; a < f.regressors.size(); ++a) {
        const Regressor& r = f.regressors[a];
        double expected = 0.0;
        if (r.kind == Regressor::self) expected = -decay[k];
        if (r.kind == Regressor::ligand) expected = 0.05;
        if (r.kind == Regressor::regulator) {
          if (k == 1 && r.index == 0) expected = 0.8;
          if (k == 2 && r.index == 1) expected = -0.6;
          if (k == 0 && r.index == 2 && c == 1) expected = 0.5;
        }
        // lambda 1e-6 on standardised columns shrinks by about 1e-6 relative (times the conditioning).
        EXPECT_NEAR(f.coefficient[a], expected, 1e-4) << "type " << c << " gene " << k << " regressor " << a;
      }
      EXPECT_NEAR(f.intercept, basal[c][k], 1e-3) << "type " << c << " gene " << k;
    }
  EXPECT_LT(b.ridge_mse, 1e-8 * b.no_change_mse);
  EXPECT_LT(b.ridge_mse, 1e-8 * b.relaxation_mse);
}

TEST(RidgeBaseline, SameOnEveryRankCount) {
  const TrajectoryDataset ds = random_dataset();
  const DerivativeBaselines all = fit(MPI_COMM_WORLD, ds), alone = fit(MPI_COMM_SELF, ds);
  EXPECT_EQ(all.lambda, alone.lambda);
  for (std::size_t l = 0; l < all.validation_sse.size(); ++l)
    expect_close(all.validation_sse[l], alone.validation_sse[l], 1e-12, "validation SSE");
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k)
      for (std::size_t a = 0; a < all.ridge[c][k].coefficient.size(); ++a) {
        expect_close(all.ridge[c][k].coefficient[a], alone.ridge[c][k].coefficient[a], 1e-12, "ridge");
        expect_close(all.relaxation[c][k].coefficient[a], alone.relaxation[c][k].coefficient[a], 1e-12,
                     "relaxation");
      }
  expect_close(all.ridge_mse, alone.ridge_mse, 1e-12, "ridge MSE");
  expect_close(all.no_change_mse, alone.no_change_mse, 1e-12, "no-change MSE");
}

TEST(RidgeBaseline, BeyondItsMemoryBudgetOnlyTheRelaxationIsFitted) {
  // The Gram matrices here take a few KiB; with a budget of 1 byte the ridge is skipped (a dense graph of
  // thousands of genes would need gigabytes), the relaxation and "no change" stay as they were.
  const TrajectoryDataset ds = random_dataset();
  const TrajectoryObjective objective(MPI_COMM_WORLD, test::learn_box(), {0, 0, 0}, signaling(), ds, 0.1);
  const TimeSplit split = split_times(ds.n_times(), val_fraction);
  const DerivativeBaselines full =
      fit_derivative_baselines(objective, candidates(), signaling().pairs, split);
  const DerivativeBaselines small =
      fit_derivative_baselines(objective, candidates(), signaling().pairs, split, 1.0);
  EXPECT_FALSE(full.ridge.empty());
  EXPECT_TRUE(small.ridge.empty());
  EXPECT_TRUE(std::isnan(small.ridge_mse));
  EXPECT_TRUE(std::isnan(small.lambda));
  EXPECT_NE(small.selection.find("not fitted"), std::string::npos) << small.selection;
  expect_close(small.relaxation_mse, full.relaxation_mse, 1e-12, "relaxation MSE");
  expect_close(small.no_change_mse, full.no_change_mse, 1e-12, "no-change MSE");
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      const DerivativeFit &a = small.relaxation[c][k], &b = full.relaxation[c][k];
      ASSERT_EQ(a.regressors.size(), 1u); // the target alone
      const auto self = static_cast<std::size_t>(
          std::find_if(b.regressors.begin(), b.regressors.end(),
                       [](const Regressor& r) { return r.kind == Regressor::self; }) -
          b.regressors.begin());
      expect_close(a.coefficient[0], b.coefficient[self], 1e-10, "relaxation slope");
      expect_close(a.intercept, b.intercept, 1e-10, "relaxation intercept");
    }
}

TEST(NoChangeLoss, IsTheLossOfPredictingTheFirstObservation) {
  // By hand on 2 cells x 1 gene x 3 times: x = (1, 2) at t0, (1.5, 2) at t1, (0, 4) at t2. Windows (0, 1)
  // and (0, 2): errors 0.5, 0 at t1; 1, 2 at t1 and t2 of the second window counted from t0:
  // (0.25 + 0 + 0.25 + 0 + 1 + 4) / 6 values.
  TrajectoryDataset ds;
  ds.genes = {"A"};
  ds.cell_id = {1, 2};
  ds.time = {0.0, 1.0, 2.0};
  ds.expression = {1.0, 2.0, 1.5, 2.0, 0.0, 4.0};
  EXPECT_DOUBLE_EQ(no_change_loss(ds, {{0, 1}, {0, 2}}), (0.25 + 0.25 + 1.0 + 4.0) / 6.0);
  EXPECT_TRUE(std::isnan(no_change_loss(ds, {})));
  // One-step validation windows: the same figure as the baselines' no-change MSE.
  const TrajectoryDataset random = random_dataset();
  const DerivativeBaselines b = fit(MPI_COMM_WORLD, random);
  std::vector<ObservationWindow> windows;
  for (const int k : split_times(random.n_times(), val_fraction).validation_starts)
    windows.push_back({k, k + 1});
  expect_close(no_change_loss(random, windows), b.no_change_mse, 1e-12, "no change");
}
