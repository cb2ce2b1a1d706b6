// Physical quantities in decks: a number with an optional unit suffix, converted to tessera's base units
// (µm and minutes, SPEC §1.2 and §6.1).
#pragma once

#include <string>
#include <string_view>

namespace tessera {

enum class Dimension { none, length, time, rate, diffusivity, count };

// Base unit of a dimension as written in docs and error messages ("um", "min", "1/min", "um^2/min").
std::string base_unit(Dimension dim);
// Suffixes a deck may use for a dimension, for docs ("um, mm, m, nm").
std::string accepted_units(Dimension dim);

struct ParsedQuantity {
  bool ok = false;
  double value = 0.0;  // in base units
  std::string problem; // why parsing failed, when !ok
};

// Parses "12.5", "10 um", "2h", "0.1 /h", "inf". NaN is always rejected; infinity is returned as such and the
// caller decides whether the key allows it.
ParsedQuantity parse_quantity(std::string_view text, Dimension dim);

// A time unit on its own ("s", "min", "h", "d", "day"): value is the minutes in one of it.
ParsedQuantity parse_time_unit(std::string_view unit);

// A number as a person writes it in a message: "0.5", "1e-300", "20" (not std::to_string's "20.000000").
std::string format_number(double value);

} // namespace tessera
