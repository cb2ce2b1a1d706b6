// `tessera train` (SPEC §3): read the deck, make or read the dataset, build the model and the objective,
// optimise (AdamW with checkpoints, or TAO's L-BFGS), and write model.h5, loss.csv, predicted.h5 and the
// learned GRN.
#include "tessera/app/commands.hpp"
#include "tessera/app/run_directory.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/core/version.hpp"
#include "tessera/grn/model_factory.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/derivative_prefit.hpp"
#include "tessera/learn/grn_readout.hpp"
#include "tessera/learn/lbfgs.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/learn/ridge_baseline.hpp"
#include "tessera/learn/train_checkpoint.hpp"
#include "tessera/learn/train_report.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/learn/training_warnings.hpp"
#include "tessera/learn/warm_start.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

namespace tessera::app {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> train_outputs = {
    "model.h5",      "loss.csv",     "gradient.h5",  "tessera.log",  "resolved_deck.yaml",
    "lr_scores.tsv", "metrics.json", "predicted.h5", "checkpoint.h5"}; // and grn_<type>.tsv

// What the deck says, read on every rank (same text, same verdict).
struct TrainSetup {
  Domain domain;
  std::array<int, 3> rank_grid{0, 0, 0};
  int groups = 1;
  CellTypes types;
  GeneNetwork network;
  SignalingParams signaling;
  std::string family;       // the model family fitted (train.model, or its default)
  TrainableModelSpec model; // its grn.<family> settings
  TrainParams params;
  TimeParams time;
  std::uint64_t seed = 0;
  bool network_is_truth = false;     // the model's gene graph is the simulated ground truth
  std::string graph_source;          // where the model's gene graph comes from, for messages
  bool graph_from_dataset = false;   // it is the dataset's /grn/prior
  std::vector<std::string> warnings; // about the inputs, for rank 0's log once it is open
};

TrainSetup read_train_setup(const Deck& deck, int n_ranks) {
  TrainSetup s;
  s.domain = read_domain(deck);
  s.groups = read_groups(deck, n_ranks);
  s.rank_grid = read_rank_grid(deck, s.domain.dim, n_ranks / s.groups);
  s.types = read_cell_types(deck);
  s.network = read_gene_network(deck, s.types.names);
  s.params = read_train_params(deck);
  if (s.params.simulate && s.network.model != "hill")
    deck.section("grn").fail(
        "model", "train.simulate runs the deck's ground-truth simulation: set grn.model: "
                 "hill (the fitted family comes from train.model, its settings from grn.<family>)");
  if (!s.params.model.empty()) {
    s.family = s.params.model;
    if (!is_trainable_family(s.family)) (void)read_trainable_model_spec(deck, s.family, "train.model");
  } else if (s.params.simulate) {
    s.family = "graph_ode";
  } else {
    s.family = s.network.model;
    if (!is_trainable_family(s.family))
      deck.section("grn").fail(
          "model", "tessera train fits a learnable model: set grn.model (or train.model) to one of " + [] {
            std::string out;
            for (const std::string& f : trainable_families())
              out += (out.empty() ? "" : ", ") + f;
            return out;
          }() + " (or train.simulate: true to fit a hill deck's own simulation)");
  }
  if (s.params.group_lasso > 0.0 && s.family == "graph_ode")
    deck.section("train").fail("group_lasso", "groups the per-edge parameters of hill and sigmoid; the " +
                                                  s.family +
                                                  " model has none: set train.group_lasso: 0 or "
                                                  "train.model: sigmoid or hill");
  s.signaling = read_signaling(deck, s.network);
  s.model = read_trainable_model_spec(deck, s.family, s.params.model.empty() ? "grn.model" : "train.model");
  // The hill network of a simulate deck is the truth, not the model's graph unless nothing else is given.
  s.network_is_truth = s.params.simulate;
  s.graph_source =
      s.params.simulate ? "the simulated hill network (grn.edges, grn.table)" : "grn.edges, grn.table";
  if (!s.params.prior.empty()) {
    s.network.use_prior_graph();
    std::vector<std::string> skipped;
    parse_prior_table(deck.section("train").file_text("prior"), s.params.prior, s.types.names, s.network,
                      skipped);
    s.network_is_truth = false;
    s.graph_source = "train.prior " + s.params.prior;
    if (s.model.dense)
      s.warnings.push_back("train.prior " + s.params.prior + " is not used: grn." + s.family +
                           ".prior is dense (every ordered pair j -> k is an edge); remove train.prior, or "
                           "set grn." +
                           s.family + ".prior: edges to train on its graph");
    else
      s.warnings.insert(s.warnings.end(), skipped.begin(), skipped.end());
  }
  // Only the ground-truth simulation of train.simulate runs to time.end; fitting integrates between the
  // dataset's observation times.
  s.time = read_time_params(deck, s.params.simulate ? EndTime::required : EndTime::optional);
  s.seed = read_seed(deck);
  return s;
}

// The dataset's ligand-receptor pairs when the deck names none, and its prior gene graph when the deck has
// no edges (SPEC §6.3 /grn/prior; `*` applies to every type). Rows that add nothing to the graph (self loops,
// repeats within a group) are left out with a warning naming the file, group and row.
void complete_from_dataset(const TrajectoryDataset& dataset, const std::string& path, TrainSetup& s) {
  s.signaling.default_pairs(dataset.ligand_receptor);
  if (s.network_is_truth && !dataset.prior_grn.empty()) s.network.use_prior_graph();
  if (!s.network.edges.empty() || dataset.prior_grn.empty()) return;
  s.network.use_prior_graph(); // the deck's edges (none, or the simulated truth) stay what init: deck reads
  s.network_is_truth = false;
  s.graph_source = path + " /grn/prior";
  s.graph_from_dataset = true;
  const bool dense = s.model.dense;
  for (const auto& [type, edges] : dataset.prior_grn) {
    int index = -1;
    if (type != "*") {
      const auto& names = dataset.cell_types;
      index = static_cast<int>(std::find(names.begin(), names.end(), type) - names.begin());
      if (index == static_cast<int>(names.size())) continue; // validated by read_dataset
    }
    std::map<std::array<int, 2>, std::size_t> first_row;
    for (std::size_t row = 0; row < edges.size(); ++row) {
      const auto& e = edges[row];
      const std::string where = path + ": /grn/prior/" + type + " row " + std::to_string(row) + ": " +
                                dataset.genes[e[0]] + " -> " + dataset.genes[e[1]];
      if (e[0] == e[1]) {
        if (!dense)
          s.warnings.push_back(where + " is a self loop; ignored (the model gives every gene its own)");
        continue;
      }
      const auto [it, first] = first_row.emplace(e, row);
      if (!first) {
        if (!dense) s.warnings.push_back(where + " repeats row " + std::to_string(it->second) + "; ignored");
        continue;
      }
      RegulatoryEdge edge;
      edge.type = index;
      edge.source = e[0];
      edge.target = e[1];
      s.network.edges.push_back(edge);
    }
  }
}

// Under grn.<family>.prior: edges, a cell type without a single edge in the gene graph (none of its own,
// none for `*`) has genes driven by their self loops and ligand-receptor inputs alone. That can be meant
// (nothing is known about the type's regulation), so it is a warning, naming the type and the graph's source.
void warn_uncovered_types(TrainSetup& s) {
  if (s.model.dense) return;
  std::vector<std::string> uncovered;
  for (int t = 0; t < static_cast<int>(s.types.names.size()); ++t) {
    const auto regulators = s.network.regulators(t, false);
    if (std::all_of(regulators.begin(), regulators.end(), [](const auto& r) { return r.empty(); }))
      uncovered.push_back(s.types.names[static_cast<std::size_t>(t)]);
  }
  if (uncovered.size() == s.types.names.size()) {
    s.warnings.push_back(
        "the prior gene graph (" + s.graph_source +
        ") has no edges: every gene gets only its self loop and ligand-receptor inputs; give "
        "train.prior, grn.edges or a dataset /grn/prior, or set grn." +
        s.family + ".prior: dense");
    return;
  }
  for (const std::string& type : uncovered)
    s.warnings.push_back(
        "cell type '" + type + "' has no edge in the prior gene graph (" + s.graph_source +
        (s.graph_from_dataset ? ": no /grn/prior/" + type + " and no /grn/prior/* group" : std::string()) +
        "): its genes get only their self loops and ligand-receptor inputs; add edges for '" + type +
        "' or '*', or set grn." + s.family + ".prior: dense");
}

std::string mode_name(TrainMode mode) {
  return mode == TrainMode::window ? "window" : mode == TrainMode::full ? "full" : "one_step";
}

// predicted.h5: the dataset's layout (SPEC §6.3) holding the model's trajectory from the observed state at
// t_0 through every observation time (the first time point is the observation itself), and the observations
// as /observed so `tessera convert predicted.h5 out.h5ad` puts both side by side.
void write_predicted(const std::string& path, const TrajectoryDataset& dataset,
                     const std::vector<double>& predicted) {
  TrajectoryDataset out = dataset;
  const std::size_t frame = dataset.n_cells() * dataset.n_genes();
  std::copy(predicted.begin(), predicted.end(), out.expression.begin() + static_cast<std::ptrdiff_t>(frame));
  out.truth_grn.clear();
  out.observed = dataset.expression;
  write_dataset(path, out);
}

// "<total> (data <mse> + l1 <penalty>)", full precision (%.17g) so runs can be compared to the last bit;
// the terms the configured optimizer has (weight decay only under lbfgs: AdamW's is decoupled).
std::string loss_terms_text(const ObjectiveTerms& terms, const TrainParams& params) {
  auto exact = [](double v) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", v);
    return std::string(text);
  };
  std::string out = exact(terms.total()) + " (data " + exact(terms.data);
  if (params.optimizer == TrainOptimizer::lbfgs)
    out += " + weight decay " + exact(terms.weight_decay);
  else
    out += " + l1 " + exact(terms.l1);
  if (params.l2 > 0.0) out += " + l2 " + exact(terms.l2);
  if (params.group_lasso > 0.0) out += " + group lasso " + exact(terms.group_lasso);
  return out + ")";
}

} // namespace

int train_command(MPI_Comm comm, const DeckOptions& options, const TrainOptions& train, Log& log) {
  const Deck deck = load_deck(comm, options);
  TrainSetup s;
  mpi::agree(comm, [&] { s = read_train_setup(deck, mpi::size(comm)); });
  TrainParams& params = s.params;
  const double walltime = command_walltime(comm, options, deck);
  // From here a SIGTERM or SIGUSR1 is kept for the first poll (after iteration 1 at the latest) instead of
  // ending the process in the middle of the setup.
  install_stop_handlers();
  const bool restart = !train.restart.empty();
  mpi::agree(comm, [&] {
    if (restart && params.optimizer == TrainOptimizer::lbfgs)
      throw input_error("--restart continues AdamW from its checkpoint; train.optimizer is lbfgs");
    if (restart && !options.output_dir.empty() && fs::path(options.output_dir) != fs::path(train.restart))
      throw input_error("--restart " + train.restart + " continues in that directory; drop -o " +
                        options.output_dir);
  });
  const std::string dir = restart ? train.restart : default_run_directory(options, "");

  // A restart reads and checks its checkpoint before touching the run directory: a refused restart leaves
  // the earlier outputs as they were.
  TrainCheckpoint checkpoint;
  if (restart) {
    mpi::agree(comm, [&] {
      if (!fs::is_regular_file(fs::path(dir) / "checkpoint.h5"))
        throw input_error("--restart " + dir +
                          ": no checkpoint.h5 there (train.checkpoint_every writes one)");
      checkpoint = read_checkpoint(dir, s.model, s.network.genes, s.types.names);
      if (params.keep_best && checkpoint.progress.best_parameters.empty())
        throw input_error(dir + "/checkpoint.h5 has no /best (written without train.keep_best): restart "
                                "with -s train.keep_best=false, or train again");
      if (checkpoint.progress.iteration >= params.iterations)
        throw input_error(dir + "/checkpoint.h5 is at iteration " +
                          std::to_string(checkpoint.progress.iteration) + ", train.iterations is " +
                          std::to_string(params.iterations) +
                          ": nothing left to do (raise train.iterations with -s)");
    });
    // The run continues: its outputs after the checkpoint (model, read-out, predictions) are redone.
    std::vector<std::string> replace = {"model.h5", "lr_scores.tsv", "metrics.json", "predicted.h5"};
    for (const std::string& type : s.types.names)
      replace.push_back("grn_" + type + ".tsv");
    prepare_run_directory(comm, dir, true, replace);
  } else {
    std::vector<std::string> outputs = train_outputs;
    for (const std::string& type : s.types.names)
      outputs.push_back("grn_" + type + ".tsv");
    if (params.simulate) outputs.insert(outputs.end(), run_outputs.begin(), run_outputs.end());
    prepare_run_directory(comm, dir, options.overwrite, outputs);
  }
  open_run_log(comm, dir, deck, options.invocation, log, !restart);

  if (params.simulate) {
    params.dataset = (fs::path(dir) / "dataset.h5").string();
    if (!restart) {
      // The ground truth: the deck's hill simulation, recorded as a dataset with its network as /grn/truth.
      SimulationSetup setup;
      mpi::agree(comm, [&] {
        setup = read_simulation_setup(deck, mpi::size(comm));
        setup.output.dataset = true;
        if (setup.lifecycle.divides() || setup.lifecycle.dies())
          deck.section("train").fail("simulate", "a dataset needs the same cells at every observation: "
                                                 "remove cells.division and cells.death");
      });
      const RunProvenance provenance = run_provenance("train (simulate)", options, deck, setup);
      log.info("tessera train: simulating the ground truth (" + setup.network.model + ") into " + dir + "/");
      Simulation sim(comm, setup);
      const RunSummary summary = sim.run(dir, provenance, log);
      log.info("tessera train: simulated " + std::to_string(summary.steps) + " steps, " +
               std::to_string(summary.cells) + " cells in " + human_seconds(summary.wall_s));
    }
  }

  // Every rank reads the (small, serial) dataset itself: the same file, the same verdict.
  TrajectoryDataset dataset;
  mpi::agree(comm, [&] {
    dataset = read_dataset(params.dataset);
    check_dataset_matches(dataset, s.network.genes, s.types.names, params.dataset);
    check_dataset_in_domain(dataset, s.domain, params.dataset);
    complete_from_dataset(dataset, params.dataset, s);
    warn_uncovered_types(s);
  });
  for (const std::string& warning : s.warnings)
    log.warn(warning);
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck + ", dataset " + params.dataset + ": " +
           std::to_string(dataset.n_times()) + " time points, " + std::to_string(dataset.n_cells()) +
           " cells, " + std::to_string(dataset.n_genes()) + " genes, " +
           std::to_string(s.signaling.pairs.size()) + " LR pairs; model " + s.family + ", mode " +
           mode_name(params.mode) + ", " + (params.use_cvode ? "cvode" : "rk4") + ", " +
           (params.optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw") + ", " +
           std::to_string(mpi::size(comm)) + " rank(s) in " + std::to_string(s.groups) + " group(s)");

  const std::string counts = raw_counts_warning(dataset, params.dataset);
  if (!counts.empty()) log.warn(counts);
  const std::string offset = log_offset_warning(dataset, s.model.log_input_offset,
                                                "grn." + s.family + ".log_offset", params.dataset);
  if (!offset.empty()) log.warn(offset);
  if (s.network_is_truth && !s.model.dense)
    log.info("tessera train: note: the model's gene graph is the simulated hill network itself (the truth); "
             "give train.prior or grn." +
             s.family + ".prior: dense to learn the graph");
  std::unique_ptr<TrainableGeneModel> model = s.model.build(comm, s.network, s.signaling, s.types.names);
  if (restart) mpi::agree(comm, [&] { restore_parameters(checkpoint, *model); });
  ObjectiveOptions objective_options;
  objective_options.dt = params.dt;
  objective_options.use_cvode = params.use_cvode;
  objective_options.cvode = s.time;
  objective_options.cvodes.backward_tolerance_factor = params.cvode_backward_factor;
  objective_options.groups = s.groups;
  const TrajectoryObjective objective(comm, s.domain, s.rank_grid, s.signaling, dataset, objective_options);
  const TimeSplit split = split_times(dataset.n_times(), params.val_fraction);
  const auto& values = model->parameters().values();
  // The baselines fitted on the same data and candidate edges (SPEC §3.5): what a family with `init: ridge`
  // starts from, and what the trained model is reported beside at the end.
  std::vector<std::vector<std::vector<int>>> candidates;
  for (int c = 0; c < s.types.count(); ++c)
    candidates.push_back(s.network.regulators(c, s.model.dense));
  const DerivativeBaselines baselines =
      fit_derivative_baselines(objective, candidates, model->pairs(), split);
  if (s.model.warm_start && s.model.model_file.empty() && !restart) {
    if (baselines.ridge.empty())
      log.warn("tessera train: grn." + s.family + ".init is ridge but the ridge was not fitted (" +
               baselines.selection + "); the model keeps its constant initialisation");
    else if (model->warm_start(linear_derivative_fits(baselines)))
      log.info("tessera train: " + s.family + " starts from the ridge fit (lambda " +
               format_number(baselines.lambda) + ")");
  }
  // PETSc (TAO's L-BFGS) for the pre-fit and the lbfgs optimizer: initialised once, finalised at the end.
  std::optional<petsc::Session> petsc_session;
  const bool prefit = params.prefit == TrainPrefit::derivative ||
                      (params.prefit == TrainPrefit::automatic && s.model.prefit_by_default);
  if (prefit && s.model.model_file.empty() && !restart) {
    petsc_session.emplace(comm);
    const double started = seconds_since_start();
    const PrefitResult prefit = prefit_derivatives(objective, *model, split, params.prefit_iterations,
                                                   params.l2, params.tao_from_options);
    log.info("tessera train: derivative pre-fit: loss " + format_number(prefit.initial_loss) + " -> " +
             format_number(prefit.final_loss) + " in " + std::to_string(prefit.iterations) +
             " L-BFGS steps (" + prefit.reason + ", " + human_seconds(seconds_since_start() - started) + ")");
  }

  if (train.gradient_only || train.check_gradient) {
    // The objective the optimizer minimises at its first evaluation: adamw iteration 1's sampled windows,
    // lbfgs every training window; every term of it (SPEC §3.2).
    const std::vector<ObservationWindow> windows = params.optimizer == TrainOptimizer::lbfgs
                                                       ? all_training_windows(params, split)
                                                       : training_windows(params, split, s.seed, 1);
    ParameterGradient gradient("tessera::train::gradient", values.extent(0), values.extent(1));
    const ObjectiveTerms terms = training_objective(objective, *model, params, windows, gradient);
    const std::string loss = loss_terms_text(terms, params);
    if (train.gradient_only) {
      const std::string path = (fs::path(dir) / "gradient.h5").string();
      mpi::agree(comm, [&] {
        if (mpi::rank(comm) == 0) write_gradient(path, *model, gradient, terms, params, windows);
      });
      log.always("tessera train: loss " + loss + " over " + std::to_string(windows.size()) +
                 " start times; gradient in " + path);
    }
    if (train.check_gradient) {
      const GradientCheck check = check_gradient(objective, *model, params, windows, gradient, 20, s.seed);
      log.always("tessera train: loss " + loss +
                 "; worst relative error of the gradient against central differences: " +
                 format_number(check.worst) + " (" + std::to_string(check.checked) +
                 " parameters compared, " + std::to_string(check.at_kinks) + " skipped at ReLU kinks)");
    }
    return 0;
  }

  TrainProvenance provenance;
  provenance.mode = mode_name(params.mode);
  provenance.optimizer = params.optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw";
  provenance.dataset = params.dataset;
  provenance.deck = deck.resolved_yaml();
  provenance.ranks = mpi::size(comm);
  provenance.groups = s.groups;
  provenance.invocation = options.invocation;

  AdamW optimizer(params);
  TrainProgress progress;
  if (restart) {
    optimizer.restore(checkpoint.optimizer_steps, checkpoint.first_moment, checkpoint.second_moment);
    progress = checkpoint.progress;
    log.info("tessera train: restarting from " + dir + "/checkpoint.h5 at iteration " +
             std::to_string(progress.iteration));
  }

  // loss.csv: on restart, the checkpoint's history is rewritten first (rows a crash left after it go).
  std::ofstream csv;
  if (mpi::rank(comm) == 0) {
    csv.open(fs::path(dir) / "loss.csv", std::ios::trunc);
    csv.precision(17);
    csv << "iteration,train,validation,grad_norm,wall_s,lr\n";
    for (const TrainRecord& r : progress.records)
      csv << r.iteration << "," << r.train << "," << r.validation << "," << r.grad_norm << "," << r.wall_s
          << "," << r.lr << "\n";
    csv.flush();
  }
  const long long first = progress.iteration;
  DivergenceWatch divergence(params.dataset);
  for (const TrainRecord& r : progress.records) // a restart: the first loss is the run's first
    divergence.observe(r);
  // What predicting "no change" scores on the same windows: the progress lines' reference.
  const double no_change_train = no_change_loss(dataset, all_training_windows(params, split));
  const double no_change_validation = no_change_loss(dataset, validation_windows(params, split));
  log.info("tessera train: predicting \"no change\" scores train " + format_number(no_change_train) +
           ", validation " +
           (std::isfinite(no_change_validation) ? format_number(no_change_validation) : std::string("-")) +
           " on the same windows");
  const bool scheduled = params.lr_schedule != LrSchedule::constant || params.warmup > 0;
  auto report = [&](const TrainRecord& r) {
    const std::string diverging = divergence.observe(r);
    if (!diverging.empty()) log.warn(diverging);
    if (csv.is_open()) {
      csv << r.iteration << "," << r.train << "," << r.validation << "," << r.grad_norm << "," << r.wall_s
          << "," << r.lr << "\n";
      csv.flush();
    }
    if (r.iteration % params.progress_every != 0 && r.iteration != params.iterations) return;
    const double wall_before = first > 0 ? progress.records[static_cast<std::size_t>(first) - 1].wall_s : 0.0;
    const double per_iteration = (r.wall_s - wall_before) / static_cast<double>(r.iteration - first);
    // The train loss beside "no change" on the very windows it is over: adamw's sampled ones (a function of
    // the iteration), lbfgs every training window. Penalty terms, when set, are in the train loss only.
    const double no_change_now =
        params.optimizer == TrainOptimizer::lbfgs
            ? no_change_train
            : no_change_loss(dataset, training_windows(params, split, s.seed, r.iteration));
    std::ostringstream line;
    line << "  iteration " << r.iteration << "/" << params.iterations << "  train " << format_number(r.train)
         << " (" << format_number(r.train / no_change_now) << " x no change)  validation "
         << (std::isfinite(r.validation)
                 ? format_number(r.validation) + " (" + format_number(r.validation / no_change_validation) +
                       " x no change)"
                 : std::string("-"))
         << "  |g| " << format_number(r.grad_norm)
         << (scheduled ? "  lr " + format_number(r.lr) : std::string()) << "  "
         << format_number(per_iteration) << " s/it  ETA "
         << human_seconds(per_iteration * static_cast<double>(params.iterations - r.iteration));
    log.info(line.str());
  };

  // SIGTERM, SIGUSR1 and the wall-clock limit end the optimisation at an iteration boundary, the same one
  // on every rank (core/stop_request.hpp).
  StopPoll stop(walltime, progress.iteration + 1); // the first poll ends the next iteration
  auto stop_requested = [&] { return stop.poll(comm) != StopReason::none; };
  std::string stop_reason;
  long long checkpointed = -1; // the iteration of the last checkpoint written
  auto write_checkpoint_now = [&](const TrainProgress& p) {
    const double started = seconds_since_start();
    mpi::agree(comm, [&] {
      if (mpi::rank(comm) == 0) write_checkpoint(dir, *model, optimizer, params, provenance, p);
    });
    stop.checkpoint_took(seconds_since_start() - started);
    checkpointed = p.iteration;
  };
  if (params.optimizer == TrainOptimizer::lbfgs) {
    if (!petsc_session) petsc_session.emplace(comm);
    stop_reason = train_lbfgs(objective, *model, params, progress, report, stop_requested);
  } else {
    auto checkpoint = [&](const TrainProgress& p) {
      if (params.checkpoint_every == 0 || p.iteration % params.checkpoint_every != 0) return;
      write_checkpoint_now(p);
    };
    train_adamw(objective, *model, params, s.seed, optimizer, progress, report, checkpoint, stop_requested);
  }
  // Stopped early on request: not at the last iteration, not by the stopping rules (those finish the run).
  const StopReason stopped_by =
      progress.iteration < params.iterations && progress.stopped.empty() ? agreed_stop() : StopReason::none;
  // The checkpoint first: what makes the run resumable, before the outputs below take their time.
  if (stopped_by != StopReason::none && params.optimizer == TrainOptimizer::adamw &&
      checkpointed != progress.iteration)
    write_checkpoint_now(progress);
  if (!progress.stopped.empty()) log.info("tessera train: " + progress.stopped);
  if (stopped_by == StopReason::none && progress.stopped.empty()) {
    const std::string falling =
        still_falling_warning(progress.records, params.iterations, params.stop_window);
    if (!falling.empty()) log.warn(falling);
  }
  if (params.keep_best) {
    // model.h5, predicted.h5, the read-out and metrics.json are all of the best-validation parameters.
    if (progress.best_iteration == 0) {
      log.warn("train.keep_best: no finite validation loss was seen (too few observation times held out by "
               "train.val_fraction?): keeping the last iteration's parameters");
    } else {
      model->parameters().set_flat(progress.best_parameters);
      const TrainRecord& best = progress.records[static_cast<std::size_t>(progress.best_iteration) - 1];
      log.info("tessera train: keeping the parameters of iteration " + std::to_string(best.iteration) +
               " (train.keep_best): validation loss " + format_number(best.validation) +
               ", the lowest; the last iteration's was " + format_number(progress.records.back().validation));
    }
  }

  // predicted.h5: the trained model's trajectory from the first observation through all of them.
  std::vector<double> predicted;
  objective.predict(*model, {0, static_cast<int>(dataset.n_times()) - 1}, predicted);
  // A training that diverged is a runtime failure (exit 1), not an input error: say so before any output
  // would hold NaN (predicted.h5 refused it as a bad dataset, exit 2). loss.csv and checkpoints stay.
  mpi::agree(comm, [&] {
    const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model->parameters().values());
    bool finite = std::all_of(predicted.begin(), predicted.end(), [](double v) { return std::isfinite(v); });
    for (std::size_t i = 0; i < theta.extent(0); ++i)
      for (std::size_t j = 0; j < theta.extent(1); ++j)
        finite = finite && std::isfinite(theta(i, j));
    if (!finite)
      throw runtime_error(
          "training diverged: the trained parameters or their trajectory are not finite after " +
          std::to_string(progress.iteration) + " iterations (see " + (fs::path(dir) / "loss.csv").string() +
          "); model.h5 and predicted.h5 not written. Lower train.lr, or check the data's time "
          "unit and scale");
  });
  const std::string model_path = (fs::path(dir) / "model.h5").string();
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0)
      write_trained_model(model_path, *model,
                          params.optimizer == TrainOptimizer::adamw ? &optimizer : nullptr, params,
                          provenance, progress);
  });
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) write_predicted((fs::path(dir) / "predicted.h5").string(), dataset, predicted);
  });
  // The learned GRN (SPEC §2.2): attention and Jacobian scores over the training time points.
  const LearnedGrn grn =
      learned_grn(objective, *model, readout_time_indices(dataset.n_times(), params.val_fraction));
  // Beside the baselines (fitted above): metrics.json and a table.
  const double model_mse = split.validation_starts.empty()
                               ? std::numeric_limits<double>::quiet_NaN()
                               : objective.evaluate(*model, split.validation_starts, ParameterGradient());
  const TrainMetrics metrics = train_metrics(grn, baselines, dataset, candidates, model->pairs(), model_mse);
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) {
      write_learned_grn(dir, grn, dataset);
      write_train_metrics(dir, metrics);
    }
  });
  for (const std::string& line : metrics_table(metrics))
    log.info("tessera train: " + line);
  if (stopped_by != StopReason::none) {
    // The outputs above are those of iteration N, as a normal end at N would write them; a restart redoes
    // them.
    const std::string stopped = "tessera train: stopped at iteration " + std::to_string(progress.iteration) +
                                " by " + describe(stopped_by) + "; ";
    // Where the signal arrived, as the receiving rank's handler saw it (core/stop_request.hpp).
    if (stop.receipt().signal != StopReason::none)
      log.info("tessera train: " + describe(stop.receipt(), "iteration"));
    if (params.optimizer == TrainOptimizer::lbfgs) {
      // TAO's curvature pairs are not checkpointed: L-BFGS cannot continue where it stopped.
      log.info(stopped + "L-BFGS cannot resume (--restart is AdamW's); model.h5 holds iteration " +
               std::to_string(progress.iteration) + "'s parameters: continue from them with -s grn." +
               s.family + ".model_file=" + shell_quote((fs::path(dir) / "model.h5").string()) +
               " (a fresh L-BFGS memory)");
      // Every rank is here (the stop was agreed): an agreed runtime failure, exit 1, not "resumable".
      Error error =
          runtime_error("stopped by " + describe(stopped_by) + " at iteration " +
                        std::to_string(progress.iteration) + " under lbfgs, which cannot be resumed");
      error.mark_agreed(0);
      throw error;
    }
    std::string resume = "tessera train " + shell_quote(options.deck);
    for (const std::string& o : options.overrides)
      resume += " -s " + shell_quote(o);
    log.info(stopped + "resume with " + resume + " --restart " + shell_quote(dir));
    return resumable_exit_code;
  }
  if (progress.records.empty()) {
    log.info("tessera train: done: no iteration completed (" + stop_reason + "); outputs in " + dir + "/");
    return 0;
  }
  const TrainRecord& last = progress.records.back();
  log.info("tessera train: done: " + std::to_string(last.iteration) + " iterations, train loss " +
           format_number(last.train) +
           (std::isfinite(last.validation) ? ", validation loss " + format_number(last.validation)
                                           : std::string()) +
           ", wall " + human_seconds(last.wall_s) +
           (!progress.stopped.empty()          ? " (stopped early)"
            : stop_reason.empty()              ? ""
            : stop_reason == "DIVERGED_MAXITS" ? " (TAO: reached train.iterations)"
                                               : " (TAO: " + stop_reason + ")") +
           "; outputs in " + dir + "/");
  return 0;
}

} // namespace tessera::app
