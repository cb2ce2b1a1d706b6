#include "tessera/learn/convert.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/units.hpp"
#include "tessera/core/version.hpp"
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
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

namespace tessera {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------------
// A snapshot series: one row per cell per time point, from either source.

struct SnapshotRows {
  std::vector<double> time;          // per row, minutes
  std::vector<std::uint64_t> id;     // per row
  std::vector<std::string> id_names; // by id, when the source named its cells by text (barcodes)
  std::vector<double> values;        // rows × G
  std::vector<int> type;             // per row, or empty when types come per cell
  std::vector<double> positions;     // rows × dim, or empty when positions come per cell
  int dim = 0;
};

using RowName = std::function<std::string(std::size_t row)>;

// Minutes in one unit of --time-unit (1 when none is given: times are minutes).
double time_unit_minutes(const std::string& unit) {
  if (unit.empty()) return 1.0;
  const ParsedQuantity parsed = parse_time_unit(unit);
  if (!parsed.ok) throw input_error("--time-unit '" + unit + "': " + parsed.problem);
  return parsed.value;
}

// A time as a table writes it, in minutes: a number in the --time-unit ("6"), or a number with its own unit
// ("6 h", "90s"). False, with `problem` set, for anything else.
bool parse_time_text(const std::string& text, double unit_minutes, double& minutes, std::string& problem) {
  const std::string trimmed = csv::trim(text);
  char* end = nullptr;
  const double number = std::strtod(trimmed.c_str(), &end);
  if (!trimmed.empty() && end != trimmed.c_str() && *end == '\0') {
    minutes = number * unit_minutes;
  } else {
    const ParsedQuantity parsed = parse_quantity(trimmed, Dimension::time);
    if (!parsed.ok) {
      problem = "expected a time (a number in the --time-unit, or a number and a unit: " +
                accepted_units(Dimension::time) + "), got '" + text + "'";
      return false;
    }
    minutes = parsed.value;
  }
  if (!std::isfinite(minutes)) {
    problem = "'" + text + "' is not a finite time";
    return false;
  }
  return true;
}

// Cells named by text (barcodes, or integers written as text): their numbers when every name is a
// non-negative integer, else 0, 1, ... in order of first appearance with the text kept as the cell's name.
struct CellNumbering {
  bool numeric = true;
  std::vector<std::string> names; // by number, when !numeric
  std::unordered_map<std::string, std::uint64_t> number_of;

  bool find(const std::string& text, std::uint64_t& id) const {
    if (numeric) return parse_unsigned(text, id);
    const auto found = number_of.find(text);
    if (found == number_of.end()) return false;
    id = found->second;
    return true;
  }
  // How a message names the cell `text` stands for.
  std::string quote(const std::string& text) const {
    return numeric ? "cell id " + text : "cell '" + text + "'";
  }
};

CellNumbering number_cells(const std::vector<std::string>& texts) {
  CellNumbering numbering;
  std::uint64_t value = 0;
  for (const std::string& text : texts)
    numbering.numeric = numbering.numeric && parse_unsigned(text, value);
  if (!numbering.numeric)
    for (const std::string& text : texts)
      if (numbering.number_of.emplace(text, numbering.names.size()).second) numbering.names.push_back(text);
  return numbering;
}

// Fills time, cell_id (and cell_name) and expression (and cell_type and positions when the rows carry them).
// Cells are numbered in their row order at the first time point; every cell must appear exactly once at every
// time. Returns the row of each (time point, cell), time-major.
std::vector<std::size_t> assemble(const SnapshotRows& rows, const RowName& row_name, const std::string& where,
                                  TrajectoryDataset& ds) {
  const auto cell = [&](std::uint64_t id) {
    return rows.id_names.empty() ? "cell id " + std::to_string(id) : "cell '" + rows.id_names[id] + "'";
  };
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
      throw input_error(row_name(r) + ": " + cell(rows.id[r]) + " at time " + format_number(rows.time[r]) +
                        " is not present at the first time point (" + format_number(ds.time[0]) +
                        "); every cell must appear at every time point");
    long long& slot = row_at[t_of[r] * N + found->second];
    if (slot >= 0)
      throw input_error(row_name(r) + ": " + cell(rows.id[r]) + " appears twice at time " +
                        format_number(rows.time[r]) + " (first at " +
                        row_name(static_cast<std::size_t>(slot)) + ")");
    slot = static_cast<long long>(r);
  }
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t i = 0; i < N; ++i)
      if (row_at[t * N + i] < 0)
        throw input_error(where + ": " + cell(ds.cell_id[i]) + " (present at time " +
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
        throw input_error(row_name(r) + ": " + cell(ds.cell_id[i]) + " has type '" +
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
  ds.cell_name.clear();
  for (std::size_t i = 0; i < N && !rows.id_names.empty(); ++i)
    ds.cell_name.push_back(rows.id_names[ds.cell_id[i]]);
  return std::vector<std::size_t>(row_at.begin(), row_at.end());
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

// An obs column as an annotation of every row: numbers (integers, floats, a categorical of numbers; NaN where
// missing) or text (strings, a categorical of strings; code -1 where missing). Returns "" when read, else why
// the column is left out (booleans, nullable arrays, more than one dimension).
std::string read_annotation(hid_t obs, const std::string& name, std::size_t n_obs, const std::string& where,
                            CellAnnotation& out) {
  out = CellAnnotation{};
  out.name = name;
  const std::string label = "obs column '" + name + "'";
  h5::Handle object = h5::open_object(obs, name);
  std::vector<std::int64_t> dims;
  if (h5::is_group(object.get())) {
    const std::string encoding = text_attribute_or(object.get(), "encoding-type", "?");
    if (encoding != "categorical") return "encoding '" + encoding + "'";
    if (!h5::exists(object.get(), "codes") || !h5::exists(object.get(), "categories"))
      return "a categorical without codes or categories";
    const std::vector<std::int64_t> codes = h5::read_array<std::int64_t>(object.get(), "codes", dims);
    if (codes.size() != n_obs) return "not one code per obs row";
    const H5T_class_t kind = h5::type_class(object.get(), "categories");
    if (kind == H5T_STRING) {
      out.text = true;
      out.categories = h5::read_strings(object.get(), "categories");
      const auto n = static_cast<std::int64_t>(out.categories.size());
      for (const std::int64_t code : codes)
        out.codes.push_back(code >= 0 && code < n ? static_cast<std::int32_t>(code) : -1);
      return "";
    }
    if (kind != H5T_INTEGER && kind != H5T_FLOAT) return "categories that are neither numbers nor text";
    const std::vector<double> values = read_numbers(object.get(), "categories", dims, where, label);
    const auto n = static_cast<std::int64_t>(values.size());
    for (const std::int64_t code : codes)
      out.numbers.push_back(code >= 0 && code < n ? values[static_cast<std::size_t>(code)]
                                                  : std::numeric_limits<double>::quiet_NaN());
    return "";
  }
  dims = h5::shape(obs, name);
  if (dims.size() != 1 || dims[0] != static_cast<std::int64_t>(n_obs)) return "not one value per obs row";
  const H5T_class_t kind = h5::type_class(obs, name);
  if (kind == H5T_STRING) {
    out.text = true;
    const std::vector<std::string> values = h5::read_strings(obs, name);
    out.categories = values;
    std::sort(out.categories.begin(), out.categories.end());
    out.categories.erase(std::unique(out.categories.begin(), out.categories.end()), out.categories.end());
    for (const std::string& value : values)
      out.codes.push_back(static_cast<std::int32_t>(
          std::lower_bound(out.categories.begin(), out.categories.end(), value) - out.categories.begin()));
    return "";
  }
  if (kind == H5T_INTEGER || kind == H5T_FLOAT) {
    out.numbers = read_numbers(obs, name, dims, where, label);
    return "";
  }
  return kind == H5T_ENUM ? "booleans" : "neither numbers nor text";
}

// An annotation of obs rows rearranged to (time point, cell), time-major: `row_of` gives each one's row.
CellAnnotation by_cell(const CellAnnotation& per_row, const std::vector<std::size_t>& row_of) {
  CellAnnotation out = per_row;
  out.numbers.clear();
  out.codes.clear();
  for (const std::size_t r : row_of)
    if (per_row.text)
      out.codes.push_back(per_row.codes[r]);
    else
      out.numbers.push_back(per_row.numbers[r]);
  return out;
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

// A time field in minutes (see parse_time_text).
double csv_time(const CsvTable& table, std::size_t row, std::size_t column, double unit_minutes) {
  double minutes = 0;
  std::string problem;
  if (!parse_time_text(table.rows[row][column], unit_minutes, minutes, problem))
    throw input_error(table.at(row, column) + ": " + problem);
  return minutes;
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
std::vector<std::size_t> rows_per_cell(const CsvTable& table, const CellNumbering& numbering,
                                       const TrajectoryDataset& ds) {
  std::unordered_map<std::uint64_t, std::size_t> cell_of;
  for (std::size_t i = 0; i < ds.n_cells(); ++i)
    cell_of.emplace(ds.cell_id[i], i);
  std::vector<long long> row_of(ds.n_cells(), -1);
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& text = table.rows[r][0];
    std::uint64_t id = 0;
    const bool known = numbering.find(text, id);
    const auto found = known ? cell_of.find(id) : cell_of.end();
    if (found == cell_of.end())
      throw input_error(table.at(r, 0) + ": " + numbering.quote(text) + " is not in gene_expression.csv");
    if (row_of[found->second] >= 0)
      throw input_error(table.at(r, 0) + ": " + numbering.quote(text) + " is listed twice (first at line " +
                        std::to_string(table.lines[static_cast<std::size_t>(row_of[found->second])]) + ")");
    row_of[found->second] = static_cast<long long>(r);
  }
  std::vector<std::size_t> rows(ds.n_cells());
  for (std::size_t i = 0; i < ds.n_cells(); ++i) {
    if (row_of[i] < 0)
      throw input_error(table.path + ": no row for " +
                        (numbering.numeric ? "cell id " + std::to_string(ds.cell_id[i])
                                           : "cell '" + numbering.names[ds.cell_id[i]] + "'") +
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

void write_string_array(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  h5::write_strings(parent, name, values);
  set_encoding(parent, name, "string-array", "0.2.0");
}

h5::Handle create_dict(hid_t parent, const std::string& name) {
  h5::Handle group = h5::create_group(parent, name);
  set_encoding(group.get(), "dict", "0.1.0");
  return group;
}

std::vector<std::string> gene_names(const TrajectoryDataset& ds, const std::vector<int>& indices) {
  std::vector<std::string> names;
  for (const int g : indices)
    names.push_back(ds.genes[static_cast<std::size_t>(g)]);
  return names;
}

// uns/<name>/<type>/{source, target[, sign]}: a gene graph by gene name.
template <std::size_t K>
void write_graph(hid_t uns, const std::string& name, const TrajectoryDataset& ds,
                 const std::map<std::string, std::vector<std::array<int, K>>>& graph) {
  if (graph.empty()) return;
  h5::Handle group = create_dict(uns, name);
  for (const auto& [type, edges] : graph) {
    h5::Handle edges_group = create_dict(group.get(), type);
    std::vector<int> sources, targets;
    std::vector<std::int32_t> signs;
    for (const auto& e : edges) {
      sources.push_back(e[0]);
      targets.push_back(e[1]);
      if constexpr (K == 3) signs.push_back(e[2]);
    }
    write_string_array(edges_group.get(), "source", gene_names(ds, sources));
    write_string_array(edges_group.get(), "target", gene_names(ds, targets));
    if constexpr (K == 3) {
      h5::write_array(edges_group.get(), "sign", signs.data(), {static_cast<std::int64_t>(signs.size())});
      set_encoding(edges_group.get(), "sign", "array", "0.2.0");
    }
  }
}

// A gene of an uns graph written by write_h5ad, as an index of `genes`.
int uns_gene(const std::string& name, const std::vector<std::string>& genes, const std::string& where,
             const std::string& location) {
  const auto found = std::find(genes.begin(), genes.end(), name);
  if (found == genes.end())
    throw input_error(where + ": " + location + " names gene '" + name + "', which is not in var (" +
                      names_list(genes) + ")");
  return static_cast<int>(found - genes.begin());
}

// The ligand-receptor pairs and prior gene graphs a tessera .h5ad export keeps in uns, read back.
void read_uns_graphs(hid_t root, const std::string& where, TrajectoryDataset& ds) {
  const auto pairs = [&](hid_t group, const std::string& location, const char* first, const char* second) {
    for (const char* part : {first, second})
      if (!h5::exists(group, part)) throw input_error(where + ": " + location + " has no '" + part + "'");
    const std::vector<std::string> a = h5::read_strings(group, first), b = h5::read_strings(group, second);
    if (a.size() != b.size())
      throw input_error(where + ": " + location + ": '" + first + "' and '" + second + "' differ in length");
    std::vector<std::array<int, 2>> out;
    for (std::size_t k = 0; k < a.size(); ++k)
      out.push_back({uns_gene(a[k], ds.genes, where, location), uns_gene(b[k], ds.genes, where, location)});
    return out;
  };
  if (h5::exists(root, "uns/ligand_receptor")) {
    h5::Handle group = h5::open_group(root, "uns/ligand_receptor");
    ds.ligand_receptor = pairs(group.get(), "uns/ligand_receptor", "ligand", "receptor");
  }
  if (h5::exists(root, "uns/prior_grn")) {
    h5::Handle prior = h5::open_group(root, "uns/prior_grn");
    for (const std::string& type : h5::children(prior.get())) {
      h5::Handle group = h5::open_group(prior.get(), type);
      ds.prior_grn[type] = pairs(group.get(), "uns/prior_grn/" + type, "source", "target");
    }
  }
}

} // namespace

TrajectoryDataset read_h5ad(const std::string& path, const H5adKeys& keys, const std::string& time_unit,
                            std::vector<std::string>* dropped) {
  const double unit_minutes = time_unit_minutes(time_unit);
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  const std::string where = path;
  const std::string encoding = text_attribute_or(root, "encoding-type", "anndata");
  if (encoding != "anndata")
    throw input_error(where + ": not an AnnData file (encoding-type is '" + encoding + "')");

  TrajectoryDataset ds;
  ds.source_time_unit = time_unit;
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
    // Numbers in the --time-unit, or text: numbers (a categorical of "0", "6", "24") or times with a unit.
    const ObsColumn time = read_obs_column(obs.get(), keys.time, "--time-key", n_obs, where);
    for (std::size_t r = 0; r < n_obs; ++r) {
      if (!time.text) {
        rows.time.push_back(time.numbers[r] * unit_minutes);
        continue;
      }
      double minutes = 0;
      std::string problem;
      if (!parse_time_text(time.strings[r], unit_minutes, minutes, problem))
        throw input_error(row_name(r) + ": obs column '" + keys.time + "' (--time-key): " + problem);
      rows.time.push_back(minutes);
    }
  }

  const ObsColumn ids = read_obs_column(obs.get(), keys.cell_id, "--cell-id-key", n_obs, where);
  if (ids.integer) {
    for (std::size_t r = 0; r < n_obs; ++r)
      if (ids.numbers[r] < 0)
        throw input_error(row_name(r) + ": cell id " + format_number(ids.numbers[r]) + " is negative");
    rows.id = ids.integers;
  } else if (ids.text) {
    // Barcodes: integers when every one is a number, else numbered in order of first appearance and kept as
    // the cells' names.
    const CellNumbering numbering = number_cells(ids.strings);
    rows.id_names = numbering.names;
    for (const std::string& text : ids.strings) {
      std::uint64_t id = 0;
      numbering.find(text, id);
      rows.id.push_back(id);
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
  std::vector<std::size_t> row_of; // the obs row of each (time point, cell), time-major
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
    for (double& t : ds.time)
      t *= unit_minutes;
    ds.cell_id = rows.id;
    for (std::size_t i = 0; i < n_obs && !rows.id_names.empty(); ++i)
      ds.cell_name.push_back(rows.id_names[rows.id[i]]);
    ds.cell_type.assign(rows.type.begin(), rows.type.end());
    ds.dim = rows.dim;
    ds.positions = rows.positions;
    ds.positions_per_time = false;
    for (std::size_t t = 0; t < ds.n_times(); ++t)
      for (std::size_t i = 0; i < n_obs; ++i)
        row_of.push_back(i);
  } else {
    rows.values = read_x(root, n_obs, ds.n_genes(), where);
    for (std::size_t k = 0; k < rows.values.size(); ++k)
      if (!std::isfinite(rows.values[k]))
        throw input_error(row_name(k / ds.n_genes()) + ": X is not finite for gene '" +
                          ds.genes[k % ds.n_genes()] + "'");
    row_of = assemble(rows, row_name, where, ds);
  }

  read_uns_graphs(root, where, ds);

  // The other obs columns: the cells' names (`cell_name`, as tessera exports them), and annotations carried
  // through to an exported .h5ad.
  const std::string index_name = text_attribute_or(obs.get(), "_index", "_index");
  const std::size_t N = ds.n_cells();
  for (const std::string& name : h5::children(obs.get())) {
    if (name == index_name || name == "__categories" || name == keys.cell_id || name == keys.cell_type ||
        (series && name == keys.time))
      continue;
    CellAnnotation per_row;
    std::string why = read_annotation(obs.get(), name, n_obs, where, per_row);
    if (why.empty() && name == "cell_name") {
      if (!ds.cell_name.empty()) {
        why = "the cells are named by --cell-id-key";
      } else if (!per_row.text) {
        why = "not text";
      } else {
        for (std::size_t k = 0; k < row_of.size(); ++k) {
          const std::int32_t code = per_row.codes[row_of[k]], first = per_row.codes[row_of[k % N]];
          if (code < 0 || code != first)
            throw input_error(row_name(row_of[k]) + ": obs column 'cell_name' " +
                              (code < 0
                                   ? std::string("has no value")
                                   : "names cell id " + std::to_string(ds.cell_id[k % N]) + " '" +
                                         per_row.categories[static_cast<std::size_t>(code)] + "' here but '" +
                                         per_row.categories[static_cast<std::size_t>(first)] +
                                         "' at the first time point; a cell keeps its name"));
        }
        for (std::size_t i = 0; i < N; ++i)
          ds.cell_name.push_back(per_row.categories[static_cast<std::size_t>(per_row.codes[row_of[i]])]);
        continue;
      }
    }
    if (why.empty() && (name == "time" || name == "cell_id" || name == "cell_type"))
      why = "a column the .h5ad export writes itself";
    if (!why.empty()) {
      if (dropped != nullptr) dropped->push_back(name + " (" + why + ")");
      continue;
    }
    ds.annotations.push_back(by_cell(per_row, row_of));
  }
  // One obs row per cell: the obs names are the cells' names.
  if (!series && ds.cell_name.empty()) ds.cell_name = obs_names;
  validate_dataset(ds, where);
  return ds;
}

void write_h5ad(const std::string& path, const TrajectoryDataset& ds, const std::string& time_unit,
                const std::string& source) {
  validate_dataset(ds, path);
  const std::string unit = !time_unit.empty()             ? time_unit
                           : !ds.source_time_unit.empty() ? ds.source_time_unit
                                                          : std::string("min");
  const double unit_minutes = time_unit_minutes(unit);
  const std::size_t T = ds.n_times(), N = ds.n_cells(), G = ds.n_genes();
  const auto rows = static_cast<std::int64_t>(T * N);
  const bool prediction = !ds.observed.empty();
  h5::File file = h5::File::create(path);
  const hid_t root = file.get();
  set_encoding(root, "anndata", "0.1.0");

  // X holds the observations; a prediction adds them and the model's trajectory as layers side by side.
  const std::vector<double>& observed = prediction ? ds.observed : ds.expression;
  h5::write_array(root, "X", observed.data(), {rows, static_cast<std::int64_t>(G)});
  set_encoding(root, "X", "array", "0.2.0");
  {
    h5::Handle layers = create_dict(root, "layers");
    if (prediction) {
      h5::write_array(layers.get(), "observed", ds.observed.data(), {rows, static_cast<std::int64_t>(G)});
      set_encoding(layers.get(), "observed", "array", "0.2.0");
      h5::write_array(layers.get(), "predicted", ds.expression.data(), {rows, static_cast<std::int64_t>(G)});
      set_encoding(layers.get(), "predicted", "array", "0.2.0");
    }
  }

  // obs: time-major rows, named "<cell name or id>_t<time index>" so names are unique.
  h5::Handle obs = h5::create_group(root, "obs");
  set_encoding(obs.get(), "dataframe", "0.2.0");
  h5::write_text_attribute(obs.get(), "_index", "_index");
  std::vector<std::string> columns = {"time", "cell_id", "cell_type"};
  if (!ds.cell_name.empty()) columns.push_back("cell_name");
  for (const CellAnnotation& a : ds.annotations)
    columns.push_back(a.name);
  h5::write_text_array_attribute(obs.get(), "column-order", columns);
  std::vector<std::string> names;
  std::vector<double> time;
  std::vector<std::uint64_t> ids;
  std::vector<std::int32_t> codes, cells;
  names.reserve(T * N);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t i = 0; i < N; ++i) {
      names.push_back((ds.cell_name.empty() ? std::to_string(ds.cell_id[i]) : ds.cell_name[i]) + "_t" +
                      std::to_string(t));
      time.push_back(ds.time[t] / unit_minutes);
      ids.push_back(ds.cell_id[i]);
      codes.push_back(ds.cell_type[i]);
      cells.push_back(static_cast<std::int32_t>(i));
    }
  write_string_array(obs.get(), "_index", names);
  h5::write_array(obs.get(), "time", time.data(), {rows});
  set_encoding(obs.get(), "time", "array", "0.2.0");
  h5::write_array(obs.get(), "cell_id", ids.data(), {rows});
  set_encoding(obs.get(), "cell_id", "array", "0.2.0");
  const auto write_categorical = [&](const std::string& name, const std::vector<std::string>& categories,
                                     const std::vector<std::int32_t>& values) {
    h5::Handle column = h5::create_group(obs.get(), name);
    set_encoding(column.get(), "categorical", "0.2.0");
    h5::write_bool_attribute(column.get(), "ordered", false);
    write_string_array(column.get(), "categories", categories);
    h5::write_array(column.get(), "codes", values.data(), {rows});
    set_encoding(column.get(), "codes", "array", "0.2.0");
  };
  write_categorical("cell_type", ds.cell_types, codes);
  if (!ds.cell_name.empty()) write_categorical("cell_name", ds.cell_name, cells);
  for (const CellAnnotation& a : ds.annotations) {
    if (a.text) {
      write_categorical(a.name, a.categories, a.codes);
      continue;
    }
    h5::write_array(obs.get(), a.name, a.numbers.data(), {rows});
    set_encoding(obs.get(), a.name, "array", "0.2.0");
  }

  h5::Handle var = h5::create_group(root, "var");
  set_encoding(var.get(), "dataframe", "0.2.0");
  h5::write_text_attribute(var.get(), "_index", "_index");
  h5::write_text_array_attribute(var.get(), "column-order", {});
  write_string_array(var.get(), "_index", ds.genes);

  h5::Handle obsm = create_dict(root, "obsm");
  const auto d = static_cast<std::size_t>(ds.dim);
  std::vector<double> positions = ds.positions;
  if (!ds.positions_per_time) {
    positions.clear();
    for (std::size_t t = 0; t < T; ++t)
      positions.insert(positions.end(), ds.positions.begin(), ds.positions.end());
  }
  h5::write_array(obsm.get(), "spatial", positions.data(), {rows, static_cast<std::int64_t>(d)});
  set_encoding(obsm.get(), "spatial", "array", "0.2.0");

  // uns: where the file came from, the time unit of obs `time`, and what AnnData has no other place for.
  h5::Handle uns = create_dict(root, "uns");
  {
    h5::Handle tessera = create_dict(uns.get(), "tessera");
    const std::vector<std::pair<const char*, std::string>> provenance = {
        {"version", version()},
        {"git_hash", git_hash()},
        {"source", source},
        {"content", prediction ? "prediction: X and layers/observed the observations, layers/predicted the "
                                 "trained model's trajectory from the first time point"
                               : "observations"},
        {"time_unit", unit}};
    for (const auto& [key, value] : provenance) {
      h5::write_text(tessera.get(), key, value);
      set_encoding(tessera.get(), key, "string", "0.2.0");
    }
  }
  if (!ds.ligand_receptor.empty()) {
    h5::Handle lr = create_dict(uns.get(), "ligand_receptor");
    std::vector<int> ligands, receptors;
    for (const auto& pair : ds.ligand_receptor) {
      ligands.push_back(pair[0]);
      receptors.push_back(pair[1]);
    }
    write_string_array(lr.get(), "ligand", gene_names(ds, ligands));
    write_string_array(lr.get(), "receptor", gene_names(ds, receptors));
  }
  write_graph(uns.get(), "prior_grn", ds, ds.prior_grn);
  write_graph(uns.get(), "truth_grn", ds, ds.truth_grn);
  for (const char* empty : {"obsp", "varm", "varp"})
    create_dict(root, empty);
  // Every group closed first: only then does file.close() flush the file and report whether that worked.
  obs.reset();
  var.reset();
  obsm.reset();
  uns.reset();
  file.close();
}

TrajectoryDataset read_csv_folder(const std::string& dir, const std::string& time_unit) {
  const double unit_minutes = time_unit_minutes(time_unit);
  const fs::path folder(dir);
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw input_error(dir + ": not a directory (expected a CSV folder)");
  TrajectoryDataset ds;
  ds.source_time_unit = time_unit;

  const CsvTable expression = read_csv(folder / "gene_expression.csv");
  require_header(expression, {"time", "cell_id"}, "time,cell_id,<gene names...>");
  if (expression.header.size() < 3)
    throw input_error(expression.path + ": bad header: no gene columns after 'time,cell_id'");
  ds.genes.assign(expression.header.begin() + 2, expression.header.end());
  for (std::size_t g = 0; g < ds.genes.size(); ++g)
    for (std::size_t h = 0; h < g; ++h)
      if (ds.genes[g] == ds.genes[h])
        throw input_error(expression.path + ": bad header: gene '" + ds.genes[g] + "' has two columns");
  // Cell ids: integers, or names (barcodes) numbered in order of first appearance.
  std::vector<std::string> id_texts;
  for (std::size_t r = 0; r < expression.rows.size(); ++r) {
    if (expression.rows[r][1].empty()) throw input_error(expression.at(r, 1) + ": empty cell id");
    id_texts.push_back(expression.rows[r][1]);
  }
  const CellNumbering numbering = number_cells(id_texts);
  SnapshotRows rows;
  rows.id_names = numbering.names;
  for (std::size_t r = 0; r < expression.rows.size(); ++r) {
    rows.time.push_back(csv_time(expression, r, 0, unit_minutes));
    std::uint64_t id = 0;
    numbering.find(id_texts[r], id);
    rows.id.push_back(id);
    for (std::size_t c = 2; c < expression.header.size(); ++c)
      rows.values.push_back(csv_number(expression, r, c));
  }
  assemble(
      rows, [&](std::size_t r) { return expression.at(r); }, expression.path, ds);

  const CsvTable types = read_csv(folder / "cell_types.csv");
  require_header(types, {"cell_id", "type"}, "cell_id,type");
  if (types.header.size() != 2) throw input_error(types.path + ": bad header: expected 'cell_id,type'");
  const std::vector<std::size_t> type_rows = rows_per_cell(types, numbering, ds);
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
  for (std::size_t row : rows_per_cell(positions, numbering, ds))
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

namespace {

// A prediction's observations from --observed: the dataset it was made from (same genes, times and cells).
void attach_observed(const std::string& observed_path, const std::string& from, TrajectoryDataset& ds) {
  if (!ds.observed.empty())
    throw input_error("--observed " + observed_path + ": " + from +
                      " holds its observations already (/observed); drop --observed");
  const TrajectoryDataset observed = read_dataset(observed_path);
  const auto differ = [&](const char* what) {
    return input_error("--observed " + observed_path + ": its " + what + " differ from those of " + from +
                       "; give the dataset the prediction was made from (train.dataset)");
  };
  if (observed.genes != ds.genes) throw differ("genes");
  if (observed.time != ds.time) throw differ("times");
  if (observed.cell_id != ds.cell_id) throw differ("cell ids");
  ds.observed = observed.expression;
}

} // namespace

std::string convert(const std::string& from, const std::string& to, const ConvertOptions& options) {
  std::error_code ec;
  if (!options.time_unit.empty()) time_unit_minutes(options.time_unit); // a wrong unit before any reading
  const std::string from_ext = lowercase_extension(from), to_ext = lowercase_extension(to);
  const bool from_folder = fs::is_directory(from, ec);
  const bool from_dataset = from_ext == ".h5" || from_ext == ".hdf5";
  TrajectoryDataset ds;
  std::vector<std::string> dropped;
  if (from_folder || from_ext == ".h5ad") {
    if (to_ext == ".h5ad")
      throw input_error(to + ": an .h5ad output takes a tessera dataset (.h5) as FROM, not " +
                        (from_folder ? "a CSV folder" : "another .h5ad file"));
    if (!options.observed.empty())
      throw input_error("--observed " + options.observed +
                        ": applies to exporting a prediction (predicted.h5) to .h5ad");
    ds = from_folder ? read_csv_folder(from, options.time_unit)
                     : read_h5ad(from, options.keys, options.time_unit, &dropped);
    write_new(to, [&] { write_dataset(to, ds); });
  } else if (from_dataset) {
    // Read first: a simulation's tessera.h5 is refused with the way to record a dataset instead.
    ds = read_dataset(from);
    if (to_ext != ".h5ad")
      throw input_error(to + ": a tessera dataset converts to AnnData; name the output '<name>.h5ad'");
    if (!options.observed.empty()) attach_observed(options.observed, from, ds);
    write_new(to, [&] { write_h5ad(to, ds, options.time_unit, from); });
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
    summary += "; times " + format_number(ds.time.front()) + " .. " + format_number(ds.time.back()) + " min" +
               (options.time_unit.empty() ? " (read as minutes; give --time-unit s, h or day if they are not)"
                                          : " (given in " + options.time_unit + ")");
    if (!ds.cell_name.empty()) summary += "; cell names kept in /cell_name";
    std::vector<std::string> kept;
    for (const CellAnnotation& a : ds.annotations)
      kept.push_back(a.name);
    if (!kept.empty()) summary += "; obs columns kept: " + names_list(kept);
    if (!dropped.empty()) summary += "; obs columns left out: " + names_list(dropped);
  } else {
    const std::string unit = !options.time_unit.empty()     ? options.time_unit
                             : !ds.source_time_unit.empty() ? ds.source_time_unit
                                                            : std::string("min");
    summary += "; obs time in " + unit;
    if (!ds.observed.empty())
      summary += "; X and layers/observed: observations, layers/predicted: prediction";
  }
  return summary;
}

} // namespace tessera
