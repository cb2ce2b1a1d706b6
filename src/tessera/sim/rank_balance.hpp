// How evenly a run's work was spread over its ranks (the summary's load line): the equal rank boxes of the
// Cartesian decomposition (SPEC §4.1) give a rank the cells that happen to lie in its box, so a tissue that
// fills its domain unevenly (a spheroid, a colony in a corner) leaves some ranks idle while others hold most
// cells. A step's work grows with the cells a rank owns, so the spread of the cells owned over the steps
// (cell-steps) is the spread of the work; the run reports it so a user can choose `parallel.dims` or the rank
// count. Counts, not timings: a rank's phase times include its waits for the others, which hide the
// imbalance.
#pragma once

#include <mpi.h>

#include <string>

namespace tessera {

// One rank's share of a run.
struct RankLoad {
  long long cells = 0;      // owned cells at the end
  long long cell_steps = 0; // owned cells after each step, summed over the steps this run took
};

// The spread of RankLoad over the ranks: smallest, mean and largest of each.
struct RankBalance {
  int ranks = 1;
  long long cells_min = 0, cells_max = 0;
  double cells_mean = 0;
  long long cell_steps_min = 0, cell_steps_max = 0;
  double cell_steps_mean = 0;
};

// Collective: one MPI_Allgather of every rank's load, so every rank returns the same.
RankBalance measure_rank_balance(MPI_Comm comm, const RankLoad& local);

// "load over 4 ranks: cell-steps min 3700, max 6400 (max/mean 1.28); owned cells at the end min 37, mean 50,
// max 64 (max/mean 1.28)". max/mean of the cell-steps is how many times longer the busiest rank's cell work
// took than an even split's would have: 1 is a perfect balance, the rank count means one rank did it all.
std::string describe(const RankBalance& balance);

} // namespace tessera
