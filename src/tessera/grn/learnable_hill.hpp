// The trainable `hill` gene model (SPEC §2.1 with every parameter learned, issue 9 item 2): on the candidate
// edges j -> k of each cell type c (the prior graph, or every ordered pair j != k),
//   dx_ik/dt = beta_ck [ b_ck + sum_{j->k} K_e H+(x_ij; h_e, n_e) + sum_{(l,k) in LR} K_cp H+(s_ip; h_cp,
//   n_cp) ]
//              - lambda_ck x_ik,    H+(x; h, n) = x^n / (h^n + x^n),
// with K signed (a repression of strength K is an activation of -K plus K in the basal term, H- = 1 - H+),
// h, n, beta, b and lambda positive through softplus, and n optionally one fixed value. It contains
// HillModel: the parameters mapped from a `hill` deck give the same RHS.
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/grn/candidate_edges.hpp"
#include "tessera/grn/cells_by_type.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/graph_ode_parameters.hpp"
#include "tessera/grn/hill.hpp"
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
namespace h5 {
class File;
}

// The deck's `grn.hill` keys (the learnable model's options; HillModel itself reads only grn.edges).
struct LearnableHillConfig {
  enum class Init { deck, constant, ridge };
  PriorGraph prior = PriorGraph::edges;
  std::string model_file; // resolved path; empty: initialise per `init`
  bool learn_n = true;
  double n = 2.0; // every Hill coefficient when learn_n is false
  Init init = Init::deck;
  std::uint64_t init_seed = 1;
};

std::string to_string(LearnableHillConfig::Init init); // "deck", "constant", "ridge"

class LearnableHillModel;
void read_learnable_hill_model(const std::string& path, LearnableHillModel& model);

// Reads `grn.hill` (defaults when absent). Not collective.
LearnableHillConfig read_learnable_hill_config(const Deck& deck);

// The tensors of the one parameter set "all", in storage order (E candidate edges, T types, G genes, P
// pairs):
//   K [E] (sparse), h_rho [E], n_rho [E] (only when n is learned), lr_K [T][P] (sparse), lr_h_rho [T][P],
//   lr_n_rho [T][P] (only when n is learned), beta_rho [T][G], b_rho [T][G], lambda_rho [T][G];
// each positive value is softplus(<name>_rho).
ParameterLayout learnable_hill_layout(int n_edges, int n_types, int n_genes, int n_pairs, bool learn_n);

class LearnableHillModel : public TrainableGeneModel {
public:
  // `network` gives each type's candidate edges (per `config.prior`), `pairs` the LR pairs whose receptors
  // get intercellular terms once set_signaling() provides a graph. All parameters start at zero (see
  // initialise()). The model shares parameters().values() with its copies (Views are handles).
  LearnableHillModel(const LearnableHillConfig& config, const GeneNetwork& network,
                     std::vector<std::string> type_names, std::vector<LigandReceptorPair> pairs);

  // `deck`: K, h, n of each candidate edge from the network's edges of that type (initial_edges(): the
  // deck's own when a prior graph gave the candidates; a repression of strength K as K_e = -K and K added to
  // b), candidates without an edge K = 0, h = 0.5, n = config.n;
  // beta, b, lambda from grn.production, grn.basal, grn.decay; LR pairs from their K, h, n. Two edges of
  // one type on the same candidate, a self loop, or an edge n other than config.n when n is fixed are an
  // input_error naming the edge. `constant`: K uniform in [-0.01, 0.01] (CounterRng(init_seed)), h = 0.5,
  // n = config.n, beta = 1, b = 0.1, lambda = 0.1, LR K = 0. `ridge` starts as `constant`; `train` then calls
  // warm_start() with its ridge fit.
  void initialise(const GeneNetwork& network, const std::vector<LigandReceptorPair>& pairs);
  // The ridge fit through the Hill terms' linearisation at x = h (see learnable_hill.cpp): K and b from the
  // fit's coefficients and intercept, lambda from its self coefficient; h, n, beta stay.
  bool warm_start(const LinearDerivativeFits& fits) override;

  void set_cell_types(Kokkos::View<const int*> cell_type) override;
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override;
  // Collective when signalling is set (the ligand exchange runs inside).
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override;
  // x_bar = lambda^T df/dx (overwritten) and theta_bar += lambda^T df/dtheta; either may be empty. Summed
  // without atomics: one thread per cell for x_bar, per sending row for the ligand cotangents (over its
  // receivers in row order), per (type, target gene) for the parameters (over that type's cells in row
  // order), so the result does not depend on thread scheduling. H+ reads max(x, 0) as the forward does: at
  // x <= 0 the subgradient is 0. Collective when signalling is set (reverse halo).
  void vjp(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
           ParameterGradient theta_bar) const override;

  const ModelParameters& parameters() const override { return parameters_; }
  ModelParameters& parameters() override { return parameters_; }
  const std::vector<LigandReceptorPair>& pairs() const override { return pairs_; }
  // model.h5: write_learnable_hill_model / read_learnable_hill_model.
  void write(h5::File& file) const override;
  void read(const std::string& path) override { read_learnable_hill_model(path, *this); }
  // K per candidate edge (pair -1), then the LR K per (receiver type, pair).
  std::vector<SignedEdgeWeight> signed_edge_weights() const override;
  bool edge_weights_are_network() const override { return true; }
  // Per type, each regulator's K (CandidateEdges::regulator_groups), then each LR K alone.
  ParameterGroups regulator_groups() const override;
  bool set_intracellular_vjp(bool on) override {
    intracellular_vjp_ = on;
    return true;
  }

  const LearnableHillConfig& config() const { return config_; }
  // The candidate edges j -> k of every type (GeneNetwork::regulators: never self loops); edge e is element e
  // of the per-edge tensors.
  const CandidateEdges& candidates() const { return candidates_; }
  int n_genes() const { return n_genes_; }
  int n_types() const { return n_types_; }

private:
  void update_shared() const;

  LearnableHillConfig config_;
  int n_genes_ = 0, n_types_ = 0;
  std::vector<LigandReceptorPair> pairs_;
  CandidateEdges candidates_;
  ModelParameters parameters_;
  bool intracellular_vjp_ = false; // set_intracellular_vjp
  ReceivedSignal received_;        // this step's signalling graph, forward and adjoint
  const LigandExchange* exchange_ = nullptr;

  Kokkos::View<const int*> cell_type_;
  mutable CellsByType by_type_; // for the parameter VJP

  // Per evaluation, from the parameters: h^n, n and d softplus/d rho per edge and per (type, pair); beta, b,
  // lambda per (type, gene).
  mutable Kokkos::View<double*> edge_n_, edge_h_, edge_h_pow_n_, edge_dh_, edge_dn_;
  mutable Kokkos::View<double*> lr_n_, lr_h_, lr_h_pow_n_, lr_dh_, lr_dn_;
  mutable Kokkos::View<double*> beta_, basal_, decay_, dbeta_, dbasal_, ddecay_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> signal_, signal_bar_, ligand_bar_;
};

// Writes format, version, family = "hill", /hill (prior, learn_n, n), /genes, /cell_types, /edges (type,
// source, target of every candidate, indices into /cell_types and /genes), /pairs (ligand, receptor) and
// /params/all/<tensor> into an open, serially written file (rank 0).
void write_learnable_hill_model(h5::File& file, const LearnableHillModel& model);

// Reads model.h5 written by write_learnable_hill_model into `model`'s parameters. Its family, /hill settings,
// genes, cell types, candidate edges and LR pairs must be the model's (the deck's); anything else is an
// input_error naming the file and the field. Not collective.
void read_learnable_hill_model(const std::string& path, LearnableHillModel& model);

// Checks from the deck alone that `path` holds a learnable hill model for these settings, genes and cell
// types (what depends on the candidate graph is checked by read_learnable_hill_model). Not collective.
void check_learnable_hill_model_file(const std::string& path, const LearnableHillConfig& config,
                                     const std::vector<std::string>& genes,
                                     const std::vector<std::string>& type_names);

// Collective on comm, as below, from an already-read configuration.
std::unique_ptr<LearnableHillModel>
make_learnable_hill_model(MPI_Comm comm, const LearnableHillConfig& config, const GeneNetwork& network,
                          const SignalingParams& signaling, const std::vector<std::string>& type_names);
// Collective on comm. The deck's learnable `hill` model: parameters from grn.hill.model_file (read on rank 0,
// errors agreed across ranks, values broadcast) or initialised per grn.hill.init.
std::unique_ptr<LearnableHillModel> make_learnable_hill_model(MPI_Comm comm, const Deck& deck,
                                                              const GeneNetwork& network,
                                                              const SignalingParams& signaling,
                                                              const std::vector<std::string>& type_names);

} // namespace tessera
