// The trainable parameters of the `graph_ode` gene model (SPEC §2.2): its architecture from the deck, every
// tensor as a named slice of one flat View, seeded Glorot initialisation, and model.h5 (SPEC §6.5).
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Deck;
namespace h5 {
class File;
}

enum class AttentionVariant { gat, gatv2 };
enum class ParameterSharing { all, per_type };
enum class PriorGraph { edges, dense };

std::string to_string(AttentionVariant variant); // "gat", "gatv2"
std::string to_string(ParameterSharing share);   // "all", "per_type"
std::string to_string(PriorGraph prior);         // "edges", "dense"

// What fixes the shapes of the parameter tensors, plus the gene graph they were trained on.
struct GraphOdeArchitecture {
  AttentionVariant variant = AttentionVariant::gat;
  int heads = 1;      // K
  int hidden = 64;    // H
  int mlp_width = 64; // M
  int mlp_layers = 3; // L
  ParameterSharing share = ParameterSharing::all;
  PriorGraph prior = PriorGraph::edges;

  int attention_width() const { return heads * hidden; } // K*H, the length of z
};

// The deck's `grn.graph_ode` keys.
struct GraphOdeConfig {
  GraphOdeArchitecture architecture;
  std::string model_file;      // resolved path; empty: initialise with glorot_init
  std::uint64_t init_seed = 1; // CounterRng seed of the initialisation
  double decay_init = 0.1;     // initial gamma, 1/min
};

// Reads `grn.graph_ode` (defaults when absent). Not collective.
GraphOdeConfig read_graph_ode_config(const Deck& deck);

// One named tensor inside a parameter set's flat vector: row-major `shape` starting at `offset`.
struct TensorSpec {
  enum class Init { glorot, zero, decay };

  std::string name;
  std::vector<std::int64_t> shape; // one or two dimensions
  std::size_t offset = 0;
  Init init = Init::glorot;
  int fan_in = 1, fan_out = 1; // for the Glorot bound sqrt(6 / (fan_in + fan_out))

  std::size_t size() const;
  double glorot_bound() const;
};

// The tensors of one parameter set, in storage order:
//   per head h (rows of [K][H] tensors): w, b0, then GAT: a_src, a_dst / GATv2: a, v_src, v_dst;
//   MLP: W1 [M][KH], b1 [M], ..., W<L> [1][M], b<L> [1]  (L = 1: W1 [1][KH], b1 [1]);
//   decay_rho [G]: gamma_k = softplus(decay_rho_k) = log(1 + exp(decay_rho_k)).
class ParameterLayout {
public:
  ParameterLayout() = default;
  ParameterLayout(const GraphOdeArchitecture& architecture, int n_genes);

  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  bool has(const std::string& name) const;
  const TensorSpec& tensor(const std::string& name) const; // runtime_error when absent
  std::size_t size() const { return size_; }               // values per set

private:
  std::vector<TensorSpec> tensors_;
  std::size_t size_ = 0;
};

// Every trainable parameter: one set per cell type (`per_type`) or one shared set (`all`), each set a row of
// one contiguous View, so an optimizer can treat all parameters as a single flat vector of
// n_sets() * layout().size() values.
class GraphOdeParameters {
public:
  using Values = Kokkos::View<double**, Kokkos::LayoutRight>; // sets x layout().size()

  GraphOdeParameters() = default;
  // All values zero. `cell_types` are the deck's type names (set names under `per_type`).
  GraphOdeParameters(const GraphOdeArchitecture& architecture, std::vector<std::string> genes,
                     std::vector<std::string> cell_types);

  const GraphOdeArchitecture& architecture() const { return architecture_; }
  const ParameterLayout& layout() const { return layout_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const std::vector<std::string>& cell_types() const { return cell_types_; }
  int n_genes() const { return static_cast<int>(genes_.size()); }
  int n_sets() const { return static_cast<int>(values_.extent(0)); }
  // "all", or the cell type's name: the group under /params in model.h5.
  const std::string& set_name(int set) const { return set_names_[static_cast<std::size_t>(set)]; }
  int set_of_type(int type) const { return architecture_.share == ParameterSharing::all ? 0 : type; }

  const Values& values() const { return values_; }

  // Host copies of one tensor of one set (row-major), for I/O and tests.
  std::vector<double> tensor(int set, const std::string& name) const;
  void set_tensor(int set, const std::string& name, const std::vector<double>& values);

  // Glorot-uniform weights U(-b, b), b = sqrt(6 / (fan_in + fan_out)); biases 0; decay_rho such that
  // gamma = decay_init. Element e of set s draws CounterRng{seed}.uniform4(s, 0, parameters, e / 4)[e % 4],
  // so the values depend on nothing but the seed and the architecture.
  void glorot_init(std::uint64_t seed, double decay_init);

private:
  GraphOdeArchitecture architecture_;
  ParameterLayout layout_;
  std::vector<std::string> genes_, cell_types_, set_names_;
  Values values_;
};

// softplus(rho) = log(1 + exp(rho)) without overflow, and its inverse. softplus never reaches 0: gammas
// below softplus(-50) ~ 2e-22 /min, 0 included, map to rho = -50.
double softplus(double rho);
double inverse_softplus(double gamma);

// Writes format, /architecture, /genes, /cell_types and /params/<set>/<tensor> into an open, serially
// written file (rank 0; the training output adds /optimizer and provenance beside them).
void write_graph_ode_model(h5::File& file, const GraphOdeParameters& parameters);
// Creates `path` (refusing to replace it) and writes the model. Not collective: call on one rank.
void write_graph_ode_model(const std::string& path, const GraphOdeParameters& parameters);

// Reads model.h5 written by write_graph_ode_model. The architecture must equal `expected`, the file's genes
// must be the deck's (any order: they are matched by name) and, under `per_type`, every deck cell type must
// have its parameters; anything else is an input_error naming what differs. Not collective.
GraphOdeParameters read_graph_ode_model(const std::string& path, const GraphOdeArchitecture& expected,
                                        const std::vector<std::string>& genes,
                                        const std::vector<std::string>& cell_types);

} // namespace tessera
