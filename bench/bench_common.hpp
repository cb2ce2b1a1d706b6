// What the benchmark drivers share: comma-separated option lists, wall time, and the slowest rank's time.
#pragma once

#include <mpi.h>

#include <chrono>
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

// Collective: a phase is as slow as its slowest rank.
inline double max_over_ranks(double v) {
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

} // namespace tessera::bench
