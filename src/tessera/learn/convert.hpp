// `tessera convert` (SPEC §5, §6.3): trajectory datasets from AnnData .h5ad files and CSV folders, and back
// to .h5ad for scanpy. Serial: conversion runs on one process.
#pragma once

#include "tessera/learn/dataset.hpp"

#include <string>

namespace tessera {

// Where the parts of a snapshot series live in an AnnData file.
struct H5adKeys {
  std::string time = "time";       // obs column: observation time of each row
  std::string cell_id = "cell_id"; // obs column: which cell a row is (integers, or strings numbered in order)
  std::string cell_type = "cell_type"; // obs column, categorical (or strings)
  std::string position = "spatial";    // obsm key: coordinates, one row per obs row
  // When set: uns (or layers) key of a dense [T_obs][n_obs][n_vars] array; obs rows are then cells, and
  // `time` names an uns array of the T_obs observation times.
  std::string expression;
};

// What `tessera convert` is told besides the two paths.
struct ConvertOptions {
  H5adKeys keys;
  // --time-unit (s, min, h, d or day): the unit of the source's times on import (tessera stores minutes);
  // the unit of the exported times on export. Empty: minutes on import, the dataset's source unit on export.
  std::string time_unit;
  // --observed: the dataset a prediction (train's predicted.h5) was made from, exported beside it when the
  // prediction does not hold its observations itself.
  std::string observed;
};

// Reads an AnnData file (anndata >= 0.8 layout: X dense or CSR, obs as a dataframe group, categoricals as
// categories + codes, var/_index for gene names) holding one row per cell per time point (or, with
// keys.expression, one row per cell and the trajectories in one dense array). Rows are matched by
// cell id across time points; every cell must appear exactly once at every time point. Positions that are the
// same at every time point become static (N × d). Times are numbers in `time_unit` (minutes when empty) or
// text such as "6 h"; they are stored in minutes. Text cell ids become /cell_name; other numeric and text obs
// columns become annotations; `dropped` (may be null) receives the columns left out, with the reason.
// Errors are input_errors naming the file and what is wrong.
TrajectoryDataset read_h5ad(const std::string& path, const H5adKeys& keys = {},
                            const std::string& time_unit = "", std::vector<std::string>* dropped = nullptr);

// Writes a dataset as AnnData (one obs row per cell per time point, time-major; dense float64 X; obs columns
// time (in `time_unit`, else the dataset's source unit, else minutes), cell_id, cell_type (categorical),
// cell_name when the dataset has names, then its annotations; obsm/spatial; layers observed and predicted for
// a prediction; uns: tessera's provenance, the time unit, the ligand-receptor pairs and gene graphs by gene
// name; `source` is recorded as where the dataset came from). Refuses to replace an existing file. An .h5ad
// written so is read back by read_h5ad with its names, annotations, pairs and prior graphs.
void write_h5ad(const std::string& path, const TrajectoryDataset& ds, const std::string& time_unit = "",
                const std::string& source = "");

// Reads a CSV folder (SPEC §6.3): gene_expression.csv (time,cell_id,<genes...>), cell_positions.csv
// (cell_id,x,y[,z]), cell_types.csv (cell_id,type), and optionally ligand_receptor_pairs.csv
// (ligand,receptor) and prior_grns.csv (type,source,target; type may be '*'). Times are numbers in
// `time_unit` (minutes when empty) or carry their own unit ("6 h"); cell ids are integers or names. Errors
// name file:line and the column.
TrajectoryDataset read_csv_folder(const std::string& dir, const std::string& time_unit = "");

// The whole command: FROM .h5ad or a CSV folder -> TO tessera dataset (.h5), or FROM tessera dataset (or
// train's predicted.h5) -> TO .h5ad, chosen from the paths. Returns a summary of what was written.
std::string convert(const std::string& from, const std::string& to, const ConvertOptions& options = {});

} // namespace tessera
