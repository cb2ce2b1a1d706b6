#include "tessera/learn/dataset.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/simulation_output.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace tessera {

namespace {

std::string count_of(std::size_t n, const char* what) {
  return std::to_string(n) + " " + what;
}

void require_unique_names(const std::vector<std::string>& names, const std::string& where, const char* what) {
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty()) throw input_error(where + ": " + what + " has an empty name");
    if (!seen.insert(name).second) throw input_error(where + ": " + what + " names '" + name + "' twice");
  }
}

void require_finite(const std::vector<double>& values, std::size_t row_length, const std::string& where,
                    const char* what) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw input_error(where + ": " + what + " holds a non-finite value (" + std::to_string(values[i]) +
                        ") at row " + std::to_string(i / row_length) + ", column " +
                        std::to_string(i % row_length));
}

template <std::size_t K>
void require_genes(const std::vector<std::array<int, K>>& edges, std::size_t n_genes,
                   const std::string& where, const std::string& what) {
  for (std::size_t e = 0; e < edges.size(); ++e)
    for (std::size_t k = 0; k < 2; ++k)
      if (edges[e][k] < 0 || static_cast<std::size_t>(edges[e][k]) >= n_genes)
        throw input_error(where + ": " + what + " row " + std::to_string(e) + " names gene index " +
                          std::to_string(edges[e][k]) + ", outside [0, " + std::to_string(n_genes) + ")");
}

void require_type_key(const std::string& key, const TrajectoryDataset& ds, const std::string& where,
                      const std::string& group) {
  if (key == "*") return;
  if (std::find(ds.cell_types.begin(), ds.cell_types.end(), key) == ds.cell_types.end())
    throw input_error(where + ": " + group + key + " is neither a cell type of /cell_types nor '*'");
}

template <std::size_t K>
std::vector<std::array<int, K>> to_pairs(const std::vector<std::int32_t>& flat) {
  std::vector<std::array<int, K>> out(flat.size() / K);
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t k = 0; k < K; ++k)
      out[i][k] = flat[i * K + k];
  return out;
}

template <std::size_t K>
std::vector<std::int32_t> flatten(const std::vector<std::array<int, K>>& rows) {
  std::vector<std::int32_t> flat;
  flat.reserve(rows.size() * K);
  for (const auto& row : rows)
    flat.insert(flat.end(), row.begin(), row.end());
  return flat;
}

// A [rows][K] int32 table; its column count is checked before it is read.
template <std::size_t K>
std::vector<std::array<int, K>> read_table(hid_t parent, const std::string& name, const std::string& where,
                                           const std::string& label) {
  const std::vector<std::int64_t> dims = h5::shape(parent, name);
  if (dims.size() != 2 || dims[1] != static_cast<std::int64_t>(K))
    throw input_error(where + ": " + label + " must have shape [rows][" + std::to_string(K) + "]");
  return to_pairs<K>(h5::read_all<std::int32_t>(parent, name));
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::int64_t d : dims)
    s += "[" + std::to_string(d) + "]";
  return s.empty() ? "a scalar" : s;
}

// Obs columns the .h5ad export writes itself; an annotation may not take their names.
bool reserved_annotation(const std::string& name) {
  return name == "time" || name == "cell_id" || name == "cell_type" || name == "cell_name" ||
         name == "_index";
}

void validate_annotations(const TrajectoryDataset& ds, const std::string& where) {
  const std::size_t rows = ds.n_times() * ds.n_cells();
  std::set<std::string> seen;
  for (const CellAnnotation& a : ds.annotations) {
    const std::string label = "/obs/" + a.name;
    if (a.name.empty() || a.name.find('/') != std::string::npos || a.name == "." ||
        reserved_annotation(a.name))
      throw input_error(where + ": annotation name '" + a.name +
                        "' is empty, holds '/', or is one of time, cell_id, cell_type, cell_name");
    if (!seen.insert(a.name).second) throw input_error(where + ": " + label + " is given twice");
    const std::size_t n = a.text ? a.codes.size() : a.numbers.size();
    if (n != rows)
      throw input_error(where + ": " + label + " has " + std::to_string(n) +
                        " values, expected T_obs x N = " + std::to_string(rows));
    for (std::size_t k = 0; a.text && k < rows; ++k)
      if (a.codes[k] < -1 || a.codes[k] >= static_cast<std::int32_t>(a.categories.size()))
        throw input_error(where + ": " + label + "/codes[" + std::to_string(k) +
                          "] = " + std::to_string(a.codes[k]) + " is outside [-1, " +
                          std::to_string(a.categories.size()) + ") (-1: missing)");
  }
}

} // namespace

std::string cell_label(const TrajectoryDataset& ds, std::size_t cell) {
  std::string label = "cell id " + std::to_string(ds.cell_id[cell]);
  if (cell < ds.cell_name.size()) label += " ('" + ds.cell_name[cell] + "')";
  return label;
}

void validate_dataset(const TrajectoryDataset& ds, const std::string& where) {
  const std::size_t T = ds.n_times(), N = ds.n_cells(), G = ds.n_genes();
  require_unique_names(ds.genes, where, "/genes");
  require_unique_names(ds.cell_types, where, "/cell_types");
  for (const std::string& name : ds.cell_types)
    if (name.find('/') != std::string::npos || name == "." || name == "*")
      throw input_error(where + ": cell type name '" + name +
                        "' cannot name an HDF5 group (no '/', '.' or '*')");
  if (G == 0) throw input_error(where + ": /genes is empty");
  if (T == 0) throw input_error(where + ": /time is empty");
  if (N == 0) throw input_error(where + ": /cell_id is empty");
  if (ds.cell_types.empty()) throw input_error(where + ": /cell_types is empty");
  for (std::size_t t = 0; t < T; ++t) {
    if (!std::isfinite(ds.time[t]))
      throw input_error(where + ": /time[" + std::to_string(t) + "] is not finite");
    if (t > 0 && !(ds.time[t] > ds.time[t - 1]))
      throw input_error(where + ": /time is not strictly increasing: /time[" + std::to_string(t - 1) +
                        "] = " + std::to_string(ds.time[t - 1]) + ", /time[" + std::to_string(t) +
                        "] = " + std::to_string(ds.time[t]) +
                        (ds.time[t] == ds.time[t - 1] ? " (a repeated time)" : " (unsorted)"));
  }
  if (!ds.source_time_unit.empty() && !parse_time_unit(ds.source_time_unit).ok)
    throw input_error(where + ": /time: source_units: " + parse_time_unit(ds.source_time_unit).problem);
  if (ds.cell_type.size() != N)
    throw input_error(where + ": /cell_type has " + count_of(ds.cell_type.size(), "cells") +
                      " but /cell_id has " + std::to_string(N));
  if (ds.expression.size() != T * N * G)
    throw input_error(where + ": /expression has " + std::to_string(ds.expression.size()) +
                      " values, expected T_obs x N x G = " + std::to_string(T) + " x " + std::to_string(N) +
                      " x " + std::to_string(G));
  if (ds.dim != 2 && ds.dim != 3)
    throw input_error(where + ": /positions has " + std::to_string(ds.dim) + " coordinates, expected 2 or 3");
  const std::size_t position_rows = ds.positions_per_time ? T * N : N;
  if (ds.positions.size() != position_rows * static_cast<std::size_t>(ds.dim))
    throw input_error(where + ": /positions has " + std::to_string(ds.positions.size()) +
                      " values, expected " + std::to_string(position_rows) + " x " + std::to_string(ds.dim));
  for (std::size_t i = 0; i < N; ++i)
    if (ds.cell_type[i] < 0 || static_cast<std::size_t>(ds.cell_type[i]) >= ds.cell_types.size())
      throw input_error(where + ": /cell_type[" + std::to_string(i) +
                        "] = " + std::to_string(ds.cell_type[i]) + " is outside [0, " +
                        std::to_string(ds.cell_types.size()) + ") (the types of /cell_types)");
  std::vector<std::pair<std::uint64_t, std::size_t>> ids;
  ids.reserve(N);
  for (std::size_t i = 0; i < N; ++i)
    ids.emplace_back(ds.cell_id[i], i);
  std::sort(ids.begin(), ids.end());
  for (std::size_t k = 1; k < ids.size(); ++k)
    if (ids[k].first == ids[k - 1].first)
      throw input_error(where + ": /cell_id holds cell id " + std::to_string(ids[k].first) + " twice (rows " +
                        std::to_string(ids[k - 1].second) + " and " + std::to_string(ids[k].second) +
                        (ds.cell_name.empty() ? std::string()
                                              : ", named '" + ds.cell_name[ids[k - 1].second] + "' and '" +
                                                    ds.cell_name[ids[k].second] + "'") +
                        ")");
  if (!ds.cell_name.empty()) {
    if (ds.cell_name.size() != N)
      throw input_error(where + ": /cell_name has " + count_of(ds.cell_name.size(), "names") +
                        " but /cell_id has " + std::to_string(N));
    require_unique_names(ds.cell_name, where, "/cell_name");
  }
  // Rows of /expression are (time, cell) pairs; name them so a user can find the bad value.
  for (const auto& [values, name] :
       {std::pair{&ds.expression, "/expression"}, std::pair{&ds.observed, "/observed"}})
    for (std::size_t k = 0; k < values->size(); ++k)
      if (!std::isfinite((*values)[k])) {
        const std::size_t g = k % G, i = (k / G) % N, t = k / (G * N);
        throw input_error(where + ": " + name + " is not finite (" + std::to_string((*values)[k]) +
                          ") at time index " + std::to_string(t) + ", " + cell_label(ds, i) + ", gene '" +
                          ds.genes[g] + "'");
      }
  if (!ds.observed.empty() && ds.observed.size() != T * N * G)
    throw input_error(where + ": /observed has " + std::to_string(ds.observed.size()) +
                      " values, expected T_obs x N x G = " + std::to_string(T * N * G) + " (as /expression)");
  validate_annotations(ds, where);
  require_finite(ds.positions, static_cast<std::size_t>(ds.dim), where, "/positions");
  require_genes(ds.ligand_receptor, G, where, "/ligand_receptor");
  for (const auto& [key, edges] : ds.prior_grn) {
    require_type_key(key, ds, where, "/grn/prior/");
    require_genes(edges, G, where, "/grn/prior/" + key);
  }
  for (const auto& [key, edges] : ds.truth_grn) {
    require_type_key(key, ds, where, "/grn/truth/");
    require_genes(edges, G, where, "/grn/truth/" + key);
    for (std::size_t e = 0; e < edges.size(); ++e)
      if (edges[e][2] != 1 && edges[e][2] != -1)
        throw input_error(where + ": /grn/truth/" + key + " row " + std::to_string(e) + " has sign " +
                          std::to_string(edges[e][2]) + ", expected +1 or -1");
  }
}

void write_dataset(const std::string& path, const TrajectoryDataset& ds) {
  validate_dataset(ds, path);
  const auto T = static_cast<std::int64_t>(ds.n_times()), N = static_cast<std::int64_t>(ds.n_cells()),
             G = static_cast<std::int64_t>(ds.n_genes());
  h5::File file = h5::File::create(path);
  const hid_t root = file.get();
  h5::write_text_attribute(root, "format", dataset_format);
  h5::write_int_attribute(root, "version", dataset_version);
  h5::write_strings(root, "genes", ds.genes);
  h5::write_strings(root, "cell_types", ds.cell_types);
  h5::write_array(root, "time", ds.time.data(), {T});
  {
    h5::Handle time = h5::open_object(root, "time");
    h5::write_text_attribute(time.get(), "units", "min");
    if (!ds.source_time_unit.empty())
      h5::write_text_attribute(time.get(), "source_units", ds.source_time_unit);
  }
  h5::write_array(root, "cell_type", ds.cell_type.data(), {N});
  h5::write_array(root, "cell_id", ds.cell_id.data(), {N});
  if (!ds.cell_name.empty()) h5::write_strings(root, "cell_name", ds.cell_name);
  h5::write_array(root, "expression", ds.expression.data(), {T, N, G}, {1, N, G});
  if (!ds.observed.empty()) h5::write_array(root, "observed", ds.observed.data(), {T, N, G}, {1, N, G});
  if (ds.positions_per_time)
    h5::write_array(root, "positions", ds.positions.data(), {T, N, ds.dim}, {1, N, ds.dim});
  else
    h5::write_array(root, "positions", ds.positions.data(), {N, ds.dim});
  h5::write_text_attribute(h5::open_object(root, "positions").get(), "units", "um");
  const std::vector<std::int32_t> lr = flatten(ds.ligand_receptor);
  h5::write_array(root, "ligand_receptor", lr.data(),
                  {static_cast<std::int64_t>(ds.ligand_receptor.size()), 2});
  if (!ds.prior_grn.empty() || !ds.truth_grn.empty()) {
    h5::Handle grn = h5::create_group(root, "grn");
    if (!ds.prior_grn.empty()) {
      h5::Handle prior = h5::create_group(grn.get(), "prior");
      for (const auto& [key, edges] : ds.prior_grn) {
        const std::vector<std::int32_t> flat = flatten(edges);
        h5::write_array(prior.get(), key, flat.data(), {static_cast<std::int64_t>(edges.size()), 2});
      }
    }
    if (!ds.truth_grn.empty()) {
      h5::Handle truth = h5::create_group(grn.get(), "truth");
      for (const auto& [key, edges] : ds.truth_grn) {
        const std::vector<std::int32_t> flat = flatten(edges);
        h5::write_array(truth.get(), key, flat.data(), {static_cast<std::int64_t>(edges.size()), 3});
      }
    }
  }
  if (!ds.annotations.empty()) {
    h5::Handle obs = h5::create_group(root, "obs");
    for (const CellAnnotation& a : ds.annotations) {
      if (!a.text) {
        h5::write_array(obs.get(), a.name, a.numbers.data(), {T, N});
        continue;
      }
      h5::Handle column = h5::create_group(obs.get(), a.name);
      h5::write_strings(column.get(), "categories", a.categories);
      h5::write_array(column.get(), "codes", a.codes.data(), {T, N});
    }
  }
  file.close();
}

TrajectoryDataset read_dataset(const std::string& path) {
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  // A simulation's output is the likeliest wrong file: say how to record a dataset instead.
  if (h5::has_attribute(root, "format") && h5::read_text_attribute(root, "format") == simulation_format)
    throw input_error(path + ": this is a simulation output (" + simulation_h5_name +
                      "), not a trajectory dataset; run with `output.dataset: true` to record a dataset "
                      "(dataset.h5) and use that");
  h5::require_format(file, "a tessera dataset", dataset_format, "version", dataset_version);
  for (const char* name : {"genes", "cell_types", "time", "cell_type", "cell_id", "expression", "positions"})
    if (!h5::exists(root, name)) throw input_error(path + ": no /" + std::string(name) + " dataset");

  TrajectoryDataset ds;
  ds.genes = h5::read_strings(root, "genes");
  ds.cell_types = h5::read_strings(root, "cell_types");
  // Shapes first, so a mismatch is reported as such rather than as a failed read.
  const std::vector<std::int64_t> time_shape = h5::shape(root, "time");
  const std::vector<std::int64_t> id_shape = h5::shape(root, "cell_id");
  const std::vector<std::int64_t> type_shape = h5::shape(root, "cell_type");
  if (time_shape.size() != 1)
    throw input_error(path + ": /time must be 1-D, has shape " + shape_text(time_shape));
  if (id_shape.size() != 1)
    throw input_error(path + ": /cell_id must be 1-D, has shape " + shape_text(id_shape));
  if (type_shape.size() != 1)
    throw input_error(path + ": /cell_type must be 1-D, has shape " + shape_text(type_shape));
  const std::int64_t T = time_shape[0], N = id_shape[0], G = static_cast<std::int64_t>(ds.genes.size());
  if (type_shape[0] != N)
    throw input_error(path + ": /cell_type has " + std::to_string(type_shape[0]) +
                      " cells but /cell_id has " + std::to_string(N));
  const std::vector<std::int64_t> x_shape = h5::shape(root, "expression");
  if (x_shape.size() != 3)
    throw input_error(path + ": /expression must have shape [T_obs][N][G], has shape " + shape_text(x_shape));
  if (x_shape[0] != T)
    throw input_error(path + ": /expression has " + std::to_string(x_shape[0]) +
                      " time points but /time has " + std::to_string(T));
  if (x_shape[1] != N)
    throw input_error(path + ": /expression has " + std::to_string(x_shape[1]) + " cells but /cell_id has " +
                      std::to_string(N));
  if (x_shape[2] != G)
    throw input_error(path + ": /expression has " + std::to_string(x_shape[2]) + " genes but /genes has " +
                      std::to_string(G));
  const std::vector<std::int64_t> p_shape = h5::shape(root, "positions");
  if (p_shape.size() == 2 && p_shape[0] == N) {
    ds.positions_per_time = false;
  } else if (p_shape.size() == 3 && p_shape[0] == T && p_shape[1] == N) {
    ds.positions_per_time = true;
  } else {
    throw input_error(path + ": /positions has shape " + shape_text(p_shape) + ", expected [" +
                      std::to_string(N) + "][d] or [" + std::to_string(T) + "][" + std::to_string(N) +
                      "][d] (N = " + std::to_string(N) + " cells of /cell_id, T_obs = " + std::to_string(T) +
                      ")");
  }
  ds.dim = static_cast<int>(p_shape.back());

  std::vector<std::int64_t> dims;
  ds.time = h5::read_array<double>(root, "time", dims);
  {
    // Minutes inside tessera; a file without units (written before they were recorded) is in minutes.
    h5::Handle time = h5::open_object(root, "time");
    if (h5::has_attribute(time.get(), "units")) {
      const ParsedQuantity unit = parse_time_unit(h5::read_text_attribute(time.get(), "units"));
      if (!unit.ok) throw input_error(path + ": /time: attribute units: " + unit.problem);
      for (double& t : ds.time)
        t *= unit.value;
    }
    if (h5::has_attribute(time.get(), "source_units"))
      ds.source_time_unit = h5::read_text_attribute(time.get(), "source_units");
  }
  ds.cell_id = h5::read_array<std::uint64_t>(root, "cell_id", dims);
  ds.cell_type = h5::read_array<std::int32_t>(root, "cell_type", dims);
  if (h5::exists(root, "cell_name")) {
    const std::vector<std::int64_t> name_shape = h5::shape(root, "cell_name");
    if (name_shape.size() != 1 || name_shape[0] != N)
      throw input_error(path + ": /cell_name has shape " + shape_text(name_shape) + ", expected [" +
                        std::to_string(N) + "] (one name per cell of /cell_id)");
    ds.cell_name = h5::read_strings(root, "cell_name");
  }
  ds.expression = h5::read_array<double>(root, "expression", dims);
  if (h5::exists(root, "observed")) {
    ds.observed = h5::read_array<double>(root, "observed", dims);
    if (dims != x_shape)
      throw input_error(path + ": /observed has shape " + shape_text(dims) + ", expected " +
                        shape_text(x_shape) + " (as /expression)");
  }
  ds.positions = h5::read_array<double>(root, "positions", dims);
  if (h5::exists(root, "ligand_receptor"))
    ds.ligand_receptor = read_table<2>(root, "ligand_receptor", path, "/ligand_receptor");
  for (const char* kind : {"prior", "truth"}) {
    const std::string group_path = std::string("grn/") + kind;
    if (!h5::exists(root, group_path)) continue;
    h5::Handle group = h5::open_group(root, group_path);
    for (const std::string& key : h5::children(group.get())) {
      const std::string label = "/" + group_path + "/" + key;
      if (std::string(kind) == "prior")
        ds.prior_grn[key] = read_table<2>(group.get(), key, path, label);
      else
        ds.truth_grn[key] = read_table<3>(group.get(), key, path, label);
    }
  }
  if (h5::exists(root, "obs")) {
    h5::Handle obs = h5::open_group(root, "obs");
    const std::vector<std::int64_t> want = {T, N};
    for (const std::string& name : h5::children(obs.get())) {
      CellAnnotation a;
      a.name = name;
      h5::Handle object = h5::open_object(obs.get(), name);
      a.text = h5::is_group(object.get());
      if (a.text) {
        for (const char* part : {"categories", "codes"})
          if (!h5::exists(object.get(), part))
            throw input_error(path + ": /obs/" + name + " is a group without " + part);
        a.categories = h5::read_strings(object.get(), "categories");
        a.codes = h5::read_array<std::int32_t>(object.get(), "codes", dims);
      } else {
        a.numbers = h5::read_array<double>(obs.get(), name, dims);
      }
      if (dims != want)
        throw input_error(path + ": /obs/" + name + " has shape " + shape_text(dims) + ", expected " +
                          shape_text(want) + " (T_obs x N)");
      ds.annotations.push_back(std::move(a));
    }
  }
  validate_dataset(ds, path);
  return ds;
}

} // namespace tessera
