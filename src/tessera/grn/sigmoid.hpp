// The trainable `sigmoid` gene model (SPEC §2.4), the classic neural GRN ODE with one parameter per candidate
// edge:  dx_ik/dt = beta_ck sigma(sum_{j->k} W_e u(x_ij) + sum_{(l,k) in LR} V_cq u(s_iq) + b_ck) - gamma_ck
// x_ik, where c is cell i's type, e runs over the candidate edges of type c (CandidateEdges), s_iq is the
// signal of pair q's ligand received by cell i, and u the input transform (SigmoidInputs: u(v) = v, the
// classic model, or u(v) = log(max(v, 0) + epsilon)). Its learned network is W and V, signed.
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/grn/candidate_edges.hpp"
#include "tessera/grn/cells_by_type.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/graph_ode_parameters.hpp"
#include "tessera/grn/model_parameters.hpp"
#include "tessera/grn/received_signal.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/grn/trainable_model.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

class Deck;

// What the drive sees of a regulator's value or a received signal v: v itself (`linear`, the classic model),
// or log(max(v, 0) + offset) (`log`). With log inputs one regulator's term beta sigma(W log v + b) is a Hill
// function of v (v^W / (v^W + e^-b) at offset 0, Hill coefficient |W|, threshold e^(-b/W)), so the model
// holds the power-law tails of Hill regulation that a sigmoid of v itself, with exponential tails, cannot
// fit.
struct SigmoidInputs {
  bool log = false;
  double offset = 0.05; // expression units; only with `log`
};

std::string to_string(const SigmoidInputs& inputs); // "linear" or "log"

// The deck's `grn.sigmoid` keys.
struct SigmoidConfig {
  enum class Init { ridge, zero, random };
  PriorGraph prior = PriorGraph::edges;
  std::string model_file;       // resolved path; empty: initialise
  Init init = Init::ridge;      // ridge: `train` warm-starts from its ridge fit; otherwise as `zero`
  std::uint64_t init_seed = 1;  // CounterRng seed of `random`
  double decay_init = 0.1;      // initial gamma, 1/min
  double production_init = 1.0; // initial beta, expression/min
  SigmoidInputs inputs;         // `inputs`, `log_offset`
};

std::string to_string(SigmoidConfig::Init init); // "ridge", "zero", "random"

// Reads `grn.sigmoid` (defaults when absent). Not collective.
SigmoidConfig read_sigmoid_config(const Deck& deck);

// The one parameter set ("all") of a sigmoid model over `candidates`, in storage order: W [E] (one per
// candidate edge, sparse), V [T][P] (sparse), b [T][G], beta_rho [T][G] and gamma_rho [T][G] (beta =
// softplus(beta_rho), gamma = softplus(gamma_rho)).
ParameterLayout sigmoid_layout(const CandidateEdges& candidates);

// sigma(z) = 1 / (1 + exp(-z)), never exp of a positive argument.
KOKKOS_INLINE_FUNCTION double logistic(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + math::exp(-z));
  const double e = math::exp(z);
  return e / (1.0 + e);
}

// Where each tensor starts in the parameter set (raw pointers into the parameter View, which outlives every
// launch) and the per-(type, gene) rates computed from them.
struct SigmoidTensors {
  const double* W = nullptr;
  const double* V = nullptr;               // [type][pair]
  const double* b = nullptr;               // [type][gene]
  Kokkos::View<const double*> beta, gamma; // [type * G + k]
  int n_pairs = 0;
  double log_offset = 0.0; // > 0: log inputs (SigmoidInputs); 0: linear

  // u(v) and du/dv. Below 0 (an integrator's overshoot) u stays at log(offset) and its slope is 0.
  KOKKOS_INLINE_FUNCTION double input(double v) const {
    return log_offset > 0.0 ? math::log((v > 0.0 ? v : 0.0) + log_offset) : v;
  }
  KOKKOS_INLINE_FUNCTION double input_slope(double v) const {
    if (log_offset <= 0.0) return 1.0;
    return v > 0.0 ? 1.0 / (v + log_offset) : 0.0;
  }
};

// The candidate graph and the signal a kernel reads.
struct SigmoidGraph {
  Kokkos::View<const int*> cell_type;
  Kokkos::View<const int*> offsets, source; // CandidateEdges
  bool signaling = false;
  Kokkos::View<const int*> receptor_offsets, receptor_pair, receptor_column;
  Kokkos::View<const double**, Kokkos::LayoutRight> signal; // owned cells x ligand columns
  // With log inputs, u(x_ij) and u'(x_ij) of every cell and gene, once per evaluation (SigmoidInputFunctor):
  // a gene regulates several targets, and a log per edge and node made the iteration 3.7x linear inputs'.
  bool log_inputs = false;
  Kokkos::View<const double**, Kokkos::LayoutRight> input, input_slope;

  // u(x_ij) and u'(x_ij), x_row = &x(i, 0).
  KOKKOS_INLINE_FUNCTION double regulator(const double* x_row, int i, int j) const {
    return log_inputs ? input(i, j) : x_row[j];
  }
  KOKKOS_INLINE_FUNCTION double regulator_slope(int i, int j) const {
    return log_inputs ? input_slope(i, j) : 1.0;
  }
};

// u and u' of every gene of one cell (SigmoidTensors::input, input_slope).
struct SigmoidInputFunctor {
  SigmoidTensors p;
  ConstGeneState x;
  Kokkos::View<double**, Kokkos::LayoutRight> input, input_slope;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    for (std::size_t j = 0; j < x.extent(1); ++j) {
      input(i, j) = p.input(x(i, j));
      input_slope(i, j) = p.input_slope(x(i, j));
    }
  }
};

// z_ik = b_ck + sum_e W_e u(x_ij) + sum_q V_cq u(s_iq) for one node: the input of the sigmoid.
KOKKOS_INLINE_FUNCTION double sigmoid_drive(const SigmoidGraph& graph, const SigmoidTensors& p,
                                            const double* x_row, int i, int c, int k, int n_genes) {
  const int row = c * n_genes + k;
  double z = p.b[row];
  for (int e = graph.offsets(row); e < graph.offsets(row + 1); ++e)
    z += p.W[e] * graph.regulator(x_row, i, graph.source(e));
  if (graph.signaling)
    for (int q = graph.receptor_offsets(k); q < graph.receptor_offsets(k + 1); ++q)
      z += p.V[c * p.n_pairs + graph.receptor_pair(q)] * p.input(graph.signal(i, graph.receptor_column(q)));
  return z;
}

// The RHS of one cell (every gene), separate from how cells are iterated (STYLE.md).
struct SigmoidRhsFunctor {
  SigmoidGraph graph;
  SigmoidTensors p;
  ConstGeneState x;
  GeneState dxdt;
  int n_genes = 0;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int c = graph.cell_type(i);
    const double* x_row = &x(i, 0);
    for (int k = 0; k < n_genes; ++k) {
      const int row = c * n_genes + k;
      const double z = sigmoid_drive(graph, p, x_row, i, c, k, n_genes);
      dxdt(i, k) = p.beta(row) * logistic(z) - p.gamma(row) * x_row[k];
    }
  }
};

// The state VJP of one cell: x_bar(i, .) = lambda(i, .)^T df_i/dx_i and signal_bar(i, .) = the cotangent of
// the received signals (the ligand path runs afterwards, through ReceivedSignal::adjoint and the reverse
// halo); and per node what the parameter VJP needs: g = lambda beta sigma'(z) and sigma(z). One thread per
// cell writes only that cell's rows: no atomics.
struct SigmoidVjpCellFunctor {
  SigmoidGraph graph;
  SigmoidTensors p;
  ConstGeneState x, lambda;
  GeneState x_bar;                                                // empty: no state VJP
  Kokkos::View<double**, Kokkos::LayoutRight> signal_bar;         // empty: no signalling or no state VJP
  Kokkos::View<double**, Kokkos::LayoutRight> node_g, node_sigma; // empty: no parameter VJP
  int n_genes = 0;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int c = graph.cell_type(i);
    const double* x_row = &x(i, 0);
    const bool state = x_bar.extent(0) > 0;
    const bool signal = state && signal_bar.extent(0) > 0;
    if (state)
      for (int k = 0; k < n_genes; ++k)
        x_bar(i, k) = 0.0;
    if (signal)
      for (std::size_t column = 0; column < signal_bar.extent(1); ++column)
        signal_bar(i, column) = 0.0;
    for (int k = 0; k < n_genes; ++k) {
      const int row = c * n_genes + k;
      const double s = logistic(sigmoid_drive(graph, p, x_row, i, c, k, n_genes));
      const double l = lambda(i, k);
      const double g = l * p.beta(row) * s * (1.0 - s);
      if (node_g.extent(0)) {
        node_g(i, k) = g;
        node_sigma(i, k) = s;
      }
      if (!state) continue;
      x_bar(i, k) -= l * p.gamma(row);
      for (int e = graph.offsets(row); e < graph.offsets(row + 1); ++e)
        x_bar(i, graph.source(e)) += g * p.W[e] * graph.regulator_slope(i, graph.source(e));
      if (signal)
        for (int q = graph.receptor_offsets(k); q < graph.receptor_offsets(k + 1); ++q) {
          const int column = graph.receptor_column(q);
          signal_bar(i, column) +=
              g * p.V[c * p.n_pairs + graph.receptor_pair(q)] * p.input_slope(graph.signal(i, column));
        }
    }
  }
};

// theta_bar += lambda^T df/dtheta for one (type c, target k) row: its cells (cells of type c, in ascending
// row order) are visited by one thread, which alone writes the row's W, V, b, beta_rho and gamma_rho
// entries (V: the pairs whose receptor is k). No atomics, and every sum runs in cell order, so the gradient
// does not depend on the thread count. On the host, T x G rows keep the cores busy whenever G >= the core
// count; the per-cell alternative would need a cells x edges buffer.
struct SigmoidVjpParameterFunctor {
  SigmoidGraph graph;
  Kokkos::View<const int*> type_offsets, type_cells; // cells of each type, ascending
  ConstGeneState x, lambda;
  Kokkos::View<const double**, Kokkos::LayoutRight> node_g, node_sigma;
  Kokkos::View<const double*> beta_rho, gamma_rho; // [type * G + k]
  double* W_bar = nullptr;
  double* V_bar = nullptr;
  double* b_bar = nullptr;
  double* beta_rho_bar = nullptr;
  double* gamma_rho_bar = nullptr;
  int n_genes = 0, n_pairs = 0;
  SigmoidTensors p; // its input transform

  KOKKOS_INLINE_FUNCTION void operator()(const int row) const {
    const int c = row / n_genes, k = row % n_genes;
    double sum_g = 0.0, sum_sigma = 0.0, sum_x = 0.0;
    for (int a = type_offsets(c); a < type_offsets(c + 1); ++a) {
      const int i = type_cells(a);
      const double g = node_g(i, k);
      sum_g += g;
      sum_sigma += lambda(i, k) * node_sigma(i, k);
      sum_x += lambda(i, k) * x(i, k);
      for (int e = graph.offsets(row); e < graph.offsets(row + 1); ++e)
        W_bar[e] += g * graph.regulator(&x(i, 0), i, graph.source(e));
      if (graph.signaling)
        for (int q = graph.receptor_offsets(k); q < graph.receptor_offsets(k + 1); ++q)
          V_bar[c * n_pairs + graph.receptor_pair(q)] +=
              g * p.input(graph.signal(i, graph.receptor_column(q)));
    }
    b_bar[row] += sum_g;
    // d softplus(rho) / d rho = sigma(rho).
    beta_rho_bar[row] += sum_sigma * logistic(beta_rho(row));
    gamma_rho_bar[row] -= sum_x * logistic(gamma_rho(row));
  }
};

// beta and gamma from their softplus parameters, per (type, gene).
struct SigmoidRatesFunctor {
  Kokkos::View<const double*> beta_rho, gamma_rho;
  Kokkos::View<double*> beta, gamma;
  // The host's softplus() formula.
  KOKKOS_INLINE_FUNCTION double softplus(double rho) const {
    return rho > 0 ? rho + math::log1p(math::exp(-rho)) : math::log1p(math::exp(rho));
  }
  KOKKOS_INLINE_FUNCTION void operator()(const int row) const {
    beta(row) = softplus(beta_rho(row));
    gamma(row) = softplus(gamma_rho(row));
  }
};

class SigmoidModel : public TrainableGeneModel {
public:
  using execution_space = Kokkos::DefaultExecutionSpace;

  // `parameters` in sigmoid_layout(candidates) (one set); `pairs` the LR pairs of the candidates, in their
  // order. The model shares `parameters.values()`.
  SigmoidModel(ModelParameters parameters, CandidateEdges candidates, std::vector<LigandReceptorPair> pairs,
               PriorGraph prior, SigmoidInputs inputs = {});

  void set_cell_types(Kokkos::View<const int*> cell_type) override;
  // Per step: builds the transposed signalling graph for the VJP (ReceivedSignal). Both must outlive the
  // evaluations; their owned rows are the cells evaluated.
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override;

  // Collective when signalling is set (the ligand exchange runs inside).
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override;
  // Exact VJPs (sigmoid_adjoint.cpp): the state's includes the ligand path (received signal's adjoint, then
  // the reverse halo sends ghost rows' cotangents to their owners). Collective when signalling is set.
  void vjp(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
           ParameterGradient theta_bar) const override;

  const ModelParameters& parameters() const override { return parameters_; }
  ModelParameters& parameters() override { return parameters_; }
  const std::vector<LigandReceptorPair>& pairs() const override { return pairs_; }
  const CandidateEdges& candidates() const { return candidates_; }
  PriorGraph prior() const { return prior_; }
  const SigmoidInputs& inputs() const { return inputs_; }

  // model.h5 (write_sigmoid_model, read_sigmoid_model).
  void write(h5::File& file) const override;
  void read(const std::string& path) override;
  // Every W_e (pair -1) and every V_cq (pair q, received by type c).
  std::vector<SignedEdgeWeight> signed_edge_weights() const override;
  bool edge_weights_are_network() const override { return true; }
  // Per type, each regulator's W (CandidateEdges::regulator_groups), then each V alone.
  ParameterGroups regulator_groups() const override;
  bool set_intracellular_vjp(bool on) override {
    intracellular_vjp_ = on;
    return true;
  }
  // log(max(v, 0) + offset) with log inputs (slope 0 below 0, as the drive's), else v.
  RegulatorCoordinate regulator_coordinate(double v) const override;
  // The ridge fit through sigma's linearisation (see sigmoid.cpp).
  bool warm_start(const LinearDerivativeFits& fits) override;

private:
  SigmoidTensors tensors() const;
  // The input transform alone (log_offset from inputs_, no tensors): what the inputs' kernel and the warm
  // start need, without tensors()'s rates kernel.
  SigmoidTensors transform() const;
  SigmoidGraph graph_for(ConstGeneState x) const; // collective when signalling is set

  ModelParameters parameters_;
  bool intracellular_vjp_ = false; // set_intracellular_vjp
  CandidateEdges candidates_;
  std::vector<LigandReceptorPair> pairs_;
  PriorGraph prior_;
  SigmoidInputs inputs_;
  int n_genes_ = 0, n_types_ = 0;
  std::size_t offset_W_ = 0, offset_V_ = 0, offset_b_ = 0, offset_beta_ = 0, offset_gamma_ = 0;

  Kokkos::View<const int*> cell_type_;
  const SignalingGraph* signaling_graph_ = nullptr;
  const LigandExchange* ligand_exchange_ = nullptr;
  ReceivedSignal received_;

  mutable CellsByType by_type_; // for the parameter VJP
  // Work space reused by every evaluation.
  mutable Kokkos::View<double*> beta_, gamma_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> signal_, signal_bar_, ligand_bar_, node_g_, node_sigma_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> input_, input_slope_; // log inputs: SigmoidGraph::input
};

// model.h5 of a sigmoid model (SPEC §6.5), laid out like the learnable hill model's: root attributes format,
// version, family = "sigmoid"; /sigmoid attributes prior, inputs ("linear" or "log") and, with log inputs,
// log_offset; /genes, /cell_types; /edges/{type, source, target}
// (indices into /cell_types and /genes, one row per W entry); /pairs/{ligand, receptor} (gene indices, one
// row per column of V); /params/all/<tensor>.
// Serial (rank 0).
void write_sigmoid_model(h5::File& file, const SigmoidModel& model);

// Reads a model.h5 written by write_sigmoid_model for the deck's candidates, pairs, genes and cell types:
// genes, types, edges and pairs are matched by name (any order); a different set of genes, a missing cell
// type, a different candidate graph or LR pairs, another family or prior is an input_error naming the file
// and what differs (also another input transform than `inputs`; a file without the attribute has linear
// inputs, as every file before it). Returns the parameters in the deck's order. Not collective.
ModelParameters read_sigmoid_model(const std::string& path, const CandidateEdges& candidates,
                                   PriorGraph prior, const std::vector<std::string>& genes,
                                   const std::vector<std::string>& cell_types,
                                   const SigmoidInputs& inputs = {});

// The part of read_sigmoid_model's checks that the deck alone decides (format, family, prior, inputs, genes,
// cell types), for checking a model file before the data fix the candidate graph. Not collective.
void check_sigmoid_model_file(const std::string& path, PriorGraph prior,
                              const std::vector<std::string>& genes,
                              const std::vector<std::string>& cell_types, const SigmoidInputs& inputs = {});

// Zero W and V (or, `random`, U(-b, b) with b = 1 / sqrt(in-degree + 1) from init_seed), b = 0, beta =
// production_init, gamma = decay_init.
void initialise_sigmoid(ModelParameters& parameters, const CandidateEdges& candidates,
                        const SigmoidConfig& config);

// Collective on comm. The model of the deck's `grn.sigmoid`: parameters from `model_file` (read on rank 0,
// errors agreed across ranks, values broadcast) or initialised (initialise_sigmoid).
std::unique_ptr<SigmoidModel> make_sigmoid_model(MPI_Comm comm, const SigmoidConfig& config,
                                                 const GeneNetwork& network, const SignalingParams& signaling,
                                                 const std::vector<std::string>& type_names);
std::unique_ptr<SigmoidModel> make_sigmoid_model(MPI_Comm comm, const Deck& deck, const GeneNetwork& network,
                                                 const SignalingParams& signaling,
                                                 const std::vector<std::string>& type_names);

} // namespace tessera
