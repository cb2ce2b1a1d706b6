// `tessera sweep` (docs/cluster.md "Sweeps"): plan a sweep file into member decks, run the members (all of
// them with the ranks split into groups, or one by index from a job array) and collect their outcomes.
#include "tessera/app/commands.hpp"
#include "tessera/app/run_directory.hpp"
#include "tessera/app/sweep_plan.hpp"
#include "tessera/core/console.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sweep/collect.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

namespace tessera::app {

namespace fs = std::filesystem;

namespace {

// A sweep file is a page of YAML, like a deck.
constexpr std::uintmax_t max_sweep_bytes = 16u << 20;

Error agreed_input_error(const std::string& message) {
  Error err = input_error(message);
  err.mark_agreed(0);
  return err;
}

// Collective. Plans `options.target` (a sweep file) into its folder and returns the folder.
std::string plan(MPI_Comm comm, const SweepOptions& options, Log& log) {
  const std::string text = mpi::read_text_file(comm, options.target, max_sweep_bytes);
  const std::string dir = options.output_dir.empty()
                              ? (fs::path("runs") / fs::path(options.target).stem()).string()
                              : options.output_dir;
  std::size_t members = 0;
  bool unchanged = false;
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    const SweepPlan p = make_sweep_plan(text, options.target, options.overrides);
    unchanged = write_sweep_plan(p, text, dir);
    members = p.members.size();
  });
  members = static_cast<std::size_t>(mpi::sum(comm, static_cast<std::int64_t>(members)));
  log.info("tessera sweep plan: " + std::to_string(members) + " member decks " +
           (mpi::sum(comm, unchanged ? 1 : 0) ? "already planned" : "written") + " in " + dir + "/");
  return dir;
}

struct MemberOutcome {
  bool skipped = false; // finished by an earlier run
  bool stopped = false; // stopped early by a signal or the wall clock (exit 75): resumable, not finished
  int code = 0;         // exit code (0: finished now)
  std::string message;
  std::string resumed; // how an earlier attempt's checkpoint was used ("" when there was none)
  double wall_s = 0;
};

// Collective on `comm`. Runs member k of the planned sweep in `dir` unless it finished before (its status
// file says ok). Its outputs go to DIR/members/<k>/; a failure is recorded in its status file and returned,
// and does not stop the caller — except one that left some rank behind (an error not agreed by every rank
// of `comm`) or an HDF5 file open, which is rethrown for app::main to end the job.
MemberOutcome run_member(MPI_Comm comm, const std::string& dir, const std::string& command, long long k,
                         const Invocation& invocation) {
  const fs::path member_dir = member_directory(dir, k);
  MemberOutcome outcome;
  std::string status;
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) status = read_member_status(member_dir);
  });
  if (mpi::broadcast(comm, status) == "ok") {
    outcome.skipped = true;
    return outcome;
  }
  // Not finished: the status of an earlier failure goes first, so an interrupted rerun is never taken for
  // a finished one; the run replaces whatever partial outputs an interrupted attempt left.
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) clear_member_status(member_dir);
  });
  DeckOptions deck_options;
  deck_options.deck = (member_dir / "deck.yaml").string();
  deck_options.output_dir = member_dir.string();
  deck_options.overwrite = true;
  deck_options.invocation = invocation;
  Log member_log(mpi::rank(comm), true);
  member_log.set_ranks(mpi::size(comm));
  // An attempt that stopped (exit 75) or was killed after writing checkpoint.h5 continues from it, as
  // `--restart` would, instead of redoing its steps or iterations.
  int has_checkpoint = 0;
  if (mpi::rank(comm) == 0) has_checkpoint = fs::exists(member_dir / "checkpoint.h5");
  has_checkpoint = mpi::max(comm, has_checkpoint); // rank 0 looked; the others hold 0
  const auto start = std::chrono::steady_clock::now();
  int code = 0;
  try {
    if (has_checkpoint) {
      try {
        if (command == "train") {
          TrainOptions train;
          train.restart = member_dir.string();
          code = train_command(comm, deck_options, train, member_log);
        } else if (command == "predict") {
          code = predict_command(comm, deck_options, member_log, RunOptions{member_dir.string()});
        } else {
          code = run_command(comm, deck_options, member_log, RunOptions{member_dir.string()});
        }
        outcome.resumed = "continued from its checkpoint";
      } catch (const Error& e) {
        // A checkpoint a restart refuses before touching the folder (a run that ended but was killed before
        // its status was written: nothing left to do; an L-BFGS training): the member runs from its start,
        // which gives the same result.
        if (e.code() != ExitCode::input || !e.agreed()) throw;
        outcome.resumed =
            std::string("its checkpoint cannot be continued (") + e.what() + "); running it from the start";
        has_checkpoint = 0;
      }
    }
    if (!has_checkpoint) {
      if (command == "train")
        code = train_command(comm, deck_options, TrainOptions{}, member_log);
      else if (command == "predict")
        code = predict_command(comm, deck_options, member_log);
      else
        code = run_command(comm, deck_options, member_log);
    }
  } catch (const Error& e) {
    if ((!e.agreed() && mpi::size(comm) > 1) || h5::unclosable_files()) throw;
    outcome.code = static_cast<int>(e.code());
    outcome.message = e.what();
  } catch (const std::exception& e) {
    if (mpi::size(comm) > 1 || h5::unclosable_files()) throw;
    outcome.code = static_cast<int>(ExitCode::runtime);
    outcome.message = std::string("internal error: ") + e.what();
  }
  outcome.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (code == resumable_exit_code) {
    // Stopped at a step or iteration boundary with its checkpoint written: no status, so the next
    // `sweep run` runs it again.
    outcome.stopped = true;
    return outcome;
  }
  if (code != 0) {
    outcome.code = code;
    outcome.message = command + " exited with code " + std::to_string(code);
  }
  // Written last, atomically: a member whose status says ok has all its outputs.
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) write_member_status(member_dir, outcome.code, outcome.message);
  });
  return outcome;
}

} // namespace

int sweep_plan_command(const SweepOptions& options, Log& log) {
  plan(MPI_COMM_WORLD, options, log);
  return 0;
}

int sweep_run_command(const SweepOptions& options, Log& log) {
  // From the start, so that a stop request is never lost between members (see the member loop).
  install_stop_handlers();
  MPI_Comm world = MPI_COMM_WORLD;
  const int ranks = mpi::size(world);
  bool is_folder = false;
  mpi::agree(world, [&] {
    if (mpi::rank(world) == 0) is_folder = fs::is_directory(options.target);
  });
  is_folder = mpi::sum(world, is_folder ? 1 : 0) > 0;
  mpi::agree(world, [&] {
    if (options.groups < 1 || options.groups > ranks)
      throw input_error("--groups " + std::to_string(options.groups) + ": between 1 and the " +
                        std::to_string(ranks) + " rank(s) of this job");
    if (options.member >= 0 && options.groups > 1)
      throw input_error("--member runs one member on all ranks: drop --groups");
    if (is_folder && !options.overrides.empty())
      throw input_error("sweep run " + options.target +
                        " runs the member decks planned there: -s applies "
                        "when planning a sweep file");
    if (is_folder && !options.output_dir.empty() && fs::path(options.output_dir) != fs::path(options.target))
      throw input_error("sweep run " + options.target + " runs the sweep planned there: drop -o " +
                        options.output_dir);
  });
  const std::string dir = is_folder ? options.target : plan(world, options, log);

  const std::string stored =
      mpi::read_text_file(world, (fs::path(dir) / "sweep.yaml").string(), max_sweep_bytes);
  PlannedSweep planned;
  mpi::agree(world, [&] { planned = read_planned_sweep(stored, dir); });
  const long long n = planned.members;
  const std::string& command = planned.sweep.command;

  if (options.member >= n)
    throw agreed_input_error("--member " + std::to_string(options.member) + ": the sweep in " + dir +
                             " has " + std::to_string(n) + " members (0 to " + std::to_string(n - 1) + ")");
  // TAO's optimizers and diffusible fields need PETSc, initialised once per process, not once per member:
  // on the communicator each rank's members run on, for the whole sweep.
  if (options.member >= 0) {
    const petsc::Session petsc(world);
    const MemberOutcome o = run_member(world, dir, command, options.member, options.invocation);
    if (o.skipped) {
      log.info("tessera sweep run: member " + std::to_string(options.member) + " finished before; skipped");
      return 0;
    }
    if (o.stopped) {
      log.info("tessera sweep run: member " + std::to_string(options.member) +
               " stopped early; resumable (exit " + std::to_string(resumable_exit_code) + ")");
      return resumable_exit_code;
    }
    if (o.code != 0) {
      Error err(static_cast<ExitCode>(o.code), "sweep member " + std::to_string(options.member) + " (" +
                                                   member_directory(dir, options.member).string() +
                                                   "): " + o.message);
      err.mark_agreed(0);
      throw err;
    }
    log.info("tessera sweep run: member " + std::to_string(options.member) + " done in " +
             human_seconds(o.wall_s) + (o.resumed.empty() ? "" : " (" + o.resumed + ")") + "; outputs in " +
             member_directory(dir, options.member).string() + "/");
    return 0;
  }

  // Groups of contiguous ranks; member k goes to group k mod G, each group runs its members in order.
  const int rank = mpi::rank(world);
  const int group = static_cast<int>(static_cast<long long>(rank) * options.groups / ranks);
  const mpi::Communicator group_comm = mpi::Communicator::split(world, group, rank);
  log.info("tessera sweep run: " + std::to_string(n) + " members of " + dir + " (" + command + ") on " +
           std::to_string(ranks) + " rank(s) in " + std::to_string(options.groups) + " group(s)");
  Log group_log(group_comm.rank(), log.quiet());
  const petsc::Session petsc(group_comm.get());
  // A stop request (SIGTERM, SIGUSR1) that comes between members, or stopped one, ends the group's work at
  // that boundary: the members not finished keep no status and the next `sweep run` does them.
  StopPoll stop(std::numeric_limits<double>::infinity());
  bool stopped = false;
  for (long long k = group; k < n && !stopped; k += options.groups) {
    if (stop.poll(group_comm.get()) != StopReason::none) {
      stopped = true;
      break;
    }
    const MemberOutcome o = run_member(group_comm.get(), dir, command, k, options.invocation);
    const std::string name =
        "tessera sweep run: member " + std::to_string(k) + " (group " + std::to_string(group) + ")";
    if (o.skipped)
      group_log.info(name + ": finished before; skipped");
    else if (o.stopped)
      group_log.info(name + ": stopped early; it runs again with the next sweep run");
    else if (o.code == 0)
      group_log.info(name + ": done in " + human_seconds(o.wall_s) +
                     (o.resumed.empty() ? "" : " (" + o.resumed + ")"));
    else if (group_comm.rank() == 0)
      console_write(ConsoleStream::err,
                    name + ": failed (exit " + std::to_string(o.code) + "): " + o.message + "\n");
    stopped = o.stopped;
  }
  if (mpi::sum(world, stopped ? 1 : 0) > 0) {
    log.info("tessera sweep run: stopped early; `tessera sweep run " + dir +
             "` runs the members not finished (exit " + std::to_string(resumable_exit_code) + ")");
    return resumable_exit_code;
  }

  // Every group done (the sum above waited for all): rank 0 reads the members' status files for the verdict.
  std::string failed;
  long long n_failed = 0;
  mpi::agree(world, [&] {
    if (rank != 0) return;
    for (long long k = 0; k < n; ++k)
      if (read_member_status(member_directory(dir, k)) != "ok") {
        failed += (failed.empty() ? "" : ", ") + std::to_string(k);
        ++n_failed;
      }
  });
  n_failed = mpi::sum(world, n_failed);
  if (n_failed > 0) {
    if (rank == 0)
      log.error(std::to_string(n_failed) + " of " + std::to_string(n) + " sweep members failed (" + failed +
                "): see members/<k>/status and members/<k>/tessera.log in " + dir + "; `tessera sweep run " +
                dir + "` runs them again");
    return static_cast<int>(ExitCode::runtime);
  }
  log.info("tessera sweep run: all " + std::to_string(n) +
           " members finished; collect with `tessera sweep collect " + dir + "`");
  return 0;
}

int sweep_collect_command(const SweepOptions& options, Log& log) {
  MPI_Comm world = MPI_COMM_WORLD;
  const std::string& dir = options.target;
  mpi::agree(world, [&] {
    if (mpi::rank(world) == 0 && !fs::is_directory(dir))
      throw input_error(dir + ": not a folder (collect reads a sweep folder: tessera sweep collect DIR)");
  });
  const std::string stored =
      mpi::read_text_file(world, (fs::path(dir) / "sweep.yaml").string(), max_sweep_bytes);
  std::string summary;
  mpi::agree(world, [&] {
    if (mpi::rank(world) != 0) return;
    const PlannedSweep planned = read_planned_sweep(stored, dir);
    const sweep::SweepTable table = sweep::collect_sweep(planned.sweep, dir, planned.members_csv);
    write_file_atomically(fs::path(dir) / "sweep.csv", sweep::table_csv(table));
    sweep::write_table_h5(table, (fs::path(dir) / "sweep.h5").string(), stored);
    long long finished = 0;
    for (const auto& row : table.rows)
      finished += row[table.outcomes - 1] == "ok" ? 1 : 0;
    summary = "tessera sweep collect: " + std::to_string(table.rows.size()) + " members (" +
              std::to_string(finished) + " finished), " +
              std::to_string(table.header.size() - table.outcomes) + " outcomes in " + dir +
              "/sweep.csv and sweep.h5; plots: python3 tools/sweep_plots.py " + dir;
  });
  log.info(summary);
  return 0;
}

} // namespace tessera::app
