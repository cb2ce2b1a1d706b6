// A forward run's checkpoint (SPEC §6.6): checkpoint.h5 in the run directory holds every field of every cell
// a step reads, the step, the time, the next free id, the integrator's carried state, the resolved deck and
// the run's provenance, so `tessera run DECK --restart DIR` continues bit for bit on any number of ranks.
// Random numbers are counter-based (keyed by seed, cell id and step), so the step is their whole state.
#pragma once

#include "tessera/io/snapshot.hpp"

#include <mpi.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

inline constexpr const char* checkpoint_h5_name = "checkpoint.h5";
inline constexpr const char* checkpoint_format = "tessera-simulation-checkpoint";
inline constexpr std::int64_t checkpoint_format_version = 1;

// The run's counters at the end of a step.
struct SimulationState {
  long long step = 0;
  double time = 0.0;
  std::uint64_t next_id = 0; // the smallest id never used, the same on every rank
  long long divisions = 0, deaths = 0;
  bool cap_reported = false; // the max_cells warning was logged
  // CVODE re-initialises at every step (neighbours are frozen over a step); what it carries from one step to
  // the next is the first internal step size, its last accepted one. 0 for rk4.
  double cvode_step = 0.0;
};

// One rank's owned cells with every per-cell field a step reads.
struct CheckpointCells {
  CellSnapshot cells;             // id, type, position, radius, genes, cycle
  std::vector<double> below_time; // min the death gene has stayed below its threshold
  std::size_t size() const { return cells.size(); }
};

// The diffusible fields at the end of a step (issue 12): the grid, the same on every rank, and this rank's
// block of it.
struct CheckpointFields {
  std::vector<std::string> names;     // one per substrate
  std::array<int, 3> voxels{1, 1, 1}; // per axis (1 on the third axis in 2-D)
  std::array<int, 3> lo{0, 0, 0}, count{0, 0, 0};
  std::vector<std::vector<double>> values; // per substrate, the block's voxels, x fastest
};

// Layout of checkpoint.h5:
//   /             root attributes: format ("tessera-simulation-checkpoint"), format_version (1), version,
//                 git_hash, deck (the resolved deck), deck_file, subcommand, command, host, slurm_job_id and
//                 slurm_array_task_id (in SLURM), created, dim, ranks, step, time (min), next_id, divisions,
//                 deaths, cap_reported, cvode_step (min), complete (1, written last)
//   /genes, /cell_types   names (1-D strings)
//   /rank_grid    int64[3]: the writer's ranks per axis (1 for the third axis in 2-D); root attribute
//                 balanced_boxes 1 when its boxes were cut by parallel.balance (absent or 0: equal boxes)
//   /rank_rows    int64[ranks]: how many rows each writing rank wrote, in rank order
//   /cells/       id uint64[N], type int32[N], position float64[N][dim], radius float64[N], genes
//                 float64[N][G], cycle float64[N], below_time float64[N]; rows in rank order, each rank's
//                 rows in its memory order
//   with diffusible fields: /field_names (strings) and /fields/<name> float64[Ny][Nx] (2-D) or [Nz][Ny][Nx]
//                 (3-D), every substrate's voxels, each rank writing its block
// Collective. Writes `dir`/checkpoint.h5.tmp and renames it to `dir`/checkpoint.h5 once it is complete and
// closed, so a crash leaves the previous checkpoint intact (a stale .tmp is replaced). With the environment
// variable TESSERA_TEST_KILL_BEFORE_CHECKPOINT_RENAME=<step>, rank 0 kills its process with SIGKILL between
// the close and the rename of that step's checkpoint (the tests' stand-in for a job killed mid-write).
void write_simulation_checkpoint(MPI_Comm comm, const std::string& dir, const SimulationState& state,
                                 const CheckpointCells& local, const RunProvenance& provenance,
                                 const std::array<int, 3>& rank_grid,
                                 const CheckpointFields* fields = nullptr, bool balanced_boxes = false);

struct SimulationCheckpoint {
  std::string path;
  SimulationState state;
  std::string resolved_deck;
  std::string
      subcommand; // the command that wrote it: "run", "predict"; empty in a file without the attribute
  int ranks = 1;
  std::array<int, 3> rank_grid{1, 1, 1};
  // Rows read: the writing rank's own rows when the reader asked for its rank on the same decomposition,
  // else every row (then `all_rows`; each rank keeps the cells in its box).
  CheckpointCells cells;
  bool all_rows = true;
  // The diffusible fields, per substrate the whole grid, x fastest (every reader takes its own block: a
  // restart may use another decomposition); empty without fields.
  std::vector<std::vector<double>> fields;
};

// What the deck says a checkpoint must hold.
struct CheckpointShape {
  int dim = 2;
  std::vector<std::string> genes, cell_types;
  std::vector<std::string> fields;    // the substrates' names (none without fields)
  std::array<int, 3> voxels{1, 1, 1}; // their grid, per axis
};

// Reads and checks `path` on this process alone (not collective). When the checkpoint was written by
// `ranks` ranks on `rank_grid` with equal boxes and the reader's boxes are equal too (not
// `balanced_boxes`), only rank `rank`'s rows are read (the cells it owned, in its order); otherwise every
// row. Anything that is not what write_simulation_checkpoint writes — a missing, partial or
// damaged file, another format, genes or cell types other than the deck's, sizes that disagree, a
// non-finite or out-of-range field, an id used twice or not below next_id — is an input_error naming the
// file.
SimulationCheckpoint read_simulation_checkpoint(const std::string& path, const CheckpointShape& shape,
                                                int ranks, const std::array<int, 3>& rank_grid, int rank,
                                                bool balanced_boxes = false);

} // namespace tessera
