#include "tessera/sweep/sweep_file.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

namespace tessera::sweep {

namespace {

// Reads one sweep file, naming file:line:column in every error.
class Reader {
public:
  explicit Reader(std::string filename) : filename_(std::move(filename)) {}

  std::string where(const YAML::Node& node) const {
    const YAML::Mark m = node.Mark();
    if (m.line < 0) return filename_;
    return filename_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& message) const {
    throw input_error(where(node) + ": " + (key.empty() ? "" : "'" + key + "': ") + message);
  }

  // The keys of `map` must be among `allowed`; returns them in file order.
  void only(const YAML::Node& map, const std::string& prefix, const std::vector<std::string>& allowed,
            const std::string& what) const {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      bool known = false;
      for (const std::string& a : allowed)
        known = known || a == name;
      if (!known) {
        std::string list;
        for (const std::string& a : allowed)
          list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, prefix + name, "unknown key (" + what + ": " + list + ")");
      }
      if (!seen.insert(name).second) fail(kv.first, prefix + name, "key given twice");
    }
  }

  long long integer(const YAML::Node& node, const std::string& key, long long lo) const {
    long long v = 0;
    const std::string& s = node.IsScalar() ? node.Scalar() : std::string();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
      fail(node, key, "expected an integer, got '" + describe(node) + "'");
    if (v < lo) fail(node, key, "must be at least " + std::to_string(lo) + ", got " + s);
    return v;
  }

  double real(const YAML::Node& node, const std::string& key) const {
    const ParsedQuantity q =
        node.IsScalar() ? parse_quantity(node.Scalar(), Dimension::none) : ParsedQuantity{};
    if (!q.ok || !std::isfinite(q.value))
      fail(node, key, "expected a finite number, got '" + describe(node) + "'");
    return q.value;
  }

  std::string text(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar() || node.Scalar().empty())
      fail(node, key, "expected a name, got '" + describe(node) + "'");
    return node.Scalar();
  }

  std::vector<std::string> names(const YAML::Node& node, const std::string& key) const {
    if (!node.IsSequence() || node.size() == 0) fail(node, key, "expected a non-empty list of names");
    std::vector<std::string> out;
    for (const auto& item : node)
      out.push_back(text(item, key));
    return out;
  }

  // A varied or fixed deck key: it must be one of the deck's keys (values are checked against the base deck
  // later); keys inside list entries cannot be set from outside the deck.
  std::string deck_key(const YAML::Node& node, const std::string& key) const {
    const std::string name = text(node, key);
    static const std::map<std::string, const KeySpec*> specs = [] {
      std::map<std::string, const KeySpec*> m;
      for (const KeyTable* t : all_key_tables())
        for (const KeySpec& k : t->keys())
          m[k.path] = &k;
      return m;
    }();
    if (specs.count(name)) {
      if (name.find("[]") != std::string::npos)
        fail(node, key, "deck key '" + name + "' is inside list entries and cannot be swept");
      return name;
    }
    std::string best;
    int best_d = 4; // suggest only near misses
    for (const auto& [path, spec] : specs) {
      const int d = edit_distance(name, path);
      if (d < best_d) best = path, best_d = d;
    }
    fail(node, key,
         "unknown deck key '" + name + "'" + (best.empty() ? "" : "; did you mean '" + best + "'?"));
  }

  static std::string describe(const YAML::Node& node) {
    if (!node.IsDefined() || node.IsNull()) return "nothing";
    if (node.IsScalar()) return node.Scalar();
    return node.IsSequence() ? "a list" : "a map";
  }

private:
  std::string filename_;
};

// A value as a -s override takes it: scalars verbatim, lists and maps in YAML flow style.
std::string value_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// The shortest text that reads back as the same double.
std::string exact_text(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : format_number(v);
}

bool is_integer_key(const std::string& key) {
  for (const KeyTable* t : all_key_tables())
    for (const KeySpec& k : t->keys())
      if (k.path == key) return k.type == KeyType::integer;
  return false;
}

Block values_block(const Reader& r, const YAML::Node& entry, const std::string& prefix) {
  r.only(entry, prefix, {"key", "values"}, "a values axis has");
  if (!entry["key"]) r.fail(entry, prefix + "key", "required key is missing (the deck key to vary)");
  if (!entry["values"]) r.fail(entry, prefix + "values", "required key is missing (the list of values)");
  Block b;
  b.columns.push_back({r.deck_key(entry["key"], prefix + "key"), r.where(entry["key"])});
  const YAML::Node values = entry["values"];
  if (!values.IsSequence())
    r.fail(values, prefix + "values", "expected a list of values, got " + Reader::describe(values));
  if (values.size() == 0) r.fail(values, prefix + "values", "empty list: give at least one value");
  for (const auto& v : values) {
    if (!v.IsDefined() || v.IsNull()) r.fail(v, prefix + "values", "a value is empty");
    b.rows.push_back({value_text(v)});
  }
  return b;
}

Block zip_block(const Reader& r, const YAML::Node& entry, const std::string& prefix) {
  r.only(entry, prefix, {"zip"}, "a zip axis has");
  const YAML::Node list = entry["zip"];
  if (!list.IsSequence() || list.size() == 0)
    r.fail(list, prefix + "zip", "expected a non-empty list of {key, values} axes varied together");
  Block out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string p = prefix + "zip[" + std::to_string(i) + "].";
    if (!list[i].IsMap()) r.fail(list[i], p, "expected {key, values}");
    const Block one = values_block(r, list[i], p);
    if (i > 0 && one.rows.size() != out.rows.size())
      r.fail(list[i]["values"], p + "values",
             std::to_string(one.rows.size()) + " values, but the zip's first axis has " +
                 std::to_string(out.rows.size()) + ": zipped axes need lists of the same length");
    out.columns.push_back(one.columns[0]);
    out.rows.resize(one.rows.size());
    for (std::size_t k = 0; k < one.rows.size(); ++k)
      out.rows[k].push_back(one.rows[k][0]);
  }
  return out;
}

// Random draws (uniform, or a Latin hypercube: each key's range cut in `count` equal slices, one draw in
// each, slices paired at random across keys). Counter-based (Philox keyed by the sample's seed), so the
// draws are the same on every machine and standard library.
Block sample_block(const Reader& r, const YAML::Node& entry, const std::string& prefix, int block_index) {
  r.only(entry, prefix, {"sample", "count", "seed", "ranges"}, "a sample axis has");
  const std::string method = r.text(entry["sample"], prefix + "sample");
  if (method != "uniform" && method != "latin_hypercube")
    r.fail(entry["sample"], prefix + "sample",
           "unknown sample method '" + method + "' (one of: uniform, latin_hypercube)");
  if (!entry["count"]) r.fail(entry, prefix + "count", "required key is missing (how many draws)");
  if (!entry["seed"]) r.fail(entry, prefix + "seed", "required key is missing (the draws' seed)");
  const long long count = r.integer(entry["count"], prefix + "count", 1);
  const long long seed = r.integer(entry["seed"], prefix + "seed", 0);
  const YAML::Node ranges = entry["ranges"];
  if (!ranges.IsSequence() || ranges.size() == 0)
    r.fail(ranges.IsDefined() ? ranges : entry, prefix + "ranges",
           "expected a non-empty list of {key, lo, hi[, scale]}");

  struct Range {
    double lo, hi;
    bool log, integer;
  };
  Block b;
  std::vector<Range> spans;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const std::string p = prefix + "ranges[" + std::to_string(i) + "].";
    const YAML::Node e = ranges[i];
    if (!e.IsMap()) r.fail(e, p, "expected {key, lo, hi[, scale]}");
    r.only(e, p, {"key", "lo", "hi", "scale"}, "a range has");
    for (const char* k : {"key", "lo", "hi"})
      if (!e[k]) r.fail(e, p + k, "required key is missing");
    Range s{r.real(e["lo"], p + "lo"), r.real(e["hi"], p + "hi"), false, false};
    if (e["scale"]) {
      const std::string scale = r.text(e["scale"], p + "scale");
      if (scale != "linear" && scale != "log")
        r.fail(e["scale"], p + "scale", "unknown scale '" + scale + "' (one of: linear, log)");
      s.log = scale == "log";
    }
    if (!(s.lo < s.hi)) r.fail(e["hi"], p + "hi", "must be above lo");
    if (s.log && s.lo <= 0) r.fail(e["lo"], p + "lo", "a log scale needs lo > 0");
    b.columns.push_back({r.deck_key(e["key"], p + "key"), r.where(e["key"])});
    s.integer = is_integer_key(b.columns.back().key);
    spans.push_back(s);
  }

  const CounterRng rng{static_cast<std::uint64_t>(seed)};
  const auto n = static_cast<std::size_t>(count);
  // Latin hypercube: a random permutation of the slices per key (Fisher-Yates on Philox words).
  std::vector<std::vector<std::size_t>> slice(spans.size());
  for (std::size_t j = 0; j < spans.size(); ++j) {
    slice[j].resize(n);
    std::iota(slice[j].begin(), slice[j].end(), 0);
    if (method != "latin_hypercube") continue;
    for (std::size_t i = n; i > 1; --i) {
      const auto w =
          rng.bits(static_cast<std::uint64_t>(block_index), i, RandomPurpose::sweep_sample, j).v[1];
      std::swap(slice[j][i - 1], slice[j][static_cast<std::size_t>(w % i)]);
    }
  }
  b.rows.assign(n, {});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < spans.size(); ++j) {
      const Range& s = spans[j];
      double u = CounterRng::to_unit(
          rng.bits(static_cast<std::uint64_t>(block_index), i, RandomPurpose::sweep_sample, j).v[0]);
      if (method == "latin_hypercube") u = (static_cast<double>(slice[j][i]) + u) / static_cast<double>(n);
      const double v =
          s.log ? std::exp(std::log(s.lo) + u * (std::log(s.hi) - std::log(s.lo))) : s.lo + u * (s.hi - s.lo);
      b.rows[i].push_back(s.integer ? std::to_string(std::llround(v)) : exact_text(v));
    }
  return b;
}

std::vector<double> collect_times(const Reader& r, const YAML::Node& node, bool& at_end) {
  if (!node.IsSequence() || node.size() == 0)
    r.fail(node, "collect.times", "expected a non-empty list of times (min, or with a unit) or 'end'");
  std::vector<double> out;
  for (const auto& t : node) {
    if (t.IsScalar() && t.Scalar() == "end") {
      at_end = true;
      continue;
    }
    const ParsedQuantity q = t.IsScalar() ? parse_quantity(t.Scalar(), Dimension::time) : ParsedQuantity{};
    if (!q.ok || !std::isfinite(q.value) || q.value < 0)
      r.fail(t, "collect.times",
             "expected a time >= 0 (min, or with a unit) or 'end', got '" + Reader::describe(t) + "'");
    out.push_back(q.value);
  }
  return out;
}

CollectSpec read_collect(const Reader& r, const YAML::Node& node) {
  CollectSpec c;
  c.where = r.where(node);
  if (!node.IsMap()) r.fail(node, "collect", "expected a map (times, counts, genes, summary, metrics)");
  r.only(node, "collect.", {"times", "counts", "genes", "summary", "metrics"}, "collect has");
  if (node["times"])
    c.times = collect_times(r, node["times"], c.at_end);
  else
    c.at_end = true;
  if (node["counts"]) {
    const YAML::Node n = node["counts"];
    if (!n.IsScalar() || (n.Scalar() != "true" && n.Scalar() != "false"))
      r.fail(n, "collect.counts", "expected true or false");
    c.counts = n.Scalar() == "true";
  }
  if (node["genes"]) {
    c.gene_stats = r.names(node["genes"], "collect.genes");
    for (std::size_t i = 0; i < c.gene_stats.size(); ++i)
      if (c.gene_stats[i] != "mean" && c.gene_stats[i] != "sd")
        r.fail(node["genes"][i], "collect.genes", "unknown statistic '" + c.gene_stats[i] + "' (mean, sd)");
  }
  if (node["summary"]) c.summary = r.names(node["summary"], "collect.summary");
  if (node["metrics"]) c.metrics = r.names(node["metrics"], "collect.metrics");
  return c;
}

} // namespace

std::vector<Column> SweepFile::columns() const {
  std::vector<Column> out;
  for (const Block& b : blocks)
    out.insert(out.end(), b.columns.begin(), b.columns.end());
  return out;
}

std::string SweepFile::base_path() const {
  const std::filesystem::path p(base);
  if (p.is_absolute()) return base;
  return (std::filesystem::path(filename).parent_path() / p).string();
}

SweepFile parse_sweep_file(const std::string& text, const std::string& filename) {
  const Reader r(filename);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw input_error(filename + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  if (!root.IsMap())
    throw input_error(filename +
                      ":1:1: a sweep file is a map (base, command, set, axes, replicates, collect)");
  r.only(root, "", {"base", "command", "set", "axes", "replicates", "collect"}, "a sweep file has");

  SweepFile s;
  s.filename = filename;
  if (!root["base"]) throw input_error(filename + ":1:1: 'base': required key is missing (the base deck)");
  s.base = r.text(root["base"], "base");
  s.base_where = r.where(root["base"]);
  if (root["command"]) {
    s.command = r.text(root["command"], "command");
    if (s.command != "run" && s.command != "train" && s.command != "predict")
      r.fail(root["command"], "command", "unknown command '" + s.command + "' (one of: run, train, predict)");
  }
  if (const YAML::Node set = root["set"]) {
    if (!set.IsMap()) r.fail(set, "set", "expected a map of deck keys and values (key: value)");
    for (const auto& kv : set) {
      const std::string key = r.deck_key(kv.first, "set");
      if (!kv.second.IsDefined() || kv.second.IsNull()) r.fail(kv.second, "set." + key, "no value given");
      s.set.push_back(key + "=" + value_text(kv.second));
      s.set_where.push_back(r.where(kv.first));
    }
  }
  if (const YAML::Node axes = root["axes"]) {
    if (!axes.IsSequence() || axes.size() == 0)
      r.fail(axes, "axes", "expected a non-empty list of axes ({key, values}, {zip: [...]}, {sample: ...})");
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const std::string prefix = "axes[" + std::to_string(i) + "].";
      const YAML::Node e = axes[i];
      if (!e.IsMap())
        r.fail(e, "axes[" + std::to_string(i) + "]",
               "expected an axis: {key, values}, {zip: [...]} or {sample: ...}");
      if (e["zip"])
        s.blocks.push_back(zip_block(r, e, prefix));
      else if (e["sample"])
        s.blocks.push_back(sample_block(r, e, prefix, static_cast<int>(i)));
      else if (e["key"] || e["values"])
        s.blocks.push_back(values_block(r, e, prefix));
      else
        r.fail(e, "axes[" + std::to_string(i) + "]",
               "unknown axis type (an axis is {key, values}, {zip: [{key, values}, ...]} or "
               "{sample: uniform|latin_hypercube, count, seed, ranges})");
    }
  }
  if (root["replicates"]) {
    s.replicates = r.integer(root["replicates"], "replicates", 1);
    s.replicates_where = r.where(root["replicates"]);
  }
  if (s.blocks.empty() && s.replicates == 0)
    throw input_error(filename + ":1:1: nothing to sweep: give 'axes', 'replicates' or both");

  // Each key is varied in one place only, and random.seed is not both varied and replicated.
  std::map<std::string, std::string> seen;
  for (const Column& c : s.columns()) {
    if (seen.count(c.key))
      throw input_error(c.where + ": '" + c.key + "' is varied twice (also at " + seen[c.key] + ")");
    seen[c.key] = c.where;
  }
  if (s.replicates > 0 && seen.count("random.seed"))
    throw input_error(seen["random.seed"] + ": 'random.seed' is varied and 'replicates' sets it too");
  for (std::size_t i = 0; i < s.set.size(); ++i) {
    const std::string key = s.set[i].substr(0, s.set[i].find('='));
    if (seen.count(key))
      throw input_error(s.set_where[i] + ": 'set." + key + "' is also varied at " + seen[key]);
  }
  if (root["collect"])
    s.collect = read_collect(r, root["collect"]);
  else
    s.collect.at_end = true;
  return s;
}

} // namespace tessera::sweep
