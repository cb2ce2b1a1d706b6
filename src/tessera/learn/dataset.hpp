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

// An annotation of every (time point, cell) carried from an AnnData obs column to the exported .h5ad: numbers
// (NaN where missing), or text as categories and codes (-1 where missing). Not used by training.
struct CellAnnotation {
  std::string name;
  bool text = false;
  std::vector<double> numbers;         // T_obs × N, when !text
  std::vector<std::string> categories; // when text
  std::vector<std::int32_t> codes;     // T_obs × N, when text
};

struct TrajectoryDataset {
  std::vector<std::string> genes;      // G gene names, unique
  std::vector<std::string> cell_types; // T type names, unique
  std::vector<double> time;            // T_obs observation times (min), strictly increasing
  std::vector<std::int32_t> cell_type; // N, indices into cell_types
  std::vector<std::uint64_t> cell_id;  // N, unique
  std::vector<std::string> cell_name;  // N, unique (the source's barcodes), or empty when it had none
  std::vector<double> expression;      // T_obs × N × G, row-major
  // The unit the source gave its times in (`tessera convert --time-unit`), for exporting them back; "" when
  // unknown. `time` is in minutes whatever it is.
  std::string source_time_unit;

  int dim = 2;                     // 2 or 3
  bool positions_per_time = false; // positions is T_obs × N × dim instead of N × dim
  std::vector<double> positions;   // row-major

  std::vector<std::array<int, 2>> ligand_receptor; // (ligand gene, receptor gene)
  // Keyed by cell type name or "*" (every type).
  std::map<std::string, std::vector<std::array<int, 2>>> prior_grn; // (source gene, target gene)
  std::map<std::string, std::vector<std::array<int, 3>>> truth_grn; // (source, target, sign ±1)

  std::vector<CellAnnotation> annotations; // the source's other obs columns, in its order
  // A prediction (train's predicted.h5) keeps the observations it was made from, T_obs × N × G, beside its
  // `expression`; empty in a dataset of observations.
  std::vector<double> observed;

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

// "cell id 17 ('AAACGT-1')", or "cell id 17" when the dataset has no cell names: how errors name a cell.
std::string cell_label(const TrajectoryDataset& ds, std::size_t cell);

// Throws input_error("<where>: <what is wrong>") for the first inconsistency: sizes that do not match,
// non-finite expression or positions, unsorted or repeated times, repeated cell ids or names, type or gene
// indices out of range, truth signs other than ±1, GRN keys that are neither a type name nor "*", annotation
// names that are repeated or reserved, codes outside their categories.
void validate_dataset(const TrajectoryDataset& ds, const std::string& where);

// Validates, then writes `path` (serial; refuses to replace an existing file). /expression is chunked by
// time point so a reader can load one observation at a time.
void write_dataset(const std::string& path, const TrajectoryDataset& ds);

// Reads and validates a dataset written by write_dataset (or any writer of SPEC §6.3). Everything wrong,
// from the format attribute to a gene index, is an input_error naming the file and the dataset; a
// simulation's tessera.h5 is refused with the deck key that records a dataset. /time is returned in minutes
// (its `units` attribute converted; a file without one is read as minutes).
TrajectoryDataset read_dataset(const std::string& path);

} // namespace tessera
