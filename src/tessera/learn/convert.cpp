#include "tessera/learn/convert.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/csv.hpp"
#include "tessera/io/hdf5.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace tessera {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------------
// A snapshot series: one row per cell per time point, from either source.

struct SnapshotRows {
  std::vector<double> time;      // per row
  std::vector<std::uint64_t> id; // per row
  std::vector<double> values;    // rows × G
  std::vector<int> type;         // per row, or empty when types come per cell
  std::vector<double> positions; // rows × dim, or empty when positions come per cell
  int dim = 0;
};

using RowName = std::function<std::string(std::size_t row)>;

// Fills time, cell_id and expression (and cell_type and positions when the rows carry them). Cells are
// numbered in their row order at the first time point; every cell must appear exactly once at every time.
void assemble(const SnapshotRows& rows, const RowName& row_name, const std::string& where,
              TrajectoryDataset& ds) {
  const std::size_t R = rows.id.size(), G = ds.n_genes();
  if (R == 0) throw input_error(where + ": no cells (no rows)");
  for (std::size_t r = 0; r < R; ++r)
    if (!std::isfinite(rows.time[r])) throw input_error(row_name(r) + ": time is not a finite number");
  ds.time = rows.time;
  std::sort(ds.time.begin(), ds.time.end());
  ds.time.erase(std::unique(ds.time.begin(), ds.time.end()), ds.time.end());
  const std::size_t T = ds.time.size();
  std::vector<std::size_t> t_of(R);
  for (std::size_t r = 0; r < R; ++r)
    t_of[r] = static_cast<std::size_t>(std::lower_bound(ds.time.begin(), ds.time.end(), rows.time[r]) -
                                       ds.time.begin());

  std::unordered_map<std::uint64_t, std::size_t> cell_of;
  ds.cell_id.clear();
  for (std::size_t r = 0; r < R; ++r)
    if (t_of[r] == 0 && cell_of.emplace(rows.id[r], ds.cell_id.size()).second)
      ds.cell_id.push_back(rows.id[r]);
  const std::size_t N = ds.cell_id.size();
  std::vector<long long> row_at(T * N, -1);
  for (std::size_t r = 0; r < R; ++r) {
    const auto found = cell_of.find(rows.id[r]);
    if (found == cell_of.end())
      throw input_error(row_name(r) + ": cell id " + std::to_string(rows.id[r]) + " at time " +
                        format_number(rows.time[r]) + " is not present at the first time point (" +
                        format_number(ds.time[0]) + "); every cell must appear at every time point");
    long long& slot = row_at[t_of[r] * N + found->second];
    if (slot >= 0)
      throw input_error(row_name(r) + ": cell id " + std::to_string(rows.id[r]) + " appears twice at time " +
                        format_number(rows.time[r]) + " (first at " +
                        row_name(static_cast<std::size_t>(slot)) + ")");
    slot = static_cast<long long>(r);
  }
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t i = 0; i < N; ++i)
      if (row_at[t * N + i] < 0)
        throw input_error(where + ": cell id " + std::to_string(ds.cell_id[i]) + " (present at time " +
                          format_number(ds.time[0]) + ") is missing at time " + format_number(ds.time[t]) +
                          "; every cell must appear at every time point");

  ds.expression.resize(T * N * G);
  for (std::size_t k = 0; k < T * N; ++k) {
    const auto r = static_cast<std::size_t>(row_at[k]);
    std::copy_n(rows.values.begin() + static_cast<std::ptrdiff_t>(r * G), G,
                ds.expression.begin() + static_cast<std::ptrdiff_t>(k * G));
  }
  if (!rows.type.empty()) {
    ds.cell_type.resize(N);
    for (std::size_t i = 0; i < N; ++i)
      ds.cell_type[i] = rows.type[static_cast<std::size_t>(row_at[i])];
    for (std::size_t k = N; k < T * N; ++k) {
      const auto r = static_cast<std::size_t>(row_at[k]);
      const std::size_t i = k % N;
      if (rows.type[r] != ds.cell_type[i])
        throw input_error(row_name(r) + ": cell id " + std::to_string(ds.cell_id[i]) + " has type '" +
                          ds.cell_types[static_cast<std::size_t>(rows.type[r])] + "' here but '" +
                          ds.cell_types[static_cast<std::size_t>(ds.cell_type[i])] + "' at time " +
                          format_number(ds.time[0]) + "; a cell keeps its type");
    }
  }
  if (!rows.positions.empty()) {
    const auto d = static_cast<std::size_t>(rows.dim);
    ds.dim = rows.dim;
    ds.positions.resize(T * N * d);
    for (std::size_t k = 0; k < T * N; ++k)
      std::copy_n(rows.positions.begin() + static_cast<std::ptrdiff_t>(row_at[k] * rows.dim), d,
                  ds.positions.begin() + static_cast<std::ptrdiff_t>(k * d));
    // Fixed tissue: store the positions once.
    bool moving = false;
    for (std::size_t k = N * d; k < ds.positions.size() && !moving; ++k)
      moving = ds.positions[k] != ds.positions[k % (N * d)];
    ds.positions_per_time = moving && T > 1;
    if (!ds.positions_per_time) ds.positions.resize(N * d);
  }
}

// ---------------------------------------------------------------------------------------------------------
// AnnData

// Numbers of any integer or floating-point dataset, as doubles (count matrices are often integers).
std::vector<double> read_numbers(hid_t parent, const std::string& name, std::vector<std::int64_t>& dims,
                                 const std::string& where, const std::string& label) {
  const H5T_class_t kind = h5::type_class(parent, name);
  if (kind == H5T_FLOAT) return h5::read_array<double>(parent, name, dims);
  if (kind == H5T_INTEGER) {
    const std::vector<std::int64_t> values = h5::read_array<std::int64_t>(parent, name, dims);
    return std::vector<double>(values.begin(), values.end());
  }
  throw input_error(where + ": " + label + " is not numeric");
}

std::string text_attribute_or(hid_t object, const std::string& name, const std::string& fallback) {
  return h5::has_attribute(object, name) ? h5::read_text_attribute(object, name) : fallback;
}

// One obs column: strings (plain, or categories expanded) or numbers.
struct ObsColumn {
  bool text = false;
  std::vector<std::string> strings;    // per row, when text
  std::vector<double> numbers;         // per row, when not text
  std::vector<std::uint64_t> integers; // per row, when an unsigned-convertible integer column
  bool integer = false;
  std::vector<std::string> categories; // in category order, when categorical with string categories
};

ObsColumn read_obs_column(hid_t obs, const std::string& key, const std::string& option, std::size_t n_obs,
                          const std::string& where) {
  if (key.empty() || !h5::exists(obs, key)) {
    std::vector<std::string> columns;
    for (const std::string& name : h5::children(obs))
      if (name != "_index" && name != "__categories") columns.push_back(name);
    throw input_error(where + ": obs has no column '" + key + "' (" + option +
                      "; obs columns: " + names_list(columns) + ")");
  }
  const std::string label = "obs column '" + key + "'";
  h5::Handle object = h5::open_object(obs, key);
  ObsColumn col;
  if (h5::is_group(object.get())) {
    const std::string encoding = text_attribute_or(object.get(), "encoding-type", "?");
    if (encoding != "categorical")
      throw input_error(where + ": " + label + " is a group of encoding '" + encoding +
                        "', expected a categorical or a 1-D array");
    std::vector<std::int64_t> dims;
    const std::vector<std::int64_t> codes = h5::read_array<std::int64_t>(object.get(), "codes", dims);
    if (codes.size() != n_obs)
      throw input_error(where + ": " + label + " has " + std::to_string(codes.size()) + " codes for " +
                        std::to_string(n_obs) + " obs rows");
    const H5T_class_t kind = h5::type_class(object.get(), "categories");
    std::vector<std::string> names;
    std::vector<double> values;
    if (kind == H5T_STRING)
      names = h5::read_strings(object.get(), "categories");
    else
      values = read_numbers(object.get(), "categories", dims, where, label + " categories");
    const std::size_t n_categories = kind == H5T_STRING ? names.size() : values.size();
    col.text = kind == H5T_STRING;
    col.categories = names;
    for (std::size_t r = 0; r < n_obs; ++r) {
      if (codes[r] < 0 || static_cast<std::size_t>(codes[r]) >= n_categories)
        throw input_error(where + ": " + label + " has no value at obs row " + std::to_string(r) + " (code " +
                          std::to_string(codes[r]) + ", a missing category)");
      if (col.text)
        col.strings.push_back(names[static_cast<std::size_t>(codes[r])]);
      else
        col.numbers.push_back(values[static_cast<std::size_t>(codes[r])]);
    }
    return col;
  }
  const std::vector<std::int64_t> dims = h5::shape(obs, key);
  if (dims.size() != 1 || dims[0] != static_cast<std::int64_t>(n_obs))
    throw input_error(where + ": " + label + " must be 1-D with " + std::to_string(n_obs) +
                      " rows (one per obs row)");
  const H5T_class_t kind = h5::type_class(obs, key);
  std::vector<std::int64_t> shape_read;
  if (kind == H5T_STRING) {
    col.text = true;
    col.strings = h5::read_strings(obs, key);
  } else if (kind == H5T_INTEGER) {
    col.integer = true;
    col.integers = h5::read_array<std::uint64_t>(obs, key, shape_read);
    const std::vector<std::int64_t> signed_values = h5::read_array<std::int64_t>(obs, key, shape_read);
    for (std::size_t r = 0; r < n_obs; ++r)
      col.numbers.push_back(static_cast<double>(signed_values[r]));
  } else {
    col.numbers = read_numbers(obs, key, shape_read, where, label);
  }
  return col;
}

std::vector<double> read_x(hid_t root, std::size_t n_obs, std::size_t n_genes, const std::string& where) {
  if (!h5::exists(root, "X")) throw input_error(where + ": no X (the expression matrix)");
  h5::Handle x = h5::open_object(root, "X");
  std::vector<std::int64_t> dims;
  if (!h5::is_group(x.get())) {
    std::vector<double> values = read_numbers(root, "X", dims, where, "X");
    if (dims.size() != 2 || dims[0] != static_cast<std::int64_t>(n_obs) ||
        dims[1] != static_cast<std::int64_t>(n_genes))
      throw input_error(where + ": X must have shape [" + std::to_string(n_obs) + "][" +
                        std::to_string(n_genes) + "] (obs rows x var genes)");
    return values;
  }
  const std::string encoding = text_attribute_or(x.get(), "encoding-type", "?");
  if (encoding != "csr_matrix")
    throw input_error(
        where + ": X is stored as '" + encoding +
        "'; tessera reads a dense or CSR X (in Python: adata.X = scipy.sparse.csr_matrix(adata.X))");
  const std::vector<double> data = read_numbers(x.get(), "data", dims, where, "X/data");
  const std::vector<std::int64_t> indices = h5::read_array<std::int64_t>(x.get(), "indices", dims);
  const std::vector<std::int64_t> indptr = h5::read_array<std::int64_t>(x.get(), "indptr", dims);
  if (indptr.size() != n_obs + 1 || indptr.front() != 0 ||
      indptr.back() != static_cast<std::int64_t>(data.size()) || indices.size() != data.size())
    throw input_error(where + ": X (CSR) is inconsistent: indptr has " + std::to_string(indptr.size()) +
                      " entries for " + std::to_string(n_obs) + " rows, data " + std::to_string(data.size()) +
                      ", indices " + std::to_string(indices.size()));
  std::vector<double> values(n_obs * n_genes, 0.0);
  for (std::size_t r = 0; r < n_obs; ++r) {
    if (indptr[r + 1] < indptr[r])
      throw input_error(where + ": X/indptr decreases at row " + std::to_string(r));
    for (std::int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      const std::int64_t g = indices[static_cast<std::size_t>(k)];
      if (g < 0 || g >= static_cast<std::int64_t>(n_genes))
        throw input_error(where + ": X/indices holds column " + std::to_string(g) + " outside [0, " +
                          std::to_string(n_genes) + ")");
      values[r * n_genes + static_cast<std::size_t>(g)] += data[static_cast<std::size_t>(k)];
    }
  }
  return values;
}

std::vector<std::string> dataframe_index(hid_t root, const char* group, const std::string& where) {
  if (!h5::exists(root, group)) throw input_error(where + ": no " + group + " (not an AnnData file?)");
  h5::Handle frame = h5::open_object(root, group);
  if (!h5::is_group(frame.get()))
    throw input_error(where + ": " + group +
                      " is not a group: the file was written by anndata older than 0.8; re-write it with "
                      "anndata >= 0.8 (adata.write_h5ad)");
  const std::string index = text_attribute_or(frame.get(), "_index", "_index");
  if (!h5::exists(frame.get(), index))
    throw input_error(where + ": " + group + " has no index '" + index + "'");
  return h5::read_strings(frame.get(), index);
}

void set_encoding(hid_t object, const std::string& type, const std::string& version) {
  h5::write_text_attribute(object, "encoding-type", type);
  h5::write_text_attribute(object, "encoding-version", version);
}

void set_encoding(hid_t parent, const std::string& name, const std::string& type,
                  const std::string& version) {
  h5::Handle object = h5::open_object(parent, name);
  set_encoding(object.get(), type, version);
}

// ---------------------------------------------------------------------------------------------------------
// CSV

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<long long> lines;

  std::string at(std::size_t row) const { return path + ":" + std::to_string(lines[row]); }
  std::string at(std::size_t row, std::size_t column) const {
    return at(row) + ": column '" + (column < header.size() ? header[column] : std::to_string(column + 1)) +
           "'";
  }
};

// Reads a CSV file with a header; blank and '#' lines are skipped. Every row must have the header's width.
CsvTable read_csv(const fs::path& path) {
  CsvTable table;
  table.path = path.string();
  std::ifstream in(path);
  if (!in) throw input_error(table.path + ": cannot open the file");
  std::string line;
  long long line_no = 0;
  long long header_line = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3); // Excel's byte-order mark
    if (csv::trim(line).empty() || line[0] == '#') continue;
    std::vector<std::string> fields = csv::split(line);
    if (table.header.empty()) {
      table.header = std::move(fields);
      header_line = line_no;
      continue;
    }
    if (fields.size() != table.header.size())
      throw input_error(table.path + ":" + std::to_string(line_no) + ": " + std::to_string(fields.size()) +
                        " fields, but the header (line " + std::to_string(header_line) + ") has " +
                        std::to_string(table.header.size()) + " columns");
    table.rows.push_back(std::move(fields));
    table.lines.push_back(line_no);
  }
  if (table.header.empty()) throw input_error(table.path + ": empty file (expected a header line)");
  return table;
}

void require_header(const CsvTable& table, const std::vector<std::string>& need,
                    const std::string& expected) {
  for (std::size_t c = 0; c < need.size(); ++c)
    if (table.header.size() <= c || table.header[c] != need[c])
      throw input_error(table.path + ": bad header: expected '" + expected + "', got '" +
                        names_list(table.header) + "'");
}

double csv_number(const CsvTable& table, std::size_t row, std::size_t column) {
  const std::string& text = table.rows[row][column];
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0')
    throw input_error(table.at(row, column) + ": expected a number, got '" + text + "'");
  if (!std::isfinite(value))
    throw input_error(table.at(row, column) + ": '" + text + "' is not a finite number");
  return value;
}

std::uint64_t csv_id(const CsvTable& table, std::size_t row, std::size_t column) {
  std::uint64_t id = 0;
  if (!parse_unsigned(table.rows[row][column], id))
    throw input_error(table.at(row, column) + ": expected a cell id (a non-negative integer), got '" +
                      table.rows[row][column] + "'");
  return id;
}

int csv_gene(const CsvTable& table, std::size_t row, std::size_t column,
             const std::vector<std::string>& genes) {
  const std::string& name = table.rows[row][column];
  const auto found = std::find(genes.begin(), genes.end(), name);
  if (found == genes.end())
    throw input_error(table.at(row, column) + ": unknown gene '" + name +
                      "' (genes of gene_expression.csv: " + names_list(genes) + ")");
  return static_cast<int>(found - genes.begin());
}

// Per-cell rows of cell_types.csv or cell_positions.csv: each cell of the expression table exactly once.
std::vector<std::size_t> rows_per_cell(const CsvTable& table, const TrajectoryDataset& ds) {
  std::unordered_map<std::uint64_t, std::size_t> cell_of;
  for (std::size_t i = 0; i < ds.n_cells(); ++i)
    cell_of.emplace(ds.cell_id[i], i);
  std::vector<long long> row_of(ds.n_cells(), -1);
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::uint64_t id = csv_id(table, r, 0);
    const auto found = cell_of.find(id);
    if (found == cell_of.end())
      throw input_error(table.at(r, 0) + ": cell id " + std::to_string(id) +
                        " is not in gene_expression.csv");
    if (row_of[found->second] >= 0)
      throw input_error(table.at(r, 0) + ": cell id " + std::to_string(id) +
                        " is listed twice (first at line " +
                        std::to_string(table.lines[static_cast<std::size_t>(row_of[found->second])]) + ")");
    row_of[found->second] = static_cast<long long>(r);
  }
  std::vector<std::size_t> rows(ds.n_cells());
  for (std::size_t i = 0; i < ds.n_cells(); ++i) {
    if (row_of[i] < 0)
      throw input_error(table.path + ": no row for cell id " + std::to_string(ds.cell_id[i]) +
                        " (it is in gene_expression.csv)");
    rows[i] = static_cast<std::size_t>(row_of[i]);
  }
  return rows;
}

std::string lowercase_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// Writes `to` with `write`; a failure part-way removes the partial file (never one that existed before).
template <class Write>
void write_new(const std::string& to, Write&& write) {
  std::error_code ec;
  const bool existed = fs::exists(to, ec);
  try {
    write();
  } catch (...) {
    if (!existed) fs::remove(to, ec);
    throw;
  }
}

} // namespace

TrajectoryDataset read_h5ad(const std::string& path, const H5adKeys& keys) {
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  const std::string where = path;
  const std::string encoding = text_attribute_or(root, "encoding-type", "anndata");
  if (encoding != "anndata")
    throw input_error(where + ": not an AnnData file (encoding-type is '" + encoding + "')");

  TrajectoryDataset ds;
  ds.genes = dataframe_index(root, "var", where);
  const std::vector<std::string> obs_names = dataframe_index(root, "obs", where);
  const std::size_t n_obs = obs_names.size();
  const RowName row_name = [&](std::size_t r) {
    return where + ": obs row " + std::to_string(r) + " ('" + obs_names[r] + "')";
  };
  h5::Handle obs = h5::open_group(root, "obs");

  SnapshotRows rows;
  const bool series = keys.expression.empty();
  if (series) {
    const ObsColumn time = read_obs_column(obs.get(), keys.time, "--time-key", n_obs, where);
    if (time.text)
      throw input_error(where + ": obs column '" + keys.time + "' (--time-key) holds text, not times");
    rows.time = time.numbers;
  }

  const ObsColumn ids = read_obs_column(obs.get(), keys.cell_id, "--cell-id-key", n_obs, where);
  if (ids.integer) {
    for (std::size_t r = 0; r < n_obs; ++r)
      if (ids.numbers[r] < 0)
        throw input_error(row_name(r) + ": cell id " + format_number(ids.numbers[r]) + " is negative");
    rows.id = ids.integers;
  } else if (ids.text) {
    // Barcodes: integers when every one is a number, else numbered in order of first appearance.
    bool numeric = true;
    std::uint64_t value = 0;
    for (const std::string& s : ids.strings)
      numeric = numeric && parse_unsigned(s, value);
    std::unordered_map<std::string, std::uint64_t> number_of;
    for (const std::string& s : ids.strings) {
      if (numeric) {
        parse_unsigned(s, value);
        rows.id.push_back(value);
      } else {
        rows.id.push_back(number_of.emplace(s, number_of.size()).first->second);
      }
    }
  } else {
    throw input_error(where + ": obs column '" + keys.cell_id +
                      "' (--cell-id-key) holds floating-point numbers; cell ids are integers or strings");
  }

  const ObsColumn types = read_obs_column(obs.get(), keys.cell_type, "--type-key", n_obs, where);
  if (!types.text)
    throw input_error(where + ": obs column '" + keys.cell_type +
                      "' (--type-key) holds numbers; cell types are a categorical of names");
  ds.cell_types = types.categories;
  if (ds.cell_types.empty()) {
    std::set<std::string> distinct(types.strings.begin(), types.strings.end());
    ds.cell_types.assign(distinct.begin(), distinct.end());
  }
  std::map<std::string, int> type_index;
  for (std::size_t k = 0; k < ds.cell_types.size(); ++k)
    type_index[ds.cell_types[k]] = static_cast<int>(k);
  for (const std::string& name : types.strings)
    rows.type.push_back(type_index.at(name));

  const std::string obsm_key = "obsm/" + keys.position;
  if (keys.position.empty() || !h5::exists(root, obsm_key)) {
    std::vector<std::string> available;
    if (h5::exists(root, "obsm")) {
      h5::Handle obsm = h5::open_group(root, "obsm");
      available = h5::children(obsm.get());
    }
    throw input_error(where + ": no obsm/" + keys.position +
                      " (--position-key; obsm keys: " + names_list(available) + ")");
  }
  h5::Handle obsm = h5::open_group(root, "obsm");
  std::vector<std::int64_t> dims;
  rows.positions = read_numbers(obsm.get(), keys.position, dims, where, obsm_key);
  if (dims.size() != 2 || dims[0] != static_cast<std::int64_t>(n_obs) || dims[1] < 2 || dims[1] > 3)
    throw input_error(where + ": " + obsm_key + " must have shape [" + std::to_string(n_obs) +
                      "][2 or 3] (one row of coordinates per obs row)");
  rows.dim = static_cast<int>(dims[1]);
  for (std::size_t k = 0; k < rows.positions.size(); ++k)
    if (!std::isfinite(rows.positions[k]))
      throw input_error(row_name(k / static_cast<std::size_t>(rows.dim)) + ": " + obsm_key +
                        " is not finite");
  if (!series) {
    // One obs row per cell, the trajectories one dense array, the times an uns array.
    std::string location;
    for (const char* group : {"uns/", "layers/"})
      if (location.empty() && h5::exists(root, group + keys.expression)) location = group + keys.expression;
    if (location.empty())
      throw input_error(where + ": no uns/" + keys.expression + " or layers/" + keys.expression +
                        " (--expression-key)");
    std::vector<std::int64_t> x_dims, t_dims;
    ds.expression = read_numbers(root, location, x_dims, where, location);
    if (x_dims.size() != 3 || x_dims[1] != static_cast<std::int64_t>(n_obs) ||
        x_dims[2] != static_cast<std::int64_t>(ds.n_genes()))
      throw input_error(where + ": " + location + " must have shape [T_obs][" + std::to_string(n_obs) + "][" +
                        std::to_string(ds.n_genes()) + "] (time points x obs rows x var genes)");
    const std::string time_location = "uns/" + keys.time;
    if (!h5::exists(root, time_location))
      throw input_error(where + ": no " + time_location + " (--time-key: with --expression-key the " +
                        "observation times are an uns array with one value per time point)");
    ds.time = read_numbers(root, time_location, t_dims, where, time_location);
    if (t_dims.size() != 1 || t_dims[0] != x_dims[0])
      throw input_error(where + ": " + time_location + " has " + std::to_string(ds.time.size()) +
                        " values but " + location + " has " + std::to_string(x_dims[0]) + " time points");
    ds.cell_id = rows.id;
    ds.cell_type.assign(rows.type.begin(), rows.type.end());
    ds.dim = rows.dim;
    ds.positions = rows.positions;
    ds.positions_per_time = false;
    validate_dataset(ds, where);
    return ds;
  }
  rows.values = read_x(root, n_obs, ds.n_genes(), where);
  for (std::size_t k = 0; k < rows.values.size(); ++k)
    if (!std::isfinite(rows.values[k]))
      throw input_error(row_name(k / ds.n_genes()) + ": X is not finite for gene '" +
                        ds.genes[k % ds.n_genes()] + "'");

  assemble(rows, row_name, where, ds);
  validate_dataset(ds, where);
  return ds;
}

void write_h5ad(const std::string& path, const TrajectoryDataset& ds) {
  validate_dataset(ds, path);
  const std::size_t T = ds.n_times(), N = ds.n_cells(), G = ds.n_genes();
  const auto rows = static_cast<std::int64_t>(T * N);
  h5::File file = h5::File::create(path);
  const hid_t root = file.get();
  set_encoding(root, "anndata", "0.1.0");

  h5::write_array(root, "X", ds.expression.data(), {rows, static_cast<std::int64_t>(G)});
  set_encoding(root, "X", "array", "0.2.0");

  // obs: time-major rows, named "<cell id>_t<time index>" so names are unique.
  h5::Handle obs = h5::create_group(root, "obs");
  set_encoding(obs.get(), "dataframe", "0.2.0");
  h5::write_text_attribute(obs.get(), "_index", "_index");
  h5::write_text_array_attribute(obs.get(), "column-order", {"time", "cell_id", "cell_type"});
  std::vector<std::string> names;
  std::vector<double> time;
  std::vector<std::uint64_t> ids;
  std::vector<std::int32_t> codes;
  names.reserve(T * N);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t i = 0; i < N; ++i) {
      names.push_back(std::to_string(ds.cell_id[i]) + "_t" + std::to_string(t));
      time.push_back(ds.time[t]);
      ids.push_back(ds.cell_id[i]);
      codes.push_back(ds.cell_type[i]);
    }
  h5::write_strings(obs.get(), "_index", names);
  set_encoding(obs.get(), "_index", "string-array", "0.2.0");
  h5::write_array(obs.get(), "time", time.data(), {rows});
  set_encoding(obs.get(), "time", "array", "0.2.0");
  h5::write_array(obs.get(), "cell_id", ids.data(), {rows});
  set_encoding(obs.get(), "cell_id", "array", "0.2.0");
  {
    h5::Handle types = h5::create_group(obs.get(), "cell_type");
    set_encoding(types.get(), "categorical", "0.2.0");
    h5::write_bool_attribute(types.get(), "ordered", false);
    h5::write_strings(types.get(), "categories", ds.cell_types);
    set_encoding(types.get(), "categories", "string-array", "0.2.0");
    h5::write_array(types.get(), "codes", codes.data(), {rows});
    set_encoding(types.get(), "codes", "array", "0.2.0");
  }

  h5::Handle var = h5::create_group(root, "var");
  set_encoding(var.get(), "dataframe", "0.2.0");
  h5::write_text_attribute(var.get(), "_index", "_index");
  h5::write_text_array_attribute(var.get(), "column-order", {});
  h5::write_strings(var.get(), "_index", ds.genes);
  set_encoding(var.get(), "_index", "string-array", "0.2.0");

  h5::Handle obsm = h5::create_group(root, "obsm");
  set_encoding(obsm.get(), "dict", "0.1.0");
  const auto d = static_cast<std::size_t>(ds.dim);
  std::vector<double> positions = ds.positions;
  if (!ds.positions_per_time) {
    positions.clear();
    for (std::size_t t = 0; t < T; ++t)
      positions.insert(positions.end(), ds.positions.begin(), ds.positions.end());
  }
  h5::write_array(obsm.get(), "spatial", positions.data(), {rows, static_cast<std::int64_t>(d)});
  set_encoding(obsm.get(), "spatial", "array", "0.2.0");
  for (const char* empty : {"layers", "obsp", "uns", "varm", "varp"}) {
    h5::Handle group = h5::create_group(root, empty);
    set_encoding(group.get(), "dict", "0.1.0");
  }
  file.close();
}

TrajectoryDataset read_csv_folder(const std::string& dir) {
  const fs::path folder(dir);
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw input_error(dir + ": not a directory (expected a CSV folder)");
  TrajectoryDataset ds;

  const CsvTable expression = read_csv(folder / "gene_expression.csv");
  require_header(expression, {"time", "cell_id"}, "time,cell_id,<gene names...>");
  if (expression.header.size() < 3)
    throw input_error(expression.path + ": bad header: no gene columns after 'time,cell_id'");
  ds.genes.assign(expression.header.begin() + 2, expression.header.end());
  for (std::size_t g = 0; g < ds.genes.size(); ++g)
    for (std::size_t h = 0; h < g; ++h)
      if (ds.genes[g] == ds.genes[h])
        throw input_error(expression.path + ": bad header: gene '" + ds.genes[g] + "' has two columns");
  SnapshotRows rows;
  for (std::size_t r = 0; r < expression.rows.size(); ++r) {
    rows.time.push_back(csv_number(expression, r, 0));
    rows.id.push_back(csv_id(expression, r, 1));
    for (std::size_t c = 2; c < expression.header.size(); ++c)
      rows.values.push_back(csv_number(expression, r, c));
  }
  assemble(
      rows, [&](std::size_t r) { return expression.at(r); }, expression.path, ds);

  const CsvTable types = read_csv(folder / "cell_types.csv");
  require_header(types, {"cell_id", "type"}, "cell_id,type");
  if (types.header.size() != 2) throw input_error(types.path + ": bad header: expected 'cell_id,type'");
  const std::vector<std::size_t> type_rows = rows_per_cell(types, ds);
  std::map<std::string, int> type_index;
  for (std::size_t r = 0; r < types.rows.size(); ++r) {
    const std::string& name = types.rows[r][1];
    if (name.empty()) throw input_error(types.at(r, 1) + ": empty cell type name");
    if (type_index.emplace(name, static_cast<int>(ds.cell_types.size())).second)
      ds.cell_types.push_back(name);
  }
  for (std::size_t i = 0; i < ds.n_cells(); ++i)
    ds.cell_type.push_back(type_index.at(types.rows[type_rows[i]][1]));

  const CsvTable positions = read_csv(folder / "cell_positions.csv");
  require_header(positions, {"cell_id", "x", "y"}, "cell_id,x,y[,z]");
  if (positions.header.size() > 4 || (positions.header.size() == 4 && positions.header[3] != "z"))
    throw input_error(positions.path + ": bad header: expected 'cell_id,x,y' or 'cell_id,x,y,z'");
  ds.dim = static_cast<int>(positions.header.size()) - 1;
  for (std::size_t row : rows_per_cell(positions, ds))
    for (int a = 0; a < ds.dim; ++a)
      ds.positions.push_back(csv_number(positions, row, static_cast<std::size_t>(a) + 1));

  const fs::path lr_path = folder / "ligand_receptor_pairs.csv";
  if (fs::exists(lr_path, ec)) {
    const CsvTable lr = read_csv(lr_path);
    require_header(lr, {"ligand", "receptor"}, "ligand,receptor");
    for (std::size_t r = 0; r < lr.rows.size(); ++r)
      ds.ligand_receptor.push_back({csv_gene(lr, r, 0, ds.genes), csv_gene(lr, r, 1, ds.genes)});
  }
  const fs::path grn_path = folder / "prior_grns.csv";
  if (fs::exists(grn_path, ec)) {
    const CsvTable grn = read_csv(grn_path);
    require_header(grn, {"type", "source", "target"}, "type,source,target");
    for (std::size_t r = 0; r < grn.rows.size(); ++r) {
      const std::string& type = grn.rows[r][0];
      if (type != "*" && type_index.count(type) == 0)
        throw input_error(grn.at(r, 0) + ": unknown cell type '" + type + "' (types of cell_types.csv: " +
                          names_list(ds.cell_types) + ", or '*' for every type)");
      ds.prior_grn[type].push_back({csv_gene(grn, r, 1, ds.genes), csv_gene(grn, r, 2, ds.genes)});
    }
  }
  validate_dataset(ds, dir);
  return ds;
}

std::string convert(const std::string& from, const std::string& to, const H5adKeys& keys) {
  std::error_code ec;
  const std::string from_ext = lowercase_extension(from), to_ext = lowercase_extension(to);
  const bool from_folder = fs::is_directory(from, ec);
  const bool from_dataset = from_ext == ".h5" || from_ext == ".hdf5";
  TrajectoryDataset ds;
  if (from_folder || from_ext == ".h5ad") {
    if (to_ext == ".h5ad")
      throw input_error(to + ": an .h5ad output takes a tessera dataset (.h5) as FROM, not " +
                        (from_folder ? "a CSV folder" : "another .h5ad file"));
    ds = from_folder ? read_csv_folder(from) : read_h5ad(from, keys);
    write_new(to, [&] { write_dataset(to, ds); });
  } else if (from_dataset) {
    if (to_ext != ".h5ad")
      throw input_error(to + ": a tessera dataset converts to AnnData; name the output '<name>.h5ad'");
    ds = read_dataset(from);
    write_new(to, [&] { write_h5ad(to, ds); });
  } else if (!fs::exists(from, ec)) {
    throw input_error(from + ": no such file or directory");
  } else {
    throw input_error(from +
                      ": cannot tell what to convert: FROM must be an AnnData file (.h5ad), a CSV folder "
                      "or a tessera dataset (.h5)");
  }
  std::string summary = "tessera convert: wrote " + to + ": " + std::to_string(ds.n_times()) +
                        " time points, " + std::to_string(ds.n_cells()) + " cells, " +
                        std::to_string(ds.n_genes()) + " genes, " + std::to_string(ds.cell_types.size()) +
                        " cell types, " + std::to_string(ds.dim) + "-D positions (" +
                        (ds.positions_per_time ? "per time point" : "static") + ")";
  if (to_ext != ".h5ad") {
    summary += ", " + std::to_string(ds.ligand_receptor.size()) + " ligand-receptor pairs";
    std::size_t edges = 0;
    for (const auto& [key, list] : ds.prior_grn)
      edges += list.size();
    summary += ", " + std::to_string(edges) + " prior GRN edges";
  }
  return summary;
}

} // namespace tessera
