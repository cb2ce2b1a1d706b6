// Initial cells from a file (SPEC §6.2): a CSV `id,type,x,y[,z],<gene names...>` or one output step of a
// tessera.h5 (SPEC §6.4), every row checked against the deck's domain, cell types and gene panel.
#pragma once

#include "tessera/io/snapshot.hpp"
#include "tessera/tissue/domain.hpp"

#include <functional>
#include <string>
#include <vector>

namespace tessera {

// What the rows of a cell file must agree with.
struct CellFileSchema {
  Domain domain;
  std::vector<std::string> type_names; // cells.types: CSV types by name (or index); HDF5 /cell_types
  std::vector<double> type_radius;     // µm: a CSV cell takes its type's radius
  std::vector<std::string> gene_names; // grn.genes: CSV gene columns by name; HDF5 /genes
  bool all_genes_required = false;     // init.genes: file
};

// The rows of a file that the caller kept, and which genes the file gives.
struct CellFileCells {
  long long rows = 0;         // cells in the whole file
  long long step = -1;        // HDF5: the step read
  std::vector<bool> has_gene; // per gene of the panel: the file gives it (else the init.genes rule does)
  // Kept rows in file order; `genes` has one column per panel gene, 0 where the file gives none. CSV cells
  // have their type's radius and cycle 0; HDF5 cells keep the file's radius and cycle.
  CellSnapshot kept;
};

// Position of a row (3 values, 0 on unused axes) -> keep the row?
using KeepCell = std::function<bool(const double* position)>;

// An HDF5 file (by its signature or a .h5/.hdf5 name); anything else is read as CSV.
bool is_hdf5_file(const std::string& path);

// Not collective. Reads every row of `path`, checks it and keeps those `keep` accepts, so each rank holds
// only its own cells (plus 16 bytes per row for the duplicate-id check; an HDF5 step is read whole).
// `step` < 0 reads the file's last step (HDF5 only). Throws input_error naming the file and the line and
// column (CSV) or the step and row (HDF5): a bad header, a wrong number of fields, a value that is not a
// finite number, a negative gene, an unknown type or gene column, a duplicate id, a position outside the
// domain, a file of the wrong dimension, an HDF5 file whose genes or types differ from the deck's.
CellFileCells read_cell_file(const std::string& path, long long step, const CellFileSchema& schema,
                             const KeepCell& keep);

} // namespace tessera
