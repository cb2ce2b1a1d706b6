// The learned GRN read-out (SPEC §2.2, §3.5): attention scores equal a by-hand mean of the GAT softmax, the
// Jacobian scores (|.| and signed) equal central differences of the RHS, the scores do not depend on the rank
// count (1 and 2 ranks), the files grn_<type>.tsv and lr_scores.tsv, and the metrics of train_report.hpp.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/grn/sigmoid.hpp"
#include "tessera/learn/grn_readout.hpp"
#include "tessera/learn/train_report.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"

#include "learn_fixture.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include <unistd.h>

using namespace tessera;

namespace {

constexpr int n_cells = 30;
constexpr int n_genes = 3;

Domain box() {
  return test::learn_box();
}
GeneNetwork network() {
  return test::learn_network();
}
SignalingParams signaling(bool with_pairs) {
  return test::learn_signaling(with_pairs ? std::vector<std::array<int, 2>>{{0, 2}}
                                          : std::vector<std::array<int, 2>>{});
}

TrajectoryDataset synthetic() {
  TrajectoryDataset ds;
  ds.genes = network().genes;
  ds.cell_types = {"epi", "mes"};
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n_cells; ++i) {
    ds.cell_id.push_back(static_cast<std::uint64_t>(10 + i));
    ds.cell_type.push_back(i % 2);
    ds.positions.push_back(1.0 + 58.0 * u(rng));
    ds.positions.push_back(1.0 + 38.0 * u(rng));
  }
  for (int k = 0; k < 4; ++k) {
    ds.time.push_back(0.5 * k);
    for (int i = 0; i < n_cells * n_genes; ++i)
      ds.expression.push_back(0.1 + 1.8 * u(rng));
  }
  return ds;
}

// One GAT head with w = (1, 0.5), a_dst = (0.3, -0.2), a_src = (0.8, 0.4): logits
// LeakyReLU(0.2 x_k + 1.0 h); the MLP from Glorot.
GraphOdeParameters gat_parameters() {
  GraphOdeArchitecture a;
  a.heads = 1;
  a.hidden = 2;
  a.mlp_width = 4;
  a.mlp_layers = 2;
  a.share = ParameterSharing::per_type;
  GraphOdeParameters p(a, network().genes, {"epi", "mes"});
  p.glorot_init(11, 0.2);
  for (int s = 0; s < p.n_sets(); ++s) {
    p.set_tensor(s, "w", {1.0, 0.5});
    p.set_tensor(s, "a_dst", {0.3, -0.2});
    p.set_tensor(s, "a_src", {0.8, 0.4});
  }
  return p;
}

GraphOdeParameters two_head_parameters() {
  GraphOdeArchitecture a;
  a.heads = 2;
  a.hidden = 3;
  a.mlp_width = 5;
  a.mlp_layers = 3;
  a.variant = AttentionVariant::gatv2;
  a.share = ParameterSharing::all;
  GraphOdeParameters p(a, network().genes, {"epi", "mes"});
  p.glorot_init(5, 0.3);
  return p;
}

const LearnedEdge* find(const std::vector<LearnedEdge>& edges, int j, int k) {
  for (const LearnedEdge& e : edges)
    if (e.source == j && e.target == k) return &e;
  return nullptr;
}

double leaky(double v) {
  return v > 0.2 * v ? v : 0.2 * v;
}

// Per type, |df_ik/du_ij| and df_ik/du_ij summed over the type's cells at `times` by central differences in
// u = to_u(x) (x = from_u(u +- h); the identity: in x), gene j moved in every cell at once (cells are
// independent without signalling), and the cells counted; summed over the objective's ranks.
struct FdSums {
  std::vector<double> abs, signed_sum, cells; // [(type * G + j) * G + k], [type]
  double mean_abs(int c, int j, int k) const { return abs[(c * n_genes + j) * n_genes + k] / cells[c]; }
  double mean_signed(int c, int j, int k) const {
    return signed_sum[(c * n_genes + j) * n_genes + k] / cells[c];
  }
};
FdSums central_differences(
    const TrajectoryObjective& objective, CellGeneModel& model, const std::vector<int>& times,
    const std::function<double(double)>& to_u = [](double x) { return x; },
    const std::function<double(double)>& from_u = [](double u) { return u; }) {
  FdSums sums{std::vector<double>(2 * n_genes * n_genes, 0.0),
              std::vector<double>(2 * n_genes * n_genes, 0.0), std::vector<double>(2, 0.0)};
  const double h = 1e-6;
  for (const int t : times)
    objective.visit_tissue(
        model, t, [&](const Cells<>& cells, GeneState x, const std::vector<std::size_t>& rows) {
          const std::size_t n = rows.size();
          const auto types = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.type);
          GeneState y("y", n, n_genes), plus("plus", n, n_genes), minus("minus", n, n_genes);
          const auto x0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
          for (std::size_t i = 0; i < n; ++i)
            sums.cells[static_cast<std::size_t>(types(i))] += 1.0;
          for (int j = 0; j < n_genes; ++j) {
            auto xh = Kokkos::create_mirror_view(y);
            for (double sign : {1.0, -1.0}) {
              Kokkos::deep_copy(xh, x0);
              for (std::size_t i = 0; i < n; ++i)
                xh(i, j) = from_u(to_u(x0(i, j)) + sign * h);
              Kokkos::deep_copy(y, xh);
              model.evaluate(0.0, y, sign > 0 ? plus : minus);
            }
            const auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plus);
            const auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), minus);
            for (std::size_t i = 0; i < n; ++i)
              for (int k = 0; k < n_genes; ++k) {
                const double derivative = (p(i, k) - m(i, k)) / (2 * h);
                sums.abs[(types(i) * n_genes + j) * n_genes + k] += std::fabs(derivative);
                sums.signed_sum[(types(i) * n_genes + j) * n_genes + k] += derivative;
              }
          }
        });
  for (std::vector<double>* v : {&sums.abs, &sums.signed_sum, &sums.cells})
    MPI_Allreduce(MPI_IN_PLACE, v->data(), static_cast<int>(v->size()), MPI_DOUBLE, MPI_SUM,
                  objective.decomposition().comm());
  return sums;
}

} // namespace

TEST(GrnReadout, AttentionIsTheMeanOfTheSoftmaxByHand) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(false);
  GraphOdeModel model(gat_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const std::vector<int> times = {0, 1, 2};
  const LearnedGrn grn = learned_grn(objective, model, times);
  ASSERT_EQ(grn.edges.size(), 2u);
  EXPECT_TRUE(grn.lr.empty());
  const GeneNetwork net = network();
  for (int c = 0; c < 2; ++c) {
    const auto regulators = net.regulators(c, false);
    std::size_t expected_edges = 0;
    for (int k = 0; k < n_genes; ++k) {
      // In-edges of k: the self loop, then the prior sources.
      std::vector<int> sources = {k};
      sources.insert(sources.end(), regulators[k].begin(), regulators[k].end());
      expected_edges += sources.size();
      std::vector<double> sum(sources.size(), 0.0);
      int count = 0;
      for (const int t : times)
        for (int i = 0; i < n_cells; ++i) {
          if (ds.cell_type[i] != c) continue;
          const double x_k = ds.x(t, i, k);
          std::vector<double> e(sources.size());
          double z = 0.0;
          for (std::size_t u = 0; u < sources.size(); ++u)
            z += (e[u] = std::exp(leaky(0.2 * x_k + 1.0 * ds.x(t, i, sources[u]))));
          for (std::size_t u = 0; u < sources.size(); ++u)
            sum[u] += e[u] / z;
          ++count;
        }
      for (std::size_t u = 0; u < sources.size(); ++u) {
        const LearnedEdge* edge = find(grn.edges[c], sources[u], k);
        ASSERT_NE(edge, nullptr) << c << " " << sources[u] << "->" << k;
        EXPECT_NEAR(edge->attention, sum[u] / count, 1e-13);
      }
    }
    EXPECT_EQ(grn.edges[c].size(), expected_edges);
    for (std::size_t e = 1; e < grn.edges[c].size(); ++e)
      EXPECT_GE(grn.edges[c][e - 1].attention, grn.edges[c][e].attention);
  }
}

TEST(GrnReadout, JacobianEqualsCentralDifferencesOfTheRhs) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(false);
  for (GraphOdeParameters parameters : {gat_parameters(), two_head_parameters()}) {
    GraphOdeModel model(parameters, network(), sig.pairs);
    const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn grn = learned_grn(objective, model, {1, 3});
    // By hand: |df_ik/dx_ij| by central differences, per type over every rank's cells.
    const FdSums fd = central_differences(objective, model, {1, 3});
    int compared = 0;
    for (int c = 0; c < 2; ++c)
      for (const LearnedEdge& e : grn.edges[c]) {
        const double abs = fd.mean_abs(c, e.source, e.target),
                     signed_fd = fd.mean_signed(c, e.source, e.target);
        EXPECT_NEAR(e.jacobian, abs, 1e-6 * std::max(1.0, abs)) << c << " " << e.source << "->" << e.target;
        EXPECT_NEAR(e.jacobian_signed, signed_fd, 1e-6 * std::max(1.0, std::fabs(signed_fd)))
            << c << " " << e.source << "->" << e.target;
        EXPECT_LE(std::fabs(e.jacobian_signed), e.jacobian * (1 + 1e-12));
        ++compared;
      }
    EXPECT_GT(compared, 8);
  }
}

// hill and sigmoid on every ordered pair j != k of both types, with the LR pair A -> C (ligand 0, receptor
// 2) of `sig`: every edge parameter non-zero except the candidate A -> C's (no intracellular edge there), and
// the pair's own weight non-zero, so that C's neighbours' df_C/dx_A is not.
std::unique_ptr<TrainableGeneModel> dense_model(const std::string& family, const SignalingParams& sig,
                                                const SigmoidInputs& inputs = {}) {
  GeneNetwork net = network();
  net.model = "hill";
  net.production = {1.0, 0.8, 1.2};
  net.basal = {0.1, 0.2, 0.05};
  net.decay = {0.3, 0.5, 0.4};
  std::unique_ptr<TrainableGeneModel> model;
  std::string weight, pair_weight;
  if (family == "hill") {
    LearnableHillConfig config;
    config.prior = PriorGraph::dense;
    config.init = LearnableHillConfig::Init::deck;
    auto hill =
        std::make_unique<LearnableHillModel>(config, net, std::vector<std::string>{"epi", "mes"}, sig.pairs);
    hill->initialise(net, sig.pairs);
    model = std::move(hill);
    weight = "K";
    pair_weight = "lr_K";
  } else {
    SigmoidConfig config;
    config.prior = PriorGraph::dense;
    config.init = SigmoidConfig::Init::random;
    config.inputs = inputs;
    model = make_sigmoid_model(MPI_COMM_SELF, config, net, sig, {"epi", "mes"});
    weight = "W";
    pair_weight = "V";
  }
  std::vector<double> w = model->parameters().tensor(0, weight);
  std::size_t e = 0;
  for (const SignedEdgeWeight& edge : model->signed_edge_weights())
    if (edge.pair < 0) {
      w[e] = edge.source == 0 && edge.target == 2 ? 0.0 : (e % 2 ? -0.4 : 0.7) * (1.0 + 0.1 * e);
      ++e;
    }
  EXPECT_EQ(e, w.size());
  model->parameters().set_tensor(0, weight, w);
  std::vector<double> v = model->parameters().tensor(0, pair_weight);
  std::fill(v.begin(), v.end(), 0.9);
  model->parameters().set_tensor(0, pair_weight, v);
  return model;
}

// With signalling the read-out's Jacobian of hill and sigmoid is that of each cell's own terms: by central
// differences of a cell's own RHS with x_ij perturbed in that cell alone (the neighbours' RHS change through
// their received signal, but are not read). The candidate A -> C, which is also the LR pair A -> C, has no
// intracellular term, so its entry is 0: before, it held the neighbours' df_C/dx_A and ranked this decoy
// among the strongest edges.
TEST(GrnReadout, JacobianOfHillAndSigmoidIsTheCellsOwnWithSignalling) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  for (const std::string family : {"hill", "sigmoid"}) {
    SCOPED_TRACE(family);
    const std::unique_ptr<TrainableGeneModel> model = dense_model(family, sig);
    // The whole tissue on every rank, so that the cell-by-cell differences need no collective schedule.
    const TrajectoryObjective objective(MPI_COMM_SELF, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn grn = learned_grn(objective, *model, {1, 3});
    std::vector<double> sums(2 * n_genes * n_genes, 0.0), cells_of(2, 0.0);
    const double h = 1e-6;
    for (const int t : {1, 3})
      objective.visit_tissue(
          *model, t, [&](const Cells<>& cells, GeneState x, const std::vector<std::size_t>& rows) {
            const std::size_t n = rows.size();
            const auto types = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.type);
            GeneState y("y", x.extent(0), n_genes), plus("plus", x.extent(0), n_genes),
                minus("minus", x.extent(0), n_genes);
            const auto x0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
            for (std::size_t i = 0; i < n; ++i) {
              cells_of[static_cast<std::size_t>(types(i))] += 1.0;
              for (int j = 0; j < n_genes; ++j) {
                auto xh = Kokkos::create_mirror_view(y);
                for (double sign : {1.0, -1.0}) {
                  Kokkos::deep_copy(xh, x0);
                  xh(i, j) += sign * h;
                  Kokkos::deep_copy(y, xh);
                  model->evaluate(0.0, y, sign > 0 ? plus : minus);
                }
                const auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), plus);
                const auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), minus);
                for (int k = 0; k < n_genes; ++k)
                  sums[(types(i) * n_genes + j) * n_genes + k] += std::fabs(p(i, k) - m(i, k)) / (2 * h);
              }
            }
          });
    int compared = 0;
    for (int c = 0; c < 2; ++c) {
      for (const LearnedEdge& e : grn.edges[c]) {
        const double fd = sums[(c * n_genes + e.source) * n_genes + e.target] / cells_of[c];
        // Central differences of smooth terms at h = 1e-6: truncation and rounding near 1e-9 relative.
        EXPECT_NEAR(e.jacobian, fd, 1e-6 * std::max(1.0, fd)) << c << " " << e.source << "->" << e.target;
        ++compared;
      }
      const LearnedEdge* pair = find(grn.edges[c], 0, 2);
      ASSERT_NE(pair, nullptr);
      EXPECT_EQ(pair->jacobian, 0.0) << "type " << c;
    }
    EXPECT_EQ(compared, 12);
  }
}

// The standardised effect by hand: mean |df_k/du_j| (central differences in u, the coordinate the model reads
// regulator j in) times sd(u_j) over sd(dx_k/dt), the sds over the type's cells at the read-out times (the
// derivative from consecutive ones). With log inputs u = log(x + epsilon), so the effect is not the
// x-coordinate one, mean |df_k/dx_j| sd(x_j) / sd(dx_k/dt), which it stays for linear inputs and hill.
TEST(GrnReadout, EffectIsStandardisedInTheCoordinateTheModelReads) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(false);
  const std::vector<int> times = {0, 1, 2};
  const double epsilon = 0.05;
  for (const std::string family : {"sigmoid_log", "sigmoid", "hill"}) {
    SCOPED_TRACE(family);
    const bool log_inputs = family == "sigmoid_log";
    SigmoidInputs inputs;
    inputs.log = log_inputs;
    inputs.offset = epsilon;
    const std::unique_ptr<TrainableGeneModel> model =
        dense_model(log_inputs ? "sigmoid" : family, sig, inputs);
    const TrajectoryObjective objective(MPI_COMM_SELF, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn grn = learned_grn(objective, *model, times);
    auto coordinate = [&](double x) { return log_inputs ? std::log(x + epsilon) : x; };
    auto value = [&](double u) { return log_inputs ? std::exp(u) - epsilon : u; };
    const FdSums fd = central_differences(objective, *model, times, coordinate, value);
    // Population sds per type: u over the read-out times, the derivative over its consecutive pairs.
    auto sd = [](const std::vector<double>& v) {
      double mean = 0.0, squares = 0.0;
      for (const double a : v)
        mean += a / static_cast<double>(v.size());
      for (const double a : v)
        squares += (a - mean) * (a - mean) / static_cast<double>(v.size());
      return std::sqrt(squares);
    };
    auto spread = [&](int c, int g, bool derivative, bool in_u) {
      std::vector<double> v;
      for (std::size_t a = 0; a < times.size(); ++a)
        for (int i = 0; i < n_cells; ++i) {
          if (ds.cell_type[static_cast<std::size_t>(i)] != c) continue;
          const double x = ds.x(times[a], i, g);
          if (!derivative)
            v.push_back(in_u ? coordinate(x) : x);
          else if (a + 1 < times.size())
            v.push_back((ds.x(times[a + 1], i, g) - x) / (ds.time[times[a + 1]] - ds.time[times[a]]));
        }
      return sd(v);
    };
    int compared = 0, apart = 0;
    for (int c = 0; c < 2; ++c)
      for (const LearnedEdge& e : grn.edges[c]) {
        const double by_hand = fd.mean_abs(c, e.source, e.target) * spread(c, e.source, false, true) /
                               spread(c, e.target, true, false);
        // Central differences of smooth terms at h = 1e-6: truncation and rounding near 1e-9 relative.
        EXPECT_NEAR(e.effect, by_hand, 1e-6 * std::max(1.0, by_hand))
            << c << " " << e.source << "->" << e.target;
        const double in_x = e.jacobian * spread(c, e.source, false, false) / spread(c, e.target, true, false);
        if (!log_inputs)
          EXPECT_NEAR(e.effect, in_x, 1e-12 * in_x) << c << " " << e.source << "->" << e.target;
        if (std::fabs(e.effect - in_x) > 0.05 * in_x) ++apart;
        ++compared;
      }
    EXPECT_EQ(compared, 12);
    if (log_inputs) EXPECT_GT(apart, 6); // the coordinate matters: the x-coordinate effect is another score
    // The same effects with the tissue split over the ranks (sums in another order: rounding only).
    const std::unique_ptr<TrainableGeneModel> split_model =
        dense_model(log_inputs ? "sigmoid" : family, sig, inputs);
    const TrajectoryObjective split(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn split_grn = learned_grn(split, *split_model, times);
    for (int c = 0; c < 2; ++c)
      for (const LearnedEdge& e : grn.edges[c]) {
        const LearnedEdge* other = find(split_grn.edges[c], e.source, e.target);
        ASSERT_NE(other, nullptr);
        EXPECT_NEAR(other->effect, e.effect, 1e-12 * e.effect) << c << " " << e.source << "->" << e.target;
      }
  }
}

TEST(GrnReadout, ScoresDoNotDependOnTheRankCount) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  for (GraphOdeParameters parameters : {gat_parameters(), two_head_parameters()}) {
    GraphOdeModel model(parameters, network(), sig.pairs);
    const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn grn = learned_grn(objective, model, {0, 2});
    // The same on one rank: every rank builds the whole tissue on MPI_COMM_SELF.
    GraphOdeModel alone_model(parameters, network(), sig.pairs);
    const TrajectoryObjective alone(MPI_COMM_SELF, box(), {0, 0, 0}, sig, ds, 0.1);
    const LearnedGrn reference = learned_grn(alone, alone_model, {0, 2});
    ASSERT_EQ(grn.edges.size(), reference.edges.size());
    for (std::size_t c = 0; c < grn.edges.size(); ++c) {
      ASSERT_EQ(grn.edges[c].size(), reference.edges[c].size());
      for (std::size_t e = 0; e < grn.edges[c].size(); ++e) {
        const LearnedEdge* r = find(reference.edges[c], grn.edges[c][e].source, grn.edges[c][e].target);
        ASSERT_NE(r, nullptr);
        EXPECT_NEAR(grn.edges[c][e].attention, r->attention, 1e-13);
        EXPECT_NEAR(grn.edges[c][e].jacobian, r->jacobian, 1e-12 * std::max(1.0, r->jacobian));
      }
    }
    ASSERT_FALSE(reference.lr.empty());
    ASSERT_EQ(grn.lr.size(), reference.lr.size());
    for (std::size_t q = 0; q < grn.lr.size(); ++q) {
      EXPECT_EQ(grn.lr[q].sender_type, reference.lr[q].sender_type);
      EXPECT_EQ(grn.lr[q].receiver_type, reference.lr[q].receiver_type);
      EXPECT_EQ(grn.lr[q].ligand, 0);
      EXPECT_EQ(grn.lr[q].receptor, 2);
      EXPECT_EQ(grn.lr[q].edges, reference.lr[q].edges);
      EXPECT_NEAR(grn.lr[q].attention, reference.lr[q].attention, 1e-13);
      EXPECT_GT(grn.lr[q].attention, 0.0);
      EXPECT_LT(grn.lr[q].attention, 1.0);
    }
  }
}

TEST(GrnReadout, WritesTheTablesWithoutSelfLoops) {
  const TrajectoryDataset ds = synthetic();
  const SignalingParams sig = signaling(true);
  GraphOdeModel model(gat_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const LearnedGrn grn = learned_grn(objective, model, readout_time_indices(ds.n_times(), 0.25));
  if (mpi::rank(MPI_COMM_WORLD) != 0) return;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("tessera_grn_readout_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<std::string> written = write_learned_grn(dir.string(), grn, ds);
  EXPECT_EQ(written.size(), 3u);
  auto read = [&](const std::string& name) {
    std::ifstream f(dir / name);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  const std::string epi = read("grn_epi.tsv");
  EXPECT_EQ(epi.rfind("source\ttarget\tattention\tjacobian\tjacobian_signed\n", 0), 0u);
  EXPECT_NE(epi.find("A\tB\t"), std::string::npos);
  for (const char* loop : {"A\tA\t", "B\tB\t", "C\tC\t"}) // self loops are no candidate edges
    EXPECT_EQ(epi.find(loop), std::string::npos) << loop;
  EXPECT_EQ(std::count(epi.begin(), epi.end(), '\n'), 3); // header, A -> B, B -> C
  const std::string lr = read("lr_scores.tsv");
  EXPECT_EQ(lr.rfind("sender_type\treceiver_type\tligand\treceptor\tattention\tedges\n", 0), 0u);
  EXPECT_NE(lr.find("epi\tmes\tA\tC\t"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "metrics.json")); // train_report.hpp writes it, with the baselines
  fs::remove_all(dir);
}

TEST(TrainReport, ScoresTheModelAndTheRidgeOverTheCandidateEdges) {
  // The model's graph: A -> B, B -| C in both types, C -> A in type mes. The truth: A -> B (+), a self loop
  // C -> C (never scored) and B -> A (outside every graph: missed). Random order: epi 1 of 2 candidates,
  // mes 1 of 3. LR: the model hears A -> C and B -> C, the dataset's truth is A -> C.
  TrajectoryDataset ds = synthetic();
  ds.truth_grn["*"] = {{0, 1, 1}, {2, 2, 1}, {1, 0, -1}};
  ds.ligand_receptor = {{0, 2}};
  const SignalingParams sig = test::learn_signaling({{0, 2}, {1, 2}});
  GraphOdeModel model(gat_parameters(), network(), sig.pairs);
  const TrajectoryObjective objective(MPI_COMM_WORLD, box(), {0, 0, 0}, sig, ds, 0.1);
  const LearnedGrn grn = learned_grn(objective, model, readout_time_indices(ds.n_times(), 0.25));
  const std::vector<std::vector<std::vector<int>>> candidates = {network().regulators(0, false),
                                                                 network().regulators(1, false)};
  const TimeSplit split = split_times(ds.n_times(), 0.25);
  const DerivativeBaselines baselines = fit_derivative_baselines(objective, candidates, sig.pairs, split);
  const TrainMetrics m = train_metrics(grn, baselines, ds, candidates, sig.pairs, 0.125);
  ASSERT_EQ(m.types.size(), 2u);
  for (const auto& [name, expected_candidates] :
       {std::pair<std::string, std::size_t>{"epi", 2}, {"mes", 3}}) {
    const TypeRecovery& r = m.types.at(name);
    for (const RecoveryMetrics* ranking : {&r.model, &r.jacobian, &r.ridge}) {
      EXPECT_EQ(ranking->candidates, expected_candidates) << name;
      EXPECT_EQ(ranking->positives, 1u) << name;
      EXPECT_EQ(ranking->missed, 1u) << name; // B -> A
      EXPECT_DOUBLE_EQ(ranking->random_precision, 1.0 / static_cast<double>(expected_candidates)) << name;
      EXPECT_DOUBLE_EQ(ranking->auprc_ratio, ranking->auprc * static_cast<double>(expected_candidates));
    }
    // By hand for the attention: A -> B's rank among the type's candidates (ties broken against it) sets
    // the AUPRC (1/rank over 2 true edges), its mean signed Jacobian the sign accuracy.
    const std::size_t c = name == "epi" ? 0 : 1;
    const LearnedEdge* ab = find(grn.edges[c], 0, 1);
    ASSERT_NE(ab, nullptr);
    int rank = 1;
    for (const LearnedEdge& e : grn.edges[c])
      if (e.source != e.target && !(e.source == 0 && e.target == 1) && e.attention >= ab->attention) ++rank;
    EXPECT_DOUBLE_EQ(r.model.auprc, 0.5 / rank) << name;
    EXPECT_EQ(r.model.sign_accuracy, ab->jacobian_signed > 0 ? 1.0 : 0.0) << name;
    // The ridge's ranking: its |standardised coefficient| of A in B's fit.
    const DerivativeFit& b_fit = baselines.ridge[c][1];
    ASSERT_EQ(b_fit.regressors[0].kind, Regressor::regulator);
    EXPECT_EQ(r.ridge.sign_accuracy, b_fit.standardised[0] > 0 ? 1.0 : 0.0) << name;
  }
  ASSERT_TRUE(m.lr_scored);
  EXPECT_EQ(m.lr_model.candidates, 2u);
  EXPECT_EQ(m.lr_model.positives, 1u);
  ASSERT_EQ(m.lr.size(), 2u);
  EXPECT_TRUE(m.lr[0].is_true);
  EXPECT_FALSE(m.lr[1].is_true);
  EXPECT_GT(m.lr[0].model, 0.0);
  EXPECT_GT(m.lr[0].ridge, 0.0);
  EXPECT_EQ(m.mse.model, 0.125);
  EXPECT_EQ(m.mse.no_change, baselines.no_change_mse);
  EXPECT_EQ(m.mse.pairs, split.validation_starts.size());
  EXPECT_TRUE(std::isnan(m.lr_model.sign_accuracy));
}
