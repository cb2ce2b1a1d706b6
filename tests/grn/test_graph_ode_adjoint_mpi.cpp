// The graph_ode VJP on a tissue split over ranks (SPEC §3.3-3.4): ghost cells' ligand cotangents go back to
// their owners (reverse halo), so the gradient w.r.t. each owned state, and the parameter gradient summed
// over ranks, equal those of the whole tissue on one rank; the same through the rk4 adjoint.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>

#include "../support/distributed_tissue.hpp"

namespace {

constexpr int n_total = 160;

struct Result {
  RowsById x_bar;                // owned cells
  std::vector<double> theta_bar; // this communicator's ranks summed
  // The same for the loss <lambda, x(t1)> through rk4 from x(t0) = the state (Rk4Adjoint).
  RowsById x0_bar;
  std::vector<double> rk4_theta_bar;
  int fd_checked = 0, fd_failed = 0; // central differences of <lambda, f> over all ranks vs x_bar
};

// The VJP of the tissue split over `comm`, lambda being the tissue's cotangents. `differences`: also check
// x_bar against central differences (not for the mixed precision, whose float rounding of the RHS, ~1e-7
// relative, divided by the step swamps them).
Result vjp_on(MPI_Comm comm, const GraphOdeParameters& parameters, const GraphOdeOptions& options = {},
              bool differences = true) {
  const DistributedTissue tissue(comm, GlobalTissue(periodic_strip(120.0, 90.0), n_total, 77));
  const std::size_t n = tissue.n_owned;
  const std::vector<std::uint64_t>& id = tissue.ids;
  GraphOdeModel model(parameters, network(), tissue.signal.pairs, options);
  tissue.attach(model);
  const ConstGeneState x = tissue.owned_genes();
  const GeneState lambda = tissue.cotangent("lambda");
  const auto lambda_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lambda);
  GeneState x_bar("x_bar", n, n_genes);
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
  model.vjp(0.0, x, lambda, x_bar, theta_bar);

  Result out;
  auto collect = [&](const GeneState& state_bar, const ParameterGradient& parameter_bar, RowsById& rows,
                     std::vector<double>& summed) {
    const auto xb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_bar);
    for (std::size_t r = 0; r < n; ++r)
      rows[id[r]] = std::vector<double>(&xb(r, 0), &xb(r, 0) + n_genes);
    const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameter_bar);
    summed.assign(tb.data(), tb.data() + tb.size());
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, summed.data(), static_cast<int>(summed.size()), MPI_DOUBLE,
                             MPI_SUM, comm),
               "MPI_Allreduce");
  };
  collect(x_bar, theta_bar, out.x_bar, out.theta_bar);

  // Central differences of the rank-summed <lambda, f(x)> w.r.t. every gene of the first 30 cells (ids),
  // perturbed by their owner. Step 1e-6: FD error ~1e-12 plus rounding 1e-16 |J| / h.
  const auto xb_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  const RankSummedInnerProduct objective(tissue, model, lambda);
  const double h = 1e-6;
  for (std::uint64_t target = 0; target < (differences ? 30u : 0u); ++target)
    for (int gene = 0; gene < n_genes; ++gene) {
      double scale = 0.0;
      const double j0 = objective(target, gene, 0.0, &scale);
      const double jp = objective(target, gene, h), jm = objective(target, gene, -h);
      const double jp2 = objective(target, gene, 2 * h), jm2 = objective(target, gene, -2 * h);
      const double expected = objective.owned_entry(xb_host, target, gene);
      const double noise = 1e-16 * scale / h;
      // A kink inside the stencil: the second differences at h and 2h no longer scale like a smooth one's.
      const double d1 = (jp - 2 * j0 + jm) / h, d2 = (jp2 - 2 * j0 + jm2) / (2 * h);
      if (std::fabs(d2 - 2 * d1) > 0.2 * std::fabs(d1) + 100 * noise) continue;
      const double fd = (jp - jm) / (2 * h);
      ++out.fd_checked;
      if (std::fabs(fd - expected) > 1e-7 * std::fabs(fd) + 10 * noise + 1e-13) {
        ++out.fd_failed;
        ADD_FAILURE() << "cell " << target << " gene " << gene << ": x_bar " << expected << ", FD " << fd;
      }
    }

  // The rk4 adjoint over [0, 1] in 4 substeps, the ligand exchange running inside every evaluation and VJP.
  GeneState state("state", n, n_genes), state_bar("state_bar", n, n_genes);
  Kokkos::deep_copy(state, x);
  Kokkos::deep_copy(state_bar, lambda);
  ParameterGradient rk4_theta_bar("rk4_theta_bar", parameters.values().extent(0),
                                  parameters.values().extent(1));
  Rk4Adjoint rk4(0.25);
  rk4.forward(model, state, 0.0, 1.0);
  rk4.reverse(model, model, state_bar, rk4_theta_bar);
  collect(state_bar, rk4_theta_bar, out.x0_bar, out.rk4_theta_bar);
  return out;
}

} // namespace

TEST(GraphOdeVjpMpi, OwnedGradientsEqualTheWholeTissueOnOneRankAlsoThroughRk4) {
  // STAGED, then with per-edge weights and logit biases (random signs and sizes; per type and shared), then
  // also with gene embeddings (D = 3).
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int beyond = 0; beyond < 3; ++beyond) {
      const bool edge_terms = beyond >= 1;
      GraphOdeArchitecture a;
      a.variant = variant;
      a.heads = 2;
      a.hidden = 6;
      a.mlp_width = 8;
      a.mlp_layers = 3;
      a.share = ParameterSharing::per_type;
      if (edge_terms) {
        a.edge_weights = variant == AttentionVariant::gat ? EdgeTerms::per_type : EdgeTerms::shared;
        a.edge_bias = variant == AttentionVariant::gat ? EdgeTerms::shared : EdgeTerms::per_type;
        resolve_edge_terms(a, network(), 2);
      }
      if (beyond == 2) a.embedding = 3;
      GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
      parameters.glorot_init(11, 0.2);
      if (edge_terms) {
        std::mt19937 rng(5);
        std::uniform_real_distribution<double> u(-1.5, 1.5);
        for (int set = 0; set < 2; ++set)
          for (const char* name : {"edge_weight", "edge_bias"}) {
            std::vector<double> v = parameters.tensor(set, name);
            for (double& e : v)
              e = u(rng);
            parameters.set_tensor(set, name, v);
          }
      }
      const Result split = vjp_on(MPI_COMM_WORLD, parameters);
      EXPECT_GT(split.fd_checked, 140) << "few entries were far enough from a kink";
      EXPECT_EQ(split.fd_failed, 0);
      const Result whole = vjp_on(MPI_COMM_SELF, parameters);

      // Every cell is owned once over the ranks; its gradient is the whole tissue's up to summation order
      // (ligand cotangents from several neighbours are added in another order): 1e-12 relative to the largest
      // entry for the RHS, 1e-11 through the 4 substeps x 4 stages of rk4.
      int owned = static_cast<int>(split.x_bar.size()), total = 0;
      MPI_Allreduce(&owned, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
      EXPECT_EQ(total, n_total);
      const std::string name =
          to_string(variant) + (edge_terms ? " edge terms" : "") + (beyond == 2 ? " embedding" : "");
      expect_rows_near(split.x_bar, whole.x_bar, 1e-12, name + " x_bar");
      expect_parameters_near(split.theta_bar, whole.theta_bar, 1e-12, name + " theta_bar");
      expect_rows_near(split.x0_bar, whole.x0_bar, 1e-11, name + " rk4 x0_bar");
      expect_parameters_near(split.rk4_theta_bar, whole.rk4_theta_bar, 1e-11, name + " rk4 theta_bar");
    }
}

// The mixed precision (GraphOdeOptions::precision) depends on the decomposition no more than double does:
// every float value is computed from one node's row alone (the same bits wherever its cell is owned and
// whichever tile holds it), the hidden weight gradients are float sums over one cell's genes added in double,
// and everything summed across cells or ranks is double. So the tolerances of the double test above hold
// (1e-12 of the largest entry for the VJP, 1e-11 through rk4). Small tiles (13 cells: tiles cut differently
// on 1, 2, 4 ranks), L = 3 and 4, both attention variants, per-edge terms and embeddings.
TEST(GraphOdeVjpMpi, MixedPrecisionGradientsDoNotDependOnTheRankCount) {
  struct MixedCase {
    AttentionVariant variant;
    int layers;
    bool beyond; // per-edge terms and a gene embedding
  };
  for (const MixedCase& c :
       {MixedCase{AttentionVariant::gat, 3, false}, MixedCase{AttentionVariant::gatv2, 4, true},
        MixedCase{AttentionVariant::gat, 4, true}}) {
    GraphOdeArchitecture a;
    a.variant = c.variant;
    a.heads = 2;
    a.hidden = 6;
    a.mlp_width = 16;
    a.mlp_layers = c.layers;
    a.share = ParameterSharing::per_type;
    if (c.beyond) {
      a.edge_weights = EdgeTerms::per_type;
      a.edge_bias = EdgeTerms::shared;
      a.embedding = 3;
      resolve_edge_terms(a, network(), 2);
    }
    GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
    parameters.glorot_init(13, 0.2);
    GraphOdeOptions options;
    options.tile_nodes = 13 * n_genes;
    options.precision = GraphOdePrecision::mixed;
    const Result split = vjp_on(MPI_COMM_WORLD, parameters, options, false);
    const Result whole = vjp_on(MPI_COMM_SELF, parameters, options, false);
    GraphOdeOptions double_options = options;
    double_options.precision = GraphOdePrecision::double_precision;
    const Result reference = vjp_on(MPI_COMM_WORLD, parameters, double_options, false);
    const std::string name = to_string(c.variant) + " L=" + std::to_string(c.layers) +
                             (c.beyond ? " edge terms, embedding" : "") + " mixed";
    expect_rows_near(split.x_bar, whole.x_bar, 1e-12, name + " x_bar");
    expect_parameters_near(split.theta_bar, whole.theta_bar, 1e-12, name + " theta_bar");
    expect_rows_near(split.x0_bar, whole.x0_bar, 1e-11, name + " rk4 x0_bar");
    expect_parameters_near(split.rk4_theta_bar, whole.rk4_theta_bar, 1e-11, name + " rk4 theta_bar");
    // The mixed path was taken: its gradient is double's to float accuracy (test_graph_ode_adjoint), not
    // double's bits.
    EXPECT_NE(split.theta_bar, reference.theta_bar) << name;
    expect_parameters_near(split.theta_bar, reference.theta_bar, 1e-5, name + " theta_bar against double");
  }
}

namespace {

// Bitwise equality of two Views' host copies.
template <class View>
bool identical(const View& a, const View& b) {
  const auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  const auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  if (ha.size() != hb.size()) return false;
  for (std::size_t e = 0; e < ha.size(); ++e)
    if (ha.data()[e] != hb.data()[e]) return false;
  return true;
}

} // namespace

// The activation tape (Rk4Adjoint in Storage::stages mode recording graph_ode's hidden layers, the VJPs
// reading them back) changes no value: it holds what the VJP would recompute, from the same BLAS (or
// portable) products on the same operands, so states and gradients are bit for bit those without it. Small
// tiles (several per parameter set), per-type parameter sets (cells regrouped, tiles in that order), the
// ligand exchange and the reverse halo on every rank count. L <= 2 has no hidden product: nothing is taped.
TEST(GraphOdeVjpMpi, ActivationTapeGivesTheGradientWithoutIt) {
  const DistributedTissue tissue(MPI_COMM_WORLD, GlobalTissue(periodic_strip(120.0, 90.0), n_total, 77));
  const std::size_t n = tissue.n_owned;
  struct Case {
    AttentionVariant variant;
    int heads, layers;
    GraphOdeOptions::DenseProducts dense;
    GraphOdePrecision precision = GraphOdePrecision::double_precision;
  };
  const auto mixed = GraphOdePrecision::mixed;
  const auto blas = GraphOdeOptions::DenseProducts::automatic;
  const std::vector<Case> cases{{AttentionVariant::gat, 1, 3, blas},
                                {AttentionVariant::gat, 2, 1, blas},
                                {AttentionVariant::gat, 1, 2, blas},
                                {AttentionVariant::gat, 2, 4, blas},
                                {AttentionVariant::gatv2, 2, 3, blas},
                                {AttentionVariant::gatv2, 1, 2, blas},
                                {AttentionVariant::gatv2, 1, 1, blas},
                                {AttentionVariant::gat, 2, 3, GraphOdeOptions::DenseProducts::kokkos},
                                // The mixed precision: a float tape, the same float values as recomputed.
                                {AttentionVariant::gat, 1, 3, blas, mixed},
                                {AttentionVariant::gatv2, 2, 4, blas, mixed},
                                {AttentionVariant::gat, 1, 2, blas, mixed},
                                {AttentionVariant::gat, 2, 4, GraphOdeOptions::DenseProducts::kokkos, mixed}};
  for (const Case& c : cases) {
    const std::string what =
        to_string(c.variant) + " K=" + std::to_string(c.heads) + " L=" + std::to_string(c.layers) +
        (c.dense == blas ? "" : " (portable products)") + (c.precision == mixed ? " mixed" : "");
    GraphOdeArchitecture a;
    a.variant = c.variant;
    a.heads = c.heads;
    a.hidden = 6;
    a.mlp_width = 8;
    a.mlp_layers = c.layers;
    a.share = ParameterSharing::per_type;
    GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
    parameters.glorot_init(11, 0.2);
    GraphOdeOptions options;
    options.tile_nodes = 13 * n_genes; // 13 cells per tile: several tiles per set and rank
    options.dense = c.dense;
    options.precision = c.precision;
    GraphOdeModel model(parameters, network(), tissue.signal.pairs, options);
    tissue.attach(model);
    const GeneState lambda = tissue.cotangent("lambda");

    struct Run {
      GeneState x, x_bar;
      ParameterGradient theta_bar;
      std::size_t tape_bytes = 0;
    };
    auto run = [&](bool tape) {
      Run out;
      out.x = GeneState("x", n, n_genes);
      out.x_bar = GeneState("x_bar", n, n_genes);
      out.theta_bar =
          ParameterGradient("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
      Kokkos::deep_copy(out.x, tissue.owned_genes());
      Kokkos::deep_copy(out.x_bar, lambda);
      Rk4Adjoint rk4(0.25);
      rk4.forward(model, out.x, 0.0, 1.0, tape ? &model : nullptr);
      out.tape_bytes = rk4.tape_bytes();
      rk4.reverse(model, model, out.x_bar, out.theta_bar);
      return out;
    };
    const Run without = run(false), with = run(true);
    EXPECT_EQ(without.tape_bytes, 0u) << what;
    // Per stage: the hidden layers (M = 8 each; mixed: floats, two to a double) and the attention record (m,
    // softmax maximum and denominator: 3 K doubles; the K intervals as ints, two to a double) of every
    // node; 4 stages x 4 steps.
    const std::size_t nodes = n * n_genes, records = nodes * static_cast<std::size_t>(c.heads);
    const std::size_t hidden = static_cast<std::size_t>(c.layers - 2) * nodes * 8u;
    const std::size_t expected = c.layers >= 3 ? 4u * 4u *
                                                     ((c.precision == mixed ? (hidden + 1u) / 2u : hidden) +
                                                      3u * records + (records + 1u) / 2u) *
                                                     sizeof(double)
                                               : 0u;
    EXPECT_EQ(with.tape_bytes, expected) << what;
    EXPECT_EQ(model.tape_bytes(n) * 16u, expected) << what;
    int same = identical(with.x, without.x) && identical(with.x_bar, without.x_bar) &&
               identical(with.theta_bar, without.theta_bar);
    MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    EXPECT_TRUE(same) << what << ": the gradient with the tape differs from the one without";

    // Storage::checkpoints records none, even when asked.
    Rk4Adjoint checkpoints(0.25, Rk4Adjoint::Storage::checkpoints);
    GeneState x("x", n, n_genes);
    Kokkos::deep_copy(x, tissue.owned_genes());
    checkpoints.forward(model, x, 0.0, 1.0, &model);
    EXPECT_EQ(checkpoints.tape_bytes(), 0u) << what;
  }
}
