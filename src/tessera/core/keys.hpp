// Deck key tables: one per module, each key with its type, default, unit, range and doc.
// The same table drives deck validation, `tessera check`, defaults, and docs/input-reference.md (SPEC §6.1).
#pragma once

#include "tessera/core/units.hpp"

#include <limits>
#include <string>
#include <vector>

namespace tessera {

enum class KeyType {
  boolean,
  integer,
  real,      // number with optional unit suffix
  text,      // free string
  choice,    // one of KeySpec::choices
  path,      // file name, relative to the deck's folder; must exist
  real_list, // sequence of reals (or a scalar broadcast, for per-type keys)
  integer_list,
  text_list,
  real_matrix, // sequence of sequences of reals
  entries,     // sequence of maps whose keys are the specs named "<path>[].<key>"
};

struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  bool allow_inf = false; // +inf is a meaningful value ("never", "unbounded")

  bool contains(double v) const;
  std::string text() const; // "(0, inf)", "[0, 1]", "any"
};

struct KeySpec {
  std::string path; // "time.dt"; keys inside list entries: "grn.edges[].source"
  KeyType type = KeyType::real;
  Dimension dim = Dimension::none;
  std::string default_text; // YAML text of the default, "" when there is none
  bool required = false;
  Range range;
  std::vector<std::string> choices;
  bool per_type = false;   // real_list: one value per cell type, or a scalar for all types
  bool per_gene = false;   // real_list: one value per gene, or a scalar for all genes
  int length = 0;          // real_list/integer_list: fixed length (>0), or -1 = domain.dim; 0 = any
  std::string replaced_by; // a sibling key that replaces this one: its default is not filled in when given
  std::string doc;

  // Fluent setters so tables read as one line per key.
  KeySpec& def(std::string text) {
    default_text = std::move(text);
    return *this;
  }
  KeySpec& require() {
    required = true;
    return *this;
  }
  KeySpec& positive() {
    range.lo = 0;
    range.lo_open = true;
    return *this;
  }
  KeySpec& non_negative() {
    range.lo = 0;
    return *this;
  }
  KeySpec& at_least(double lo) {
    range.lo = lo;
    return *this;
  }
  KeySpec& between(double lo, double hi) {
    range.lo = lo;
    range.hi = hi;
    return *this;
  }
  KeySpec& infinite_ok() {
    range.allow_inf = true;
    return *this;
  }
  KeySpec& one_per_type() {
    per_type = true;
    return *this;
  }
  KeySpec& one_per_gene() {
    per_gene = true;
    return *this;
  }
  KeySpec& of_length(int n) {
    length = n;
    return *this;
  }
  KeySpec& describe(std::string text) {
    doc = std::move(text);
    return *this;
  }
  KeySpec& unless(std::string sibling) {
    replaced_by = std::move(sibling);
    return *this;
  }

  std::string type_name() const; // for docs and errors: "real [um]", "one of {hill, graph_ode}"
  std::string name() const;      // last path component
};

class KeyTable {
public:
  KeyTable(std::string section, std::string doc) : section_(std::move(section)), doc_(std::move(doc)) {}

  KeySpec& add(std::string key, KeyType type, Dimension dim = Dimension::none);
  KeySpec& add_choice(std::string key, std::vector<std::string> choices);

  const std::string& section() const { return section_; }
  const std::string& doc() const { return doc_; }
  const std::vector<KeySpec>& keys() const { return keys_; }

private:
  std::string section_;
  std::string doc_;
  std::vector<KeySpec> keys_;
};

// The Markdown input reference generated from the tables (docs/input-reference.md must equal it).
std::string input_reference_markdown(const std::vector<const KeyTable*>& tables);

} // namespace tessera
