// A gene model that `tessera train` can fit and `predict`, `run` and the read-out can use whatever its family
// (graph_ode, hill, sigmoid): a CellGeneModel with exact VJPs (AdjointGeneRhs) over one ModelParameters, that
// writes itself into model.h5 and says what it knows about each candidate edge. Training, prediction and the
// GRN read-out see only this interface.
#pragma once

#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/grn/model_parameters.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/integrate/adjoint_rhs.hpp"

#include <string>
#include <vector>

namespace tessera {

namespace h5 {
class File;
}

// Data-dependent weights of every in-edge of every owned node at one state (host copies), for the read-out:
// node (i, k) is row i * G + k; its edges are [offsets[row], offsets[row + 1]).
struct EdgeAttention {
  std::vector<int> offsets;     // n_cells * G + 1
  std::vector<int> source_gene; // j (self loop: k) or the ligand gene l
  std::vector<int> source_row;  // -1 intracellular; else the sending cell's row (owned, then ghost)
  std::vector<int> pair;        // -1 intracellular; else the index of the LR pair
  std::vector<double> alpha;    // e.g. graph_ode's mean over heads of softmax_u(e_u)
};

// A parameter of the model that belongs to one candidate edge and carries its sign: hill's K, sigmoid's W
// (intracellular, pair = -1: source -> target genes of cell type `type`) or V (pair >= 0: the LR pair's
// ligand -> receptor, received by cells of `type`).
struct SignedEdgeWeight {
  int type = 0;
  int source = 0;
  int target = 0;
  int pair = -1;
  double weight = 0.0;
};

// The coordinate u(v) in which a model's drive reads a regulator's value v, and its slope du/dv (0 where u
// is flat, e.g. below a clamp).
struct RegulatorCoordinate {
  double u = 0.0;
  double du_dv = 1.0;
};

// A linear fit of the derivative per (cell type, target gene), the ridge baseline's (learn/warm_start.hpp
// converts it), for families that can start from it: dx_k/dt ~ intercept + sum_a regulator_coefficient[a]
// x_{regulators[a]} + self_coefficient x_k + sum_b pair_coefficient[b] s_{pairs[b]}.
struct LinearDerivativeFit {
  bool fitted = false; // false: no fit for this (type, target); keep the initialisation
  double intercept = 0.0;
  std::vector<int> regulators; // candidate regulator genes j != k
  std::vector<double> regulator_coefficient;
  double self_coefficient = 0.0;
  std::vector<int> pairs; // LR pair indices with receptor k
  std::vector<double> pair_coefficient;
  // The regressors' means over the fit's rows, where the fit is most accurate (empty when unknown: a family
  // then linearises at x = 0).
  std::vector<double> regulator_mean, pair_mean;
  double self_mean = 0.0;
};

struct LinearDerivativeFits {
  std::vector<std::vector<LinearDerivativeFit>> fit; // [cell type][target gene]
};

class TrainableGeneModel : public CellGeneModel, public AdjointGeneRhs {
public:
  // The optimizer updates parameters().values() in place; the next evaluation uses them.
  virtual const ModelParameters& parameters() const = 0;
  virtual ModelParameters& parameters() = 0;
  // The LR pairs whose receptors get intercellular terms once set_signaling() provides a graph.
  virtual const std::vector<LigandReceptorPair>& pairs() const = 0;

  // model.h5's model content (SPEC §6.5): root attributes format, version and `family`, the family's own
  // settings (graph_ode: /architecture), /genes, /cell_types, /params/<set>/<tensor> and whatever else the
  // family needs to be rebuilt from the file alone (e.g. its candidate edges). Serial: rank 0 only.
  virtual void write(h5::File& file) const = 0;
  // Loads the parameters from a file that write() wrote for a model like this one (model.h5, checkpoint.h5):
  // family, settings, genes, cell types and candidate edges must match, else input_error naming the file
  // and what differs. Not collective (every rank may read the same file).
  virtual void read(const std::string& path) = 0;

  // The model's signed per-edge parameters, every candidate edge once (empty for families without them:
  // graph_ode without per-edge terms). The read-out ranks edges by |weight| and reads the sign from it.
  virtual std::vector<SignedEdgeWeight> signed_edge_weights() const { return {}; }
  // Whether those parameters are the model's gene network, each edge's sign its regulation (hill's K,
  // sigmoid's W: a W of zero is no edge), rather than terms on the edges of a network that is read out of
  // the model otherwise (graph_ode's per-edge message weights). output.dataset records the network of the
  // former as the data's ground truth.
  virtual bool edge_weights_are_network() const { return false; }

  // train.group_lasso's groups of the model's edge parameters (empty for families without them: graph_ode).
  virtual ParameterGroups regulator_groups() const { return {}; }

  // Starts the parameters from a linear fit of the derivative (`init: ridge`); false when the family has no
  // use for one (graph_ode), which then keeps its own initialisation.
  virtual bool warm_start(const LinearDerivativeFits& /*fits*/) { return false; }

  // With `on`, vjp() leaves out the intercellular path (the neighbours' df/ds of their received signals back
  // to this cell's ligands), so that x_bar(i, j) = sum_k lambda_ik df_ik/dx_ij over the cell's own terms: the
  // read-out's intracellular Jacobian, where a ligand -> receptor candidate edge would otherwise also hold
  // the pair's intercellular path. Every rank must set the same (the reverse halo is then skipped on all).
  // False when the family cannot (graph_ode), whose vjp() then keeps both paths.
  virtual bool set_intracellular_vjp(bool /*on*/) { return false; }

  // The coordinate the model's drive reads a regulator's value v in: v itself unless the family transforms
  // its inputs (sigmoid's log inputs, u = log(v + epsilon)). The read-out standardises an edge's effect in
  // it, as the ridge baseline standardises its coefficients in the coordinate it regresses on.
  virtual RegulatorCoordinate regulator_coordinate(double v) const { return {v, 1.0}; }

  // Data-dependent edge weights at state x (graph_ode: attention), false when the family has none.
  // Collective when signalling is set; needs set_cell_types() as for evaluate().
  virtual bool edge_attention(ConstGeneState /*x*/, EdgeAttention& /*attention*/) const { return false; }
};

} // namespace tessera
