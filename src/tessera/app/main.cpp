#include "tessera/app/main.hpp"

#include "tessera/app/commands.hpp"
#include "tessera/core/console.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/invocation.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/parallel/mpi.hpp"

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <cblas.h>

#include <iostream>
#include <optional>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::app {

namespace {

// MPI for the whole process: initialised first, finalised last (after Kokkos).
struct MpiSession {
  MpiSession(int& argc, char**& argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    // Errors come back as return codes so the adapter can turn them into exceptions.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    // One rank per core is the parallel model; OpenBLAS's own threads would oversubscribe the cores.
    openblas_set_num_threads(1);
  }
  ~MpiSession() { MPI_Finalize(); }
};

// The last line of a run's log: how it ended. Rank 0 only; a failure's message is already on stderr, so that
// line goes to the log file alone.
void log_ending(Log& log, const std::string& command, int code, const std::string& error) {
  const std::string exit = " (exit " + std::to_string(code) + ")";
  if (code == 0)
    log.info("tessera " + command + ": finished" + exit);
  else if (code == resumable_exit_code)
    log.info("tessera " + command + ": stopped early by " + describe(agreed_stop()) + ", resumable" + exit);
  else
    log.record("tessera " + command + ": failed: " + error + exit);
}

// std::cout or std::cerr written through the console as it is written (no buffer of its own), for Kokkos'
// messages while it starts: written by Kokkos itself to a pipe whose reader had gone they raised SIGPIPE,
// and the command died before it had begun. Unbuffered, so a message Kokkos prints before it aborts is out.
class ConsoleStreambuf : public std::streambuf {
public:
  explicit ConsoleStreambuf(ConsoleStream stream) : stream_(stream) {}

protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    console_write(stream_, std::string_view(&ch, 1));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    console_write(stream_, std::string_view(s, static_cast<std::size_t>(n)));
    return n;
  }

private:
  ConsoleStream stream_;
};

// Kokkos for the rest of the process, started once the command line has been parsed: --version, --help and
// a usage error need no Kokkos, and their output is then the command line's alone (Kokkos' OpenMP backend
// warns on stderr when threads x ranks exceed the cores, which a script reading `tessera --version 2>&1`
// would take for the version). What Kokkos prints while it starts (that warning, OMP_PROC_BIND advice, a
// deprecated --kokkos-* argument, --kokkos-print-configuration) goes through the console.
class KokkosSession {
public:
  explicit KokkosSession(std::vector<char*> kokkos_args) : args_(std::move(kokkos_args)) {}
  void start() {
    // Kokkos 4 aborts (a core dump) on a thread count that is not a positive integer: a usage error here.
    for (const char* arg : args_) {
      const std::string a(arg);
      for (const std::string key : {"--kokkos-num-threads=", "--kokkos-threads="}) {
        if (a.rfind(key, 0) != 0) continue;
        const std::string value = a.substr(key.size());
        if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(value) < 1) {
          Error err = input_error(a + ": the thread count must be a whole number of at least 1");
          err.mark_agreed(0);
          throw err;
        }
      }
    }
    struct Redirected {
      ConsoleStreambuf out{ConsoleStream::out}, err{ConsoleStream::err};
      std::streambuf* cout_buffer = std::cout.rdbuf(&out);
      std::streambuf* cerr_buffer = std::cerr.rdbuf(&err);
      ~Redirected() {
        std::cout.rdbuf(cout_buffer);
        std::cerr.rdbuf(cerr_buffer);
      }
    } redirected;
    int argc = static_cast<int>(args_.size());
    args_.push_back(nullptr);
    // Kokkos declares ScopeGuard [[nodiscard]]; nvcc's front end then warns about emplace's unused reference.
    static_cast<void>(guard_.emplace(argc, args_.data()));
  }

private:
  std::vector<char*> args_;
  std::optional<Kokkos::ScopeGuard> guard_; // finalises Kokkos (before MPI) when the session ends
};

// `command` is set to the name of a command whose log records how it ended (run, train, predict).
int dispatch(int argc, char** argv, const Invocation& invocation, Log& log, std::string& command,
             KokkosSession& kokkos) {
  CLI::App app{"tessera — distributed agent-based tissue simulation and graph-ODE learning", "tessera"};
  app.set_version_flag("--version", "tessera " + version() + " (" + git_hash() + ")");
  app.require_subcommand(1);
  app.fallthrough(); // global options (--quiet) may also follow the subcommand
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Silence progress output (errors still reach stderr)");

  DeckOptions opts;
  opts.invocation = invocation;
  auto add_deck_options = [&](CLI::App* cmd, bool with_output) {
    cmd->add_option("DECK", opts.deck, "Input deck (YAML)")->required();
    cmd->add_option("-s,--set", opts.overrides, "Override a deck key: -s section.key=value (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    if (with_output) {
      cmd->add_option("-o,--output", opts.output_dir,
                      "Run directory (default: output.dir, or runs/<deck name>)");
      cmd->add_flag("--overwrite", opts.overwrite,
                    "Replace the outputs of an earlier run in the run directory");
      cmd->add_option("--walltime", opts.walltime,
                      "Wall-clock limit (replaces parallel.walltime): 00:55:00, 55:00, 3300 s, 55 min; "
                      "before it the command checkpoints and exits 75 (resumable)");
    }
  };
  auto* run = app.add_subcommand("run", "Forward simulation of a tissue");
  add_deck_options(run, true);
  RunOptions run_options;
  run->add_option("--restart", run_options.restart,
                  "Continue the run in DIR from its checkpoint.h5 (output.checkpoint_every, and the end of "
                  "every run) to time.end, appending to its outputs");
  auto* train = app.add_subcommand("train", "Fit the graph ODE to a trajectory dataset");
  add_deck_options(train, true);
  TrainOptions train_options;
  train->add_flag("--gradient-only", train_options.gradient_only,
                  "Write the gradient of the whole training objective at the initial parameters to "
                  "gradient.h5, print the loss and its terms, stop");
  train->add_flag("--check-gradient", train_options.check_gradient,
                  "Compare the gradient of the whole objective with central differences on 20 random "
                  "parameters (diagnostic)");
  train->add_option(
      "--restart", train_options.restart,
      "Continue the run in DIR from its checkpoint.h5 (train.checkpoint_every) to train.iterations");
  auto* predict = app.add_subcommand("predict", "Forward simulation with a fitted model and perturbations");
  add_deck_options(predict, true);
  RunOptions predict_options;
  predict->add_option(
      "--restart", predict_options.restart,
      "Continue the prediction in DIR from its checkpoint.h5 (output.checkpoint_every, and the "
      "end of every prediction) to time.end, appending to its outputs");
  bool reference = false;
  auto* check =
      app.add_subcommand("check", "Validate a deck and print it with every default resolved (exit 0 or 2)");
  check->add_option("DECK", opts.deck, "Input deck (YAML)");
  check->add_option("-s,--set", opts.overrides, "Override a deck key: -s section.key=value (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  check->add_flag("--reference", reference,
                  "Print the input reference (Markdown) generated from the key tables");
  std::string from, to;
  auto* convert =
      app.add_subcommand("convert", "Convert between AnnData .h5ad, a CSV folder and a tessera dataset");
  convert->add_option("FROM", from, "Input (.h5ad file, CSV folder or tessera dataset)")->required();
  convert->add_option("TO", to, "Output (tessera dataset .h5, or .h5ad when FROM is a tessera dataset)")
      ->required();
  ConvertOptions convert_options;
  H5adKeys& h5ad_keys = convert_options.keys;
  convert->add_option(
      "--time-unit", convert_options.time_unit,
      "Unit of the input's times (s, min, h, day; default: minutes), stored as minutes; when "
      "exporting to .h5ad, the unit of obs time (default: the unit the dataset was given in)");
  convert->add_option("--observed", convert_options.observed,
                      "Exporting train's predicted.h5 to .h5ad: the dataset it was fitted to, written beside "
                      "the prediction as layers observed and predicted");
  convert->add_option("--time-key", h5ad_keys.time, "h5ad: obs column of observation times")
      ->capture_default_str();
  convert->add_option("--cell-id-key", h5ad_keys.cell_id, "h5ad: obs column of cell ids")
      ->capture_default_str();
  convert->add_option("--type-key", h5ad_keys.cell_type, "h5ad: obs column (categorical) of cell types")
      ->capture_default_str();
  convert->add_option("--position-key", h5ad_keys.position, "h5ad: obsm key of cell positions")
      ->capture_default_str();
  convert->add_option("--expression-key", h5ad_keys.expression,
                      "h5ad: uns key of a dense [T_obs][cells][genes] array (obs rows are then cells and "
                      "--time-key names an uns array of times) instead of a snapshot series in X");
  app.add_subcommand("info", "Versions and configuration of tessera and its libraries");
  auto* sweep = app.add_subcommand("sweep", "Parameter sweeps and ensembles of run, train or predict decks");
  sweep->require_subcommand(1);
  SweepOptions sweep_options;
  sweep_options.invocation = invocation;
  auto* sweep_plan = sweep->add_subcommand(
      "plan", "Resolve and check every member deck of a sweep file into a sweep folder");
  sweep_plan->add_option("SWEEP", sweep_options.target, "Sweep file (YAML)")->required();
  sweep_plan->add_option("-o,--output", sweep_options.output_dir,
                         "Sweep folder (default: runs/<sweep file name>)");
  sweep_plan
      ->add_option("-s,--set", sweep_options.overrides,
                   "Override a deck key in every member: -s section.key=value (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* sweep_run = sweep->add_subcommand(
      "run", "Run the members of a sweep not finished yet (planning a sweep file first)");
  sweep_run->add_option("SWEEP", sweep_options.target, "Sweep file, or a sweep folder planned before")
      ->required();
  sweep_run->add_option("-o,--output", sweep_options.output_dir,
                        "Sweep folder for a sweep file (default: runs/<sweep file name>)");
  sweep_run
      ->add_option("-s,--set", sweep_options.overrides,
                   "Planning a sweep file: override a deck key in every member (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sweep_run->add_option("--groups", sweep_options.groups,
                        "Split the ranks into G groups, each running one member at a time (default 1)");
  sweep_run
      ->add_option("--member", sweep_options.member,
                   "Run member K alone on all ranks (a job array's $SLURM_ARRAY_TASK_ID)")
      ->check(CLI::NonNegativeNumber);
  auto* sweep_collect = sweep->add_subcommand(
      "collect", "Tabulate every member's parameters, status and outcomes: DIR/sweep.csv and DIR/sweep.h5");
  sweep_collect->add_option("DIR", sweep_options.target, "A sweep folder")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (log.rank() == 0) app.exit(e);
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    if (log.rank() == 0) app.exit(e);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    if (log.rank() == 0) app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    // Same arguments on every rank, so every rank fails the same way: an agreed usage error.
    Error err = input_error(std::string(e.what()) + " (see tessera --help)");
    err.mark_agreed(0);
    throw err;
  }
  kokkos.start();
  log.set_quiet(quiet);
  for (const auto* logged : {run, train, predict})
    if (logged->parsed()) command = logged->get_name();

  if (run->parsed()) return run_command(MPI_COMM_WORLD, opts, log, run_options);
  if (check->parsed()) {
    if (opts.deck.empty() && !reference) {
      Error err = input_error("check: a DECK is required (or --reference)");
      err.mark_agreed(0);
      throw err;
    }
    return check_command(opts, reference, log);
  }
  if (app.got_subcommand("info")) return info_command(log);
  if (train->parsed()) return train_command(MPI_COMM_WORLD, opts, train_options, log);
  if (predict->parsed()) return predict_command(MPI_COMM_WORLD, opts, log, predict_options);
  if (convert->parsed()) return convert_command(from, to, convert_options, log);
  if (sweep_plan->parsed()) return sweep_plan_command(sweep_options, log);
  if (sweep_run->parsed()) return sweep_run_command(sweep_options, log);
  if (sweep_collect->parsed()) return sweep_collect_command(sweep_options, log);
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  start_wall_clock();
  MpiSession mpi_session(argc, argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Log log(rank, false);
  log.set_ranks(size);
  int code = 0;
  bool abort_job = false;
  std::string command, error;
  {
    // Kokkos sees only the --kokkos-* arguments (Kokkos 3 would otherwise answer --help itself), the
    // command line parser sees the rest. Kokkos is finalised before MPI.
    std::vector<char*> kokkos_args{argv[0]}, tessera_args{argv[0]};
    for (int i = 1; i < argc; ++i)
      (std::string(argv[i]).rfind("--kokkos-", 0) == 0 ? kokkos_args : tessera_args).push_back(argv[i]);
    KokkosSession kokkos(std::move(kokkos_args));
    try {
      // Outputs record rank 0's command line and host, so every rank writes the same attributes.
      Invocation invocation = current_invocation(std::vector<std::string>(argv, argv + argc));
      invocation.command_line = mpi::broadcast(MPI_COMM_WORLD, invocation.command_line);
      invocation.host = mpi::broadcast(MPI_COMM_WORLD, invocation.host);
      invocation.slurm_job_id = mpi::broadcast(MPI_COMM_WORLD, invocation.slurm_job_id);
      invocation.slurm_array_task_id = mpi::broadcast(MPI_COMM_WORLD, invocation.slurm_array_task_id);
      code = dispatch(static_cast<int>(tessera_args.size()), tessera_args.data(), invocation, log, command,
                      kokkos);
    } catch (const Error& e) {
      code = static_cast<int>(e.code());
      error = e.what();
      if (e.agreed()) {
        // Every rank holds the same error; the rank it came from is named once, by rank 0.
        if (rank == 0) log.error(e.what(), e.origin_rank());
      } else {
        log.error(e.what());
        abort_job = size > 1;
      }
    } catch (const std::exception& e) {
      log.error(std::string("internal error: ") + e.what());
      code = 1;
      error = std::string("internal error: ") + e.what();
      abort_job = size > 1;
    }
    if (!command.empty()) log_ending(log, command, code, error);
    // A file HDF5 could not close would crash or hang MPI_Finalize (h5::unclosable_files()); the error has
    // been printed and every rank holds it, so the job ends here with its code.
    if (code != 0 && h5::unclosable_files()) abort_job = true;
    if (abort_job) {
      // The other ranks may be waiting in a collective this rank will never join: end the job with the code.
      std::cerr.flush();
      MPI_Abort(MPI_COMM_WORLD, code);
    }
  }
  return code;
}

} // namespace tessera::app
