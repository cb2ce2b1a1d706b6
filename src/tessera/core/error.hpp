// tessera's one exception type and its exit codes (SPEC §5).
// Every failure that reaches the user is an Error carrying the code the process exits with.
#pragma once

#include <stdexcept>
#include <string>

namespace tessera {

// `resumable` (75, sysexits.h's EX_TEMPFAIL, "try again later"): stopped early on a signal or the wall-clock
// limit after writing a checkpoint; `--restart DIR` continues. It is none of the codes shells (126, 127,
// 128+signal), mpirun or Slurm give themselves, so a job script can tell it from a failure or a kill.
enum class ExitCode : int { success = 0, runtime = 1, input = 2, resumable = 75 };
constexpr int resumable_exit_code = static_cast<int>(ExitCode::resumable);

class Error : public std::runtime_error {
public:
  Error(ExitCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}

  ExitCode code() const noexcept { return code_; }
  // Set once every rank of a communicator holds this same error (see parallel/collective.hpp); an agreed
  // error can end the program normally on all ranks, an unagreed one must abort the job so no rank waits
  // forever.
  bool agreed() const noexcept { return agreed_; }
  int origin_rank() const noexcept { return origin_rank_; }
  void mark_agreed(int origin_rank) noexcept {
    agreed_ = true;
    origin_rank_ = origin_rank;
  }

private:
  ExitCode code_;
  bool agreed_ = false;
  int origin_rank_ = -1;
};

// A mistake in what the user gave us (deck, file, option): exit code 2.
inline Error input_error(std::string message) {
  return Error(ExitCode::input, std::move(message));
}
// A failure while running (solver, I/O): exit code 1.
inline Error runtime_error(std::string message) {
  return Error(ExitCode::runtime, std::move(message));
}

} // namespace tessera
