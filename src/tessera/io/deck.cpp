#include "tessera/io/deck.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace tessera {

namespace {

std::string kind_of(const YAML::Node& n) {
  switch (n.Type()) {
  case YAML::NodeType::Map:
    return "a map";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Scalar:
    return "'" + n.Scalar() + "'";
  case YAML::NodeType::Null:
    return "empty";
  default:
    return "undefined";
  }
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// Quoted scalars are text even when they look like numbers; yaml-cpp marks plain scalars with Tag() == "?".
bool is_plain(const YAML::Node& n) {
  return n.Tag() == "?";
}

std::string check_bool(const YAML::Node& n) {
  if (!n.IsScalar()) return "expected true or false, got " + kind_of(n);
  const std::string& s = n.Scalar();
  static const std::set<std::string> ok{"true",  "false", "True", "False", "TRUE",
                                        "FALSE", "yes",   "no",   "on",    "off"};
  if (!ok.count(s)) return "expected true or false, got '" + s + "'";
  return "";
}

bool parse_integer(const std::string& s, long long& out) {
  const char* b = s.c_str();
  char* e = nullptr;
  errno = 0;
  const long long v = std::strtoll(b, &e, 10);
  if (e != b && *e == '\0' && errno == 0) {
    out = v;
    return true;
  }
  // Accept integral values written in exponent form ("1e6").
  const double d = std::strtod(b, &e);
  if (e == b || *e != '\0' || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) return false;
  out = static_cast<long long>(d);
  return true;
}

std::string check_integer(const YAML::Node& n, const Range& range) {
  if (!n.IsScalar()) return "expected an integer, got " + kind_of(n);
  long long v = 0;
  if (!parse_integer(n.Scalar(), v)) return "expected an integer, got '" + n.Scalar() + "'";
  if (!range.contains(static_cast<double>(v)))
    return "value " + n.Scalar() + " is out of range " + range.text();
  return "";
}

std::string check_real(const YAML::Node& n, const KeySpec& spec) {
  if (!n.IsScalar()) return "expected a number, got " + kind_of(n);
  const ParsedQuantity q = parse_quantity(n.Scalar(), spec.dim);
  if (!q.ok) return q.problem;
  if (std::isinf(q.value) && !(spec.range.allow_inf && q.value > 0))
    return "value " + n.Scalar() + " is not finite (range " + spec.range.text() + ")";
  if (!spec.range.contains(q.value)) return "value " + n.Scalar() + " is out of range " + spec.range.text();
  return "";
}

double to_real(const YAML::Node& n, Dimension dim) {
  return parse_quantity(n.Scalar(), dim).value;
}

long long to_integer(const YAML::Node& n) {
  long long v = 0;
  parse_integer(n.Scalar(), v);
  return v;
}

bool to_bool(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  return s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on";
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 30;
  for (const auto& c : candidates) {
    const int d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const int limit = std::max<int>(2, static_cast<int>(word.size()) / 3);
  return best_d <= limit ? best : "";
}

// yaml-cpp reports where it noticed a problem, which is often a line after the cause. Name the two causes
// people hit most: a tab in the indentation, and a bracket that is never closed (then the reported position
// moves to the bracket). Returns a prefix for yaml-cpp's own message.
std::string syntax_hint(const std::string& text, int& error_line, int& error_column) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  for (int l = std::max(0, error_line - 1); l <= error_line && l < static_cast<int>(lines.size()); ++l) {
    const std::string& line = lines[static_cast<size_t>(l)];
    const size_t indent_end = line.find_first_not_of(" \t");
    if (line.substr(0, indent_end == std::string::npos ? line.size() : indent_end).find('\t') !=
        std::string::npos)
      return "line " + std::to_string(l + 1) + " is indented with a tab; YAML allows only spaces (yaml-cpp: ";
  }
  // Track [ and { outside quotes and comments up to the error line; report the innermost one left open.
  std::vector<std::pair<int, int>> open; // (line, column)
  for (int l = 0; l <= error_line && l < static_cast<int>(lines.size()); ++l) {
    char quote = 0;
    const std::string& line = lines[static_cast<size_t>(l)];
    for (size_t c = 0; c < line.size(); ++c) {
      const char ch = line[c];
      if (quote) {
        if (ch == quote) quote = 0;
      } else if (ch == '"' || ch == '\'') {
        quote = ch;
      } else if (ch == '#' && (c == 0 || std::isspace(static_cast<unsigned char>(line[c - 1])))) {
        break;
      } else if (ch == '[' || ch == '{') {
        open.emplace_back(l, static_cast<int>(c));
      } else if ((ch == ']' || ch == '}') && !open.empty()) {
        open.pop_back();
      }
    }
  }
  if (!open.empty() && open.back().first < error_line) {
    const std::string noticed = std::to_string(error_line + 1) + ":" + std::to_string(error_column + 1);
    error_line = open.back().first;
    error_column = open.back().second;
    return "this bracket is never closed (yaml-cpp, at " + noticed + ": ";
  }
  return "(yaml-cpp: ";
}

} // namespace

int edit_distance(const std::string& a, const std::string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// ---------------------------------------------------------------------------------------------------------
// Deck

Deck Deck::parse(const std::string& text, const std::string& filename,
                 const std::vector<std::string>& overrides, const std::vector<const KeyTable*>& tables) {
  Deck deck;
  deck.filename_ = filename;
  deck.directory_ = std::filesystem::path(filename).parent_path().string();
  deck.tables_ = tables;
  for (const KeyTable* t : tables)
    for (const KeySpec& k : t->keys())
      deck.specs_[k.path] = &k;

  try {
    deck.root_ = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    int line = e.mark.line, column = e.mark.column;
    const std::string hint = syntax_hint(text, line, column);
    throw input_error(filename + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) +
                      ": YAML syntax error: " + hint + e.msg + ")");
  }
  if (deck.root_.IsNull()) deck.root_ = YAML::Node(YAML::NodeType::Map);
  if (!deck.root_.IsMap())
    throw input_error(filename + ":1:1: a deck is a map of sections (domain, cells, grn, time, ...), got " +
                      kind_of(deck.root_));
  for (const std::string& o : overrides)
    deck.apply_override(o);

  // List lengths that depend on other keys: read them first (their own types are checked below).
  // (yaml-cpp: a missing key of a const Node is an invalid node, so test IsDefined before the type.)
  auto find = [&](const char* section, const char* key) {
    const YAML::Node& root = deck.root_;
    const YAML::Node s = root[section];
    if (!s.IsDefined() || !s.IsMap()) return YAML::Node();
    const YAML::Node v = s[key];
    return v.IsDefined() ? v : YAML::Node();
  };
  if (const YAML::Node types = find("cells", "types"); types.IsSequence())
    deck.n_types_ = static_cast<int>(types.size());
  if (const YAML::Node genes = find("grn", "genes"); genes.IsSequence())
    deck.n_genes_ = static_cast<int>(genes.size());
  if (const YAML::Node dim = find("domain", "dim"); dim.IsScalar()) {
    long long d = 0;
    if (parse_integer(dim.Scalar(), d)) deck.dim_ = static_cast<int>(d);
  }
  if (deck.dim_ < 0 && deck.specs_.count("domain.dim"))
    deck.dim_ = std::atoi(deck.specs_["domain.dim"]->default_text.c_str());

  deck.validate_map(deck.root_, "", "");
  return deck;
}

void Deck::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw input_error("-s " + assignment + ": expected section.key=value");
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  if (!specs_.count(path)) {
    std::vector<std::string> all;
    for (const auto& [p, s] : specs_)
      all.push_back(p);
    const std::string guess = closest(path, all);
    throw input_error("-s " + assignment + ": unknown key '" + path + "'" +
                      (guess.empty() ? "" : "; did you mean '" + guess + "'?"));
  }
  if (path.find("[]") != std::string::npos)
    throw input_error("-s " + assignment +
                      ": keys inside list entries cannot be overridden from the command line");
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::ParserException&) {
    parsed = YAML::Node(value);
  }
  // Walk/create the maps along the path. yaml-cpp's operator= on a Node assigns into the tree, so each level
  // is a fresh Node obtained by indexing, never reassigned.
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');)
    parts.push_back(p);
  std::vector<YAML::Node> chain{root_};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (!next.IsMap()) {
      if (next.IsDefined() && !next.IsNull())
        throw input_error("-s " + assignment + ": '" + parts[i] + "' is not a section in the deck");
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[parts[i]];
    }
    chain.push_back(next);
  }
  chain.back()[parts.back()] = parsed;
  overrides_[path] = "-s " + assignment;
}

std::string Deck::location(const YAML::Node& node, const std::string& display_path) const {
  const auto it = overrides_.find(display_path);
  if (it != overrides_.end()) return "command line (" + it->second + "): key '" + display_path + "'";
  const YAML::Mark m = node.Mark();
  if (m.is_null()) return filename_ + ": key '" + display_path + "'";
  return filename_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": key '" +
         display_path + "'";
}

std::string Deck::resolve_path(const std::string& display_path, const std::string& value) const {
  bool from_command_line = false;
  for (const auto& [key, assignment] : overrides_) {
    const bool holds = display_path.compare(0, key.size(), key) == 0 &&
                       (display_path.size() == key.size() || display_path[key.size()] == '.' ||
                        display_path[key.size()] == '[');
    from_command_line = from_command_line || holds;
  }
  std::filesystem::path p(value);
  if (p.is_relative() && !directory_.empty() && !from_command_line) p = std::filesystem::path(directory_) / p;
  return p.string();
}

const KeySpec* Deck::find_spec(const std::string& path) const {
  const auto it = specs_.find(path);
  return it == specs_.end() ? nullptr : it->second;
}

void Deck::validate_map(const YAML::Node& map, const std::string& spec_prefix,
                        const std::string& display_prefix) const {
  // Children of this map that the tables know: "<prefix>.<name>" directly, or sections "<prefix>.<name>.*".
  std::set<std::string> known_leaves, known_sections;
  for (const auto& [path, spec] : specs_) {
    const std::string head = spec_prefix.empty() ? "" : spec_prefix + ".";
    if (path.compare(0, head.size(), head) != 0) continue;
    const std::string rest = path.substr(head.size());
    const auto dot = rest.find('.');
    const auto bracket = rest.find("[]");
    if (dot == std::string::npos && bracket == std::string::npos)
      known_leaves.insert(rest);
    else if (dot != std::string::npos && (bracket == std::string::npos || dot < bracket))
      known_sections.insert(rest.substr(0, dot));
  }

  std::set<std::string> seen;
  for (const auto& kv : map) {
    const YAML::Node key = kv.first;
    const std::string name = key.IsScalar() ? key.Scalar() : "";
    const std::string display = join(display_prefix, name);
    const std::string spec_path = join(spec_prefix, name);
    if (!key.IsScalar() || name.empty())
      throw input_error(location(key, display_prefix) + ": keys must be plain names");
    if (!seen.insert(name).second) throw input_error(location(key, display) + ": key given twice");
    if (known_sections.count(name)) {
      if (kv.second.IsNull()) {
        // "section:" with nothing under it: all defaults, but its required keys are still required, and
        // the message points at the section's line.
        for (const auto& [path, spec] : specs_)
          if (spec->required && path.rfind(spec_path + ".", 0) == 0 &&
              path.find('.', spec_path.size() + 1) == std::string::npos)
            throw input_error(location(key, path) + ": required key is missing from the empty section '" +
                              display + "' (" + spec->doc + ")");
        continue;
      }
      if (!kv.second.IsMap())
        throw input_error(location(kv.second, display) + ": expected a map of keys, got " +
                          kind_of(kv.second));
      validate_map(kv.second, spec_path, display);
      continue;
    }
    if (known_leaves.count(name)) {
      validate_value(*specs_.at(spec_path), kv.second, display);
      continue;
    }
    // Unknown key: suggest a sibling with a similar name, or the same name in another section.
    std::vector<std::string> siblings(known_leaves.begin(), known_leaves.end());
    siblings.insert(siblings.end(), known_sections.begin(), known_sections.end());
    std::string hint;
    const std::string near = closest(name, siblings);
    if (!near.empty()) {
      hint = "; did you mean '" + join(display_prefix, near) + "'?";
    } else {
      std::string elsewhere;
      for (const auto& [path, spec] : specs_)
        if (spec->name() == name && path.find("[]") == std::string::npos)
          elsewhere += (elsewhere.empty() ? "'" : " or '") + path + "'";
      if (!elsewhere.empty()) hint = "; did you mean " + elsewhere + " (it belongs in another section)?";
    }
    if (display_prefix.empty() && hint.empty()) {
      std::string list;
      for (const auto& s : siblings)
        list += (list.empty() ? "" : ", ") + s;
      hint = " (sections: " + list + ")";
    }
    throw input_error(location(key, display) + ": unknown key" + hint);
  }

  // Required keys of this map.
  for (const auto& leaf : known_leaves) {
    const KeySpec& spec = *specs_.at(join(spec_prefix, leaf));
    if (spec.required && !map[leaf].IsDefined())
      throw input_error(location(map, join(display_prefix, leaf)) + ": required key is missing (" + spec.doc +
                        ")");
  }
  for (const auto& section : known_sections) {
    if (map[section].IsDefined()) continue;
    // A missing section is fine unless it has required keys.
    const std::string head = join(spec_prefix, section) + ".";
    for (const auto& [path, spec] : specs_)
      if (path.compare(0, head.size(), head) == 0 && spec->required &&
          path.find('.', head.size()) == std::string::npos)
        throw input_error(location(map, join(display_prefix, section)) +
                          ": required section is missing (needs '" + path + "')");
  }
}

void Deck::validate_value(const KeySpec& spec, const YAML::Node& node, const std::string& display) const {
  auto fail = [&](const YAML::Node& at, const std::string& why) {
    throw input_error(location(at, display) + ": " + why);
  };
  auto check_list_length = [&](const YAML::Node& seq) {
    int want = spec.length;
    std::string what;
    if (want < 0) {
      want = dim_;
      what = " (one per axis, domain.dim = " + std::to_string(dim_) + ")";
    }
    if (spec.per_type && n_types_ >= 0) {
      want = n_types_;
      what = " (one per cell type in cells.types)";
    }
    if (spec.per_gene && n_genes_ >= 0) {
      want = n_genes_;
      what = " (one per gene in grn.genes)";
    }
    if (want > 0 && static_cast<int>(seq.size()) != want)
      fail(seq,
           "expected " + std::to_string(want) + " values" + what + ", got " + std::to_string(seq.size()));
  };
  if (node.IsNull() && spec.type != KeyType::text)
    fail(node, "no value given (expected " + spec.type_name() + ")");

  std::string problem;
  switch (spec.type) {
  case KeyType::boolean:
    problem = check_bool(node);
    break;
  case KeyType::integer:
    problem = check_integer(node, spec.range);
    break;
  case KeyType::real:
    problem = check_real(node, spec);
    break;
  case KeyType::text:
    if (!node.IsScalar() || node.Scalar().empty()) problem = "expected a string, got " + kind_of(node);
    break;
  case KeyType::choice: {
    if (!node.IsScalar()) {
      problem = "expected " + spec.type_name() + ", got " + kind_of(node);
      break;
    }
    const auto& c = spec.choices;
    if (std::find(c.begin(), c.end(), node.Scalar()) == c.end()) {
      const std::string near = closest(node.Scalar(), c);
      problem = "'" + node.Scalar() + "' is not " + spec.type_name() +
                (near.empty() ? "" : "; did you mean '" + near + "'?");
    }
    break;
  }
  case KeyType::path: {
    if (!node.IsScalar() || node.Scalar().empty()) {
      problem = "expected a file name, got " + kind_of(node);
      break;
    }
    const std::string p = resolve_path(display, node.Scalar());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
      problem = "file '" + p + "' does not exist or is not a file";
    break;
  }
  case KeyType::real_list: {
    if (node.IsScalar() && (spec.per_type || spec.per_gene)) {
      problem = check_real(node, spec);
      break;
    }
    if (!node.IsSequence()) {
      problem = "expected " + spec.type_name() + ", got " + kind_of(node);
      break;
    }
    check_list_length(node);
    for (size_t i = 0; i < node.size() && problem.empty(); ++i) {
      problem = check_real(node[i], spec);
      if (!problem.empty()) fail(node[i], "element " + std::to_string(i) + ": " + problem);
    }
    break;
  }
  case KeyType::integer_list: {
    if (!node.IsSequence()) {
      problem = "expected " + spec.type_name() + ", got " + kind_of(node);
      break;
    }
    check_list_length(node);
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string p = check_integer(node[i], spec.range);
      if (!p.empty()) fail(node[i], "element " + std::to_string(i) + ": " + p);
    }
    break;
  }
  case KeyType::text_list: {
    if (!node.IsSequence() || node.size() == 0) {
      problem = "expected a non-empty list of names, got " + kind_of(node);
      break;
    }
    std::set<std::string> names;
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar() || node[i].Scalar().empty())
        fail(node[i], "element " + std::to_string(i) + " is not a name");
      if (!names.insert(node[i].Scalar()).second)
        fail(node[i], "name '" + node[i].Scalar() + "' appears twice");
    }
    break;
  }
  case KeyType::real_matrix: {
    if (!node.IsSequence()) {
      problem = "expected a list of rows, got " + kind_of(node);
      break;
    }
    for (size_t r = 0; r < node.size(); ++r) {
      if (!node[r].IsSequence()) fail(node[r], "row " + std::to_string(r) + " is not a list");
      if (node[r].size() != node[0].size()) fail(node[r], "rows have different lengths");
      for (size_t c = 0; c < node[r].size(); ++c) {
        const std::string p = check_real(node[r][c], spec);
        if (!p.empty())
          fail(node[r][c], "element [" + std::to_string(r) + "][" + std::to_string(c) + "]: " + p);
      }
    }
    if (spec.per_type && n_types_ >= 0 &&
        (static_cast<int>(node.size()) != n_types_ ||
         (node.size() && static_cast<int>(node[0].size()) != n_types_)))
      problem = "expected a " + std::to_string(n_types_) + "x" + std::to_string(n_types_) +
                " matrix (one row and column per cell type)";
    break;
  }
  case KeyType::entries: {
    if (!node.IsSequence()) {
      problem = "expected a list of maps, got " + kind_of(node);
      break;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item = display + "[" + std::to_string(i) + "]";
      if (!node[i].IsMap()) fail(node[i], "entry " + std::to_string(i) + " is not a map");
      validate_map(node[i], spec.path + "[]", item);
    }
    break;
  }
  }
  (void)is_plain;
  if (!problem.empty()) fail(node, problem);
}

DeckView Deck::root() const {
  return DeckView(*this, root_, "", "");
}

void Deck::fill_defaults(YAML::Node map, const std::string& spec_prefix) const {
  const std::string head = spec_prefix.empty() ? "" : spec_prefix + ".";
  for (const auto& [path, spec] : specs_) {
    if (path.compare(0, head.size(), head) != 0) continue;
    const std::string rest = path.substr(head.size());
    if (rest.find('.') != std::string::npos || rest.find("[]") != std::string::npos) continue;
    if (map[rest].IsDefined()) {
      if (spec->type == KeyType::entries) {
        YAML::Node seq = map[rest];
        for (size_t i = 0; i < seq.size(); ++i)
          fill_defaults(seq[i], path + "[]");
      }
      continue;
    }
    if (!spec->replaced_by.empty() && map[spec->replaced_by].IsDefined()) continue;
    if (!spec->default_text.empty()) map[rest] = YAML::Load(spec->default_text);
  }
  // Sections: recurse (creating them when absent so every default shows).
  std::set<std::string> sections;
  for (const auto& [path, spec] : specs_) {
    if (path.compare(0, head.size(), head) != 0) continue;
    const std::string rest = path.substr(head.size());
    const auto dot = rest.find('.');
    const auto br = rest.find("[]");
    if (dot != std::string::npos && (br == std::string::npos || dot < br))
      sections.insert(rest.substr(0, dot));
  }
  for (const auto& s : sections) {
    if (!map[s].IsDefined() || map[s].IsNull()) map[s] = YAML::Node(YAML::NodeType::Map);
    fill_defaults(map[s], head + s);
  }
}

std::string Deck::resolved_yaml() const {
  YAML::Node copy = YAML::Clone(root_);
  fill_defaults(copy, "");
  YAML::Emitter out;
  out << copy;
  return std::string(out.c_str()) + "\n";
}

void Deck::absolute_paths(YAML::Node map, const std::string& spec_prefix,
                          const std::string& display_prefix) const {
  if (!map.IsMap()) return;
  for (auto kv : map) {
    const std::string name = kv.first.Scalar();
    const std::string path = join(spec_prefix, name), display = join(display_prefix, name);
    const KeySpec* spec = find_spec(path);
    YAML::Node value = kv.second;
    if (!spec) {
      absolute_paths(value, path, display); // a section
    } else if (spec->type == KeyType::path && value.IsScalar() && !value.Scalar().empty()) {
      value = std::filesystem::absolute(resolve_path(display, value.Scalar())).lexically_normal().string();
    } else if (spec->type == KeyType::entries && value.IsSequence()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        absolute_paths(value[i], path + "[]", display + "[" + std::to_string(i) + "]");
    }
  }
}

std::string Deck::standalone_yaml() const {
  YAML::Node copy = YAML::Clone(root_);
  fill_defaults(copy, "");
  absolute_paths(copy, "", "");
  YAML::Emitter out;
  out << copy;
  return std::string(out.c_str()) + "\n";
}

// ---------------------------------------------------------------------------------------------------------
// DeckView

DeckView::DeckView(const Deck& deck, YAML::Node node, std::string spec_prefix, std::string display_prefix)
    : deck_(&deck), node_(std::move(node)), spec_prefix_(std::move(spec_prefix)),
      display_prefix_(std::move(display_prefix)) {}

const KeySpec& DeckView::spec(const std::string& key) const {
  const KeySpec* s = deck_->find_spec(join(spec_prefix_, key));
  // A lookup of a key the tables do not list is a programming error, not a user error.
  if (!s)
    throw std::logic_error("tessera: key '" + join(spec_prefix_, key) + "' is read but not in any key table");
  return *s;
}

bool DeckView::has(const std::string& key) const {
  spec(key);
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

bool DeckView::given(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined();
}
bool DeckView::given_empty(const std::string& key) const {
  return given(key) && node_[key].IsNull();
}

YAML::Node DeckView::value(const std::string& key) const {
  const KeySpec& s = spec(key);
  if (has(key)) return node_[key];
  if (s.default_text.empty())
    throw input_error(where(key) + ": key is needed here but not given (" + s.doc + ")");
  return YAML::Load(s.default_text);
}

bool DeckView::boolean(const std::string& key) const {
  return to_bool(value(key));
}
long long DeckView::integer(const std::string& key) const {
  return to_integer(value(key));
}
double DeckView::real(const std::string& key) const {
  return to_real(value(key), spec(key).dim);
}
std::string DeckView::text(const std::string& key) const {
  return value(key).Scalar();
}

std::string DeckView::path(const std::string& key) const {
  return deck_->resolve_path(join(display_prefix_, key), text(key));
}

std::string DeckView::file_text(const std::string& key) const {
  const std::string file = path(key);
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(key, "cannot open '" + file + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(key, "cannot read '" + file + "'");
  return text.str();
}

std::vector<double> DeckView::reals(const std::string& key) const {
  const YAML::Node n = value(key);
  const Dimension dim = spec(key).dim;
  std::vector<double> out;
  if (n.IsScalar()) return {to_real(n, dim)};
  for (const auto& v : n)
    out.push_back(to_real(v, dim));
  return out;
}

std::vector<double> DeckView::per_type(const std::string& key, int n_types) const {
  std::vector<double> v = reals(key);
  if (v.size() == 1 && n_types > 1) v.assign(static_cast<size_t>(n_types), v[0]);
  if (static_cast<int>(v.size()) != n_types)
    fail(key, "expected one value per cell type (" + std::to_string(n_types) + "), got " +
                  std::to_string(v.size()));
  return v;
}

std::vector<double> DeckView::per_gene(const std::string& key, int n_genes) const {
  std::vector<double> v = reals(key);
  if (v.size() == 1 && n_genes > 1) v.assign(static_cast<size_t>(n_genes), v[0]);
  if (static_cast<int>(v.size()) != n_genes)
    fail(key,
         "expected one value per gene (" + std::to_string(n_genes) + "), got " + std::to_string(v.size()));
  return v;
}

std::vector<long long> DeckView::integers(const std::string& key) const {
  std::vector<long long> out;
  for (const auto& v : value(key))
    out.push_back(to_integer(v));
  return out;
}

std::vector<std::string> DeckView::texts(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& v : value(key))
    out.push_back(v.Scalar());
  return out;
}

std::vector<std::vector<double>> DeckView::matrix(const std::string& key) const {
  const Dimension dim = spec(key).dim;
  std::vector<std::vector<double>> out;
  for (const auto& row : value(key)) {
    out.emplace_back();
    for (const auto& v : row)
      out.back().push_back(to_real(v, dim));
  }
  return out;
}

std::vector<DeckView> DeckView::entries(const std::string& key) const {
  std::vector<DeckView> out;
  if (!has(key)) return out;
  const YAML::Node seq = node_[key];
  for (size_t i = 0; i < seq.size(); ++i)
    out.emplace_back(*deck_, seq[i], join(spec_prefix_, key) + "[]",
                     join(display_prefix_, key) + "[" + std::to_string(i) + "]");
  return out;
}

DeckView DeckView::section(const std::string& key) const {
  // On a const Node, operator[] of a missing key yields an invalid node: test IsDefined before anything else.
  if (node_.IsMap()) {
    const YAML::Node child = node_[key];
    if (child.IsDefined() && child.IsMap())
      return DeckView(*deck_, child, join(spec_prefix_, key), join(display_prefix_, key));
  }
  // Absent (or empty) section: every key reads as its default.
  return DeckView(*deck_, YAML::Node(YAML::NodeType::Map), join(spec_prefix_, key),
                  join(display_prefix_, key));
}

std::string DeckView::where(const std::string& key) const {
  const std::string display = join(display_prefix_, key);
  if (node_.IsMap() && node_[key].IsDefined()) {
    // `key:` with nothing after it: a null value's mark is the next token's, so point at the key itself.
    if (node_[key].IsNull())
      for (const auto& kv : node_)
        if (kv.first.IsScalar() && kv.first.Scalar() == key) return deck_->location(kv.first, display);
    return deck_->location(node_[key], display);
  }
  return deck_->location(node_, display);
}

void DeckView::fail(const std::string& key, const std::string& message) const {
  throw input_error(where(key) + ": " + message);
}

} // namespace tessera
