// The deck's `predict` section (SPEC §3.6): the fitted model.h5, where the tissue starts (an observation of a
// trajectory dataset or the deck's own cells), and the perturbations (knock-out, over-expression, scaling).
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/sim/simulation.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Deck;

enum class PerturbationAction { knockout, overexpress, scale };
std::string to_string(PerturbationAction action); // "knockout", "overexpress", "scale"

enum class SelectionRegion { none, box, ball };

// Which cells a perturbation acts on: the cells that pass every criterion given (none given: all cells).
// Types are tested at every step (a cell never changes type); ids and the region are tested once, on the
// cells at the start time, and the selection is then the fixed set of ids that passed.
struct CellSelection {
  std::vector<int> types;         // type indices; empty: any type
  bool by_id = false;             // `ids` given
  std::vector<std::uint64_t> ids; // sorted, unique
  SelectionRegion region = SelectionRegion::none;
  std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0}; // box: lo <= p <= hi on every axis
  std::array<double, 3> center{0, 0, 0};          // ball: |p - center| <= radius
  double radius = 0.0;

  // Whether the selection is a fixed set of ids decided at the start (ids or region given).
  bool by_start_ids() const { return by_id || region != SelectionRegion::none; }
  bool in_region(const double* position, int dim) const; // true when no region is given
  std::string describe(const std::vector<std::string>& type_names) const;
};

struct Perturbation {
  int gene = -1;
  std::string gene_name;
  PerturbationAction action = PerturbationAction::knockout;
  double value = 0.0; // the clamped level (knockout: 0), or the scale factor
  CellSelection cells;
  std::string where; // "deck.yaml:12:5: key 'predict.perturbations[0]'", for errors found at run time

  bool clamps() const { return action != PerturbationAction::scale; }
  std::string describe(const std::vector<std::string>& type_names) const;
};

struct PredictParams {
  std::string model;   // resolved path of model.h5
  std::string dataset; // resolved path; empty: the tissue of the deck's `cells` section
  long long start = 0; // observation index of the dataset
  std::vector<Perturbation> perturbations;
};

const KeyTable& predict_keys();

// Reads `predict`, checking gene and type names against the deck's. Not collective. Throws input_error
// naming file:line:column and key.
PredictParams read_predict_params(const Deck& deck, const std::vector<std::string>& genes,
                                  const std::vector<std::string>& type_names, int dim);

// What `tessera predict` runs: the deck's simulation with the graph_ode parameters of predict.model and,
// with predict.dataset, the dataset's cells at observation predict.start (start_time = its time).
struct PredictSetup {
  SimulationSetup simulation;
  PredictParams predict;
};

// Not collective: every rank reads the same deck and files and reaches the same verdict. Requires
// grn.model: graph_ode and no grn.graph_ode.model_file (predict.model replaces it); reads the dataset and
// checks its genes, types and positions against the deck and time.end against the start time.
PredictSetup read_predict_setup(const Deck& deck, int n_ranks);

// Adds the root attributes `predict_model` (the model file) and `predict_perturbations` (one line per
// perturbation, or "none") to a closed simulation output. Not collective: call on one rank.
void write_prediction_attributes(const std::string& h5_path, const std::string& model,
                                 const std::string& perturbations);

} // namespace tessera
