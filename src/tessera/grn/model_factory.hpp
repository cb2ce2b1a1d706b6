// Which learnable gene model a deck asks for, and how to build it: the one place that knows every family
// (graph_ode, hill, sigmoid), so that `train`, `predict` and `run` stay model-agnostic (SPEC §2.2, §2.4).
#pragma once

#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/grn/trainable_model.hpp"

#include <mpi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

class Deck;

// A family's deck settings, read and checked when the deck is read (errors name grn.<family>.<key>), and
// what builds the model once the gene graph and the LR pairs are known (`train` completes them from the
// dataset). Each family provides read_<family>_config(const Deck&) and make_<family>_model(MPI_Comm, const
// <Family>Config&, const GeneNetwork&, const SignalingParams&, const std::vector<std::string>& type_names),
// as graph_ode does; read_trainable_model_spec() binds them here.
struct TrainableModelSpec {
  std::string family;     // "graph_ode", "hill", "sigmoid"
  bool dense = false;     // grn.<family>.prior: dense (every ordered pair j != k a candidate edge)
  std::string model_file; // parameters to start from (grn.<family>.model_file, or predict.model); empty: init
  bool warm_start = false; // grn.<family>.init: ridge — `train` starts from its ridge fit (warm_start())
  // `train.prefit: auto` runs the derivative pre-fit (learn/derivative_prefit.hpp): hill from its ridge fit,
  // whose model class holds the data's dynamics on hill data (measured: docs/performance.md, "Inference").
  bool prefit_by_default = false;
  // The offset of log inputs u(x) = log(max(x, 0) + offset) (`sigmoid` with grn.sigmoid.inputs: log), for
  // train's warning when it is above most of the data (learn/training_warnings.hpp); 0 without log inputs.
  double log_input_offset = 0.0;
  // Bytes the model holds whatever the number of cells, for G genes and T cell types (for refusing a deck
  // that cannot fit); empty when small.
  std::function<double(int n_genes, int n_types)> resident_bytes;
  // Checks, from the deck alone, that a model file (model.h5, checkpoint.h5) holds parameters of this family
  // and settings for these genes and cell types: input_error naming the file and what differs. What depends
  // on the data (a candidate graph completed from the dataset) is checked when the model reads the file.
  // Not collective. Empty: only the family is checked.
  std::function<void(const std::string& path, const std::vector<std::string>& genes,
                     const std::vector<std::string>& type_names)>
      check_file;
  // Collective on comm: reads model_file on rank 0 (errors agreed, values broadcast) or initialises.
  std::function<std::unique_ptr<TrainableGeneModel>(
      MPI_Comm comm, const TrainableModelSpec& spec, const GeneNetwork& network,
      const SignalingParams& signaling, const std::vector<std::string>& type_names)>
      make;

  std::unique_ptr<TrainableGeneModel> build(MPI_Comm comm, const GeneNetwork& network,
                                            const SignalingParams& signaling,
                                            const std::vector<std::string>& type_names) const {
    return make(comm, *this, network, signaling, type_names);
  }
  // check_file, after checking the file's family.
  void check(const std::string& path, const std::vector<std::string>& genes,
             const std::vector<std::string>& type_names) const;
};

// graph_ode's spec from its settings (what read_trainable_model_spec(deck, "graph_ode") returns).
struct GraphOdeConfig;
TrainableModelSpec graph_ode_model_spec(const GraphOdeConfig& config);

// The families `tessera train` can fit, in the order the docs list them.
const std::vector<std::string>& trainable_families();
bool is_trainable_family(const std::string& family);

// The deck's settings of `family` (grn.<family>); input_error naming the key when they are wrong, or when
// `family` is not a trainable family (naming `key`, the deck key that chose it). Not collective.
TrainableModelSpec read_trainable_model_spec(const Deck& deck, const std::string& family,
                                             const std::string& key = "grn.model");

// The family a model file holds: its root attribute `family` ("graph_ode" for files written before other
// families existed). input_error naming the file when it is not a tessera model file. Not collective.
std::string model_file_family(const std::string& path);

} // namespace tessera
