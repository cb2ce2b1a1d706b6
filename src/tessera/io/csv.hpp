// Splitting the lines of the CSV files tessera reads (initial cells, the CSV dataset folder): fields are
// trimmed, and a field in double quotes (as spreadsheets write names) loses its quotes.
#pragma once

#include <string>
#include <vector>

namespace tessera::csv {

// Surrounding spaces, tabs and carriage returns removed.
std::string trim(const std::string& text);
// Comma-separated fields; commas inside fields are not supported, so there is no escaping either.
std::vector<std::string> split(const std::string& line);

} // namespace tessera::csv
