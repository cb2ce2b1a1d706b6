// `tessera predict` (SPEC §3.6): perturbations clamp exactly the selected cells, a prediction without
// perturbations is `tessera run` with the same model, the selection and the result do not depend on the
// decomposition, a knock-out of an activator lowers its target, and wrong inputs name their key.
#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode_parameters.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/perturbation.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include "../support/gathered_cells.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>

using namespace tessera;
using test::gather;
using test::Gathered;
namespace fs = std::filesystem;

namespace {

// A folder per rank count (the 1- and 2-rank tests may run at the same time).
std::string work_dir() {
  static const std::string dir = [] {
    const std::string d = std::string(TESSERA_BINARY_DIR) + "/tests/learn/predict_np" +
                          std::to_string(mpi::size(MPI_COMM_WORLD));
    if (mpi::rank(MPI_COMM_WORLD) == 0) fs::create_directories(d);
    MPI_Barrier(MPI_COMM_WORLD);
    return d;
  }();
  return dir;
}

// Genes A, B, C; the prior graph A -> B; the ligand A of a neighbour feeds the receptor C. With zero
// attention vectors every in-edge gets the same weight, and with w = 1, b0 = 0 and positive MLP weights the
// RHS is dx_k/dt = 0.05 m_k - 0.1 x_k, m_k the mean of the node's in-edge values: A activates B (and C).
const std::string architecture =
    "{variant: gat, heads: 1, hidden: 4, mlp_width: 4, mlp_layers: 2, share: all}";

std::string model_path() {
  static const std::string path = [] {
    const std::string p = work_dir() + "/model.h5";
    mpi::agree(MPI_COMM_WORLD, [&] {
      if (mpi::rank(MPI_COMM_WORLD) != 0) return;
      GraphOdeArchitecture a;
      a.hidden = 4;
      a.mlp_width = 4;
      a.mlp_layers = 2;
      GraphOdeParameters params(a, {"A", "B", "C"}, {"x", "y"});
      params.glorot_init(3, 0.1);
      params.set_tensor(0, "w", std::vector<double>(4, 1.0));
      params.set_tensor(0, "b0", std::vector<double>(4, 0.0));
      params.set_tensor(0, "a_src", std::vector<double>(4, 0.0));
      params.set_tensor(0, "a_dst", std::vector<double>(4, 0.0));
      params.set_tensor(0, "W1", std::vector<double>(16, 0.25));
      params.set_tensor(0, "b1", std::vector<double>(4, 0.0));
      params.set_tensor(0, "W2", std::vector<double>(4, 0.0125));
      params.set_tensor(0, "b2", std::vector<double>(1, 0.0));
      fs::remove(p);
      write_graph_ode_model(p, params);
    });
    return p;
  }();
  return path;
}

// A moving, signalling 2-D tissue of 300 cells; `extra` is appended (a predict section, overrides).
std::string deck_text(const std::string& extra, const std::string& integrator = "rk4") {
  return R"(
domain: {dim: 2, lo: [0, 0], hi: [200 um, 160 um], boundary: periodic}
cells:
  types: [x, y]
  init: {placement: random, count: 300, genes: uniform, gene_low: 0.2, gene_high: 1}
mechanics: {repulsion: 10, motility: 0.5}
grn:
  model: graph_ode
  genes: [A, B, C]
  edges:
    - {source: A, target: B}
  graph_ode: )" +
         architecture + R"(
signaling:
  range: 15 um
  pairs:
    - {ligand: A, receptor: C}
time: {dt: 1 min, end: 20 min, integrator: )" +
         integrator + R"(, dt_grn: 0.5 min}
random: {seed: 17}
)" + extra;
}

std::string predict_section(const std::string& perturbations) {
  return "predict:\n  model: " + model_path() + "\n" + perturbations;
}

Deck parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return Deck::parse(text, work_dir() + "/predict.yaml", overrides, all_key_tables());
}

struct Prediction {
  Gathered start; // after the start perturbations, before the first step
  Gathered end;
  std::vector<long long> selected;
};

Prediction predict(MPI_Comm comm, const Deck& deck) {
  PredictSetup setup = read_predict_setup(deck, mpi::size(comm));
  Simulation sim(comm, setup.simulation);
  Prediction out;
  out.selected = apply_perturbations(comm, sim, setup.predict.perturbations);
  out.start = gather(comm, snapshot(sim.cells()));
  while (sim.step_index() < sim.total_steps())
    sim.step();
  out.end = gather(comm, snapshot(sim.cells()));
  return out;
}

double mean_gene(const Gathered& g, int gene, const std::function<bool(std::size_t row)>& keep) {
  double sum = 0.0;
  long long n = 0;
  for (std::size_t i = 0; i < g.cells.size(); ++i)
    if (keep(i)) {
      sum += g.cells.genes[i * 3 + static_cast<std::size_t>(gene)];
      ++n;
    }
  return n ? sum / static_cast<double>(n) : 0.0;
}

// The message of the input_error that reading `text` as a predict deck throws ("" when none).
std::string predict_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    const Deck deck = parse(text, overrides);
    const PredictSetup setup = read_predict_setup(deck, 1);
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    return e.what();
  }
}

} // namespace

TEST(Predict, KnockoutKeepsTheGeneAtZeroInSelectedCellsOnly) {
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, types: [x]}
)"))));
  long long x_cells = 0, y_free = 0;
  for (std::size_t i = 0; i < p.end.cells.size(); ++i) {
    const double a = p.end.cells.genes[i * 3 + 0];
    if (p.end.cells.type[i] == 0) {
      EXPECT_EQ(a, 0.0) << "cell " << p.end.cells.id[i];
      ++x_cells;
    } else if (a > 0.0) {
      ++y_free;
    }
  }
  EXPECT_GT(x_cells, 50);
  EXPECT_EQ(p.selected.at(0), x_cells);
  // Unselected cells keep A free: it decays from its start value but is nowhere clamped.
  EXPECT_EQ(y_free, static_cast<long long>(p.end.cells.size()) - x_cells);
}

TEST(Predict, KnockoutOfAnActivatorLowersItsTargetInSelectedCells) {
  // A -> B with dx_B/dt = 0.05 (x_A + x_B) / 2 - 0.1 x_B: without A, B's production halves.
  const Prediction ko = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, types: [x]}
)"))));
  const Prediction base = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(""))));
  auto type_x = [&](const Gathered& g) { return [&g](std::size_t i) { return g.cells.type[i] == 0; }; };
  auto type_y = [&](const Gathered& g) { return [&g](std::size_t i) { return g.cells.type[i] == 1; }; };
  const double b_ko = mean_gene(ko.end, 1, type_x(ko.end));
  const double b_base = mean_gene(base.end, 1, type_x(base.end));
  EXPECT_LT(b_ko, 0.95 * b_base) << "knock-out " << b_ko << " vs unperturbed " << b_base;
  // The unselected type's own B does not depend on A elsewhere (no LR edge into B): unchanged.
  EXPECT_EQ(mean_gene(ko.end, 1, type_y(ko.end)), mean_gene(base.end, 1, type_y(base.end)));
}

TEST(Predict, WithoutPerturbationsItIsTheRunWithTheSameModel) {
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(""))));
  const Deck run_deck = parse(deck_text(""), {"grn.graph_ode.model_file=" + model_path()});
  const SimulationSetup setup = read_simulation_setup(run_deck, mpi::size(MPI_COMM_WORLD));
  Simulation sim(MPI_COMM_WORLD, setup);
  while (sim.step_index() < setup.time.steps())
    sim.step();
  const Gathered run = gather(MPI_COMM_WORLD, snapshot(sim.cells()));
  ASSERT_EQ(run.cells.size(), p.end.cells.size());
  for (const auto& [id, i] : run.row) {
    const std::size_t j = p.end.row.at(id);
    for (int g = 0; g < 3; ++g)
      ASSERT_EQ(run.cells.genes[i * 3 + g], p.end.cells.genes[j * 3 + g]) << "cell " << id << " gene " << g;
    for (int a = 0; a < 2; ++a)
      ASSERT_EQ(run.cells.position[i * 2 + a], p.end.cells.position[j * 2 + a]);
  }
}

TEST(Predict, OverexpressionClampsToTheValueInListedCells) {
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: B, action: overexpress, value: 2.5, ids: [3, 40, 41, 299]}
)"))));
  const std::set<std::uint64_t> listed = {3, 40, 41, 299};
  EXPECT_EQ(p.selected.at(0), 4);
  for (const auto& [id, i] : p.end.row) {
    const double b = p.end.cells.genes[i * 3 + 1];
    if (listed.count(id))
      EXPECT_EQ(b, 2.5) << "cell " << id;
    else
      EXPECT_LT(b, 2.0) << "cell " << id;
  }
}

TEST(Predict, RegionAndTypeSelectTheCellsAtTheStart) {
  // A box of x cells and a ball of any type; the expected sets come from the start positions and types.
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, types: [x], region: {lo: [20, 30], hi: [110 um, 90 um]}}
    - {gene: C, action: overexpress, value: 3, region: {center: [150, 100], radius: 35 um}}
)"))));
  std::set<std::uint64_t> box, ball;
  const Gathered& s = p.start;
  for (const auto& [id, i] : s.row) {
    const double x = s.cells.position[i * 2], y = s.cells.position[i * 2 + 1];
    if (s.cells.type[i] == 0 && x >= 20 && x <= 110 && y >= 30 && y <= 90) box.insert(id);
    if ((x - 150) * (x - 150) + (y - 100) * (y - 100) <= 35.0 * 35.0) ball.insert(id);
  }
  ASSERT_GT(box.size(), 10u);
  ASSERT_GT(ball.size(), 10u);
  EXPECT_EQ(p.selected.at(0), static_cast<long long>(box.size()));
  EXPECT_EQ(p.selected.at(1), static_cast<long long>(ball.size()));
  // At the end the cells have moved, but the clamped set is the one chosen at the start.
  for (const auto& [id, i] : p.end.row) {
    EXPECT_EQ(p.end.cells.genes[i * 3 + 0] == 0.0, box.count(id) == 1) << "cell " << id;
    EXPECT_EQ(p.end.cells.genes[i * 3 + 2] == 3.0, ball.count(id) == 1) << "cell " << id;
  }
}

TEST(Predict, ScaleMultipliesTheStartValueOnce) {
  const Deck plain = parse(deck_text(predict_section("")));
  const Prediction base = predict(MPI_COMM_WORLD, plain);
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: B, action: scale, value: 2, types: [y]}
)"))));
  for (const auto& [id, i] : p.start.row) {
    const double scaled = p.start.cells.genes[i * 3 + 1];
    const double original = base.start.gene(id, 1);
    EXPECT_EQ(scaled, p.start.cells.type[i] == 1 ? 2.0 * original : original) << "cell " << id;
  }
  // Not clamped: B then follows the model (it decays towards its steady state).
  for (const auto& [id, i] : p.end.row)
    if (p.end.cells.type[i] == 1) EXPECT_NE(p.end.cells.genes[i * 3 + 1], p.start.gene(id, 1));
}

TEST(Predict, CvodeKeepsAKnockedOutGeneAtZero) {
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, types: [y]}
    - {gene: C, action: overexpress, value: 1.5, types: [x]}
)"),
                                                               "cvode")));
  for (std::size_t i = 0; i < p.end.cells.size(); ++i) {
    if (p.end.cells.type[i] == 1) EXPECT_EQ(p.end.cells.genes[i * 3 + 0], 0.0);
    if (p.end.cells.type[i] == 0) EXPECT_EQ(p.end.cells.genes[i * 3 + 2], 1.5);
  }
}

TEST(Predict, TheSameOnOneRankAndOnAll) {
  // Selections are by id, type and start position, never by local row, so the clamped cells are the same on
  // any decomposition. The graph ODE's MLP runs as BLAS products over tiles whose composition changes with
  // the rank count, which may change the last bits of a dot product: 1e-12 relative (as in
  // test_sim_invariance); the clamped genes themselves are exact.
  const Deck deck = parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, region: {lo: [0, 0], hi: [100, 160]}}
    - {gene: B, action: overexpress, value: 1.2, ids: [7, 8, 150]}
)")));
  const Prediction world = predict(MPI_COMM_WORLD, deck);
  if (mpi::rank(MPI_COMM_WORLD) != 0) return;
  const Prediction alone = predict(MPI_COMM_SELF, deck);
  EXPECT_EQ(world.selected, alone.selected);
  ASSERT_EQ(world.end.cells.size(), alone.end.cells.size());
  double worst = 0.0;
  for (const auto& [id, i] : alone.end.row) {
    const std::size_t j = world.end.row.at(id);
    for (int g = 0; g < 3; ++g) {
      const double a = alone.end.cells.genes[i * 3 + g], w = world.end.cells.genes[j * 3 + g];
      if (a == 0.0 || w == 0.0 || a == 1.2 || w == 1.2) EXPECT_EQ(a, w) << "cell " << id << " gene " << g;
      worst = std::max(worst, std::fabs(a - w) / std::max(std::fabs(a), 1e-300));
    }
  }
  EXPECT_LE(worst, 1e-12);
}

TEST(Predict, StartsFromADatasetObservation) {
  const std::string path = work_dir() + "/dataset.h5";
  TrajectoryDataset ds;
  ds.genes = {"A", "B", "C"};
  ds.cell_types = {"x", "y"};
  ds.time = {0.0, 30.0};
  ds.cell_type = {0, 1, 0, 1};
  ds.cell_id = {10, 11, 12, 13};
  ds.dim = 2;
  ds.positions = {10, 10, 30, 40, 150, 20, 120, 120};
  ds.expression.resize(2 * 4 * 3);
  for (std::size_t k = 0; k < ds.expression.size(); ++k)
    ds.expression[k] = 0.1 + 0.01 * static_cast<double>(k);
  mpi::agree(MPI_COMM_WORLD, [&] {
    if (mpi::rank(MPI_COMM_WORLD) != 0) return;
    fs::remove(path);
    write_dataset(path, ds);
  });
  const Deck deck =
      parse(deck_text(predict_section("  dataset: " + path + "\n  start: 1\n" + R"(  perturbations:
    - {gene: A, action: knockout, ids: [12]}
)")),
            {"time.end=40"});
  PredictSetup setup = read_predict_setup(deck, mpi::size(MPI_COMM_WORLD));
  EXPECT_EQ(setup.simulation.start_time, 30.0);
  Simulation sim(MPI_COMM_WORLD, setup.simulation);
  EXPECT_EQ(sim.time(), 30.0);
  EXPECT_EQ(sim.total_steps(), 10);
  apply_perturbations(MPI_COMM_WORLD, sim, setup.predict.perturbations);
  const Gathered start = gather(MPI_COMM_WORLD, snapshot(sim.cells()));
  ASSERT_EQ(start.cells.size(), 4u);
  for (std::size_t c = 0; c < 4; ++c)
    for (std::size_t g = 0; g < 3; ++g) {
      const double expected = ds.cell_id[c] == 12 && g == 0 ? 0.0 : ds.x(1, c, g);
      EXPECT_EQ(start.gene(ds.cell_id[c], static_cast<int>(g)), expected);
    }
  while (sim.step_index() < sim.total_steps())
    sim.step();
  EXPECT_DOUBLE_EQ(sim.time(), 40.0);
  EXPECT_EQ(gather(MPI_COMM_WORLD, snapshot(sim.cells())).gene(12, 0), 0.0);
}

// SPEC §2: d <= r_sig in predict as in run. Frozen cells on the lattice lo + 8 + 16 i of a periodic 144 um
// square: 4 neighbours each at exactly 16 um, the rank cut of 2 or 2 x 2 boxes at 64 um on a site, and the
// overexpressing column at 48 um exactly one ghost width from it. r_sig = 16 um must predict what 16.5 um
// does (the same neighbours and weights) and not what 15.5 um (no neighbours) does.
TEST(Predict, NeighboursAtExactlyTheSignalingRangeSignal) {
  auto predicted_with_range = [](const std::string& range) {
    const std::string text = R"(
domain: {dim: 2, lo: [-8, -8], hi: [136 um, 136 um], boundary: periodic}
cells:
  types: [x, y]
  init: {placement: lattice, spacing: 16 um, genes: uniform, gene_low: 0.2, gene_high: 1}
mechanics: {frozen: true}
grn:
  model: graph_ode
  genes: [A, B, C]
  edges:
    - {source: A, target: B}
  graph_ode: )" + architecture +
                             R"(
signaling:
  range: )" + range + R"(
  length: 10 um
  pairs:
    - {ligand: A, receptor: C}
time: {dt: 1 min, end: 4 min, integrator: rk4, dt_grn: 0.5 min}
random: {seed: 17}
)" + predict_section(R"(  perturbations:
    - {gene: A, action: overexpress, value: 1.5, region: {lo: [40, -8], hi: [56, 136]}}
)");
    return predict(MPI_COMM_WORLD, parse(text)).end;
  };
  const Gathered exact = predicted_with_range("16 um"), wider = predicted_with_range("16.5 um"),
                 narrower = predicted_with_range("15.5 um");
  ASSERT_EQ(exact.cells.size(), 81u);
  bool differs = false;
  for (const auto& [id, i] : exact.row)
    for (int g = 0; g < 3; ++g) {
      // The same graph evaluated in the same order: equal to the last bit.
      EXPECT_EQ(exact.gene(id, g), wider.gene(id, g)) << "cell " << id << " gene " << g;
      differs |= exact.gene(id, g) != narrower.gene(id, g);
    }
  EXPECT_TRUE(differs) << "the test needs signalling to change the prediction";
}

TEST(Predict, WrongInputsNameTheirKey) {
  auto with = [](const std::string& perturbations) { return deck_text(predict_section(perturbations)); };
  EXPECT_NE(predict_error(with("  perturbations:\n    - {gene: Q, action: knockout}\n"))
                .find("key 'predict.perturbations[0].gene': unknown gene 'Q'"),
            std::string::npos);
  EXPECT_NE(predict_error(with("  perturbations:\n    - {gene: A, action: knockout, types: [z]}\n"))
                .find("key 'predict.perturbations[0].types': unknown cell type 'z'"),
            std::string::npos);
  EXPECT_NE(predict_error(with("  perturbations:\n    - {gene: A, action: overexpress}\n"))
                .find("key 'predict.perturbations[0].action': overexpress needs a value"),
            std::string::npos);
  EXPECT_NE(predict_error(with("  perturbations:\n    - {gene: A, action: knockout, value: 1}\n"))
                .find("key 'predict.perturbations[0].value'"),
            std::string::npos);
  EXPECT_NE(predict_error(with("  perturbations:\n    - {gene: A, action: knockout, region: {lo: [0, 0], hi: "
                               "[1, 1], radius: 3}}\n"))
                .find("not both"),
            std::string::npos);
  // The deck's architecture differs from the model's (hidden 8 against 4).
  const std::string mismatch = predict_error(with(""), {"grn.graph_ode.hidden=8"});
  EXPECT_NE(mismatch.find("key 'predict.model'"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("hidden"), std::string::npos) << mismatch;
  // A missing model file is rejected when the deck is read.
  const std::string missing = predict_error(deck_text("predict:\n  model: no_such_model.h5\n"));
  EXPECT_NE(missing.find("key 'predict.model'"), std::string::npos) << missing;
  // No model at all, and a run deck's model_file beside it.
  EXPECT_NE(predict_error(deck_text("")).find("key 'predict.model'"), std::string::npos);
  EXPECT_NE(predict_error(with(""), {"grn.graph_ode.model_file=" + model_path()})
                .find("key 'grn.graph_ode.model_file'"),
            std::string::npos);
  // An id that no cell has is found when the selection is resolved on the tissue.
  const Deck deck = parse(with("  perturbations:\n    - {gene: A, action: knockout, ids: [5, 4000]}\n"));
  PredictSetup setup = read_predict_setup(deck, mpi::size(MPI_COMM_WORLD));
  Simulation sim(MPI_COMM_WORLD, setup.simulation);
  try {
    apply_perturbations(MPI_COMM_WORLD, sim, setup.predict.perturbations);
    ADD_FAILURE() << "an unknown id was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no cell of the initial tissue has id 4000"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("predict.perturbations[0].ids"), std::string::npos) << e.what();
  }
}

TEST(Predict, DaughtersOfASelectedTypeAreClampedToo) {
  // A type selection is tested at every step, so cells born during the prediction are perturbed like their
  // parents; selections by id or region are fixed at the start and are refused when cells divide.
  const std::vector<std::string> dividing = {"cells.division.time=[15 min, .inf]", "cells.max_cells=2000"};
  const Prediction p = predict(MPI_COMM_WORLD, parse(deck_text(predict_section(R"(  perturbations:
    - {gene: A, action: knockout, types: [x]}
)")),
                                                     dividing));
  EXPECT_GT(p.end.cells.size(), p.start.cells.size());
  long long daughters = 0;
  for (std::size_t i = 0; i < p.end.cells.size(); ++i) {
    if (p.end.cells.type[i] != 0) continue;
    EXPECT_EQ(p.end.cells.genes[i * 3 + 0], 0.0) << "cell " << p.end.cells.id[i];
    daughters += p.start.row.count(p.end.cells.id[i]) == 0;
  }
  EXPECT_GT(daughters, 10);
  const std::string refused = predict_error(
      deck_text(predict_section("  perturbations:\n    - {gene: A, action: knockout, ids: [1]}\n")),
      dividing);
  EXPECT_NE(refused.find("key 'predict.perturbations[0].ids'"), std::string::npos) << refused;
}
