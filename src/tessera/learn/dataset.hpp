// Trajectory datasets (SPEC §3.1, §6.3): observed expression of N cells over T_obs time points, with cell
// types, positions, ligand–receptor pairs and prior (and optionally true) gene graphs; what `train` fits to.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

inline constexpr const char* dataset_format = "tessera-dataset";
inline constexpr int dataset_version = 1;

struct TrajectoryDataset {
  std::vector<std::string> genes;      // G gene names, unique
  std::vector<std::string> cell_types; // T type names, unique
  std::vector<double> time;            // T_obs observation times (min), strictly increasing
  std::vector<std::int32_t> cell_type; // N, indices into cell_types
  std::vector<std::uint64_t> cell_id;  // N, unique
  std::vector<double> expression;      // T_obs × N × G, row-major

  int dim = 2;                     // 2 or 3
  bool positions_per_time = false; // positions is T_obs × N × dim instead of N × dim
  std::vector<double> positions;   // row-major

  std::vector<std::array<int, 2>> ligand_receptor; // (ligand gene, receptor gene)
  // Keyed by cell type name or "*" (every type).
  std::map<std::string, std::vector<std::array<int, 2>>> prior_grn; // (source gene, target gene)
  std::map<std::string, std::vector<std::array<int, 3>>> truth_grn; // (source, target, sign ±1)

  std::size_t n_times() const { return time.size(); }
  std::size_t n_cells() const { return cell_id.size(); }
  std::size_t n_genes() const { return genes.size(); }
  double& x(std::size_t t, std::size_t cell, std::size_t gene) {
    return expression[(t * n_cells() + cell) * n_genes() + gene];
  }
  double x(std::size_t t, std::size_t cell, std::size_t gene) const {
    return expression[(t * n_cells() + cell) * n_genes() + gene];
  }
};

// Throws input_error("<where>: <what is wrong>") for the first inconsistency: sizes that do not match,
// non-finite expression or positions, unsorted or repeated times, repeated cell ids or names, type or gene
// indices out of range, truth signs other than ±1, GRN keys that are neither a type name nor "*".
void validate_dataset(const TrajectoryDataset& ds, const std::string& where);

// Validates, then writes `path` (serial; refuses to replace an existing file). /expression is chunked by
// time point so a reader can load one observation at a time.
void write_dataset(const std::string& path, const TrajectoryDataset& ds);

// Reads and validates a dataset written by write_dataset (or any writer of SPEC §6.3). Everything wrong,
// from the format attribute to a gene index, is an input_error naming the file and the dataset.
TrajectoryDataset read_dataset(const std::string& path);

} // namespace tessera
