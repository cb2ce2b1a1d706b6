// `tessera sweep collect`: one table of every member's parameters, status and outcomes (its summary.csv at
// chosen times, its metrics.json keys), written as sweep.csv and sweep.h5 (docs/cluster.md "Sweeps").
#pragma once

#include "tessera/sweep/sweep_file.hpp"

#include <string>
#include <vector>

namespace tessera::sweep {

struct SweepTable {
  std::vector<std::string> header;            // members.csv's columns, status, then the outcomes
  std::vector<std::vector<std::string>> rows; // one per member; an outcome a member lacks is ""
  std::size_t parameters = 0;                 // header[1 .. parameters] are members.csv's parameter columns
  std::size_t outcomes = 0;                   // the first outcome column
};

// Reads the members' outputs in `dir` (a planned sweep folder; `members_csv` its members.csv). Values are
// copied as the member files write them, so the table is byte-identical however the members were run. A
// member that did not finish gets its status ("failed <code>", "not run") and empty outcomes. Not
// collective. An outcome the sweep file asks for that a finished member's files do not have is an
// input_error naming the sweep file's collect section, the file and the column or key.
SweepTable collect_sweep(const SweepFile& sweep, const std::string& dir, const std::string& members_csv);

// The table as CSV (fields quoted only where they hold a comma or a quote).
std::string table_csv(const SweepTable& table);

// sweep.h5: /member, /status, /parameters/<key> (numbers in tessera's base units when every member's value is
// one, else the values as written), /outcomes/<name> (NaN where a member has none); root attributes
// format = "tessera-sweep", version = 1, the sweep file's text. Written to a temporary file and renamed.
void write_table_h5(const SweepTable& table, const std::string& path, const std::string& sweep_text);

} // namespace tessera::sweep
