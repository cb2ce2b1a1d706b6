#include "tessera/app/commands.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/core/version.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/integrate/sundials.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/learn/grn_readout.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::app {

namespace fs = std::filesystem;

namespace {

// Collective. Reads the deck on rank 0, parses it on every rank (same text, same verdict).
Deck load_deck(MPI_Comm comm, const DeckOptions& options) {
  const std::string text = mpi::read_text_file(comm, options.deck);
  Deck deck;
  mpi::agree(comm, [&] { deck = Deck::parse(text, options.deck, options.overrides, all_key_tables()); });
  return deck;
}

std::string default_run_directory(const DeckOptions& options, const std::string& from_deck) {
  if (!options.output_dir.empty()) return options.output_dir;
  if (!from_deck.empty()) return from_deck;
  return (fs::path("runs") / fs::path(options.deck).stem()).string();
}

// Collective. Creates the run directory on rank 0. Earlier outputs are never replaced silently: with
// existing outputs and no --overwrite the run stops before touching anything (exit 2).
const std::vector<std::string> run_outputs = {"tessera.h5",  "tessera.xmf",        "summary.csv",
                                              "tessera.log", "resolved_deck.yaml", "dataset.h5"};
const std::vector<std::string> train_outputs = {"model.h5",    "loss.csv",           "gradient.h5",
                                                "tessera.log", "resolved_deck.yaml", "lr_scores.tsv",
                                                "metrics.json"}; // and grn_<type>.tsv

void prepare_run_directory(MPI_Comm comm, const std::string& dir, bool overwrite,
                           const std::vector<std::string>& outputs = run_outputs) {
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw input_error("-o " + dir + ": cannot create the run directory (" + ec.message() + ")");
    for (const std::string& name : outputs) {
      const fs::path p = fs::path(dir) / name;
      if (!fs::exists(p)) continue;
      if (!overwrite)
        throw input_error(
            p.string() +
            " exists from an earlier run; pass --overwrite to replace it or choose another -o DIR");
      fs::remove(p, ec);
      if (ec) throw input_error(p.string() + ": cannot remove (" + ec.message() + ")");
    }
  });
}

} // namespace

int run_command(const DeckOptions& options, Log& log) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const Deck deck = load_deck(comm, options);
  SimulationSetup setup;
  mpi::agree(comm, [&] { setup = read_simulation_setup(deck, mpi::size(comm)); });
  const std::string dir = default_run_directory(options, setup.output.directory);
  prepare_run_directory(comm, dir, options.overwrite);
  log.open_file((fs::path(dir) / "tessera.log").string());
  const std::string resolved = deck.resolved_yaml();
  if (mpi::rank(comm) == 0) std::ofstream(fs::path(dir) / "resolved_deck.yaml") << resolved;
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck);

  RunProvenance provenance;
  provenance.deck_file = options.deck;
  provenance.resolved_deck = resolved;
  provenance.kokkos_backend = Kokkos::DefaultExecutionSpace::name();
  provenance.command = "run";
  provenance.gene_names = setup.network.genes;
  provenance.type_names = setup.types.names;

  Simulation sim(comm, setup);
  const RunSummary s = sim.run(dir, provenance, log);
  const PhaseTimes& p = s.phases;
  std::ostringstream line;
  line << "tessera run: done: " << s.steps << " steps to t = " << format_number(s.simulated_min) << " min, "
       << s.cells << " cells (" << s.divisions << " divisions, " << s.deaths << " deaths), wall "
       << human_seconds(s.wall_s) << " ["
       << "migrate " << human_seconds(p.migrate) << ", halo " << human_seconds(p.halo) << ", neighbours "
       << human_seconds(p.neighbours) << ", mechanics " << human_seconds(p.mechanics) << ", GRN "
       << human_seconds(p.grn) << ", division/death " << human_seconds(p.lifecycle) << ", output "
       << human_seconds(p.output) << "], "
       << format_number(s.wall_s > 0 ? static_cast<double>(s.cells) * s.steps / s.wall_s : 0.0)
       << " cell-steps/s; outputs in " << dir << "/";
  log.info(line.str());
  return 0;
}

int train_command(const DeckOptions& options, const TrainOptions& train, Log& log) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const Deck deck = load_deck(comm, options);
  Domain domain;
  std::array<int, 3> rank_grid{0, 0, 0};
  CellTypes types;
  GeneNetwork network;
  SignalingParams signaling;
  GraphOdeConfig config;
  TrainParams params;
  std::uint64_t seed = 0;
  TrajectoryDataset dataset;
  mpi::agree(comm, [&] {
    domain = read_domain(deck);
    rank_grid = read_rank_grid(deck, domain.dim, mpi::size(comm));
    types = read_cell_types(deck);
    network = read_gene_network(deck, types.names);
    if (network.model != "graph_ode")
      deck.section("grn").fail("model", "tessera train fits the graph_ode model: set grn.model: graph_ode");
    signaling = read_signaling(deck, network);
    config = read_graph_ode_config(deck);
    params = read_train_params(deck);
    seed = read_seed(deck);
  });
  // Every rank reads the (small, serial) dataset itself: the same file, the same verdict.
  mpi::agree(comm, [&] {
    dataset = read_dataset(params.dataset);
    check_dataset_matches(dataset, network.genes, types.names, params.dataset);
    // Without pairs in the deck, the dataset's ligand-receptor pairs (with the deck's range and length).
    if (signaling.pairs.empty())
      for (const auto& lr : dataset.ligand_receptor) {
        LigandReceptorPair pair;
        pair.ligand = lr[0];
        pair.receptor = lr[1];
        signaling.pairs.push_back(pair);
      }
  });
  const std::string dir = default_run_directory(options, "");
  std::vector<std::string> outputs = train_outputs;
  for (const std::string& type : dataset.cell_types)
    outputs.push_back("grn_" + type + ".tsv");
  prepare_run_directory(comm, dir, options.overwrite, outputs);
  log.open_file((fs::path(dir) / "tessera.log").string());
  if (mpi::rank(comm) == 0) std::ofstream(fs::path(dir) / "resolved_deck.yaml") << deck.resolved_yaml();
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck + ", dataset " + params.dataset + ": " +
           std::to_string(dataset.n_times()) + " time points, " + std::to_string(dataset.n_cells()) +
           " cells, " + std::to_string(dataset.n_genes()) + " genes, " +
           std::to_string(signaling.pairs.size()) + " LR pairs");

  std::unique_ptr<GraphOdeModel> model = make_graph_ode_model(comm, config, network, signaling, types.names);
  const OneStepObjective objective(comm, domain, rank_grid, signaling, dataset, params.dt);
  const TimeSplit split = split_times(dataset.n_times(), params.val_fraction);
  const auto& values = model->parameters().values();

  if (train.gradient_only || train.check_gradient) {
    const std::vector<int> starts = sample_starts(split.train_starts, params.time_points_per_iter, seed, 1);
    ParameterGradient gradient("tessera::train::gradient", values.extent(0), values.extent(1));
    const double loss = objective.evaluate(*model, starts, gradient);
    if (train.gradient_only) {
      GraphOdeParameters g(model->parameters().architecture(), network.genes, types.names);
      Kokkos::deep_copy(g.values(), gradient);
      const std::string path = (fs::path(dir) / "gradient.h5").string();
      mpi::agree(comm, [&] {
        if (mpi::rank(comm) == 0) write_graph_ode_model(path, g);
      });
      log.always("tessera train: loss " + format_number(loss) + " over " + std::to_string(starts.size()) +
                 " start times; gradient in " + path);
    }
    if (train.check_gradient) {
      const GradientCheck check = check_gradient(objective, *model, starts, gradient, 20, seed);
      log.always("tessera train: loss " + format_number(loss) +
                 "; worst relative error of the gradient against central differences: " +
                 format_number(check.worst) + " (" + std::to_string(check.checked) +
                 " parameters compared, " + std::to_string(check.at_kinks) + " skipped at ReLU kinks)");
    }
    return 0;
  }

  std::ofstream csv;
  if (mpi::rank(comm) == 0) {
    csv.open(fs::path(dir) / "loss.csv");
    csv << "iteration,train,validation,grad_norm,wall_s\n";
  }
  auto report = [&](const TrainRecord& r) {
    if (csv.is_open()) {
      csv.precision(17);
      csv << r.iteration << "," << r.train << "," << r.validation << "," << r.grad_norm << "," << r.wall_s
          << "\n";
      csv.flush();
    }
    const double per_iteration = r.wall_s / static_cast<double>(r.iteration);
    std::ostringstream line;
    line << "  iteration " << r.iteration << "/" << params.iterations << "  train " << format_number(r.train)
         << "  validation " << (std::isfinite(r.validation) ? format_number(r.validation) : std::string("-"))
         << "  |g| " << format_number(r.grad_norm) << "  " << format_number(per_iteration) << " s/it  ETA "
         << human_seconds(per_iteration * static_cast<double>(params.iterations - r.iteration));
    log.info(line.str());
  };
  AdamW optimizer(params);
  const std::vector<TrainRecord> records = train_one_step(objective, *model, params, seed, optimizer, report);
  const std::string model_path = (fs::path(dir) / "model.h5").string();
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    h5::File file = h5::File::create(model_path);
    write_graph_ode_model(file, model->parameters());
    // AdamW's state (moments in the layout of /params flattened: sets x values per set) and provenance.
    h5::Handle state = h5::create_group(file.get(), "optimizer");
    h5::write_text_attribute(state.get(), "method", "adamw");
    h5::write_int_attribute(state.get(), "step", optimizer.steps());
    for (const auto& [name, value] : {std::pair<const char*, double>{"lr", params.lr},
                                      {"beta1", params.beta1},
                                      {"beta2", params.beta2},
                                      {"eps", params.eps},
                                      {"weight_decay", params.weight_decay},
                                      {"clip", params.clip}})
      h5::write_real_attribute(state.get(), name, value);
    const auto n = static_cast<std::int64_t>(optimizer.first_moment().size());
    h5::write_rows(state.get(), "m", optimizer.first_moment().data(), h5::Rows{0, n, n});
    h5::write_rows(state.get(), "v", optimizer.second_moment().data(), h5::Rows{0, n, n});
    h5::Handle provenance = h5::create_group(file.get(), "provenance");
    h5::write_text_attribute(provenance.get(), "tessera", version() + " (" + git_hash() + ")");
    h5::write_text_attribute(provenance.get(), "command", "train");
    h5::write_text_attribute(provenance.get(), "mode", "one_step");
    h5::write_text_attribute(provenance.get(), "dataset", params.dataset);
    h5::write_text_attribute(provenance.get(), "deck", deck.resolved_yaml());
    h5::write_int_attribute(provenance.get(), "ranks", mpi::size(comm));
    h5::write_int_attribute(provenance.get(), "iterations", static_cast<std::int64_t>(records.size()));
    h5::write_real_attribute(provenance.get(), "final_train_loss", records.back().train);
  });
  // The learned GRN (SPEC §2.2): attention and Jacobian scores over the training time points.
  const LearnedGrn grn =
      learned_grn(objective, *model, readout_time_indices(dataset.n_times(), params.val_fraction));
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) write_learned_grn(dir, grn, dataset);
  });
  const TrainRecord& last = records.back();
  log.info("tessera train: done: " + std::to_string(last.iteration) + " iterations, train loss " +
           format_number(last.train) + ", wall " + human_seconds(last.wall_s) + "; outputs in " + dir + "/");
  return 0;
}

int check_command(const DeckOptions& options, bool reference, Log& log) {
  if (reference) {
    log.always(input_reference_markdown(all_key_tables()));
    if (options.deck.empty()) return 0;
  }
  MPI_Comm comm = MPI_COMM_WORLD;
  const Deck deck = load_deck(comm, options);
  // The cross-section checks (gene names in edges, type fractions, max_cells, ...) run too.
  // A deck for `train` also has its dataset checked against the deck's genes and cell types.
  mpi::agree(comm, [&] {
    const SimulationSetup setup = read_simulation_setup(deck, mpi::size(comm));
    if (deck.section("train").has("dataset")) {
      const TrainParams params = read_train_params(deck);
      check_dataset_matches(read_dataset(params.dataset), setup.network.genes, setup.types.names,
                            params.dataset);
    }
  });
  if (!reference) {
    log.always("# " + options.deck + ": OK. Resolved deck (every default filled in):");
    log.always(deck.resolved_yaml());
  }
  return 0;
}

std::vector<std::pair<std::string, std::string>> build_info() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("tessera", version() + " (git " + git_hash() + ")");

  std::ostringstream kokkos;
  kokkos << KOKKOS_VERSION / 10000 << "." << (KOKKOS_VERSION / 100) % 100 << "." << KOKKOS_VERSION % 100;
  std::string backends;
#ifdef KOKKOS_ENABLE_SERIAL
  backends += " Serial";
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  backends += " OpenMP";
#endif
#ifdef KOKKOS_ENABLE_THREADS
  backends += " Threads";
#endif
#ifdef KOKKOS_ENABLE_CUDA
  backends += " Cuda";
#endif
#ifdef KOKKOS_ENABLE_HIP
  backends += " HIP";
#endif
#ifdef KOKKOS_ENABLE_SYCL
  backends += " SYCL";
#endif
  kokkos << " (backends:" << backends << "; default execution space " << Kokkos::DefaultExecutionSpace::name()
         << ", concurrency " << Kokkos::DefaultExecutionSpace().concurrency() << ")";
  out.emplace_back("Kokkos", kokkos.str());

  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(mpi_version, &len);
  std::string mpi_text(mpi_version, static_cast<size_t>(len));
  if (const auto nl = mpi_text.find_first_of("\r\n,"); nl != std::string::npos) mpi_text.resize(nl);
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  out.emplace_back("MPI", mpi_text + " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ", " +
                              std::to_string(mpi::size(MPI_COMM_WORLD)) + " ranks)");

  out.emplace_back("PETSc", petsc::version());
  out.emplace_back("SUNDIALS", sundials::version() + " (CVODE, CVODES, MPI N_Vector)");

  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
#ifdef H5_HAVE_PARALLEL
  const char* parallel = "parallel: yes";
#else
  const char* parallel = "parallel: no";
#endif
  out.emplace_back("HDF5", std::to_string(h5_major) + "." + std::to_string(h5_minor) + "." +
                               std::to_string(h5_release) + " (" + parallel + ")");
  return out;
}

int info_command(Log& log) {
  for (const auto& [name, value] : build_info())
    log.always(name + ": " + value);
  return 0;
}

int convert_command(const std::string& from, const std::string& to, const H5adKeys& keys, Log& log) {
  MPI_Comm comm = MPI_COMM_WORLD;
  std::string summary;
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) summary = convert(from, to, keys);
  });
  log.info(summary);
  return 0;
}

int unavailable_command(const std::string& name, const std::string& issue, Log& /*log*/) {
  Error err = input_error("'tessera " + name + "' is not implemented in tessera " + version() +
                          " yet (tracked in issue " + issue + "); nothing was run");
  err.mark_agreed(0);
  throw err;
}

} // namespace tessera::app
