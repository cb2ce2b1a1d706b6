// Simulation output (SPEC §6.4): one tessera.h5 per run, written collectively step by step with each rank's
// cells as one slice, and a tessera.xmf beside it that ParaView opens directly.
#pragma once

#include "tessera/io/hdf5.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/parallel/mpi.hpp"

#include <mpi.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// File names inside a run directory, and the `format` root attribute that marks a simulation output.
inline constexpr const char* simulation_h5_name = "tessera.h5";
inline constexpr const char* simulation_xmf_name = "tessera.xmf";
inline constexpr const char* simulation_format = "tessera-simulation";
inline constexpr std::int64_t simulation_format_version = 1;

// Prefix of the field-data arrays of tessera.xmf that name the cell types: "type_name:<name>" holds <name>'s
// code in `type`.
inline constexpr const char* type_name_prefix = "type_name:";

// The tessera.xmf text for steps of a file named `h5_name` (relative to the .xmf), in the order given. Every
// step's grid reads the same in ParaView's XDMF Reader and its Xdmf3 readers (S and T): Polyvertex cells with
// explicit connectivity (a HyperSlab of /vertex_index), one 1-D array per gene, and the type names as
// field data.
struct XdmfStep {
  long long step = 0;
  double time = 0;
  std::int64_t cells = 0;
};
// The diffusible fields' voxel grid (issue 12), the same on every rank.
struct FieldGrid {
  std::vector<std::string> names;        // one per substrate
  std::array<int, 3> voxels{1, 1, 1};    // per axis (1 on the third axis in 2-D)
  double spacing = 0.0;                  // µm
  std::array<double, 3> origin{0, 0, 0}; // the domain's lower corner; voxel centres at origin + (i + 1/2) h
};
// This rank's block of that grid at one step.
struct FieldBlock {
  std::array<int, 3> lo{0, 0, 0}, count{0, 0, 0};
  std::vector<std::vector<double>> values; // per substrate, the block's voxels, x fastest
};

// With `fields`, a second temporal collection "fields" holds each step's fields on a CoRectMesh whose nodes
// are the voxel centres, beside the cells.
std::string simulation_xdmf(const std::string& h5_name, int dim, const std::vector<std::string>& gene_names,
                            const std::vector<std::string>& type_names, const std::vector<XdmfStep>& steps,
                            const FieldGrid* fields = nullptr);

// Layout of tessera.h5:
//   /                root attributes: format, format_version, version, git_hash, deck, deck_file, ranks,
//                    kokkos_backend, subcommand, command (the full command line), host, slurm_job_id and
//                    slurm_array_task_id (in SLURM), dim, created (UTC, ISO 8601), time_units ("min", of the
//                    steps' time); complete (0 until finish(), then 1), last_step and last_time (the step
//                    written last, from the first one on)
//   /genes           gene names, /cell_types cell type names (1-D string datasets)
//   /steps/<n>/      one group per output step n (no padding), attributes time (min) and cells;
//                    datasets id uint64[N], type int32[N], position float64[N][dim], radius float64[N],
//                    genes float64[N][G], cycle float64[N], and (unless turned off) gene_columns/<g>
//                    float64[N], column g of genes for the XDMF; rows are in rank order. /steps lists its
//                    groups in the order written (link creation order is tracked and indexed). position and
//                    radius have the attribute units = "um", cycle units = "min".
//   /steps_index     {step int64, time float64}[S]: one row per step, in the order written, appended after
//                    the step's datasets
//   /vertex_index    int64[M]: 0, 1, ..., M - 1 for the largest step, the XDMF's Polyvertex connectivity
//   with diffusible fields: /field_names (strings), root attributes field_spacing (um) and field_origin
//   (the domain's lower corner, "x y [z]"), and /steps/<n>/fields/<name> float64[Ny][Nx] (2-D) or
//   [Nz][Ny][Nx] (3-D), each rank its block, voxel centres at origin + (i + 1/2) spacing
class SimulationOutput {
public:
  // Collective. Creates `directory` when missing and `directory/tessera.h5`, which must not exist yet (an
  // input_error naming it otherwise: whether to replace an old run is the caller's decision), and records the
  // provenance. `provenance` must be the same on every rank. Without `gene_columns` the steps hold no
  // gene_columns and tessera.xmf lists no genes.
  SimulationOutput(MPI_Comm comm, const std::string& directory, const RunProvenance& provenance, int dim,
                   bool gene_columns = true);

  // Collective. Opens the existing `directory/tessera.h5` of a run that is restarted from a checkpoint: the
  // steps `resume` does not keep are removed (their groups and /steps_index rows), complete is set to 0 and
  // tessera.xmf is rewritten for the steps kept. A missing file or one that is not a simulation output is
  // an input_error naming it.
  SimulationOutput(MPI_Comm comm, const std::string& directory, const RunProvenance& provenance, int dim,
                   bool gene_columns, const ResumePoint& resume);

  SimulationOutput(SimulationOutput&&) = default;
  SimulationOutput& operator=(SimulationOutput&&) = delete; // would close the old file before its groups
  SimulationOutput(const SimulationOutput&) = delete;
  SimulationOutput& operator=(const SimulationOutput&) = delete;
  ~SimulationOutput() = default; // collective: every rank must destroy its writer

  // Collective. Writes `local` (this rank's cells, possibly none) as rows [offset, offset + n) of step
  // `step`, where offset is the cell count of the lower ranks; then flushes the file and rewrites tessera.xmf
  // to list every step written so far. Writing a step twice is a runtime_error; a snapshot whose dim, gene
  // count or field sizes disagree with the output is a runtime_error on every rank.
  void write_step(long long step, double time, const CellSnapshot& local, const FieldBlock* fields = nullptr);
  // Collective. Declares the diffusible fields every later write_step carries (its FieldBlock); call once
  // before the first step, or, on a restarted run's output, once after opening it (then the names must be
  // those the file holds, else an input_error naming it).
  void set_fields(const FieldGrid& grid);

  // Collective. Marks the output complete (root attribute complete = 1: the run ended normally, every step
  // it was to write is there), then closes it as close() does. An output closed otherwise keeps complete = 0.
  void finish();
  // Collective. Closes tessera.h5 and reports a failure to do so; write_step afterwards is an error.
  void close();

  const std::string& h5_path() const { return h5_path_; }
  const std::string& xmf_path() const { return xmf_path_; }
  int dim() const { return dim_; }
  std::size_t steps_written() const { return steps_.size(); }

private:
  void check_snapshot(long long step, const CellSnapshot& local) const;
  // Collective. A clean, agreed "no space left" error before a step that cannot fit (HDF5 would hang).
  void require_room_for(long long step, std::int64_t total_cells) const;
  void write_gene_columns(hid_t step_group, const CellSnapshot& local, const h5::Rows& rows);
  void write_xdmf() const; // rank 0 only

  mpi::Communicator comm_;
  std::string h5_path_;
  std::string xmf_path_;
  int dim_ = 2;
  std::vector<std::string> gene_names_;
  std::vector<std::string> type_names_;
  bool gene_columns_ = true;
  std::vector<XdmfStep> steps_; // in the order written
  bool has_fields_ = false;
  FieldGrid field_grid_;
  std::int64_t vertex_index_rows_ = 0; // length of /vertex_index
  // Declared last so they close first: a parallel HDF5 file refuses to close while its groups are open.
  h5::File file_;
  h5::Handle steps_group_;
};

} // namespace tessera
