// Training (SPEC §3): the one_step loss's gradient against central differences (with and without
// ligand-receptor pairs), the gradient and one AdamW step independent of the rank count, the loss going down,
// the seeded sampling of start times and the dataset/deck consistency check. Runs on 1, 2 and 4 ranks.
#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

using namespace tessera;

namespace {

constexpr int n_cells = 40;
constexpr int n_genes = 3;

Domain box() {
  Domain d;
  d.dim = 2;
  d.hi = {60.0, 40.0, 0.0};
  return d;
}

GeneNetwork network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = {"A", "B", "C"};
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {1, 2, 0, +1, 1, 0.5, 2}};
  return net;
}

SignalingParams signaling(bool with_pairs) {
  SignalingParams p;
  if (with_pairs) {
    LigandReceptorPair a, b;
    a.ligand = 0;
    a.receptor = 2;
    b.ligand = 1;
    b.receptor = 0;
    p.pairs = {a, b};
  }
  p.range = 12.0;
  p.length = 10.0;
  p.autocrine = false;
  return p;
}

// Cells at fixed random positions whose genes relax towards a type-dependent level: the same on every rank.
TrajectoryDataset synthetic(int n_times = 5, double dt_obs = 0.5) {
  TrajectoryDataset ds;
  ds.genes = network().genes;
  ds.cell_types = {"epi", "mes"};
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x0;
  for (int i = 0; i < n_cells; ++i) {
    ds.cell_id.push_back(static_cast<std::uint64_t>(100 + i));
    ds.cell_type.push_back(i % 2);
    ds.positions.push_back(1.0 + 58.0 * u(rng));
    ds.positions.push_back(1.0 + 38.0 * u(rng));
    for (int g = 0; g < n_genes; ++g)
      x0.push_back(0.2 + 1.5 * u(rng));
  }
  for (int k = 0; k < n_times; ++k) {
    const double t = k * dt_obs;
    ds.time.push_back(t);
    for (int i = 0; i < n_cells; ++i)
      for (int g = 0; g < n_genes; ++g) {
        const double level = 0.5 + 0.3 * g + 0.4 * (i % 2);
        ds.expression.push_back(level + (x0[i * n_genes + g] - level) * std::exp(-0.8 * t));
      }
  }
  return ds;
}

GraphOdeParameters tiny_parameters() {
  GraphOdeArchitecture a;
  a.heads = 1;
  a.hidden = 3;
  a.mlp_width = 4;
  a.mlp_layers = 2;
  a.share = ParameterSharing::per_type;
  GraphOdeParameters p(a, network().genes, {"epi", "mes"});
  p.glorot_init(3, 0.2);
  return p;
}

std::vector<double> host(const ParameterGradient& g) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  return std::vector<double>(h.data(), h.data() + h.size());
}

ParameterGradient zero_like(const GraphOdeParameters& p) {
  return ParameterGradient("g", p.values().extent(0), p.values().extent(1));
}

double largest(const std::vector<double>& v) {
  double m = 0.0;
  for (double e : v)
    m = std::max(m, std::fabs(e));
  return m;
}

} // namespace

TEST(Trainer, GradientEqualsCentralDifferencesWithAndWithoutLigandReceptorPairs) {
  const TrajectoryDataset ds = synthetic();
  for (bool pairs : {false, true}) {
    const SignalingParams sig = signaling(pairs);
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
    const std::vector<int> starts = {0, 2, 3};
    ParameterGradient gradient = zero_like(model.parameters());
    const double loss = objective.evaluate(model, starts, gradient);
    EXPECT_GT(loss, 0.0);
    const std::vector<double> g = host(gradient);
    const double scale = largest(g);
    ASSERT_GT(scale, 0.0);

    const auto values = model.parameters().values();
    auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    auto loss_at = [&](std::size_t e, double v) {
      const double saved = theta.data()[e];
      theta.data()[e] = v;
      Kokkos::deep_copy(values, theta);
      const double l = objective.evaluate(model, starts, ParameterGradient());
      theta.data()[e] = saved;
      Kokkos::deep_copy(values, theta);
      return l;
    };
    int checked = 0, failed = 0;
    for (std::size_t e = 0; e < g.size(); ++e) {
      const double p0 = theta.data()[e];
      const double h = 1e-5 * std::max(1.0, std::fabs(p0));
      const double j0 = loss_at(e, p0), jp = loss_at(e, p0 + h), jm = loss_at(e, p0 - h);
      const double jp2 = loss_at(e, p0 + 2 * h), jm2 = loss_at(e, p0 - 2 * h);
      // A ReLU kink inside the stencil: the second differences at h and 2h disagree; skip that entry.
      const double d1 = (jp - 2 * j0 + jm) / h, d2 = (jp2 - 2 * j0 + jm2) / (2 * h);
      if (std::fabs(d2 - 2 * d1) > 0.2 * std::fabs(d1) + 1e-9 * loss) continue;
      const double fd = (jp - jm) / (2 * h);
      ++checked;
      if (std::fabs(fd - g[e]) > 1e-6 * std::fabs(fd) + 1e-9 * scale) {
        ++failed;
        ADD_FAILURE() << (pairs ? "with" : "without") << " LR pairs, parameter " << e << ": gradient " << g[e]
                      << ", central differences " << fd;
      }
    }
    EXPECT_GE(checked, static_cast<int>(0.8 * g.size()));
    EXPECT_EQ(failed, 0);
    // The diagnostic of --check-gradient agrees.
    std::vector<ObservationWindow> windows;
    for (const int k : starts)
      windows.push_back({k, k + 1});
    const GradientCheck check = check_gradient(objective, model, windows, gradient, 20, 7);
    EXPECT_EQ(check.checked + check.at_kinks, 20);
    EXPECT_GE(check.checked, 10);
    EXPECT_LT(check.worst, 1e-4); // h = 1e-6: rounding limits the diagnostic, not the gradient
  }
}

TEST(Trainer, GradientAndAdamStepDoNotDependOnTheRankCount) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  TrainParams params;
  params.lr = 1e-2;
  params.weight_decay = 1e-2;
  params.clip = 0.5;
  std::vector<double> g[2], theta[2];
  double loss[2];
  const MPI_Comm comms[2] = {MPI_COMM_WORLD, MPI_COMM_SELF};
  for (int c = 0; c < 2; ++c) {
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    const TrajectoryObjective objective(comms[c], box(), {0, 0, 0}, sig, ds, 0.1);
    ParameterGradient gradient = zero_like(model.parameters());
    loss[c] = objective.evaluate(model, {0, 1, 2, 3}, gradient);
    g[c] = host(gradient);
    AdamW adam(params);
    adam.step(model.parameters(), gradient);
    theta[c] = host(model.parameters().values());
  }
  EXPECT_NEAR(loss[0], loss[1], 1e-12 * loss[1]);
  const double gs = largest(g[1]), ts = largest(theta[1]);
  for (std::size_t e = 0; e < g[1].size(); ++e) {
    EXPECT_NEAR(g[0][e], g[1][e], 1e-12 * gs) << "gradient " << e;
    EXPECT_NEAR(theta[0][e], theta[1][e], 1e-12 * ts) << "parameter " << e;
  }
  // Every rank holds exactly the same gradient and parameters.
  std::vector<double> first = theta[0];
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  EXPECT_EQ(first, theta[0]);
}

TEST(Trainer, LossDecreasesOverThirtyIterations) {
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  TrainParams params;
  params.iterations = 30;
  params.time_points_per_iter = 4;
  params.lr = 2e-2;
  params.val_fraction = 0.2;
  AdamW adam(params);
  TrainProgress progress;
  train_adamw(objective, model, params, 9, adam, progress, {}, {});
  const std::vector<TrainRecord>& records = progress.records;
  EXPECT_EQ(adam.steps(), 30);
  ASSERT_EQ(records.size(), 30u);
  const TimeSplit split = split_times(ds.n_times(), params.val_fraction);
  EXPECT_EQ(split.validation_starts, std::vector<int>({4}));
  const auto all = split.train_starts;
  GraphOdeModel initial(tiny_parameters(), network(), sig.pairs);
  const double before = objective.evaluate(initial, all, ParameterGradient());
  const double after = objective.evaluate(model, all, ParameterGradient());
  EXPECT_LT(after, 0.5 * before) << "training loss over all starts: " << before << " -> " << after;
  EXPECT_LT(records.back().validation, records.front().validation);
  for (const TrainRecord& r : records) {
    EXPECT_TRUE(std::isfinite(r.train));
    EXPECT_GT(r.grad_norm, 0.0);
  }
}

TEST(Trainer, StartTimesAreSeededAndDistinct) {
  const std::vector<int> pool = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const auto a = sample_starts(pool, 4, 42, 3), b = sample_starts(pool, 4, 42, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, sample_starts(pool, 4, 42, 4));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(sample_starts(pool, 20, 1, 1), pool);
  const TimeSplit s = split_times(10, 0.3);
  EXPECT_EQ(s.n_train, 7);
  EXPECT_EQ(s.train_starts.size(), 6u);
  EXPECT_EQ(s.validation_starts, std::vector<int>({6, 7, 8}));
}

TEST(Trainer, DatasetMustMatchTheDeck) {
  const TrajectoryDataset ds = synthetic(2);
  EXPECT_NO_THROW(check_dataset_matches(ds, {"A", "B", "C"}, {"epi", "mes"}, "d.h5"));
  try {
    check_dataset_matches(ds, {"A", "Wnt", "C"}, {"epi", "mes"}, "d.h5");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gene 1 is 'B' but the deck's grn.genes has 'Wnt'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_dataset_matches(ds, {"A", "B", "C"}, {"epi"}, "d.h5"), Error);
  TrajectoryDataset outside = ds;
  outside.positions[1] = 45.0;
  EXPECT_THROW(TrajectoryObjective(MPI_COMM_WORLD, box(), {0, 0, 0}, signaling(false), outside, 0.1), Error);
}
