// Stopping on time: SIGTERM, SIGUSR1 (what `sbatch --signal=B:USR1@120` sends) and an optional wall-clock
// limit ask a long command to finish its step or iteration, checkpoint and exit resumable (issue 10 item 2).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
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
// sets the signal's flag in a lock-free atomic word that also holds the iteration or step in progress, so the
// word then says during which one the signal came); calling it again changes nothing. StopPoll's
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

// Which rank received a stop signal during which iteration or step: the first receipt of any rank (the
// lowest rank of those that received one during that iteration), as StopPoll::poll gathered it.
struct StopReceipt {
  StopReason signal = StopReason::none; // the signal that rank received (SIGTERM if both); none: no rank did
  int rank = -1;
  long long during = 0; // the iteration or step in progress: the first whose poll saw the signal
};

// "SIGUSR1 received by rank 1 during iteration 7"; `unit` names what a poll ends ("iteration", "step").
std::string describe(const StopReceipt& receipt, const std::string& unit);

// A wall-clock limit as a person or a job script writes it, in seconds: Slurm's forms ("55" minutes,
// "55:00", "00:55:00", "1-00:00:00", "2-12", "2-12:30") or a time with a unit ("3300 s", "55 min", "1 h").
// Throws input_error saying what is wrong (the caller names the key or option).
double parse_walltime(const std::string& text);

// parallel.walltime in seconds (+inf when the key is absent), checked (the key is in parallel_keys()).
double read_walltime(const Deck& deck);

// Decides at each step or iteration boundary whether a command stops, the same on every rank.
//
// Usage (the step loop of `run`, `train`, `predict`, a sweep member):
//   StopPoll stop(walltime_s, first);                // walltime_s: read_walltime(deck) or --walltime
//   for (step = first; step <= last; ++step) {
//     advance(step);
//     if (const StopReason why = stop.poll(comm); why != StopReason::none) {
//       const auto t0 = clock(); write_checkpoint(); stop.checkpoint_took(seconds since t0);
//       if (stop.receipt().signal != StopReason::none) log describe(stop.receipt(), "step");
//       log "stopped at step N by " + describe(why) + "; resume with tessera run DECK --restart DIR";
//       return resumable_exit_code;                  // core/error.hpp, ExitCode::resumable
//     }
//     if (checkpoint due) { time it; stop.checkpoint_took(seconds); }
//   }
//
// Every step, one MPI_Allreduce of two 64-bit integers (the reason, and who received a signal when): 0.18 us
// between 2 ranks of one node (test_core_stop_request prints it; measured under load), against steps of
// milliseconds or more, so it is not thinned to every k steps — a stop comes at the end of the very step a
// signal arrived in.
//
// Each poll ends one iteration or step: the one in progress, which the process publishes beside the signal
// flags in one lock-free atomic word (`first` at construction, one more after each poll). The poll reads the
// flags and, when none is set, moves on to the next iteration in the same atomic compare-and-swap; the
// handler sets a flag in that word and so freezes the iteration in progress at that moment. A signal either
// came before that swap (this poll sees it: it came during the iteration this poll ends) or after it (the
// next poll sees it: it came during the next one), so where the signal was received and where the command
// stops are the same iteration, whatever the delays between the sender, the kernel and the rank.
class StopPoll {
public:
  // `walltime_s`: the limit in seconds since start_wall_clock; +inf for none. `first`: the iteration or step
  // the first poll ends (a training's progress.iteration + 1, a run's first step + 1). Installs the handlers.
  explicit StopPoll(double walltime_s, long long first = 1);

  // Collective on comm. The reason to stop now, agreed by every rank (the largest StopReason of any rank),
  // so a signal that reached one rank stops all of them at the same boundary; the same collective gathers
  // receipt(). Once it returns a reason it keeps returning it.
  StopReason poll(MPI_Comm comm);

  // Once a poll has agreed a stop, the same on every rank: which rank received a signal first and during
  // which iteration or step (signal none when the stop is the wall-clock limit's).
  const StopReceipt& receipt() const { return receipt_; }

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
  StopReceipt receipt_;
};

} // namespace tessera
