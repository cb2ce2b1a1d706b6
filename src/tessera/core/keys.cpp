#include "tessera/core/keys.hpp"

#include <cmath>
#include <sstream>

namespace tessera {

namespace {
std::string number_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << v;
  return os.str();
}
} // namespace

bool Range::contains(double v) const {
  if (std::isnan(v)) return false;
  if (std::isinf(v) && v > 0) return allow_inf && std::isinf(hi);
  if (std::isinf(v)) return false;
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

std::string Range::text() const {
  if (std::isinf(lo) && std::isinf(hi)) return allow_inf ? "any, inf allowed" : "any finite";
  std::string out = (lo_open || std::isinf(lo)) ? "(" : "[";
  out += number_text(lo) + ", " + number_text(hi);
  out += (hi_open || (std::isinf(hi) && !allow_inf)) ? ")" : "]";
  return out;
}

std::string KeySpec::name() const {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string KeySpec::type_name() const {
  const std::string unit =
      dim == Dimension::none || dim == Dimension::count ? "" : " [" + base_unit(dim) + "]";
  switch (type) {
  case KeyType::boolean:
    return "bool";
  case KeyType::integer:
    return "integer";
  case KeyType::real:
    return "real" + unit;
  case KeyType::text:
    return "string";
  case KeyType::path:
    return "file path";
  case KeyType::choice: {
    std::string out = "one of {";
    for (size_t i = 0; i < choices.size(); ++i)
      out += (i ? ", " : "") + choices[i];
    return out + "}";
  }
  case KeyType::real_list: {
    std::string what = per_type   ? "real or list per type"
                       : per_gene ? "real or list per gene"
                                  : "list of real";
    if (length > 0) what += " (" + std::to_string(length) + ")";
    if (length < 0) what += " (domain.dim)";
    return what + unit;
  }
  case KeyType::integer_list:
    return length < 0 ? "list of integer (domain.dim)" : "list of integer";
  case KeyType::text_list:
    return "list of string";
  case KeyType::real_matrix:
    return "matrix of real" + unit;
  case KeyType::entries:
    return "list of maps";
  }
  return "?";
}

KeySpec& KeyTable::add(std::string key, KeyType type, Dimension dim) {
  KeySpec spec;
  spec.path = section_ + "." + key;
  spec.type = type;
  spec.dim = dim;
  keys_.push_back(std::move(spec));
  return keys_.back();
}

KeySpec& KeyTable::add_choice(std::string key, std::vector<std::string> choices) {
  KeySpec& spec = add(std::move(key), KeyType::choice);
  spec.choices = std::move(choices);
  return spec;
}

std::string input_reference_markdown(const std::vector<const KeyTable*>& tables) {
  std::ostringstream md;
  md << "# Input reference\n\n"
     << "Generated from tessera's key tables by `tessera check --reference`; a test fails when this file "
        "and\n"
     << "the code disagree. Physical quantities accept a unit suffix (`10 um`, `2 h`, `0.1 /h`) and default "
        "to\n"
     << "µm and minutes. `-s section.key=value` overrides any key from the command line.\n"
     << "Keys inside list entries are written `list[].key`.\n\n"
     << "A relative file path (type *file path*) written in a deck is relative to the deck's folder, so a "
        "deck and\n"
     << "its data files move together; one given with `-s` is relative to the current directory, like any "
        "path\n"
     << "typed in a shell. Run directories (`output.dir`, `-o`) are relative to the current directory.\n";
  for (const KeyTable* table : tables) {
    md << "\n## `" << table->section() << "`\n\n" << table->doc() << "\n\n";
    md << "| key | type | default | range | description |\n|---|---|---|---|---|\n";
    for (const KeySpec& k : table->keys()) {
      const std::string def = k.required               ? "**required**"
                              : k.default_text.empty() ? "—"
                                                       : "`" + k.default_text + "`";
      const bool numeric = k.type == KeyType::real || k.type == KeyType::integer ||
                           k.type == KeyType::real_list || k.type == KeyType::integer_list ||
                           k.type == KeyType::real_matrix;
      md << "| `" << k.path << "` | " << k.type_name() << " | " << def << " | "
         << (numeric ? k.range.text() : "") << " | " << k.doc << " |\n";
    }
  }
  return md.str();
}

} // namespace tessera
