// The graph_ode VJP on a tissue split over ranks (SPEC §3.3-3.4): ghost cells' ligand cotangents go back to
// their owners (reverse halo), so the gradient w.r.t. each owned state, and the parameter gradient summed
// over ranks, equal those of the whole tissue on one rank; the same through the rk4 adjoint.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>

using namespace tessera;

namespace {

constexpr int n_total = 160;
constexpr int n_genes = 5;

Domain tissue_domain() {
  Domain d;
  d.dim = 2;
  d.hi = {120.0, 90.0, 0.0};
  d.periodic = {true, false, false}; // periodic images in x, walls in y
  return d;
}

GeneNetwork network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = {"A", "B", "C", "D", "E"};
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {0, 3, 0, +1, 1, 0.5, 2},
               {1, 4, 0, -1, 1, 0.5, 2},  {1, 2, 3, +1, 1, 0.5, 2},  {0, 0, 4, +1, 1, 0.5, 2}};
  return net;
}

SignalingParams signaling() {
  SignalingParams p;
  LigandReceptorPair a, b, c;
  a.ligand = 0;
  a.receptor = 3;
  b.ligand = 2;
  b.receptor = 3;
  c.ligand = 1;
  c.receptor = 4;
  p.pairs = {a, b, c};
  p.range = 14.0;
  p.length = 20.0;
  p.autocrine = true;
  return p;
}

// Every cell's position, type, state and cotangent, drawn identically on every rank.
struct GlobalTissue {
  std::vector<double> x, y, genes, lambda;
  std::vector<int> type;
  GlobalTissue() {
    std::mt19937 rng(77);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n_total; ++i) {
      x.push_back(120.0 * u(rng));
      y.push_back(90.0 * u(rng));
      type.push_back(i % 2);
      for (int k = 0; k < n_genes; ++k) {
        genes.push_back(-0.3 + 2.3 * u(rng));
        lambda.push_back(-1.0 + 2.0 * u(rng));
      }
    }
  }
};

struct Result {
  std::map<std::uint64_t, std::vector<double>> x_bar; // owned cells by id
  std::vector<double> theta_bar;                      // this communicator's ranks summed
  // The same for the loss <lambda, x(t1)> through rk4 from x(t0) = the state (Rk4Adjoint).
  std::map<std::uint64_t, std::vector<double>> x0_bar;
  std::vector<double> rk4_theta_bar;
  int fd_checked = 0, fd_failed = 0; // central differences of <lambda, f> over all ranks vs x_bar
};

// The VJP of the tissue split over `comm`, built with tessera's own halo, neighbour search and graph.
Result vjp_on(MPI_Comm comm, const GraphOdeParameters& parameters) {
  const GlobalTissue global;
  const Domain domain = tissue_domain();
  const CartesianDecomposition decomposition(comm, domain, {0, 0, 0});
  const SignalingParams params = signaling();

  Cells<> cells(2, n_genes, n_total);
  auto id = Kokkos::create_mirror_view(cells.id);
  auto type = Kokkos::create_mirror_view(cells.type);
  auto position = Kokkos::create_mirror_view(cells.position);
  auto radius = Kokkos::create_mirror_view(cells.radius);
  auto genes = Kokkos::create_mirror_view(cells.genes);
  std::vector<double> lambda_rows;
  std::size_t n = 0;
  for (int i = 0; i < n_total; ++i) {
    const double p[3] = {global.x[i], global.y[i], 0.0};
    if (!decomposition.owns(p)) continue;
    id(n) = static_cast<std::uint64_t>(i);
    type(n) = global.type[i];
    for (int a = 0; a < 3; ++a)
      position(n, a) = p[a];
    radius(n) = 5.0;
    for (int k = 0; k < n_genes; ++k) {
      genes(n, k) = global.genes[i * n_genes + k];
      lambda_rows.push_back(global.lambda[i * n_genes + k]);
    }
    ++n;
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.type, type);
  Kokkos::deep_copy(cells.position, position);
  Kokkos::deep_copy(cells.radius, radius);
  Kokkos::deep_copy(cells.genes, genes);
  cells.n_owned = n;
  cells.n_ghost = 0;

  const HaloPlan halo = refresh_ghosts(decomposition, params.range, cells);
  NeighbourSearch search;
  const NeighbourList neighbours = search.build(cells, params.range);
  const SignalingGraph graph = build_signaling_graph(cells, neighbours, params);
  LigandExchange exchange(params.ligand_genes());
  exchange.set_halo(&halo, cells.n_owned, cells.n_ghost);

  GraphOdeModel model(parameters, network(), params.pairs);
  model.set_cell_types(cells.type);
  model.set_signaling(&graph, &exchange);
  const ConstGeneState x = Kokkos::subview(cells.genes, std::make_pair(std::size_t(0), n), Kokkos::ALL);
  GeneState lambda("lambda", n, n_genes), x_bar("x_bar", n, n_genes);
  auto lambda_host = Kokkos::create_mirror_view(lambda);
  for (std::size_t r = 0; r < n; ++r)
    for (int k = 0; k < n_genes; ++k)
      lambda_host(r, k) = lambda_rows[r * n_genes + k];
  Kokkos::deep_copy(lambda, lambda_host);
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
  model.vjp(0.0, x, lambda, x_bar, theta_bar);

  Result out;
  auto collect = [&](const GeneState& state_bar, const ParameterGradient& parameter_bar,
                     std::map<std::uint64_t, std::vector<double>>& rows, std::vector<double>& summed) {
    const auto xb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_bar);
    for (std::size_t r = 0; r < n; ++r)
      rows[id(r)] = std::vector<double>(&xb(r, 0), &xb(r, 0) + n_genes);
    const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameter_bar);
    summed.assign(tb.data(), tb.data() + tb.size());
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, summed.data(), static_cast<int>(summed.size()), MPI_DOUBLE,
                             MPI_SUM, comm),
               "MPI_Allreduce");
  };
  collect(x_bar, theta_bar, out.x_bar, out.theta_bar);

  // Central differences of the rank-summed <lambda, f(x)> w.r.t. every gene of the first 30 cells (ids),
  // perturbed by their owner; a ghost's ligand feeds its neighbours on other ranks, so this checks the
  // reverse halo against the forward halo directly. Step 1e-6: FD error ~1e-12 plus rounding 1e-16 |J| / h.
  GeneState trial("trial", n, n_genes), f("f", n, n_genes);
  auto trial_host = Kokkos::create_mirror_view(trial);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto xb_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  auto objective = [&](std::uint64_t target, int gene, double delta, double* scale) {
    Kokkos::deep_copy(trial_host, x_host);
    for (std::size_t r = 0; r < n; ++r)
      if (id(r) == target) trial_host(r, gene) += delta;
    Kokkos::deep_copy(trial, trial_host);
    model.evaluate(0.0, trial, f);
    const auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
    double sums[2] = {0.0, 0.0};
    for (std::size_t r = 0; r < n; ++r)
      for (int k = 0; k < n_genes; ++k) {
        sums[0] += lambda_host(r, k) * fh(r, k);
        sums[1] += std::fabs(lambda_host(r, k) * fh(r, k));
      }
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce");
    if (scale) *scale = sums[1];
    return sums[0];
  };
  const double h = 1e-6;
  for (std::uint64_t target = 0; target < 30; ++target)
    for (int gene = 0; gene < n_genes; ++gene) {
      double scale = 0.0;
      const double j0 = objective(target, gene, 0.0, &scale);
      const double jp = objective(target, gene, h, nullptr), jm = objective(target, gene, -h, nullptr);
      const double jp2 = objective(target, gene, 2 * h, nullptr),
                   jm2 = objective(target, gene, -2 * h, nullptr);
      double expected = 0.0;
      for (std::size_t r = 0; r < n; ++r)
        if (id(r) == target) expected = xb_host(r, gene);
      mpi::check(MPI_Allreduce(MPI_IN_PLACE, &expected, 1, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce");
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
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2}) {
    GraphOdeArchitecture a;
    a.variant = variant;
    a.heads = 2;
    a.hidden = 6;
    a.mlp_width = 8;
    a.mlp_layers = 3;
    a.share = ParameterSharing::per_type;
    GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
    parameters.glorot_init(11, 0.2);
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
    auto compare = [&](const std::map<std::uint64_t, std::vector<double>>& got,
                       const std::map<std::uint64_t, std::vector<double>>& want, double tolerance,
                       const std::string& what) {
      double largest = 0.0;
      for (const auto& [id, row] : want)
        for (double v : row)
          largest = std::max(largest, std::fabs(v));
      ASSERT_GT(largest, 0.0);
      for (const auto& [id, row] : got) {
        ASSERT_EQ(want.count(id), 1u);
        for (int k = 0; k < n_genes; ++k)
          EXPECT_NEAR(row[k], want.at(id)[k], tolerance * largest)
              << to_string(variant) << " " << what << " cell " << id << " gene " << k;
      }
    };
    auto compare_parameters = [&](const std::vector<double>& got, const std::vector<double>& want,
                                  double tolerance, const std::string& what) {
      double largest = 0.0;
      for (double v : want)
        largest = std::max(largest, std::fabs(v));
      ASSERT_GT(largest, 0.0);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t e = 0; e < want.size(); ++e)
        EXPECT_NEAR(got[e], want[e], tolerance * largest) << to_string(variant) << " " << what << " " << e;
    };
    compare(split.x_bar, whole.x_bar, 1e-12, "x_bar");
    compare_parameters(split.theta_bar, whole.theta_bar, 1e-12, "theta_bar");
    compare(split.x0_bar, whole.x0_bar, 1e-11, "rk4 x0_bar");
    compare_parameters(split.rk4_theta_bar, whole.rk4_theta_bar, 1e-11, "rk4 theta_bar");
  }
}
