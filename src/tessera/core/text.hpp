// Small text helpers for input errors and readers: the list of names a message offers, and strict parsing of
// a non-negative integer (ids, indices) from a table field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// "a, b, c": the first 12 names, then ", ..." when there are more; "" for none.
std::string names_list(const std::vector<std::string>& names);

// True, with `out` set, when `text` is a non-negative decimal integer that fits 64 bits (digits only: no
// sign, spaces or exponent); false otherwise.
bool parse_unsigned(const std::string& text, std::uint64_t& out);

// The current UTC time as ISO 8601 ("2026-12-04T21:44:34Z"): when an output file was created.
std::string utc_now_iso8601();

} // namespace tessera
