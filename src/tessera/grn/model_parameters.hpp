// The trainable parameters of any learnable gene model (graph_ode, hill, sigmoid): named tensors as slices
// of one flat View per parameter set, so that optimizers, penalties, checkpoints and gradients treat every
// model family as one vector of numbers (SPEC §3.2, §6.5). What the tensors mean is the family's business.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// One named tensor inside a parameter set's flat vector: row-major `shape` starting at `offset`.
struct TensorSpec {
  // How graph_ode initialises it (other families fill their tensors themselves).
  enum class Init { glorot, zero, decay };

  std::string name;
  std::vector<std::int64_t> shape; // one or two dimensions
  std::size_t offset = 0;
  Init init = Init::zero;
  int fan_in = 1, fan_out = 1; // for the Glorot bound sqrt(6 / (fan_in + fan_out))
  // train.l1 applies to it: the weights whose sparsity is wanted (graph_ode: the Glorot-initialised
  // weights; hill: K; sigmoid: W and V), never biases, decays or shapes.
  bool sparse = false;

  std::size_t size() const;
  double glorot_bound() const;
};

// Groups of parameters by index into ModelParameters::flat() (set * layout().size() + offset of the value),
// one vector per group (train.group_lasso's groups).
using ParameterGroups = std::vector<std::vector<std::size_t>>;

// The tensors of one parameter set, in storage order.
class ParameterLayout {
public:
  // Appends a tensor after the last one (its offset is set here) and returns it.
  const TensorSpec& add(TensorSpec tensor);

  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  bool has(const std::string& name) const;
  const TensorSpec& tensor(const std::string& name) const; // runtime_error when absent
  std::size_t size() const { return size_; }               // values per set

private:
  std::vector<TensorSpec> tensors_;
  std::size_t size_ = 0;
};

// Every trainable parameter of a model: `n_sets()` sets of the same layout (graph_ode: one per cell type
// under `per_type`, else one; the per-edge families keep per-type values inside one set), each a row of
// one contiguous View, so an optimizer can treat them as a single flat vector of n_sets() * layout().size()
// values. Copies share the View (Views are handles).
class ModelParameters {
public:
  using Values = Kokkos::View<double**, Kokkos::LayoutRight>; // sets x layout().size()

  ModelParameters() = default;
  // All values zero. `set_names` name the groups under /params in model.h5.
  ModelParameters(std::string family, ParameterLayout layout, std::vector<std::string> set_names,
                  std::vector<std::string> genes, std::vector<std::string> cell_types);
  virtual ~ModelParameters() = default;

  const std::string& family() const { return family_; } // "graph_ode", "hill", "sigmoid"
  const ParameterLayout& layout() const { return layout_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const std::vector<std::string>& cell_types() const { return cell_types_; }
  int n_genes() const { return static_cast<int>(genes_.size()); }
  int n_sets() const { return static_cast<int>(values_.extent(0)); }
  const std::string& set_name(int set) const { return set_names_[static_cast<std::size_t>(set)]; }
  std::size_t size() const { return values_.size(); } // every value of every set

  const Values& values() const { return values_; }

  // Host copies of one tensor of one set (row-major), for I/O and tests.
  std::vector<double> tensor(int set, const std::string& name) const;
  void set_tensor(int set, const std::string& name, const std::vector<double>& values);

  // Every value as one host vector (set-major), and back: what optimizers and checkpoints see.
  std::vector<double> flat() const;
  void set_flat(const std::vector<double>& values);

  // The same family, layout, names and set names (what a checkpoint or gradient must match).
  bool same_shape(const ModelParameters& other) const;

private:
  std::string family_;
  ParameterLayout layout_;
  std::vector<std::string> genes_, cell_types_, set_names_;
  Values values_;
};

// softplus(rho) = log(1 + exp(rho)) without overflow, and its inverse: how every family keeps a positive
// parameter unconstrained. softplus never reaches 0: values below softplus(-50) ~ 2e-22, 0 included, map to
// rho = -50.
double softplus(double rho);
double inverse_softplus(double value);

} // namespace tessera
