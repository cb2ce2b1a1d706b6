#include "tessera/core/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

namespace tessera {

namespace {

// Scale from a unit suffix to the base unit of its dimension.
const std::map<std::string, double>& scales(Dimension dim) {
  static const std::map<std::string, double> length{{"um", 1.0}, {"µm", 1.0}, {"nm", 1e-3},
                                                    {"mm", 1e3}, {"cm", 1e4}, {"m", 1e6}};
  static const std::map<std::string, double> time{
      {"s", 1.0 / 60.0}, {"min", 1.0}, {"h", 60.0}, {"d", 1440.0}, {"day", 1440.0}};
  static const std::map<std::string, double> rate{
      {"1/s", 60.0},       {"/s", 60.0},       {"1/min", 1.0},        {"/min", 1.0},
      {"1/h", 1.0 / 60.0}, {"/h", 1.0 / 60.0}, {"1/d", 1.0 / 1440.0}, {"/d", 1.0 / 1440.0}};
  static const std::map<std::string, double> diffusivity{{"um^2/min", 1.0},      {"um^2/s", 60.0},
                                                         {"um^2/h", 1.0 / 60.0}, {"um2/min", 1.0},
                                                         {"um2/s", 60.0},        {"um2/h", 1.0 / 60.0}};
  static const std::map<std::string, double> none{};
  switch (dim) {
  case Dimension::length:
    return length;
  case Dimension::time:
    return time;
  case Dimension::rate:
    return rate;
  case Dimension::diffusivity:
    return diffusivity;
  default:
    return none;
  }
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

} // namespace

std::string format_number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

std::string base_unit(Dimension dim) {
  switch (dim) {
  case Dimension::length:
    return "um";
  case Dimension::time:
    return "min";
  case Dimension::rate:
    return "1/min";
  case Dimension::diffusivity:
    return "um^2/min";
  default:
    return "";
  }
}

std::string accepted_units(Dimension dim) {
  std::string out;
  for (const auto& [suffix, scale] : scales(dim)) {
    if (suffix == "µm") continue;
    out += (out.empty() ? "" : ", ") + suffix;
  }
  return out;
}

ParsedQuantity parse_quantity(std::string_view text_in, Dimension dim) {
  ParsedQuantity out;
  const std::string text = trim(text_in);
  if (text.empty()) {
    out.problem = "empty value";
    return out;
  }
  std::string lower;
  for (char c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // YAML spellings of infinity and NaN.
  if (lower == ".inf" || lower == "inf" || lower == "+inf" || lower == "+.inf" || lower == "infinity") {
    out.ok = true;
    out.value = std::numeric_limits<double>::infinity();
    return out;
  }
  if (lower == "-.inf" || lower == "-inf" || lower == "-infinity") {
    out.ok = true;
    out.value = -std::numeric_limits<double>::infinity();
    return out;
  }
  if (lower.find("nan") != std::string::npos) {
    out.problem = "NaN is not a valid value";
    return out;
  }
  const char* begin = text.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin) {
    out.problem = "'" + text + "' is not a number";
    return out;
  }
  if (!std::isfinite(number)) {
    out.problem = "'" + text + "' overflows a double";
    return out;
  }
  const std::string suffix = trim(std::string_view(end));
  if (suffix.empty()) {
    out.ok = true;
    out.value = number;
    return out;
  }
  const auto& table = scales(dim);
  const auto it = table.find(suffix);
  if (it == table.end()) {
    if (table.empty())
      out.problem = "'" + text + "' has a unit suffix '" + suffix + "' but this key is dimensionless";
    else
      out.problem = "unknown unit '" + suffix + "' in '" + text + "' (accepted: " + accepted_units(dim) + ")";
    return out;
  }
  out.ok = true;
  out.value = number * it->second;
  return out;
}

ParsedQuantity parse_time_unit(std::string_view unit_in) {
  ParsedQuantity out;
  const std::string unit = trim(unit_in);
  const auto& table = scales(Dimension::time);
  const auto it = table.find(unit);
  if (it == table.end()) {
    out.problem = "unknown time unit '" + unit + "' (accepted: " + accepted_units(Dimension::time) + ")";
    return out;
  }
  out.ok = true;
  out.value = it->second;
  return out;
}

} // namespace tessera
