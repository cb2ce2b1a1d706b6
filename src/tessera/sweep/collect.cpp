#include "tessera/sweep/collect.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/sweep/members.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace tessera::sweep {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line != "\r") out.push_back(line);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path.string() + ": cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One member's summary.csv: header and rows.
struct Summary {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t column(const std::string& name, const std::string& file, const std::string& where) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw input_error(where + ": 'collect': " + file + " has no column '" + name + "'");
  }
};

Summary read_summary(const fs::path& path) {
  Summary s;
  const std::vector<std::string> lines = lines_of(read_file(path));
  if (lines.empty()) throw input_error(path.string() + ": empty file");
  s.header = split_csv_line(lines[0]);
  for (std::size_t i = 1; i < lines.size(); ++i)
    s.rows.push_back(split_csv_line(lines[i]));
  return s;
}

// The last row at or before `t` (time_min, the second column); -1 when the first output is later. The
// tolerance absorbs output times accumulated in floating point (60 steps of 1 min at 59.99999999).
long long row_at(const Summary& s, double t) {
  long long found = -1;
  for (std::size_t i = 0; i < s.rows.size(); ++i)
    if (s.rows[i].size() > 1 && std::stod(s.rows[i][1]) <= t + 1e-9 * std::max(1.0, std::abs(t)))
      found = static_cast<long long>(i);
  return found;
}

std::string time_label(double t) {
  return format_number(t) + "min";
}

// metrics.json is JSON, which YAML reads; `a.b` looks into nested objects.
std::string metric(const YAML::Node& root, const std::string& key, const std::string& file,
                   const std::string& where) {
  YAML::Node node = root;
  std::stringstream parts(key);
  for (std::string part; std::getline(parts, part, '.');) {
    if (!node.IsMap() || !node[part])
      throw input_error(where + ": 'collect.metrics': " + file + " has no key '" + key + "'");
    node.reset(node[part]); // reset, not =: yaml-cpp's = would assign into the tree
  }
  if (!node.IsScalar())
    throw input_error(where + ": 'collect.metrics': " + file + " key '" + key + "' is not a single value");
  return node.Scalar();
}

} // namespace

SweepTable collect_sweep(const SweepFile& sweep, const std::string& dir, const std::string& members_csv) {
  const CollectSpec& c = sweep.collect;
  const std::string where = c.where.empty() ? sweep.filename : c.where;
  SweepTable table;
  const std::vector<std::string> lines = lines_of(members_csv);
  if (lines.empty()) throw input_error(dir + "/members.csv: empty file");
  table.header = split_csv_line(lines[0]);
  table.parameters = table.header.size() - 1;
  table.header.push_back("status");
  table.outcomes = table.header.size();

  std::vector<std::string> statuses;
  for (std::size_t k = 0; k + 1 < lines.size(); ++k) {
    table.rows.push_back(split_csv_line(lines[k + 1]));
    std::ifstream in(fs::path(dir) / "members" / std::to_string(k) / "status");
    std::string first;
    std::getline(in, first);
    statuses.push_back(first.empty() ? "not run" : first);
    table.rows.back().push_back(statuses.back());
  }

  // The outcome columns: summary.csv columns at each time (from the first finished member's header: every
  // member has the deck's cell types and genes), then metrics.
  const bool wants_summary = c.counts || !c.gene_stats.empty() || !c.summary.empty();
  std::vector<std::string> summary_columns;
  for (std::size_t k = 0; k < statuses.size() && wants_summary && summary_columns.empty(); ++k) {
    if (statuses[k] != "ok") continue;
    const fs::path file = fs::path(dir) / "members" / std::to_string(k) / "summary.csv";
    const Summary s = read_summary(file);
    for (const std::string& h : s.header) {
      const bool count = h == "cells" || h.rfind("cells_", 0) == 0;
      if (c.counts && count) summary_columns.push_back(h);
    }
    for (const std::string& stat : c.gene_stats)
      for (const std::string& h : s.header)
        if (h.rfind(stat + "_", 0) == 0) summary_columns.push_back(h);
    for (const std::string& h : c.summary) {
      s.column(h, file.string(), where);
      summary_columns.push_back(h);
    }
  }
  std::vector<std::pair<double, std::string>> times; // (time, label); NaN: the last row
  for (const double t : c.times)
    times.emplace_back(t, time_label(t));
  if (c.at_end) times.emplace_back(std::numeric_limits<double>::quiet_NaN(), "end");
  for (const auto& [t, label] : times)
    for (const std::string& col : summary_columns)
      table.header.push_back(col + "@" + label);
  for (const std::string& m : c.metrics)
    table.header.push_back(m);

  for (std::size_t k = 0; k < statuses.size(); ++k) {
    std::vector<std::string>& row = table.rows[k];
    if (statuses[k] != "ok") {
      row.resize(table.header.size());
      continue;
    }
    const fs::path member = fs::path(dir) / "members" / std::to_string(k);
    if (!summary_columns.empty()) {
      const fs::path file = member / "summary.csv";
      const Summary s = read_summary(file);
      for (const auto& [t, label] : times) {
        const long long r = std::isnan(t) ? static_cast<long long>(s.rows.size()) - 1 : row_at(s, t);
        for (const std::string& col : summary_columns) {
          const std::size_t i = s.column(col, file.string(), where);
          row.push_back(r >= 0 && i < s.rows[static_cast<std::size_t>(r)].size()
                            ? s.rows[static_cast<std::size_t>(r)][i]
                            : "");
        }
      }
    }
    if (!c.metrics.empty()) {
      const fs::path file = member / "metrics.json";
      YAML::Node root;
      try {
        root = YAML::Load(read_file(file));
      } catch (const YAML::Exception& e) {
        throw input_error(file.string() + ": not readable as JSON: " + e.what());
      }
      for (const std::string& m : c.metrics)
        row.push_back(metric(root, m, file.string(), where));
    }
  }
  return table;
}

std::string table_csv(const SweepTable& table) {
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i)
      out << (i ? "," : "") << csv_field(fields[i]);
    out << "\n";
  };
  line(table.header);
  for (const auto& row : table.rows)
    line(row);
  return out.str();
}

namespace {

// A parameter's value in tessera's base units (the deck key's dimension), or NaN when it is no number.
double parameter_value(const std::string& key, const std::string& text) {
  Dimension dim = Dimension::none;
  for (const KeyTable* t : all_key_tables())
    for (const KeySpec& k : t->keys())
      if (k.path == key) dim = k.dim;
  const ParsedQuantity q = parse_quantity(text, dim);
  return q.ok ? q.value : std::numeric_limits<double>::quiet_NaN();
}

} // namespace

void write_table_h5(const SweepTable& table, const std::string& path, const std::string& sweep_text) {
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    h5::File file = h5::File::create(tmp);
    h5::write_text_attribute(file.get(), "format", "tessera-sweep");
    h5::write_int_attribute(file.get(), "version", 1);
    h5::write_text_attribute(file.get(), "sweep", sweep_text);
    const auto n = static_cast<std::int64_t>(table.rows.size());
    std::vector<std::int64_t> members;
    std::vector<std::string> statuses;
    for (const auto& row : table.rows) {
      members.push_back(std::stoll(row[0]));
      statuses.push_back(row[table.outcomes - 1]);
    }
    h5::write_array(file.get(), "member", members.data(), {n});
    h5::write_strings(file.get(), "status", statuses);
    {
      const h5::Handle parameters = h5::create_group(file.get(), "parameters");
      for (std::size_t j = 1; j <= table.parameters; ++j) {
        std::vector<double> values;
        std::vector<std::string> texts;
        bool numbers = true;
        for (const auto& row : table.rows) {
          texts.push_back(row[j]);
          values.push_back(parameter_value(table.header[j], row[j]));
          numbers = numbers && !std::isnan(values.back());
        }
        if (numbers)
          h5::write_array(parameters.get(), table.header[j], values.data(), {n});
        else
          h5::write_strings(parameters.get(), table.header[j], texts);
      }
    }
    {
      const h5::Handle outcomes = h5::create_group(file.get(), "outcomes");
      for (std::size_t j = table.outcomes; j < table.header.size(); ++j) {
        std::vector<double> values;
        for (const auto& row : table.rows) {
          const ParsedQuantity q = parse_quantity(row[j], Dimension::none);
          values.push_back(q.ok ? q.value : std::numeric_limits<double>::quiet_NaN());
        }
        h5::write_array(outcomes.get(), table.header[j], values.data(), {n});
      }
    }
    file.close();
  }
  fs::rename(tmp, path, ec);
  if (ec) throw runtime_error(path + ": cannot rename from " + tmp + " (" + ec.message() + ")");
}

} // namespace tessera::sweep
