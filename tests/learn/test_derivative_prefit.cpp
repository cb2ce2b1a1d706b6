// The derivative pre-fit (`train.prefit: derivative`): the central difference is exact for quadratics at
// unequal intervals; the gradient-matching loss's gradient against central differences; and on data whose
// central differences are exactly a known `hill` RHS (leapfrog steps of an independent implementation: hand
// written Hill terms, brute-force received signals), the pre-fit from the constant initialisation drives the
// loss to rounding level and recovers the RHS and its identifiable parameters, the same on every rank count.
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/learn/derivative_prefit.hpp"
#include "tessera/parallel/mpi.hpp"

#include "../support/petsc_environment.hpp"
#include "learn_fixture.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>
#include <vector>

using namespace tessera;

namespace {

constexpr int n_cells = 40;
constexpr int n_genes = 3;
constexpr double step = 0.05; // min between observations
constexpr int n_times = 7;
const std::vector<std::string> type_names = {"epi", "mes"};

// The truth: A -> B and B -| C in every type, C -> A in type 1 (learn_network's graph with its own K, h),
// n = 2 everywhere; receptor C hears ligand A.
GeneNetwork truth() {
  GeneNetwork net = test::learn_network();
  net.model = "hill";
  net.edges = {{-1, 0, 1, +1, 1.2, 0.7, 2}, {-1, 1, 2, -1, 0.8, 0.6, 2}, {1, 2, 0, +1, 1.5, 0.9, 2}};
  net.production = {1.0, 1.2, 0.8};
  net.basal = {0.2, 0.1, 0.3};
  net.decay = {0.5, 0.7, 0.4};
  return net;
}

SignalingParams signaling() {
  SignalingParams p = test::learn_signaling({{0, 2}});
  p.pairs[0].K = 0.6;
  p.pairs[0].h = 0.8;
  p.pairs[0].n = 2.0;
  return p;
}

double hill_plus(double x, double h) { // n = 2
  x = std::max(x, 0.0);
  return x * x / (h * h + x * x);
}

// dx/dt of every cell at state x (N x G, row-major), written out by hand from SPEC §2.1.
std::vector<double> reference_rhs(const TrajectoryDataset& ds, const std::vector<double>& x) {
  const GeneNetwork net = truth();
  const LigandReceptorPair pair = signaling().pairs[0];
  std::vector<double> f(x.size());
  for (std::size_t i = 0; i < ds.n_cells(); ++i) {
    double s = 0.0; // ligand A received from every other cell within 12 um, w = exp(-d / 10 um)
    for (std::size_t m = 0; m < ds.n_cells(); ++m) {
      if (m == i) continue;
      const double dx = ds.positions[2 * m] - ds.positions[2 * i],
                   dy = ds.positions[2 * m + 1] - ds.positions[2 * i + 1];
      const double d = std::sqrt(dx * dx + dy * dy);
      if (d <= 12.0) s += std::exp(-d / 10.0) * x[m * n_genes + 0];
    }
    for (int k = 0; k < n_genes; ++k) {
      double bracket = net.basal[static_cast<std::size_t>(k)];
      for (const RegulatoryEdge& e : net.edges) {
        if (e.target != k || (e.type >= 0 && e.type != ds.cell_type[i])) continue;
        const double H = hill_plus(x[i * n_genes + static_cast<std::size_t>(e.source)], e.h);
        bracket += e.sign > 0 ? e.K * H : e.K * (1.0 - H);
      }
      if (k == pair.receptor) bracket += pair.K * hill_plus(s, pair.h);
      f[i * n_genes + static_cast<std::size_t>(k)] =
          net.production[static_cast<std::size_t>(k)] * bracket -
          net.decay[static_cast<std::size_t>(k)] * x[i * n_genes + static_cast<std::size_t>(k)];
    }
  }
  return f;
}

// Random x(t_0), x(t_1); then leapfrog x(t_k+1) = x(t_k-1) + 2 step f(x(t_k)): the central difference at
// every interior time is exactly the reference RHS there, so the true parameters make the pre-fit's loss 0.
TrajectoryDataset leapfrog_dataset() {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  TrajectoryDataset ds;
  ds.genes = test::learn_network().genes;
  ds.cell_types = type_names;
  ds.ligand_receptor = {{0, 2}};
  for (int i = 0; i < n_cells; ++i) {
    ds.cell_id.push_back(static_cast<std::uint64_t>(100 + i));
    ds.cell_type.push_back(i % 2);
    ds.positions.push_back(1.0 + 58.0 * u(rng));
    ds.positions.push_back(1.0 + 38.0 * u(rng));
  }
  std::vector<std::vector<double>> x(n_times, std::vector<double>(n_cells * n_genes));
  for (int k = 0; k < 2; ++k)
    for (double& v : x[static_cast<std::size_t>(k)])
      v = 0.1 + 1.9 * u(rng);
  for (int k = 1; k + 1 < n_times; ++k) {
    const std::vector<double> f = reference_rhs(ds, x[static_cast<std::size_t>(k)]);
    for (std::size_t v = 0; v < f.size(); ++v)
      x[static_cast<std::size_t>(k + 1)][v] = x[static_cast<std::size_t>(k - 1)][v] + 2.0 * step * f[v];
  }
  for (int k = 0; k < n_times; ++k) {
    ds.time.push_back(step * k);
    ds.expression.insert(ds.expression.end(), x[static_cast<std::size_t>(k)].begin(),
                         x[static_cast<std::size_t>(k)].end());
  }
  return ds;
}

LearnableHillConfig config(LearnableHillConfig::Init init) {
  LearnableHillConfig c;
  c.prior = PriorGraph::edges;
  c.learn_n = false;
  c.n = 2.0;
  c.init = init;
  return c;
}

std::vector<double> host(const ParameterGradient& g) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  return std::vector<double>(h.data(), h.data() + h.size());
}

// softplus, by hand: the positive parameters are softplus(rho).
double positive(double r) {
  return r > 30.0 ? r : std::log1p(std::exp(r));
}

} // namespace

TEST(DerivativePrefit, CentralDifferenceIsExactForAQuadraticAtUnequalIntervals) {
  TrajectoryDataset ds;
  ds.genes = {"A"};
  ds.cell_types = {"epi"};
  ds.cell_id = {1};
  ds.cell_type = {0};
  ds.positions = {1.0, 1.0};
  ds.time = {0.0, 0.3, 1.0, 1.2};
  auto x = [](double t) { return 2.0 - 1.5 * t + 0.75 * t * t; };
  for (const double t : ds.time)
    ds.expression.push_back(x(t));
  for (int k : {1, 2})
    EXPECT_NEAR(central_derivative(ds, k, 0, 0), -1.5 + 1.5 * ds.time[static_cast<std::size_t>(k)], 1e-13);
  TimeSplit split = split_times(4, 0.0);
  EXPECT_EQ(derivative_times(split), (std::vector<int>{1, 2}));
  split = split_times(10, 0.3); // 7 training times: interior 1..5, never a held-out one
  EXPECT_EQ(derivative_times(split), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(DerivativePrefit, GradientMatchesCentralDifferences) {
  const TrajectoryDataset ds = leapfrog_dataset();
  const TrajectoryObjective objective(MPI_COMM_WORLD, test::learn_box(), {0, 0, 0}, signaling(), ds, 0.1);
  auto model = make_learnable_hill_model(MPI_COMM_WORLD, config(LearnableHillConfig::Init::constant), truth(),
                                         signaling(), type_names);
  // Away from the constant start's symmetric values, so that every term of the gradient is non-zero.
  std::vector<double> theta = model->parameters().flat();
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  for (double& v : theta)
    v += u(rng);
  model->parameters().set_flat(theta);
  const std::vector<int> times = derivative_times(split_times(ds.n_times(), 0.0));
  const auto& values = model->parameters().values();
  ParameterGradient gradient("g", values.extent(0), values.extent(1));
  derivative_matching_loss(objective, *model, times, gradient);
  const std::vector<double> g = host(gradient);
  const double h = 1e-6;
  for (std::size_t p = 0; p < theta.size(); ++p) {
    std::vector<double> shifted = theta;
    shifted[p] = theta[p] + h;
    model->parameters().set_flat(shifted);
    const double up = derivative_matching_loss(objective, *model, times, ParameterGradient());
    shifted[p] = theta[p] - h;
    model->parameters().set_flat(shifted);
    const double down = derivative_matching_loss(objective, *model, times, ParameterGradient());
    const double fd = (up - down) / (2.0 * h);
    // Central differences of a smooth loss at h = 1e-6: truncation ~1e-12, rounding ~1e-16 |L| / h.
    EXPECT_NEAR(g[p], fd, 1e-6 * std::fabs(fd) + 1e-9) << "parameter " << p;
  }
}

TEST(DerivativePrefit, RecoversAKnownHillRhsFromItsDerivatives) {
  const TrajectoryDataset ds = leapfrog_dataset();
  const TrajectoryObjective objective(MPI_COMM_WORLD, test::learn_box(), {0, 0, 0}, signaling(), ds, 0.1);
  auto model = make_learnable_hill_model(MPI_COMM_WORLD, config(LearnableHillConfig::Init::constant), truth(),
                                         signaling(), type_names);
  const TimeSplit split = split_times(ds.n_times(), 0.0);
  const PrefitResult result = prefit_derivatives(objective, *model, split, 3000);
  ASSERT_GT(result.initial_loss, 1e-2);
  // Zero at the truth: only rounding and the optimizer's tolerance are left.
  EXPECT_LT(result.final_loss, 1e-16 * 1e6) << result.reason << " after " << result.iterations;
  EXPECT_LE(result.iterations, 3000);

  // The fitted RHS is the reference RHS at states it never saw.
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(0.1, 2.0);
  std::vector<double> probe(n_cells * n_genes);
  for (double& v : probe)
    v = u(rng);
  TrajectoryDataset probe_ds = ds;
  probe_ds.time = {0.0, step, 2.0 * step};
  probe_ds.expression.clear();
  for (int k = 0; k < 3; ++k)
    probe_ds.expression.insert(probe_ds.expression.end(), probe.begin(), probe.end());
  const TrajectoryObjective probe_objective(MPI_COMM_WORLD, test::learn_box(), {0, 0, 0}, signaling(),
                                            probe_ds, 0.1);
  std::vector<double> fitted(probe.size(), 0.0);
  probe_objective.visit_tissue(*model, 0,
                               [&](const Cells<>&, GeneState x, const std::vector<std::size_t>& rows) {
                                 GeneState f("f", rows.size(), n_genes);
                                 model->evaluate(0.0, x, f);
                                 const auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
                                 for (std::size_t r = 0; r < rows.size(); ++r)
                                   for (int g = 0; g < n_genes; ++g)
                                     fitted[rows[r] * n_genes + static_cast<std::size_t>(g)] = fh(r, g);
                               });
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, fitted.data(), static_cast<int>(fitted.size()), MPI_DOUBLE, MPI_SUM,
                           MPI_COMM_WORLD),
             "MPI_Allreduce");
  const std::vector<double> expected = reference_rhs(probe_ds, probe);
  for (std::size_t v = 0; v < probe.size(); ++v)
    EXPECT_NEAR(fitted[v], expected[v], 1e-6 * (1.0 + std::fabs(expected[v]))) << "value " << v;

  // The identifiable parameters: h and lambda, and beta K, beta b (beta (b + sum K H) fixes only products).
  const ModelParameters& p = model->parameters();
  const std::vector<double> K = p.tensor(0, "K"), h_rho = p.tensor(0, "h_rho");
  const std::vector<double> beta = p.tensor(0, "beta_rho"), lambda = p.tensor(0, "lambda_rho");
  const GeneNetwork net = truth();
  const CandidateEdges& edges = model->candidates();
  int checked = 0;
  for (std::size_t e = 0; e < K.size(); ++e) {
    const int type = edges.type(static_cast<int>(e)), source = edges.source(static_cast<int>(e)),
              target = edges.target(static_cast<int>(e));
    for (const RegulatoryEdge& t : net.edges) {
      if (t.source != source || t.target != target || (t.type >= 0 && t.type != type)) continue;
      const double beta_k = positive(beta[static_cast<std::size_t>(type * n_genes + target)]);
      EXPECT_NEAR(positive(h_rho[e]), t.h, 1e-5 * t.h) << "h of edge " << e;
      EXPECT_NEAR(beta_k * std::fabs(K[e]), net.production[static_cast<std::size_t>(target)] * t.K,
                  1e-5 * t.K)
          << "beta K of edge " << e;
      EXPECT_EQ(K[e] > 0, t.sign > 0) << "sign of edge " << e;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5); // A -> B and B -| C in both types, C -> A in type 1
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k)
      EXPECT_NEAR(positive(lambda[static_cast<std::size_t>(c * n_genes + k)]),
                  net.decay[static_cast<std::size_t>(k)], 1e-5)
          << "lambda of type " << c << " gene " << k;
}
