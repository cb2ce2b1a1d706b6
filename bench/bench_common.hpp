// What the benchmark drivers share: comma-separated option lists, wall time, and the slowest rank's time.
#pragma once

#include <mpi.h>

#include <chrono>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

namespace tessera::bench {

// "10000,100000" -> {10000, 100000}
inline std::vector<long long> parse_list(const std::string& s) {
  std::vector<long long> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    out.push_back(std::stoll(item));
  return out;
}

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the calling thread: on a machine shared with other jobs it counts only the time this rank
// ran, a steadier figure than wall time when the load average is above the core count.
inline double thread_cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Collective: a phase is as slow as its slowest rank.
inline double max_over_ranks(double v) {
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

} // namespace tessera::bench
