// Training (SPEC §3): the loss's gradient against central differences (one_step with and without
// ligand-receptor pairs, window and full modes), the gradient and one AdamW step independent of the rank
// count and of data-parallel groups, the loss going down (AdamW and L-BFGS), checkpoint -> restart bit for
// bit (also with a learning-rate schedule and keep_best), the stopping rules ending AdamW and L-BFGS, the
// best-validation parameters, the l1 term (exact zeros under L-BFGS), the windows of each mode, the seeded
// sampling of start times and the dataset/deck consistency check. Runs on 1, 2 and 4 ranks.
#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/model_factory.hpp"
#include "tessera/grn/sigmoid.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/group_lasso.hpp"
#include "tessera/learn/lbfgs.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/learn/train_checkpoint.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"

#include "../support/petsc_environment.hpp"
#include "learn_fixture.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>

using namespace tessera;

namespace {

constexpr int n_cells = 40;
constexpr int n_genes = 3;

Domain box() {
  return test::learn_box();
}
GeneNetwork network() {
  return test::learn_network();
}
SignalingParams signaling(bool with_pairs) {
  return test::learn_signaling(with_pairs ? std::vector<std::array<int, 2>>{{0, 2}, {1, 0}}
                                          : std::vector<std::array<int, 2>>{});
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

// The tiny model, or (`mixed`) the same with a hidden layer (L = 3) computed in the mixed precision
// (GraphOdeOptions::precision: float hidden layers), for the invariance tests' extra cases.
GraphOdeModel tiny_model(const SignalingParams& sig, bool mixed) {
  GraphOdeParameters p = tiny_parameters();
  GraphOdeOptions options;
  if (mixed) {
    GraphOdeArchitecture a = p.architecture();
    a.mlp_layers = 3;
    p = GraphOdeParameters(a, network().genes, {"epi", "mes"});
    p.glorot_init(3, 0.2);
    options.precision = GraphOdePrecision::mixed;
  }
  return GraphOdeModel(p, network(), sig.pairs, options);
}

// What read_trainable_model_spec() makes of a deck with tiny_parameters()'s architecture.
TrainableModelSpec tiny_spec() {
  GraphOdeConfig config;
  config.architecture = tiny_parameters().architecture();
  return graph_ode_model_spec(config);
}

std::vector<double> host(const ParameterGradient& g) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  return std::vector<double>(h.data(), h.data() + h.size());
}

ParameterGradient zero_like(const ModelParameters& p) {
  return ParameterGradient("g", p.values().extent(0), p.values().extent(1));
}

double largest(const std::vector<double>& v) {
  double m = 0.0;
  for (double e : v)
    m = std::max(m, std::fabs(e));
  return m;
}

// How a gradient is compared with central differences: step h (relative to max(1, |theta|)), every
// `stride`-th parameter, |fd - g| <= relative |fd| + absolute max|g|, at least `min_checked` of the visited
// parameters compared (the others have a ReLU kink inside the stencil: second differences at h and 2h
// disagree, or central differences at h and 2h differ beyond O(h^2)).
struct DifferenceCheck {
  double h = 1e-5;
  std::size_t stride = 1;
  double relative = 1e-6, absolute = 1e-9;
  double min_checked = 0.8;
  bool diagnostic = true; // also run --check-gradient's diagnostic on 20 parameters
};

// The gradient over `windows` against central differences of the loss (see DifferenceCheck): the whole
// objective of `params` (the data term alone with the defaults).
void expect_gradient_matches_differences(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                         const std::vector<ObservationWindow>& windows,
                                         const std::string& what, const DifferenceCheck& c = {},
                                         const TrainParams& params = {}) {
  ParameterGradient gradient = zero_like(model.parameters());
  const double loss = training_objective(objective, model, params, windows, gradient).total();
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
    const double l = training_objective(objective, model, params, windows, ParameterGradient()).total();
    theta.data()[e] = saved;
    Kokkos::deep_copy(values, theta);
    return l;
  };
  int visited = 0, checked = 0, failed = 0;
  for (std::size_t e = 0; e < g.size(); e += c.stride) {
    ++visited;
    const double p0 = theta.data()[e];
    const double h = c.h * std::max(1.0, std::fabs(p0));
    const double j0 = loss_at(e, p0), jp = loss_at(e, p0 + h), jm = loss_at(e, p0 - h);
    const double jp2 = loss_at(e, p0 + 2 * h), jm2 = loss_at(e, p0 - 2 * h);
    const double d1 = (jp - 2 * j0 + jm) / h, d2 = (jp2 - 2 * j0 + jm2) / (2 * h);
    const double fd = (jp - jm) / (2 * h), fd2 = (jp2 - jm2) / (4 * h);
    if (std::fabs(d2 - 2 * d1) > 0.2 * std::fabs(d1) + 1e-9 * loss) continue;
    if (std::fabs(fd2 - fd) > 1e-3 * std::fabs(fd) + 1e-6 * scale) continue;
    ++checked;
    if (std::fabs(fd - g[e]) > c.relative * std::fabs(fd) + c.absolute * scale) {
      ++failed;
      ADD_FAILURE() << what << ", parameter " << e << ": gradient " << g[e] << ", central differences " << fd;
    }
  }
  EXPECT_GE(checked, static_cast<int>(c.min_checked * visited)) << what;
  EXPECT_EQ(failed, 0) << what;
  if (!c.diagnostic) return;
  // The diagnostic of --check-gradient agrees.
  const GradientCheck check = check_gradient(objective, model, params, windows, gradient, 20, 7);
  EXPECT_EQ(check.checked + check.at_kinks, 20);
  EXPECT_GE(check.checked, 10);
  EXPECT_LT(check.worst, 1e-4) << what; // h = 1e-6: rounding limits the diagnostic, not the gradient
}

} // namespace

TEST(Trainer, GradientEqualsCentralDifferencesWithAndWithoutLigandReceptorPairs) {
  const TrajectoryDataset ds = synthetic();
  for (bool pairs : {false, true}) {
    const SignalingParams sig = signaling(pairs);
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
    expect_gradient_matches_differences(objective, model, {{0, 1}, {2, 3}, {3, 4}},
                                        pairs ? "one_step with LR pairs" : "one_step without LR pairs");
  }
}

// Multiple shooting and the full trajectory: the adjoint sweeps back through several observation times,
// adding each time's misfit on the way (the windows overlap and repeat).
TEST(Trainer, WindowAndFullModeGradientsEqualCentralDifferences) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  expect_gradient_matches_differences(objective, model, {{0, 3}, {1, 4}, {1, 3}}, "window");
  expect_gradient_matches_differences(objective, model, {{0, 4}}, "full");
}

// The windows each mode samples: one_step pairs, windows cut at the last training time, full from t_0;
// validation windows start at the last training time.
TEST(Trainer, ModesChooseTheirWindows) {
  TrainParams p;
  p.val_fraction = 0.3;
  p.time_points_per_iter = 100;
  const TimeSplit split = split_times(10, p.val_fraction); // n_train 7: training times 0..6
  p.mode = TrainMode::one_step;
  auto w = training_windows(p, split, 1, 1);
  ASSERT_EQ(w.size(), 6u);
  EXPECT_EQ(w[5].start, 5);
  EXPECT_EQ(w[5].end, 6);
  p.mode = TrainMode::window;
  p.window = 3;
  w = training_windows(p, split, 1, 1);
  ASSERT_EQ(w.size(), 6u);
  EXPECT_EQ(w[0].end, 3);
  EXPECT_EQ(w[5].end, 6); // cut at the last training time
  const auto v = validation_windows(p, split);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].start, 6);
  EXPECT_EQ(v[0].end, 9);
  EXPECT_EQ(v[2].end, 9);
  p.mode = TrainMode::full;
  w = training_windows(p, split, 1, 1);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].start, 0);
  EXPECT_EQ(w[0].end, 6);
  const auto vf = validation_windows(p, split);
  ASSERT_EQ(vf.size(), 1u);
  EXPECT_EQ(vf[0].start, 6);
  EXPECT_EQ(vf[0].end, 9);
}

// The prediction the objective scores is the one predict() returns: its misfit is evaluate()'s loss.
TEST(Trainer, PredictionIsWhatTheLossScores) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  std::vector<double> predicted;
  objective.predict(model, {1, 4}, predicted);
  const std::size_t frame = ds.n_cells() * ds.n_genes();
  ASSERT_EQ(predicted.size(), 3 * frame);
  double sum = 0.0;
  for (std::size_t j = 0; j < 3; ++j)
    for (std::size_t e = 0; e < frame; ++e) {
      const double diff = predicted[j * frame + e] - ds.expression[(2 + j) * frame + e];
      sum += diff * diff;
    }
  const double loss = objective.evaluate(model, std::vector<ObservationWindow>{{1, 4}}, ParameterGradient());
  EXPECT_NEAR(sum / (3.0 * static_cast<double>(frame)), loss, 1e-13 * loss);
}

// SPEC §2: d <= r_sig in training as in `run`. Cells on the lattice lo + 8 + 16 i of a periodic 144 um
// square, so every cell has 4 neighbours at exactly 16 um (through the wrap at the edges) and the rank cut of
// 2 or 2 x 2 boxes at 64 um lies on a site. Training's signalling range 16 um must predict what 16.5 um does
// (the same neighbours and weights exp(-d/ell)) and not what 15.5 um (no neighbours) does.
TEST(Trainer, NeighboursAtExactlyTheSignalingRangeSignal) {
  Domain square;
  square.dim = 2;
  square.lo = {-8.0, -8.0, 0.0};
  square.hi = {136.0, 136.0, 0.0};
  square.periodic = {true, true, false};
  TrajectoryDataset ds;
  ds.genes = network().genes;
  ds.cell_types = {"epi", "mes"};
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.2, 1.7);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 9; ++x) {
      ds.cell_id.push_back(static_cast<std::uint64_t>(ds.cell_id.size()));
      ds.cell_type.push_back((x + y) % 2);
      ds.positions.push_back(16.0 * x);
      ds.positions.push_back(16.0 * y);
    }
  const std::size_t N = ds.cell_id.size();
  for (int k = 0; k < 3; ++k) {
    ds.time.push_back(0.5 * k);
    for (std::size_t e = 0; e < N * n_genes; ++e)
      ds.expression.push_back(u(rng));
  }
  auto predicted_with_range = [&](double range) {
    SignalingParams sig = signaling(true);
    sig.range = range;
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    const TrajectoryObjective objective(MPI_COMM_WORLD, square, {0, 0, 0}, sig, ds, 0.1);
    std::vector<double> predicted;
    objective.predict(model, {0, 2}, predicted);
    return predicted;
  };
  const std::vector<double> exact = predicted_with_range(16.0), wider = predicted_with_range(16.5),
                            narrower = predicted_with_range(15.5);
  ASSERT_EQ(exact.size(), 2 * N * n_genes);
  // The same graph evaluated in the same order: equal to the last bit.
  EXPECT_EQ(exact, wider) << "neighbours at exactly r_sig were left out of training's signalling";
  EXPECT_NE(exact, narrower) << "the test needs signalling to change the prediction";
}

// l1 |W|_1 over the weight tensors only, and its subgradient.
TEST(Trainer, L1PenaltyCoversTheWeightTensors) {
  const GraphOdeParameters p = tiny_parameters();
  ParameterGradient g = zero_like(p);
  const double penalty = add_l1_penalty(p, 0.5, g);
  const auto theta = host(p.values());
  const auto gh = host(g);
  const std::size_t per_set = p.layout().size();
  double expected = 0.0;
  int weights = 0;
  for (int set = 0; set < p.n_sets(); ++set)
    for (const TensorSpec& t : p.layout().tensors())
      for (std::size_t e = t.offset; e < t.offset + t.size(); ++e) {
        const double w = theta[set * per_set + e], ge = gh[set * per_set + e];
        if (t.init == TensorSpec::Init::glorot) {
          expected += std::fabs(w);
          EXPECT_EQ(ge, w > 0 ? 0.5 : w < 0 ? -0.5 : 0.0) << t.name;
          ++weights;
        } else {
          EXPECT_EQ(ge, 0.0) << t.name << " is not a weight";
        }
      }
  EXPECT_GT(weights, 0);
  EXPECT_NEAR(penalty, 0.5 * expected, 1e-15 * expected);
}

// The objective of --gradient-only, --check-gradient and both optimizers has every term (SPEC §3.2): adamw
// the data MSE plus l1 |W|_1 (its gradient is the data gradient plus l1 sign(W) on the weight tensors and
// nothing else), lbfgs the MSE plus 0.5 weight_decay |theta|^2 (plus weight_decay theta). Central
// differences of the whole objective agree with its gradient.
TEST(Trainer, TrainingObjectiveHasEveryTerm) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const std::vector<ObservationWindow> windows{{0, 1}, {2, 4}};
  ParameterGradient data_gradient = zero_like(model.parameters());
  const double data = objective.evaluate(model, windows, data_gradient);
  const std::vector<double> g_data = host(data_gradient);
  const std::vector<double> theta = host(model.parameters().values());
  const GraphOdeParameters& p = model.parameters();
  const std::size_t per_set = p.layout().size();

  TrainParams adamw;
  adamw.l1 = 0.05;
  adamw.weight_decay = 0.3; // decoupled: no part of adamw's loss
  ParameterGradient g = zero_like(p);
  const ObjectiveTerms terms = training_objective(objective, model, adamw, windows, g);
  EXPECT_EQ(terms.data, data);
  EXPECT_EQ(terms.weight_decay, 0.0);
  const std::vector<double> gh = host(g);
  double l1_norm = 0.0;
  for (int set = 0; set < p.n_sets(); ++set)
    for (const TensorSpec& t : p.layout().tensors())
      for (std::size_t e = set * per_set + t.offset; e < set * per_set + t.offset + t.size(); ++e) {
        const bool weight = t.init == TensorSpec::Init::glorot;
        if (weight) l1_norm += std::fabs(theta[e]);
        const double sign = theta[e] > 0 ? 1.0 : theta[e] < 0 ? -1.0 : 0.0;
        // Rounding of one addition to the data gradient.
        EXPECT_NEAR(gh[e], g_data[e] + (weight ? adamw.l1 * sign : 0.0), 1e-15 * (std::fabs(g_data[e]) + 1))
            << t.name;
      }
  EXPECT_NEAR(terms.l1, adamw.l1 * l1_norm, 1e-14 * l1_norm);
  EXPECT_EQ(terms.total(), terms.data + terms.l1);
  DifferenceCheck c;
  c.stride = 3;        // the terms are checked element by element above; differences confirm the total
  c.min_checked = 0.7; // l1 adds no kinks (no weight is within 2h of 0); ReLU kinks as without it
  expect_gradient_matches_differences(objective, model, windows, "adamw with l1", c, adamw);

  TrainParams lbfgs;
  lbfgs.optimizer = TrainOptimizer::lbfgs;
  lbfgs.weight_decay = 0.3;
  ParameterGradient gw = zero_like(p);
  const ObjectiveTerms decayed = training_objective(objective, model, lbfgs, windows, gw);
  const std::vector<double> gwh = host(gw);
  double squares = 0.0;
  for (std::size_t e = 0; e < theta.size(); ++e) {
    squares += theta[e] * theta[e];
    EXPECT_NEAR(gwh[e], g_data[e] + 0.3 * theta[e], 1e-15 * (std::fabs(g_data[e]) + 1)) << e;
  }
  EXPECT_EQ(decayed.l1, 0.0);
  EXPECT_NEAR(decayed.weight_decay, 0.15 * squares, 1e-14 * squares);
  expect_gradient_matches_differences(objective, model, windows, "lbfgs with weight decay", c, lbfgs);
}

// train.l2 (a ridge penalty on the edge parameters) is a term of the loss under both optimizers, unlike
// weight_decay: 0.5 l2 |W|^2 over the weight tensors only (the sparse ones, as l1), its gradient l2 W there
// and nothing on biases or rates; central differences of the whole objective agree with its gradient
// (1e-6 relative).
TEST(Trainer, L2PenaltyIsATermOfBothOptimizersOnTheWeightTensors) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const std::vector<ObservationWindow> windows{{0, 1}, {2, 4}};
  ParameterGradient data_gradient = zero_like(model.parameters());
  const double data = objective.evaluate(model, windows, data_gradient);
  const std::vector<double> g_data = host(data_gradient);
  const std::vector<double> theta = host(model.parameters().values());
  const GraphOdeParameters& p = model.parameters();
  const std::size_t per_set = p.layout().size();
  for (const TrainOptimizer optimizer : {TrainOptimizer::adamw, TrainOptimizer::lbfgs}) {
    const std::string name = optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw";
    TrainParams params;
    params.optimizer = optimizer;
    params.l2 = 0.7;
    ParameterGradient g = zero_like(p);
    const ObjectiveTerms terms = training_objective(objective, model, params, windows, g);
    EXPECT_EQ(terms.data, data) << name;
    EXPECT_EQ(terms.l1, 0.0) << name;
    EXPECT_EQ(terms.weight_decay, 0.0) << name;
    const std::vector<double> gh = host(g);
    double squares = 0.0;
    int weights = 0;
    for (int set = 0; set < p.n_sets(); ++set)
      for (const TensorSpec& t : p.layout().tensors())
        for (std::size_t e = set * per_set + t.offset; e < set * per_set + t.offset + t.size(); ++e) {
          if (t.sparse) {
            squares += theta[e] * theta[e];
            ++weights;
          }
          EXPECT_NEAR(gh[e], g_data[e] + (t.sparse ? 0.7 * theta[e] : 0.0),
                      1e-15 * (std::fabs(g_data[e]) + 1))
              << name << " " << t.name;
        }
    EXPECT_GT(weights, 0);
    EXPECT_NEAR(terms.l2, 0.35 * squares, 1e-14 * squares) << name;
    EXPECT_EQ(terms.total(), terms.data + terms.l2) << name;
    DifferenceCheck c;
    c.stride = 3;
    c.min_checked = 0.7; // ReLU kinks as without the penalty, which adds none
    expect_gradient_matches_differences(objective, model, windows, name + " with l2", c, params);
  }
}

// train.group_lasso on a sigmoid model (dense graph, LR pairs): the term is strength * sum_g sqrt(n_g)
// (sqrt(|W_g|^2 + eps^2) - eps) over the model's regulator groups, written out here from the W and V tensors
// by (type, source) independently of CandidateEdges::regulator_groups; its gradient is added to the data
// gradient on W and V only, and central differences of the whole objective agree with the total gradient
// (1e-6 relative) under both optimizers.
TEST(Trainer, GroupLassoIsATermOfBothOptimizersOverTheRegulatorGroups) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  SigmoidConfig config;
  config.prior = PriorGraph::dense;
  auto model = make_sigmoid_model(MPI_COMM_WORLD, config, network(), sig, {"epi", "mes"});
  ModelParameters& p = model->parameters();
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(-0.8, 0.8);
  std::vector<double> theta = p.flat();
  for (double& v : theta)
    v = u(rng);
  // One group at exactly zero: its penalty and gradient vanish (smooth there, unlike |W_g|).
  const CandidateEdges candidates(network(), 2, true, sig.pairs);
  const std::size_t w0 = p.layout().tensor("W").offset, v0 = p.layout().tensor("V").offset;
  for (int e = 0; e < candidates.n_edges(); ++e)
    if (candidates.type(e) == 1 && candidates.source(e) == 2) theta[w0 + e] = 0.0;
  p.set_flat(theta);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const std::vector<ObservationWindow> windows{{0, 1}, {2, 4}};
  ParameterGradient data_gradient = zero_like(p);
  const double data = objective.evaluate(*model, windows, data_gradient);
  const std::vector<double> g_data = host(data_gradient);

  const double strength = 0.3, eps = group_lasso_smoothing;
  double expected = 0.0;
  std::vector<double> g_expected = g_data;
  auto add_group = [&](const std::vector<std::size_t>& group) {
    double squares = 0.0;
    for (const std::size_t e : group)
      squares += theta[e] * theta[e];
    const double n = std::sqrt(static_cast<double>(group.size()));
    expected += strength * n * (std::sqrt(squares + eps * eps) - eps);
    for (const std::size_t e : group)
      g_expected[e] += strength * n * theta[e] / std::sqrt(squares + eps * eps);
  };
  int groups = 0;
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < n_genes; ++j) {
      std::vector<std::size_t> group;
      for (int k = 0; k < n_genes; ++k)
        if (k != j) group.push_back(w0 + static_cast<std::size_t>(candidates.find(c, j, k)));
      add_group(group);
      ++groups;
    }
  for (std::size_t a = 0; a < 2 * sig.pairs.size(); ++a) {
    add_group({v0 + a});
    ++groups;
  }
  EXPECT_EQ(static_cast<int>(model->regulator_groups().size()), groups);
  for (const TrainOptimizer optimizer : {TrainOptimizer::adamw, TrainOptimizer::lbfgs}) {
    const std::string name = optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw";
    TrainParams params;
    params.optimizer = optimizer;
    params.group_lasso = strength;
    ParameterGradient g = zero_like(p);
    const ObjectiveTerms terms = training_objective(objective, *model, params, windows, g);
    EXPECT_EQ(terms.data, data) << name;
    EXPECT_EQ(terms.l1 + terms.l2 + terms.weight_decay, 0.0) << name;
    EXPECT_NEAR(terms.group_lasso, expected, 1e-14 * expected) << name;
    EXPECT_EQ(terms.total(), terms.data + terms.group_lasso) << name;
    const std::vector<double> gh = host(g);
    for (std::size_t e = 0; e < gh.size(); ++e)
      EXPECT_NEAR(gh[e], g_expected[e], 1e-14 * (std::fabs(g_expected[e]) + 1)) << name << " " << e;
    DifferenceCheck c;
    c.min_checked = 1.0; // sigmoid and the smoothed norm have no kinks
    c.diagnostic = false;
    expect_gradient_matches_differences(objective, *model, windows, name + " with group lasso", c, params);
  }
}

TEST(Trainer, GradientAndAdamStepDoNotDependOnTheRankCount) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  TrainParams params;
  params.lr = 1e-2;
  params.weight_decay = 1e-2;
  params.clip = 0.5;
  // Also the mixed precision: its float values are computed per node and its float products per cell, so it
  // depends on the decomposition no more than double does.
  for (const bool mixed : {false, true}) {
    const std::string what = mixed ? "mixed precision, L = 3" : "double";
    std::vector<double> g[2], theta[2];
    double loss[2];
    const MPI_Comm comms[2] = {MPI_COMM_WORLD, MPI_COMM_SELF};
    for (int c = 0; c < 2; ++c) {
      GraphOdeModel model = tiny_model(sig, mixed);
      const TrajectoryObjective objective(comms[c], box(), {0, 0, 0}, sig, ds, 0.1);
      ParameterGradient gradient = zero_like(model.parameters());
      loss[c] = objective.evaluate(model, {0, 1, 2, 3}, gradient);
      g[c] = host(gradient);
      AdamW adam(params);
      adam.step(model.parameters(), gradient);
      theta[c] = host(model.parameters().values());
    }
    EXPECT_NEAR(loss[0], loss[1], 1e-12 * loss[1]) << what;
    const double gs = largest(g[1]), ts = largest(theta[1]);
    for (std::size_t e = 0; e < g[1].size(); ++e) {
      EXPECT_NEAR(g[0][e], g[1][e], 1e-12 * gs) << what << " gradient " << e;
      EXPECT_NEAR(theta[0][e], theta[1][e], 1e-12 * ts) << what << " parameter " << e;
    }
    // Every rank holds exactly the same gradient and parameters.
    std::vector<double> first = theta[0];
    MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
    EXPECT_EQ(first, theta[0]) << what;
  }
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

// Data-parallel groups (SPEC §3.4): windows shared out over 1, 2 or 4 groups (each decomposing the tissue
// over its ranks) give the loss, gradient and AdamW step of the whole problem on one rank.
TEST(Trainer, GroupsGiveTheGradientAndStepOfOneRank) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  const std::vector<ObservationWindow> windows = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {0, 3}};
  TrainParams params;
  params.lr = 1e-2;
  params.weight_decay = 1e-2;
  bool mixed = false; // also the mixed precision (L = 3), as in GradientAndAdamStepDoNotDependOnTheRankCount
  auto run = [&](MPI_Comm comm, int groups, std::vector<double>& g, std::vector<double>& theta) {
    GraphOdeModel model = tiny_model(sig, mixed);
    ObjectiveOptions options;
    options.dt = 0.1;
    options.groups = groups;
    const TrajectoryObjective objective(comm, box(), {0, 0, 0}, sig, ds, options);
    EXPECT_EQ(objective.groups(), groups);
    ParameterGradient gradient = zero_like(model.parameters());
    const double loss = objective.evaluate(model, windows, gradient);
    g = host(gradient);
    AdamW adam(params);
    adam.step(model.parameters(), gradient);
    theta = host(model.parameters().values());
    return loss;
  };
  for (const bool precision_mixed : {false, true}) {
    mixed = precision_mixed;
    const std::string what = mixed ? " (mixed precision, L = 3)" : "";
    std::vector<double> g1, t1;
    const double loss1 = run(MPI_COMM_SELF, 1, g1, t1);
    const int size = mpi::size(MPI_COMM_WORLD);
    for (int groups : {1, 2, 4}) {
      if (size % groups != 0) continue;
      std::vector<double> g, t;
      const double loss = run(MPI_COMM_WORLD, groups, g, t);
      EXPECT_NEAR(loss, loss1, 1e-12 * loss1) << groups << " groups" << what;
      const double gs = largest(g1), ts = largest(t1);
      for (std::size_t e = 0; e < g1.size(); ++e) {
        EXPECT_NEAR(g[e], g1[e], 1e-12 * gs) << groups << " groups, gradient " << e << what;
        EXPECT_NEAR(t[e], t1[e], 1e-12 * ts) << groups << " groups, parameter " << e << what;
      }
      std::vector<double> first = t;
      MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
      EXPECT_EQ(first, t) << "every rank holds the same parameters" << what;
    }
  }
  // 3 groups divide none of 1, 2, 4 ranks: an input error on every rank.
  ObjectiveOptions three;
  three.groups = 3;
  EXPECT_THROW(TrajectoryObjective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, three), Error);
}

// A run stopped at its checkpoint and restarted from the file ends with exactly the parameters, optimizer
// moments, losses, learning rates and best-validation state of a run that never stopped (SPEC §6.6: bit for
// bit). `params` sets the schedule and keep_best; `name` the checkpoint folder.
namespace {
void expect_restart_equals_uninterrupted(const TrainParams& params, const std::string& name) {
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const std::string dir = std::string(TESSERA_BINARY_DIR) + "/tests/learn/" + name + "_np" +
                          std::to_string(mpi::size(MPI_COMM_WORLD));
  if (mpi::rank(MPI_COMM_WORLD) == 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  TrainProvenance provenance;
  provenance.mode = "one_step";

  GraphOdeModel whole(tiny_parameters(), network(), sig.pairs);
  AdamW adam_whole(params);
  TrainProgress progress_whole;
  train_adamw(objective, whole, params, 9, adam_whole, progress_whole, {}, {});
  const long long at = params.checkpoint_every;
  const auto n = static_cast<std::size_t>(params.iterations);

  // Stopped just after the checkpoint.
  {
    GraphOdeModel first(tiny_parameters(), network(), sig.pairs);
    AdamW adam(params);
    TrainProgress progress;
    TrainParams until = params;
    until.iterations = at;
    train_adamw(objective, first, until, 9, adam, progress, {}, [&](const TrainProgress& p) {
      if (p.iteration % params.checkpoint_every == 0 && mpi::rank(MPI_COMM_WORLD) == 0)
        write_checkpoint(dir, first, adam, params, provenance, p);
    });
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const TrainCheckpoint c = read_checkpoint(dir, tiny_spec(), network().genes, {"epi", "mes"});
  EXPECT_EQ(c.progress.iteration, at);
  ASSERT_EQ(c.progress.records.size(), static_cast<std::size_t>(at));
  GraphOdeModel resumed(tiny_parameters(), network(), sig.pairs);
  restore_parameters(c, resumed);
  AdamW adam(params);
  adam.restore(c.optimizer_steps, c.first_moment, c.second_moment);
  TrainProgress progress = c.progress;
  train_adamw(objective, resumed, params, 9, adam, progress, {}, {});

  EXPECT_EQ(host(resumed.parameters().values()), host(whole.parameters().values()));
  EXPECT_EQ(adam.first_moment(), adam_whole.first_moment());
  EXPECT_EQ(adam.second_moment(), adam_whole.second_moment());
  EXPECT_EQ(adam.steps(), params.iterations);
  ASSERT_EQ(progress.records.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(progress.records[i].iteration, progress_whole.records[i].iteration);
    EXPECT_EQ(progress.records[i].train, progress_whole.records[i].train) << "iteration " << i + 1;
    EXPECT_EQ(progress.records[i].grad_norm, progress_whole.records[i].grad_norm) << "iteration " << i + 1;
    EXPECT_EQ(progress.records[i].lr, progress_whole.records[i].lr) << "iteration " << i + 1;
  }
  EXPECT_EQ(progress.best_iteration, progress_whole.best_iteration);
  EXPECT_EQ(progress.best_parameters, progress_whole.best_parameters);
  EXPECT_EQ(progress.stopped, progress_whole.stopped);
  // A missing checkpoint is an input error naming the file.
  EXPECT_THROW(read_checkpoint(dir + "/nothing", tiny_spec(), network().genes, {"epi", "mes"}), Error);
}
} // namespace

TEST(Trainer, CheckpointThenRestartEqualsAnUninterruptedRun) {
  TrainParams params;
  params.iterations = 6;
  params.time_points_per_iter = 2;
  params.lr = 2e-2;
  params.val_fraction = 0.2;
  params.checkpoint_every = 3;
  expect_restart_equals_uninterrupted(params, "checkpoint");
}

// The same with a warm-up, reduce-on-plateau (whose state lives in the loss history before the checkpoint)
// and keep_best (whose parameters travel in checkpoint.h5 /best). The schedule must really have reduced the
// rate on both sides of the checkpoint and the best iteration must lie before it, or the test shows nothing.
TEST(Trainer, CheckpointThenRestartWithScheduleAndBestEqualsAnUninterruptedRun) {
  TrainParams params;
  params.iterations = 10;
  params.time_points_per_iter = 2;
  params.lr = 0.3; // large: the validation loss goes up and down
  params.val_fraction = 0.2;
  params.checkpoint_every = 5;
  params.warmup = 2;
  params.lr_schedule = LrSchedule::plateau;
  params.plateau_patience = 1;
  params.improvement = 0.2;
  params.keep_best = true;
  expect_restart_equals_uninterrupted(params, "checkpoint_schedule");

  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  AdamW adam(params);
  TrainProgress progress;
  train_adamw(objective, model, params, 9, adam, progress, {}, {});
  const auto& r = progress.records;
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r[0].lr, 0.15);
  EXPECT_LT(r[4].lr, 0.3) << "a reduction before the checkpoint";
  EXPECT_LT(r[9].lr, r[5].lr) << "a reduction after it";
  EXPECT_GE(progress.best_iteration, 1);
  EXPECT_LE(progress.best_iteration, 5);
}

// Each stopping rule ends the run where the records say: stop_rel_loss 1 with windows of one iteration holds
// at the second iteration whatever the losses (|L2 - L1| < |L1| unless the loss doubles), under AdamW and
// under TAO's L-BFGS (whose monitor then stops TAO: CONVERGED_USER).
TEST(Trainer, StoppingRuleEndsAdamwAndLbfgs) {
  const petsc::Session session(MPI_COMM_WORLD);
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  TrainParams params;
  params.iterations = 8;
  params.lr = 1e-3;
  params.val_fraction = 0.2;
  params.stop_rel_loss = 1.0;
  params.stop_window = 1;
  {
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    AdamW adam(params);
    TrainProgress progress;
    train_adamw(objective, model, params, 9, adam, progress, {}, {});
    EXPECT_EQ(progress.iteration, 2);
    EXPECT_EQ(progress.records.size(), 2u);
    EXPECT_EQ(adam.steps(), 2);
    EXPECT_EQ(
        progress.stopped.rfind("stopped at iteration 2: the mean train loss of the last 1 iterations", 0), 0u)
        << progress.stopped;
  }
  params.optimizer = TrainOptimizer::lbfgs;
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  TrainProgress progress;
  const std::string reason = train_lbfgs(objective, model, params, progress, {});
  EXPECT_EQ(reason, "CONVERGED_USER");
  EXPECT_EQ(progress.records.size(), 2u);
  EXPECT_EQ(progress.stopped.rfind("stopped at iteration 2: ", 0), 0u) << progress.stopped;
  // train.stop_grad_norm is TAO's gatol: far above the first gradient, TAO stops before its first step.
  params.stop_rel_loss = 0;
  params.stop_grad_norm = 1e6;
  GraphOdeModel untouched(tiny_parameters(), network(), sig.pairs);
  TrainProgress none;
  EXPECT_EQ(train_lbfgs(objective, untouched, params, none, {}), "CONVERGED_GATOL");
  EXPECT_TRUE(none.records.empty());
}

// train.l1 under L-BFGS is minimised exactly (learn/l1_lbfgs.hpp): with a penalty far above the loss's
// gradient every weight of the sparse tensors ends at exactly 0 (a subgradient added to the loss, what
// add_l1_penalty gives AdamW, leaves them oscillating about 0), while the unpenalised tensors (biases,
// decays) still move from their start; with a small penalty some weights stay nonzero.
TEST(Trainer, LbfgsL1EndsWithExactZerosOnTheSparseTensorsOnly) {
  const petsc::Session session(MPI_COMM_WORLD);
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  TrainParams params;
  params.optimizer = TrainOptimizer::lbfgs;
  params.iterations = 15;
  params.val_fraction = 0.2;
  for (const double l1 : {1e3, 1e-6}) {
    params.l1 = l1;
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    const std::vector<double> start = model.parameters().flat();
    TrainProgress progress;
    train_lbfgs(objective, model, params, progress, {});
    ASSERT_FALSE(progress.records.empty());
    const std::vector<double> end = model.parameters().flat();
    const ModelParameters& p = model.parameters();
    std::size_t sparse = 0, zeros = 0, moved_dense = 0;
    for (int set = 0; set < p.n_sets(); ++set)
      for (const TensorSpec& t : p.layout().tensors())
        for (std::size_t e = t.offset; e < t.offset + t.size(); ++e) {
          const std::size_t i = static_cast<std::size_t>(set) * p.layout().size() + e;
          if (t.sparse) {
            ++sparse;
            zeros += end[i] == 0.0;
          } else {
            moved_dense += end[i] != start[i];
          }
        }
    ASSERT_GT(sparse, 0u);
    if (l1 > 1.0) {
      EXPECT_EQ(zeros, sparse) << "l1 " << l1 << ": every penalised weight exactly 0";
      EXPECT_GT(moved_dense, 0u) << "the unpenalised tensors are still trained";
    } else {
      EXPECT_LT(zeros, sparse) << "l1 " << l1 << ": a small penalty keeps weights";
    }
  }
}

// keep_best: progress holds the parameters at which the lowest validation loss of the records was seen; the
// validation loss evaluated again at them is that record's, exactly (the same computation). AdamW and L-BFGS.
TEST(Trainer, KeepBestHoldsTheParametersOfTheLowestValidationLoss) {
  const petsc::Session session(MPI_COMM_WORLD);
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  TrainParams params;
  params.iterations = 8;
  params.lr = 0.3;
  params.val_fraction = 0.2;
  params.keep_best = true;
  const TimeSplit split = split_times(ds.n_times(), params.val_fraction);
  for (const TrainOptimizer optimizer : {TrainOptimizer::adamw, TrainOptimizer::lbfgs}) {
    params.optimizer = optimizer;
    GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
    AdamW adam(params);
    TrainProgress progress;
    if (optimizer == TrainOptimizer::adamw)
      train_adamw(objective, model, params, 9, adam, progress, {}, {});
    else
      train_lbfgs(objective, model, params, progress, {});
    ASSERT_FALSE(progress.records.empty());
    std::size_t lowest = 0;
    for (std::size_t i = 1; i < progress.records.size(); ++i)
      if (progress.records[i].validation < progress.records[lowest].validation) lowest = i;
    EXPECT_EQ(progress.best_iteration, static_cast<long long>(lowest + 1));
    const auto values = model.parameters().values();
    auto theta = Kokkos::create_mirror_view(Kokkos::HostSpace(), values);
    ASSERT_EQ(progress.best_parameters.size(), theta.size());
    std::copy(progress.best_parameters.begin(), progress.best_parameters.end(), theta.data());
    Kokkos::deep_copy(values, theta);
    EXPECT_EQ(objective.evaluate(model, validation_windows(params, split), ParameterGradient()),
              progress.records[lowest].validation);
  }
}

// A checkpoint is a model file with the optimizer's state: its format version is checked like model.h5's
// (issue 8, item 3), so a later or unmarked file is refused naming the file and the attribute.
TEST(Trainer, CheckpointOfAnotherVersionIsAnInputError) {
  if (mpi::rank(MPI_COMM_WORLD) != 0) return; // serial files
  const std::string dir = std::string(TESSERA_BINARY_DIR) + "/tests/learn/checkpoint_version_np" +
                          std::to_string(mpi::size(MPI_COMM_WORLD));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TrainParams params;
  const AdamW adam(params);
  const GraphOdeModel tiny(tiny_parameters(), network(), {});
  write_checkpoint(dir, tiny, adam, params, TrainProvenance{}, TrainProgress{});
  const std::string path = dir + "/checkpoint.h5";
  auto error_after = [&](const std::function<void(hid_t)>& edit) {
    {
      h5::File file = h5::File::open_append(path);
      edit(file.get());
      file.close();
    }
    try {
      read_checkpoint(dir, tiny_spec(), network().genes, {"epi", "mes"});
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string later = error_after([](hid_t root) { h5::write_int_attribute(root, "version", 2); });
  EXPECT_NE(later.find(path + ": root attribute version = 2 (expected version = 1"), std::string::npos)
      << later;
  const std::string unmarked = error_after([](hid_t root) { H5Adelete(root, "version"); });
  EXPECT_NE(unmarked.find(path + ": no root attribute 'version'"), std::string::npos) << unmarked;
}

// L-BFGS through TAO: the loss over every training window falls, and every rank ends with the same
// parameters (TAO runs on each rank in lockstep on identical losses and gradients).
TEST(Trainer, LbfgsLowersTheLossIdenticallyOnEveryRank) {
  const petsc::Session session(MPI_COMM_WORLD);
  const TrajectoryDataset ds = synthetic(6);
  const SignalingParams sig = signaling(true);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  TrainParams params;
  params.optimizer = TrainOptimizer::lbfgs;
  params.iterations = 10;
  params.val_fraction = 0.2;
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const TimeSplit split = split_times(ds.n_times(), params.val_fraction);
  const auto windows = all_training_windows(params, split);
  const double before = objective.evaluate(model, windows, ParameterGradient());
  TrainProgress progress;
  const std::string reason = train_lbfgs(objective, model, params, progress, {});
  ASSERT_FALSE(progress.records.empty()) << reason;
  const double after = objective.evaluate(model, windows, ParameterGradient());
  EXPECT_LT(after, 0.5 * before) << reason;
  EXPECT_NEAR(progress.records.back().train, after, 1e-12 * after);
  for (std::size_t i = 1; i < progress.records.size(); ++i)
    EXPECT_LE(progress.records[i].train, progress.records[i - 1].train) << "a line search never goes up";
  std::vector<double> theta = host(model.parameters().values()), first = theta;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  EXPECT_EQ(first, theta);
}

// train.integrator: cvode — the CVODES adjoint through windows of several observation times, against central
// differences of the same (adaptive) objective. Tolerance 1e-4 of the largest entry: the forward solve's
// error at rtol 1e-10 (~1e-10 relative, and it jumps when the step sequence changes between stencil points)
// divided by h = 1e-4 gives ~1e-6 of noise in the differences, and the continuous adjoint differs from the
// derivative of the discrete solve by O(rtol); a wrong term would be off by O(1). With rk4 the same windows
// must give the same gradient up to rk4's error at dt = 0.01 (first order where ReLU units switch: 1e-3).
TEST(Trainer, CvodeGradientEqualsCentralDifferencesAndTheRk4Gradient) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  ObjectiveOptions options;
  options.use_cvode = true;
  options.cvode.method = CvodeMethod::adams;
  options.cvode.rtol = 1e-10;
  options.cvode.atol = 1e-12;
  options.cvode.max_steps = 100000;
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, options);
  const std::vector<ObservationWindow> windows = {{0, 2}, {2, 4}};
  DifferenceCheck c;
  c.h = 1e-4;
  c.stride = 3; // every third parameter: each costs 5 adaptive solves
  c.relative = 0.0;
  c.absolute = 1e-4;
  c.min_checked = 0.7;
  c.diagnostic = false;
  expect_gradient_matches_differences(objective, model, windows, "cvode", c);

  ParameterGradient gradient = zero_like(model.parameters());
  const double loss = objective.evaluate(model, windows, gradient);
  const std::vector<double> g = host(gradient);
  const double scale = largest(g);
  const TrajectoryObjective rk4(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.01);
  ParameterGradient g_rk4 = zero_like(model.parameters());
  const double loss_rk4 = rk4.evaluate(model, windows, g_rk4);
  EXPECT_NEAR(loss_rk4, loss, 1e-6 * loss);
  const std::vector<double> r = host(g_rk4);
  for (std::size_t e = 0; e < g.size(); ++e)
    EXPECT_NEAR(r[e], g[e], 1e-3 * scale) << "parameter " << e;
}

// Windows too long for the stage-state budget recompute the stages in the reverse sweep: the same gradient,
// bit for bit, with one state per substep kept instead of five.
TEST(Trainer, StageBudgetDoesNotChangeTheGradient) {
  // Three budgets: stage states and (L >= 3) the activation tape; the stage states only, the tape not fitting
  // (the whole tissue's stage states of the longer window: on several ranks the shorter window may still
  // keep its tape); checkpoints. The tape holds the values the VJPs would recompute (same products on the
  // same operands), so all three give the same loss and gradient bit for bit.
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  const std::vector<ObservationWindow> windows = {{0, 4}, {1, 3}};
  const double longest_window_stages = 20.0 * 5.0 * n_cells * n_genes * sizeof(double); // 4 x 0.5 / 0.1
  for (int layers : {2, 3}) {
    GraphOdeParameters parameters = tiny_parameters();
    if (layers != 2) {
      GraphOdeArchitecture a = parameters.architecture();
      a.mlp_layers = layers;
      parameters = GraphOdeParameters(a, network().genes, {"epi", "mes"});
      parameters.glorot_init(3, 0.2);
    }
    GraphOdeModel model(parameters, network(), sig.pairs);
    std::vector<double> g[3];
    double loss[3];
    for (int budget = 0; budget < 3; ++budget) {
      ObjectiveOptions options;
      options.dt = 0.1;
      options.stage_memory_bytes = budget == 0 ? 1e9 : budget == 1 ? longest_window_stages : 0.0;
      const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, options);
      ParameterGradient gradient = zero_like(model.parameters());
      loss[budget] = objective.evaluate(model, windows, gradient);
      g[budget] = host(gradient);
    }
    for (int budget = 1; budget < 3; ++budget) {
      EXPECT_EQ(loss[0], loss[budget]) << "L = " << layers << ", budget " << budget;
      EXPECT_EQ(g[0], g[budget]) << "L = " << layers << ", budget " << budget;
    }
  }
}

// train.cvode_backward_factor reaches the CVODES backward problem: a looser backward tolerance changes the
// gradient, by about the loosened tolerance (rtol 1e-8 x 100 = 1e-6; allowed 1e-3 of the largest entry).
TEST(Trainer, CvodeBackwardFactorLoosensOnlyTheAdjoint) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(tiny_parameters(), network(), sig.pairs);
  const std::vector<ObservationWindow> windows = {{0, 2}, {2, 4}};
  std::vector<double> g[2];
  double loss[2];
  for (int loose = 0; loose < 2; ++loose) {
    ObjectiveOptions options;
    options.use_cvode = true;
    options.cvode.method = CvodeMethod::adams;
    options.cvode.rtol = 1e-8;
    options.cvode.atol = 1e-10;
    options.cvodes.backward_tolerance_factor = loose ? 100.0 : 1.0;
    const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, options);
    ParameterGradient gradient = zero_like(model.parameters());
    loss[loose] = objective.evaluate(model, windows, gradient);
    g[loose] = host(gradient);
  }
  EXPECT_EQ(loss[0], loss[1]); // the forward solve is the same
  EXPECT_NE(g[0], g[1]);
  const double scale = largest(g[0]);
  for (std::size_t e = 0; e < g[0].size(); ++e)
    EXPECT_NEAR(g[1][e], g[0][e], 1e-3 * scale) << "parameter " << e;
}
