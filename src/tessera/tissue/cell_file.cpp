#include "tessera/tissue/cell_file.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/csv.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/simulation_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

namespace tessera {

namespace {

const char* const axis_names[3] = {"x", "y", "z"};

// "" when `text` is a finite number (stored in out), else why not.
std::string parse_finite(const std::string& text, double& out) {
  if (text.empty()) return "empty field (expected a number)";
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') return "expected a number, got '" + text + "'";
  if (!std::isfinite(out)) return "value '" + text + "' is not a finite number";
  return "";
}

// "" when the position lies in the closed box [lo, hi] (a cell exactly on hi has an owner: box_index clamps).
std::string outside_domain(const Domain& domain, int axis, double x) {
  if (x >= domain.lo[axis] && x <= domain.hi[axis]) return "";
  return "position " + format_number(x) + " um is outside the domain [" + format_number(domain.lo[axis]) +
         ", " + format_number(domain.hi[axis]) + "] um on axis " + axis_names[axis];
}

// The first id given twice, in file order: the row (or line) of its second occurrence and of its first.
struct Duplicate {
  std::uint64_t id = 0;
  long long second = -1, first = -1;
};

// Sorting (id, row) pairs costs 16 bytes per row where a hash set would cost about 50.
Duplicate first_duplicate(std::vector<std::pair<std::uint64_t, long long>>& id_rows) {
  std::sort(id_rows.begin(), id_rows.end());
  Duplicate found;
  for (std::size_t i = 1; i < id_rows.size(); ++i)
    if (id_rows[i].first == id_rows[i - 1].first && (found.second < 0 || id_rows[i].second < found.second))
      found = {id_rows[i].first, id_rows[i].second, id_rows[i - 1].second}; // rows ascend within an id
  return found;
}

// Appends one row to `kept`; genes the file lacks stay 0 for the caller to fill.
void append(CellSnapshot& kept, std::uint64_t id, int type, const double* position, double radius,
            double cycle, const std::vector<double>& genes) {
  kept.id.push_back(id);
  kept.type.push_back(type);
  kept.position.insert(kept.position.end(), position, position + kept.dim);
  kept.radius.push_back(radius);
  kept.cycle.push_back(cycle);
  kept.genes.insert(kept.genes.end(), genes.begin(), genes.end());
}

// ---------------------------------------------------------------------------------------------------------
// CSV

CellFileCells read_csv(const std::string& path, const CellFileSchema& schema, const KeepCell& keep) {
  std::ifstream in(path);
  if (!in) throw input_error(path + ": cannot open the file of initial cells");
  const int dim = schema.domain.dim;
  const int n_genes = static_cast<int>(schema.gene_names.size());
  const int n_types = static_cast<int>(schema.type_names.size());
  CellFileCells out;
  out.kept.dim = dim;
  out.kept.n_genes = n_genes;
  out.has_gene.assign(static_cast<std::size_t>(n_genes), false);

  std::vector<std::string> header;
  std::vector<int> gene_of_column; // column -> panel gene, for the gene columns
  std::vector<std::pair<std::uint64_t, long long>> id_lines;
  std::vector<double> genes(static_cast<std::size_t>(n_genes), 0.0);
  std::string line;
  long long line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    // Excel starts UTF-8 CSV files with a byte-order mark.
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (csv::trim(line).empty() || line[0] == '#') continue;
    const std::vector<std::string> fields = csv::split(line);
    const std::string at = path + ":" + std::to_string(line_no);

    if (header.empty()) {
      header = fields;
      static const char* const need[4] = {"id", "type", "x", "y"};
      for (int c = 0; c < 4; ++c)
        if (static_cast<int>(header.size()) <= c || header[c] != need[c])
          throw input_error(at +
                            ": bad header: it must start with the columns 'id,type,x,y' (then 'z' in 3-D, "
                            "then gene names), got '" +
                            csv::trim(line) + "'");
      std::size_t first_gene = 4;
      const bool z_column = header.size() > 4 && header[4] == "z";
      const bool z_is_gene =
          std::find(schema.gene_names.begin(), schema.gene_names.end(), "z") != schema.gene_names.end();
      if (dim == 3) {
        if (!z_column)
          throw input_error(at + ": a 2-D file (no column 'z' after 'y') for a 3-D domain (domain.dim = 3)");
        first_gene = 5;
      } else if (z_column && !z_is_gene) {
        throw input_error(at + ": a 3-D file (column 'z') for a 2-D domain (domain.dim = 2)");
      }
      gene_of_column.assign(header.size(), -1);
      for (std::size_t c = first_gene; c < header.size(); ++c) {
        const auto it = std::find(schema.gene_names.begin(), schema.gene_names.end(), header[c]);
        if (header[c].empty())
          throw input_error(at + ": column " + std::to_string(c + 1) + " of the header has no name");
        if (it == schema.gene_names.end())
          throw input_error(at + ": column '" + header[c] +
                            "': unknown gene column (grn.genes: " + names_list(schema.gene_names) + ")");
        const auto g = static_cast<std::size_t>(it - schema.gene_names.begin());
        if (out.has_gene[g]) throw input_error(at + ": column '" + header[c] + "': gene column given twice");
        out.has_gene[g] = true;
        gene_of_column[c] = static_cast<int>(g);
      }
      if (schema.all_genes_required) {
        std::string missing;
        for (int g = 0; g < n_genes; ++g)
          if (!out.has_gene[g]) missing += (missing.empty() ? "'" : ", '") + schema.gene_names[g] + "'";
        if (!missing.empty())
          throw input_error(at + ": cells.init.genes is 'file' but the header has no column for gene(s) " +
                            missing);
      }
      continue;
    }

    auto fail = [&](std::size_t column, const std::string& why) {
      throw input_error(at + ": column '" + header[column] + "': " + why);
    };
    if (fields.size() != header.size())
      throw input_error(at + ": expected " + std::to_string(header.size()) +
                        " comma-separated fields (as in the header), got " + std::to_string(fields.size()));
    std::uint64_t id = 0;
    if (!parse_unsigned(fields[0], id))
      fail(0, "expected a non-negative integer id, got '" + fields[0] + "'");
    // A type name first: a type may well be called "1".
    int type = -1;
    const auto named = std::find(schema.type_names.begin(), schema.type_names.end(), fields[1]);
    std::uint64_t index = 0;
    if (named != schema.type_names.end())
      type = static_cast<int>(named - schema.type_names.begin());
    else if (parse_unsigned(fields[1], index) && index < static_cast<std::uint64_t>(n_types))
      type = static_cast<int>(index);
    else
      fail(1, "unknown cell type '" + fields[1] + "' (cells.types: " + names_list(schema.type_names) +
                  ", or an index 0.." + std::to_string(n_types - 1) + ")");
    double position[3] = {0, 0, 0};
    for (int a = 0; a < dim; ++a) {
      const std::size_t c = 2 + static_cast<std::size_t>(a);
      const std::string problem = parse_finite(fields[c], position[a]);
      if (!problem.empty()) fail(c, problem);
      const std::string outside = outside_domain(schema.domain, a, position[a]);
      if (!outside.empty()) fail(c, outside);
    }
    std::fill(genes.begin(), genes.end(), 0.0);
    for (std::size_t c = 2 + static_cast<std::size_t>(dim); c < fields.size(); ++c) {
      double value = 0;
      const std::string problem = parse_finite(fields[c], value);
      if (!problem.empty()) fail(c, problem);
      if (value < 0) fail(c, "gene expression must be >= 0, got " + fields[c]);
      genes[static_cast<std::size_t>(gene_of_column[c])] = value;
    }
    id_lines.emplace_back(id, line_no);
    ++out.rows;
    if (keep(position)) append(out.kept, id, type, position, schema.type_radius[type], 0.0, genes);
  }
  if (in.bad()) throw input_error(path + ": read error");
  if (header.empty())
    throw input_error(path + ": bad header: the file is empty (needs the header 'id,type,x,y,...')");
  const Duplicate duplicate = first_duplicate(id_lines);
  if (duplicate.second >= 0)
    throw input_error(path + ":" + std::to_string(duplicate.second) + ": column 'id': duplicate id " +
                      std::to_string(duplicate.id) + " (also on line " + std::to_string(duplicate.first) +
                      ")");
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// HDF5 (one output step of a tessera.h5)

void require_same_names(const std::string& path, const std::string& dataset,
                        const std::vector<std::string>& in_file, const std::vector<std::string>& in_deck,
                        const char* deck_key) {
  if (in_file == in_deck) return;
  throw input_error(path + ": /" + dataset + " [" + names_list(in_file) + "] differs from " + deck_key +
                    " [" + names_list(in_deck) + "]; they must be the same names in the same order");
}

CellFileCells read_hdf5(const std::string& path, long long step, const CellFileSchema& schema,
                        const KeepCell& keep) {
  const int n_genes = static_cast<int>(schema.gene_names.size());
  const int n_types = static_cast<int>(schema.type_names.size());
  const std::vector<long long> steps = list_steps(path); // also checks that it is a simulation output
  {
    const h5::File file = h5::File::open_read(path);
    for (const char* dataset : {"genes", "cell_types"})
      if (!h5::exists(file.get(), dataset)) throw input_error(path + ": no /" + dataset + " dataset");
    require_same_names(path, "genes", h5::read_strings(file.get(), "genes"), schema.gene_names, "grn.genes");
    require_same_names(path, "cell_types", h5::read_strings(file.get(), "cell_types"), schema.type_names,
                       "cells.types");
  }
  if (steps.empty()) throw input_error(path + ": the file holds no output step (/steps is empty)");
  if (step < 0) step = steps.back();
  const CellSnapshot all = read_step(path, step);
  const std::string at = path + ": step " + std::to_string(step);
  const int dim = schema.domain.dim;
  if (all.dim != dim)
    throw input_error(at + ": a " + std::to_string(all.dim) + "-D file for a " + std::to_string(dim) +
                      "-D domain (domain.dim = " + std::to_string(dim) + ")");
  if (all.n_genes != n_genes)
    throw input_error(at + ": 'genes' has " + std::to_string(all.n_genes) + " columns, grn.genes has " +
                      std::to_string(n_genes));

  CellFileCells out;
  out.step = step;
  out.rows = static_cast<long long>(all.size());
  out.has_gene.assign(static_cast<std::size_t>(n_genes), true);
  out.kept.dim = dim;
  out.kept.n_genes = n_genes;
  std::vector<std::pair<std::uint64_t, long long>> id_rows;
  id_rows.reserve(all.size());
  std::vector<double> genes(static_cast<std::size_t>(n_genes));
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto fail = [&](const std::string& field, const std::string& why) {
      throw input_error(at + ": row " + std::to_string(i) + " (id " + std::to_string(all.id[i]) + "): '" +
                        field + "': " + why);
    };
    const int type = all.type[i];
    if (type < 0 || type >= n_types)
      fail("type", "type index " + std::to_string(type) + " is not in [0, " + std::to_string(n_types) + ")");
    double position[3] = {0, 0, 0};
    for (int a = 0; a < dim; ++a) {
      position[a] = all.position[i * static_cast<std::size_t>(dim) + static_cast<std::size_t>(a)];
      if (!std::isfinite(position[a])) fail("position", "coordinate is not a finite number");
      const std::string outside = outside_domain(schema.domain, a, position[a]);
      if (!outside.empty()) fail("position", outside);
    }
    const double radius = all.radius[i];
    if (!std::isfinite(radius) || radius <= 0)
      fail("radius", "radius must be a finite number > 0, got " + format_number(radius));
    const double cycle = all.cycle[i];
    if (!std::isfinite(cycle) || cycle < 0)
      fail("cycle", "cycle must be a finite number >= 0, got " + format_number(cycle));
    for (int g = 0; g < n_genes; ++g) {
      const double value = all.genes[i * static_cast<std::size_t>(n_genes) + static_cast<std::size_t>(g)];
      if (!std::isfinite(value)) fail("genes", "gene '" + schema.gene_names[g] + "' is not a finite number");
      if (value < 0)
        fail("genes", "gene '" + schema.gene_names[g] + "' must be >= 0, got " + format_number(value));
      genes[static_cast<std::size_t>(g)] = value;
    }
    id_rows.emplace_back(all.id[i], static_cast<long long>(i));
    if (keep(position)) append(out.kept, all.id[i], type, position, radius, cycle, genes);
  }
  const Duplicate duplicate = first_duplicate(id_rows);
  if (duplicate.second >= 0)
    throw input_error(at + ": row " + std::to_string(duplicate.second) + ": 'id': duplicate id " +
                      std::to_string(duplicate.id) + " (also in row " + std::to_string(duplicate.first) +
                      ")");
  return out;
}

} // namespace

bool is_hdf5_file(const std::string& path) {
  const auto dot = path.rfind('.');
  if (dot != std::string::npos) {
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == "h5" || ext == "hdf5" || ext == "he5") return true;
  }
  std::ifstream in(path, std::ios::binary);
  char signature[8] = {};
  in.read(signature, sizeof signature);
  return in.gcount() == 8 && std::memcmp(signature, "\x89HDF\r\n\x1a\n", 8) == 0;
}

CellFileCells read_cell_file(const std::string& path, long long step, const CellFileSchema& schema,
                             const KeepCell& keep) {
  if (is_hdf5_file(path)) return read_hdf5(path, step, schema, keep);
  return read_csv(path, schema, keep);
}

} // namespace tessera
