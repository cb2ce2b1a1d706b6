// Stopping on time: SIGTERM, SIGUSR1 (what `sbatch --signal=B:USR1@120` sends) and an optional wall-clock
// limit ask a long command to finish its step or iteration, checkpoint and exit resumable (issue 10 item 2).
#pragma once

#include <mpi.h>

#include <chrono>
#include <string>

namespace tessera {

class Deck;

// Why a command stops early. Ordered so that the largest wins when ranks see different reasons (poll's
// MPI_MAX): a signal the user or the batch system sent outranks this process's own clock.
enum class StopReason : int { none = 0, walltime = 1, sigusr1 = 2, sigterm = 3 };

// "SIGTERM", "SIGUSR1", "the wall-clock limit" — how a log line names the reason.
std::string describe(StopReason reason);

// Not collective. Starts the wall clock that `parallel.walltime` counts from; app::main calls it first thing.
void start_wall_clock();
// Seconds since start_wall_clock (the process's start, for practical purposes).
double seconds_since_start();

// Not collective. Installs async-signal-safe handlers for SIGTERM and SIGUSR1 (sigaction; the handler only
// records which signal came, in a volatile sig_atomic_t); calling it again changes nothing. StopPoll's
// constructor calls it, so a command catches these signals exactly when a loop of it polls for them: a
// command that never polls keeps the default action (SIGTERM ends it at once). Handlers stay installed after
// a first signal: a second SIGTERM (Slurm's at the time limit, after its USR1) must not kill a process that
// is writing its checkpoint. SIGKILL still ends it.
void install_stop_handlers();

// Not collective. The stop signal this process has received (none when none), without MPI: for code that
// cannot communicate at that point. Use StopPoll::poll at step boundaries.
StopReason local_stop_signal();
// Not collective. Forgets a received signal (tests, and a command that has handled one and goes on).
void forget_stop_signal();
// Not collective. The reason the last StopPoll::poll of this process agreed on (none if no poll stopped):
// what app::main says about how the command ended.
StopReason agreed_stop();

// A wall-clock limit as a person or a job script writes it, in seconds: Slurm's forms ("55" minutes,
// "55:00", "00:55:00", "1-00:00:00", "2-12", "2-12:30") or a time with a unit ("3300 s", "55 min", "1 h").
// Throws input_error saying what is wrong (the caller names the key or option).
double parse_walltime(const std::string& text);

// parallel.walltime in seconds (+inf when the key is absent), checked (the key is in parallel_keys()).
double read_walltime(const Deck& deck);

// Decides at each step or iteration boundary whether a command stops, the same on every rank.
//
// Usage (the step loop of `run`, `train`, `predict`, a sweep member):
//   StopPoll stop(walltime_s);                       // walltime_s: read_walltime(deck) or --walltime
//   for (step = first; step < steps; ++step) {
//     advance(step);
//     if (const StopReason why = stop.poll(comm); why != StopReason::none) {
//       const auto t0 = clock(); write_checkpoint(); stop.checkpoint_took(seconds since t0);
//       log "stopped at step N by " + describe(why) + "; resume with tessera run DECK --restart DIR";
//       return resumable_exit_code;                  // core/error.hpp, ExitCode::resumable
//     }
//     if (checkpoint due) { time it; stop.checkpoint_took(seconds); }
//   }
//
// Every step, one MPI_Allreduce of one int: a few microseconds on a node (docs/cluster.md has the measured
// cost), against steps of milliseconds or more, so it is not thinned to every k steps — a stop then comes
// within one step of the signal.
class StopPoll {
public:
  // `walltime_s`: the limit in seconds since start_wall_clock; +inf for none. Installs the handlers.
  explicit StopPoll(double walltime_s);

  // Collective on comm. The reason to stop now, agreed by every rank (the largest StopReason of any rank),
  // so a signal that reached one rank stops all of them at the same boundary. Once it returns a reason it
  // keeps returning it.
  StopReason poll(MPI_Comm comm);

  // The seconds a checkpoint write took; the walltime margin keeps room for the next one.
  void checkpoint_took(double seconds);

  // Seconds kept free before the wall-clock limit: room for one more step (the longest seen between polls)
  // and one checkpoint (the longest seen), each twice for the spread between steps, plus a reserve of 2 % of
  // the limit (at most 60 s) for closing files and MPI_Finalize.
  double margin_s() const;
  double walltime_s() const { return walltime_s_; }

private:
  double walltime_s_;
  double last_poll_s_;
  double longest_interval_s_ = 0.0;
  double longest_checkpoint_s_ = 0.0;
  StopReason agreed_ = StopReason::none;
};

} // namespace tessera
