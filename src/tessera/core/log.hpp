// Logging: rank 0 writes progress and messages to stdout (unless --quiet) and to tessera.log in the run
// directory; errors and warnings from any rank go to stderr prefixed with their rank. The console is written
// through core/console.hpp (a stopping command never waits for it); the log file gets every line.
#pragma once

#include <fstream>
#include <memory>
#include <string>

namespace tessera {

class Log {
public:
  Log(int rank, bool quiet) : rank_(rank), quiet_(quiet) {}

  // Rank 0 appends every later line to `path` (the run's tessera.log). Other ranks ignore it.
  void open_file(const std::string& path);

  void info(const std::string& line);   // rank 0: stdout (unless quiet) and the log file
  void always(const std::string& line); // rank 0: stdout even when quiet (final summaries of check/info)
  void warn(const std::string& line);   // rank 0: stderr and the log file
  void record(const std::string& line); // rank 0: the log file only (what the console has already seen)
  // Any rank: stderr (and the log file on rank 0), prefixed "[rank r]" when the job has several ranks;
  // `from_rank` names the rank the error came from when it differs from this one (agreed errors).
  void error(const std::string& line, int from_rank = -1);

  void set_ranks(int n) { n_ranks_ = n; }
  void set_quiet(bool quiet) { quiet_ = quiet; }
  bool quiet() const { return quiet_; }
  int rank() const { return rank_; }

private:
  int rank_;
  bool quiet_;
  int n_ranks_ = 1;
  std::unique_ptr<std::ofstream> file_;
};

// "  step 120/1000  t = 120 min  cells = 20000  wall 3.1 s  ETA 22.7 s"
std::string progress_line(long long step, long long steps, double time_min, long long cells, double wall_s);
// Seconds as a short human string: "0.52 s", "3 min 10 s", "2 h 05 min".
std::string human_seconds(double seconds);

} // namespace tessera
