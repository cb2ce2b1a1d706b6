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

// Reads an AnnData file (anndata >= 0.8 layout: X dense or CSR, obs as a dataframe group, categoricals as
// categories + codes, var/_index for gene names) holding one row per cell per time point (or, with
// keys.expression, one row per cell and the trajectories in one dense array). Rows are matched by
// cell id across time points; every cell must appear exactly once at every time point. Positions that are the
// same at every time point become static (N × d). Errors are input_errors naming the file and what is wrong.
TrajectoryDataset read_h5ad(const std::string& path, const H5adKeys& keys = {});

// Writes a dataset as AnnData (one obs row per cell per time point, time-major; dense float64 X; obs columns
// time, cell_id, cell_type (categorical); obsm/spatial). LR pairs and gene graphs have no place in AnnData
// and are left out. Refuses to replace an existing file.
void write_h5ad(const std::string& path, const TrajectoryDataset& ds);

// Reads a CSV folder (SPEC §6.3): gene_expression.csv (time,cell_id,<genes...>), cell_positions.csv
// (cell_id,x,y[,z]), cell_types.csv (cell_id,type), and optionally ligand_receptor_pairs.csv
// (ligand,receptor) and prior_grns.csv (type,source,target; type may be '*'). Errors name file:line and the
// column.
TrajectoryDataset read_csv_folder(const std::string& dir);

// The whole command: FROM .h5ad or a CSV folder -> TO tessera dataset (.h5), or FROM tessera dataset -> TO
// .h5ad, chosen from the paths. Returns a one-line summary of what was written.
std::string convert(const std::string& from, const std::string& to, const H5adKeys& keys = {});

} // namespace tessera
