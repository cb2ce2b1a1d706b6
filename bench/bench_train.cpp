// Seconds per training iteration of the graph_ode model (SPEC §3; the learning issue's benchmark): the
// one_step objective with its exact gradient (rk4 discrete adjoint) plus one AdamW step, on a dataset built
// in memory; and, on one tissue, the forward solve against the reverse sweep it differentiates.
//   mpirun -np R build/bin/tessera_bench_train [--cells 100,10000] [--genes 100,20] [--regulators 5]
//        [--pairs 4] [--starts 10] [--substeps 1] [--iterations 5] [--repeat 5] [--tile-nodes 4096]
//        [--families sigmoid,hill] [--precision double|mixed]   (families: sigmoid, sigmoid_log, hill)
//   build/bin/tessera_bench_train --cells 100 --genes 100 --write-dataset data.h5
// --cells and --genes are paired (100 cells x 100 genes, then 10^4 cells x 20 genes). The STAGED reference
// architecture: one GAT head, H = M = 64, L = 3, weights shared by the 3 cell types. Then one iteration of
// each per-edge family of --families on the same problem and candidate graph. --write-dataset writes the
// dataset of the first size (with its prior graph and LR pairs) as a trajectory dataset and times nothing:
// bench/train_cli.sh fits it with `tessera train`, so the CLI figure is on the very same data.
// --precision mixed runs graph_ode's hidden layers in float (GraphOdeOptions::precision) and also prints how
// far its loss and gradient over all start times lie from a double-precision model's with the same
// parameters.
#include "bench_common.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/grn/sigmoid.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/learn/adamw.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/objective.hpp"
#include "tessera/learn/trainer.hpp"

#include <Kokkos_Core.hpp>
#include <cblas.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace tessera;
using bench::max_over_ranks;
using bench::now;
using bench::parse_list;

namespace {

struct Problem {
  long long cells = 100;
  int genes = 100;
  int regulators = 5; // prior in-edges per target gene and cell type
  int pairs = 4;      // ligand -> receptor pairs
  int times = 12;     // observation times 0, 1, ..., 11 min
  double spacing = 1.0;
};

const std::vector<std::string> type_names = {"a", "b", "c"};

// Each type's prior graph: `regulators` distinct random sources (not k) for every target gene k.
GeneNetwork prior_network(const Problem& p) {
  GeneNetwork net;
  net.model = "graph_ode";
  for (int g = 0; g < p.genes; ++g)
    net.genes.push_back("g" + std::to_string(g));
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> gene(0, p.genes - 1);
  for (int c = 0; c < static_cast<int>(type_names.size()); ++c)
    for (int k = 0; k < p.genes; ++k) {
      std::vector<int> sources;
      while (static_cast<int>(sources.size()) < std::min(p.regulators, p.genes - 1)) {
        const int j = gene(rng);
        if (j != k && std::find(sources.begin(), sources.end(), j) == sources.end()) sources.push_back(j);
      }
      for (int j : sources)
        net.edges.push_back({c, j, k, +1, 1.0, 0.5, 2.0});
    }
  return net;
}

// Ligand 2q signals to receptor 2q + 1 within 20 um, w(d) = exp(-d / 10 um).
SignalingParams signaling(const Problem& p) {
  SignalingParams s;
  for (int q = 0; q < p.pairs && 2 * q + 1 < p.genes; ++q) {
    LigandReceptorPair pair;
    pair.ligand = 2 * q;
    pair.receptor = 2 * q + 1;
    s.pairs.push_back(pair);
  }
  s.range = 20.0;
  s.length = 10.0;
  return s;
}

// Cells at fixed uniform positions, 0.005 cells/um^2 (about 6 neighbours within 20 um), types i mod 3; each
// gene relaxes towards a level of its own: x(t) = level + (x0 - level) exp(-t / 2 min).
Domain domain_of(const Problem& p) {
  Domain d;
  d.dim = 2;
  const double side = std::sqrt(static_cast<double>(p.cells) / 0.005);
  d.hi = {side, side, 0.0};
  return d;
}

TrajectoryDataset make_dataset(const Problem& p, const GeneNetwork& net) {
  TrajectoryDataset ds;
  ds.genes = net.genes;
  ds.cell_types = type_names;
  const double side = domain_of(p).hi[0];
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x0, level;
  for (long long i = 0; i < p.cells; ++i) {
    ds.cell_id.push_back(static_cast<std::uint64_t>(i + 1));
    ds.cell_type.push_back(static_cast<std::int32_t>(i % 3));
    ds.positions.push_back(side * u(rng));
    ds.positions.push_back(side * u(rng));
    for (int g = 0; g < p.genes; ++g) {
      x0.push_back(2.0 * u(rng));
      level.push_back(0.5 + 0.5 * u(rng));
    }
  }
  const std::size_t G = static_cast<std::size_t>(p.genes);
  for (int k = 0; k < p.times; ++k) {
    const double t = k * p.spacing;
    ds.time.push_back(t);
    for (std::size_t e = 0; e < x0.size(); ++e)
      ds.expression.push_back(level[e] + (x0[e] - level[e]) * std::exp(-0.5 * t));
  }
  for (const RegulatoryEdge& e : net.edges)
    ds.prior_grn[type_names[static_cast<std::size_t>(e.type)]].push_back({e.source, e.target});
  for (const LigandReceptorPair& pair : signaling(p).pairs)
    ds.ligand_receptor.push_back({pair.ligand, pair.receptor});
  (void)G;
  return ds;
}

// Counts the model's evaluations, so the flop count per iteration follows what Rk4Adjoint really does.
struct CountingRhs : GeneRhs, AdjointGeneRhs {
  const GraphOdeModel* model = nullptr;
  mutable long long evaluations = 0, vjps = 0;
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override {
    ++evaluations;
    model->evaluate(t, x, dxdt);
  }
  void vjp(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
           ParameterGradient theta_bar) const override {
    ++vjps;
    model->vjp(t, x, lambda, x_bar, theta_bar);
  }
};

double sum_over_ranks(double v) {
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return out;
}

// Seconds of one timed section on the slowest rank: wall clock and the thread's CPU time.
struct Seconds {
  double wall = INFINITY, cpu = INFINITY;
};

// The best of `repeat` timings of f (each: the slowest rank): the machine is shared, and the minimum is the
// figure least disturbed by other processes.
template <class F>
Seconds best_time(int repeat, F&& f) {
  Seconds best;
  for (int r = 0; r < repeat; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = now(), c0 = bench::thread_cpu_now();
    f();
    Kokkos::fence();
    best.wall = std::min(best.wall, max_over_ranks(now() - t0));
    best.cpu = std::min(best.cpu, max_over_ranks(bench::thread_cpu_now() - c0));
  }
  return best;
}

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

void run(const Problem& p, int starts, int substeps, int iterations, int repeat, GraphOdeOptions options,
         int rank, int ranks) {
  const GeneNetwork net = prior_network(p);
  const SignalingParams sig = signaling(p);
  const TrajectoryDataset ds = make_dataset(p, net);
  GraphOdeArchitecture arch; // the defaults are the reference architecture: GAT, K = 1, H = M = 64, L = 3
  GraphOdeParameters parameters(arch, net.genes, type_names);
  parameters.glorot_init(1, 0.1);
  GraphOdeParameters double_parameters(arch, net.genes, type_names); // its own values (copies share them)
  double_parameters.set_flat(parameters.flat());
  GraphOdeModel model(std::move(parameters), net, sig.pairs, options);
  const double dt = p.spacing / substeps;
  const TrajectoryObjective objective(MPI_COMM_WORLD, domain_of(p), {0, 0, 0}, sig, ds, dt);

  // ---- The mixed precision's accuracy: loss and gradient over every start time against double's.
  if (options.precision == GraphOdePrecision::mixed) {
    GraphOdeOptions double_options = options;
    double_options.precision = GraphOdePrecision::double_precision;
    GraphOdeModel reference(std::move(double_parameters), net, sig.pairs, double_options);
    std::vector<int> all_starts;
    for (int k = 0; k + 1 < p.times; ++k)
      all_starts.push_back(k);
    const auto& shape = model.parameters().values();
    ParameterGradient g_mixed("g_mixed", shape.extent(0), shape.extent(1)),
        g_double("g_double", shape.extent(0), shape.extent(1));
    const double loss_mixed = objective.evaluate(model, all_starts, g_mixed);
    const double loss_double = objective.evaluate(reference, all_starts, g_double);
    const auto gm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g_mixed);
    const auto gd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g_double);
    const auto& layout = model.parameters().layout();
    double difference = 0.0, norm = 0.0, largest = 0.0, largest_difference = 0.0;
    std::string worst;
    double worst_relative = 0.0;
    std::vector<std::tuple<std::string, double, double>> tensor_norms; // name, |g_double|, |difference|
    for (const auto& tensor : layout.tensors()) { // per tensor: its relative difference in norm
      double d2 = 0.0, n2 = 0.0;
      for (std::size_t e = tensor.offset; e < tensor.offset + tensor.size(); ++e) {
        const double d = gm(0, e) - gd(0, e);
        d2 += d * d;
        n2 += gd(0, e) * gd(0, e);
        largest = std::max(largest, std::abs(gd(0, e)));
        largest_difference = std::max(largest_difference, std::abs(d));
      }
      difference += d2;
      norm += n2;
      tensor_norms.push_back({tensor.name, std::sqrt(n2), std::sqrt(d2)});
    }
    // The worst tensor among those whose gradient is not negligible (GAT's a_dst has a gradient of ~1e-22:
    // its term is the same for every in-edge of a node, so the softmax cancels it but for LeakyReLU's kink).
    for (const auto& [name, n, d] : tensor_norms)
      if (n >= 1e-6 * std::sqrt(norm) && d / n > worst_relative) {
        worst_relative = d / n;
        worst = name;
      }
    if (rank == 0)
      std::printf("mixed against double, %zu starts, same parameters: loss %.17g against %.17g (relative "
                  "%.2e); gradient |g_mixed - g_double| / |g_double| %.2e (2-norm), max |difference| / max "
                  "|g_double| %.2e; worst tensor %s at %.2e\n",
                  all_starts.size(), loss_mixed, loss_double,
                  std::abs(loss_mixed - loss_double) / loss_double, std::sqrt(difference / norm),
                  largest_difference / largest, worst.c_str(), worst_relative);
  }
  TrainParams train;
  train.lr = 1e-3;
  AdamW adam(train);

  // ---- One tissue (start 0): RHS and VJP alone, the forward solve and the reverse sweep over one interval.
  Seconds rhs, vjp, rhs_recording, vjp_replaying, forward, forward_untaped, reverse, reverse_untaped,
      reverse_recompute;
  double nodes = 0, edges = 0, rhs_flops = 0, vjp_flops = 0, vjp_taped_flops = 0;
  long long evaluations_forward = 0, evaluations_reverse = 0, vjps_reverse = 0;
  bool same_gradient = false;
  objective.visit_tissue(model, 0, [&](const Cells<>&, GeneState x, const std::vector<std::size_t>&) {
    const std::size_t n = x.extent(0), G = x.extent(1);
    GeneState x0("x0", n, G), f("f", n, G), x_bar("x_bar", n, G), lambda("lambda", n, G);
    Kokkos::deep_copy(x0, x);
    Kokkos::deep_copy(lambda, 1e-3);
    const auto& values = model.parameters().values();
    ParameterGradient theta_bar("theta_bar", values.extent(0), values.extent(1));
    const GraphOdeAttention attention = model.attention_weights(x); // collective
    const double local_edges = attention.offsets.empty() ? 0.0 : attention.offsets.back();
    nodes = sum_over_ranks(static_cast<double>(n * G));
    edges = sum_over_ranks(local_edges);
    // Both flop models are linear in the in-edges, so the mean in-degree gives the exact total.
    rhs_flops = nodes * model.flops_per_node(edges / nodes);
    vjp_flops = nodes * model.vjp_flops_per_node(edges / nodes);
    vjp_taped_flops = nodes * model.vjp_flops_per_node(edges / nodes, true);

    model.evaluate(0.0, x, f); // warm-up: allocations, first touch
    model.vjp(0.0, x, lambda, x_bar, theta_bar);
    rhs = best_time(repeat, [&] { model.evaluate(0.0, x, f); });
    vjp = best_time(repeat, [&] { model.vjp(0.0, x, lambda, x_bar, theta_bar); });
    // The same two with the activation tape, as Rk4Adjoint runs them: the RHS recording, the VJP replaying.
    ActivationSlot slot;
    model.record_activations(&slot);
    model.evaluate(0.0, x, f);
    rhs_recording = best_time(repeat, [&] { model.evaluate(0.0, x, f); });
    model.record_activations(nullptr);
    model.replay_activations(&slot);
    model.vjp(0.0, x, lambda, x_bar, theta_bar);
    vjp_replaying = best_time(repeat, [&] { model.vjp(0.0, x, lambda, x_bar, theta_bar); });
    model.replay_activations(nullptr);

    CountingRhs counting;
    counting.model = &model;
    Rk4Adjoint rk4(dt);
    rk4.forward(counting, x, 0.0, p.spacing);
    evaluations_forward = counting.evaluations;
    Kokkos::deep_copy(x_bar, lambda);
    rk4.reverse(counting, counting, x_bar, theta_bar);
    evaluations_reverse = counting.evaluations - evaluations_forward;
    vjps_reverse = counting.vjps;
    // Without the tape first (the VJPs recompute the hidden layer), then with it (what the objective runs).
    forward_untaped = best_time(repeat, [&] {
      Kokkos::deep_copy(x, x0);
      rk4.forward(model, x, 0.0, p.spacing);
    });
    reverse_untaped = best_time(repeat, [&] {
      Kokkos::deep_copy(x_bar, lambda);
      rk4.reverse(model, model, x_bar, theta_bar);
    });
    forward = best_time(repeat, [&] {
      Kokkos::deep_copy(x, x0);
      rk4.forward(model, x, 0.0, p.spacing, &model);
    });
    reverse = best_time(repeat, [&] {
      Kokkos::deep_copy(x_bar, lambda);
      rk4.reverse(model, model, x_bar, theta_bar);
    });

    // The same interval keeping only checkpoints (the stages recomputed, no tape): its time, and a check that
    // both give bit-identical gradients (the tape holds the values the VJP would recompute, from the same
    // BLAS calls on the same operands).
    GeneState x_bar_stages("x_bar_stages", n, G);
    ParameterGradient theta_stages("theta_stages", values.extent(0), values.extent(1));
    Kokkos::deep_copy(x, x0);
    rk4.forward(model, x, 0.0, p.spacing, &model);
    Kokkos::deep_copy(x_bar_stages, lambda);
    rk4.reverse(model, model, x_bar_stages, theta_stages);
    Rk4Adjoint checkpoints(dt, Rk4Adjoint::Storage::checkpoints);
    Kokkos::deep_copy(x, x0);
    checkpoints.forward(model, x, 0.0, p.spacing);
    Kokkos::deep_copy(theta_bar, 0.0);
    Kokkos::deep_copy(x_bar, lambda);
    checkpoints.reverse(model, model, x_bar, theta_bar);
    int same = identical(x_bar, x_bar_stages) && identical(theta_bar, theta_stages);
    MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    same_gradient = same != 0;
    reverse_recompute = best_time(repeat, [&] {
      Kokkos::deep_copy(x_bar, lambda);
      checkpoints.reverse(model, model, x_bar, theta_bar);
    });
  });

  // ---- Training iterations: loss and gradient over `starts` sampled start times, then one AdamW step.
  const auto& values = model.parameters().values();
  ParameterGradient gradient("gradient", values.extent(0), values.extent(1));
  std::vector<int> train_starts;
  for (int k = 0; k + 1 < p.times; ++k)
    train_starts.push_back(k);
  long long i = 0;
  auto iteration = [&] {
    const std::vector<int> chosen = sample_starts(train_starts, starts, 11, i++);
    objective.evaluate(model, chosen, gradient);
    adam.step(model.parameters(), gradient);
  };
  iteration(); // warm-up
  const Seconds per_iteration = best_time(iterations, iteration);

  // The VJPs replay the activation tape: the objective keeps it while a window's stage states and tape fit
  // its 1 GiB per rank (4 x substeps x nodes x (L-2) x M doubles: 205 MB for 10^4 nodes and 10 substeps).
  const double iteration_flops = static_cast<double>(starts) *
                                 (static_cast<double>(evaluations_forward + evaluations_reverse) * rhs_flops +
                                  static_cast<double>(vjps_reverse) * vjp_taped_flops);
  if (rank != 0) return;
  std::printf(
      "cells %lld  genes %d  ranks %d  nodes %.0f  in-edges/node %.2f (self loop, %d prior regulators "
      "per gene and type, %d LR pairs)  substeps/interval %d\n",
      p.cells, p.genes, ranks, nodes, edges / nodes, p.regulators, static_cast<int>(sig.pairs.size()),
      substeps);
  std::printf(
      "  flops/node  RHS %.0f  VJP %.0f  (VJP/RHS %.2f); replaying the tape VJP %.0f (VJP/RHS %.2f)\n",
      rhs_flops / nodes, vjp_flops / nodes, vjp_flops / rhs_flops, vjp_taped_flops / nodes,
      vjp_taped_flops / rhs_flops);
  auto line = [&](const char* what, const Seconds& s, double flops) {
    std::printf("  %-30s wall %9.3f ms  cpu %9.3f ms", what, 1e3 * s.wall, 1e3 * s.cpu);
    if (flops > 0)
      std::printf("  %7.1f ns/node/rank  %6.2f GFLOP/s/rank", 1e9 * s.wall * ranks / nodes,
                  1e-9 * flops / s.wall / ranks);
    std::printf("\n");
  };
  line("RHS", rhs, rhs_flops);
  line("VJP (state + parameters)", vjp, vjp_flops);
  line("RHS recording the tape", rhs_recording, rhs_flops);
  line("VJP replaying the tape", vjp_replaying, vjp_taped_flops);
  line("forward solve (recording)", forward, 0);
  line("forward solve (no tape)", forward_untaped, 0);
  line("reverse sweep (stages + tape)", reverse, 0);
  line("reverse sweep (stages, no tape)", reverse_untaped, 0);
  line("reverse sweep (recomputed)", reverse_recompute, 0);
  line("iteration", per_iteration, 0);
  std::printf(
      "  VJP/RHS %.2f (cpu %.2f) with the tape (VJP replaying / RHS), %.2f without  gradient/forward "
      "%.2f (cpu %.2f; without the tape %.2f; recomputing the stages %.2f)  forward %lld RHS, reverse "
      "%lld RHS + %lld VJP; stages + tape and checkpoints give %s gradients\n",
      vjp_replaying.wall / rhs.wall, vjp_replaying.cpu / rhs.cpu, vjp.wall / rhs.wall,
      reverse.wall / forward.wall, reverse.cpu / forward.cpu, reverse_untaped.wall / forward_untaped.wall,
      reverse_recompute.wall / forward_untaped.wall, evaluations_forward, evaluations_reverse, vjps_reverse,
      same_gradient ? "bit-identical" : "DIFFERENT");
  std::printf("  iteration (%d starts, best of %d): %.4f s wall, %.4f s cpu;  %.3g flops = %.2f GFLOP/s, "
              "%.2f GFLOP/s per rank\n",
              starts, iterations, per_iteration.wall, per_iteration.cpu, iteration_flops,
              1e-9 * iteration_flops / per_iteration.wall,
              1e-9 * iteration_flops / per_iteration.wall / ranks);
}

// One training iteration (loss and gradient over `starts` sampled start times, then an AdamW step) of a
// per-edge family (sigmoid, hill) on the same problem and candidate graph as run()'s graph_ode: what issue 9
// compares ("an iteration of sigmoid costs no more than graph_ode's").
void run_family(const Problem& p, const std::string& family, int starts, int substeps, int iterations,
                int rank) {
  const GeneNetwork net = prior_network(p);
  const SignalingParams sig = signaling(p);
  const TrajectoryDataset ds = make_dataset(p, net);
  std::unique_ptr<TrainableGeneModel> model;
  if (family == "sigmoid" || family == "sigmoid_log") {
    SigmoidConfig config;
    config.init = SigmoidConfig::Init::random;
    config.inputs.log = family == "sigmoid_log"; // grn.sigmoid.inputs: log (one log per edge and node)
    model = make_sigmoid_model(MPI_COMM_WORLD, config, net, sig, type_names);
  } else {
    LearnableHillConfig config;
    config.init = LearnableHillConfig::Init::constant;
    config.learn_n = false;
    model = make_learnable_hill_model(MPI_COMM_WORLD, config, net, sig, type_names);
  }
  const TrajectoryObjective objective(MPI_COMM_WORLD, domain_of(p), {0, 0, 0}, sig, ds, p.spacing / substeps);
  TrainParams train;
  train.lr = 1e-3;
  AdamW adam(train);
  const auto& values = model->parameters().values();
  ParameterGradient gradient("gradient", values.extent(0), values.extent(1));
  std::vector<int> train_starts;
  for (int k = 0; k + 1 < p.times; ++k)
    train_starts.push_back(k);
  long long i = 0;
  auto iteration = [&] {
    const std::vector<int> chosen = sample_starts(train_starts, starts, 11, i++);
    objective.evaluate(*model, chosen, gradient);
    adam.step(model->parameters(), gradient);
  };
  iteration(); // warm-up
  const Seconds per_iteration = best_time(iterations, iteration);
  if (rank == 0)
    std::printf(
        "  %s (n fixed for hill; %zu parameters) iteration (%d starts, best of %d): %.4f s wall, %.4f "
        "s cpu\n",
        family.c_str(), model->parameters().size(), starts, iterations, per_iteration.wall,
        per_iteration.cpu);
}

// What one core reaches on a large square dgemm (OpenBLAS, every rank at once): the practical ceiling the
// fraction of peak is read against, beside the nominal 2 FMA x 4 doubles x clock.
void reference_dgemm(int rank, int repeat) {
  const int n = 1024;
  std::vector<double> a(static_cast<std::size_t>(n) * n, 0.5), b(a), c(a.size(), 0.0);
  const Seconds s = best_time(repeat, [&] {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a.data(), n, b.data(), n, 0.0,
                c.data(), n);
  });
  if (rank == 0)
    std::printf("reference: dgemm %d^3 on every rank: %.2f GFLOP/s per rank (wall), %.2f (cpu)\n", n,
                2e-9 * n * n * static_cast<double>(n) / s.wall,
                2e-9 * n * n * static_cast<double>(n) / s.cpu);
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int exit_code = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    std::vector<long long> cells{100, 10000}, genes{100, 20};
    Problem base;
    int starts = 10, substeps = 1, iterations = 5, repeat = 5;
    // timed beside graph_ode (--families, "" none; also sigmoid_log: sigmoid with grn.sigmoid.inputs: log)
    std::vector<std::string> families{"sigmoid", "hill"};
    GraphOdeOptions options;
    std::string dataset_path;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i];
      if (a == "--cells") cells = parse_list(argv[i + 1]);
      if (a == "--genes") genes = parse_list(argv[i + 1]);
      if (a == "--regulators") base.regulators = std::stoi(argv[i + 1]);
      if (a == "--pairs") base.pairs = std::stoi(argv[i + 1]);
      if (a == "--starts") starts = std::stoi(argv[i + 1]);
      if (a == "--substeps") substeps = std::stoi(argv[i + 1]);
      if (a == "--iterations") iterations = std::stoi(argv[i + 1]);
      if (a == "--repeat") repeat = std::stoi(argv[i + 1]);
      if (a == "--tile-nodes") options.tile_nodes = std::stoi(argv[i + 1]);
      if (a == "--precision")
        options.precision = std::string(argv[i + 1]) == "mixed" ? GraphOdePrecision::mixed
                                                                : GraphOdePrecision::double_precision;
      if (a == "--write-dataset") dataset_path = argv[i + 1];
      if (a == "--families") {
        families.clear();
        std::string list = argv[i + 1];
        for (std::size_t at = 0; at <= list.size();) {
          const std::size_t end = std::min(list.find(',', at), list.size());
          if (end > at) families.push_back(list.substr(at, end - at));
          at = end + 1;
        }
      }
    }
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    for (const std::string& family : families)
      if (family != "sigmoid" && family != "sigmoid_log" && family != "hill") {
        if (rank == 0)
          std::fprintf(stderr, "--families: unknown family '%s' (sigmoid, sigmoid_log, hill)\n",
                       family.c_str());
        exit_code = 2;
      }
    if (exit_code != 0) {
      // nothing to time
    } else if (!dataset_path.empty()) {
      Problem p = base;
      p.cells = cells.front();
      p.genes = static_cast<int>(genes.front());
      if (rank == 0) {
        write_dataset(dataset_path, make_dataset(p, prior_network(p)));
        std::printf("%s: %lld cells x %d genes x %zu types, %d times %g min apart, box side %.17g um\n",
                    dataset_path.c_str(), p.cells, p.genes, type_names.size(), p.times, p.spacing,
                    domain_of(p).hi[0]);
      }
    } else {
      reference_dgemm(rank, repeat);
      for (std::size_t c = 0; c < cells.size() && c < genes.size(); ++c) {
        Problem p = base;
        p.cells = cells[c];
        p.genes = static_cast<int>(genes[c]);
        run(p, starts, substeps, iterations, repeat, options, rank, ranks);
        for (const std::string& family : families)
          run_family(p, family, starts, substeps, iterations, rank);
      }
    }
  }
  MPI_Finalize();
  return exit_code;
}
