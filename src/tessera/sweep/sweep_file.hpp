// Sweep files (`tessera sweep`): a base deck, the keys to vary (value lists, zipped lists, random and
// Latin-hypercube draws), replicates over random.seed, and the outcomes to collect. Parsing only: no file
// is read here, so a planned sweep folder can be parsed again from its stored copy.
#pragma once

#include <string>
#include <vector>

namespace tessera::sweep {

// One varied deck key and where the sweep file names it ("sweep.yaml:7:12"), for error messages.
struct Column {
  std::string key;
  std::string where;
};

// Keys varied together: every row gives one value (YAML text, as a -s override takes it) to each column.
// A values list is a block of one column; a zip or a sample block has several. Members are the grid
// product of the blocks, the first block varying slowest.
struct Block {
  std::vector<Column> columns;
  std::vector<std::vector<std::string>> rows;
};

// What `tessera sweep collect` reads from each member (docs/cluster.md "Sweeps").
struct CollectSpec {
  std::vector<double> times;           // minutes; the output step at or before each time
  bool at_end = false;                 // and the last output step
  bool counts = false;                 // cells of each type
  std::vector<std::string> gene_stats; // "mean", "sd" of each gene
  std::vector<std::string> summary;    // summary.csv columns
  std::vector<std::string> metrics;    // metrics.json keys (train), dotted for nested objects
  std::string where;                   // the collect section, for errors found at collect time
};

struct SweepFile {
  std::string filename;
  std::string base;       // the base deck as written (relative to the sweep file's folder)
  std::string base_where; // sweep.yaml:1:7
  std::string command = "run";
  std::vector<std::string> set;       // fixed "key=value" overrides for every member
  std::vector<std::string> set_where; // where each is written
  std::vector<Block> blocks;
  long long replicates = 0; // 0: not given (one member per grid point, the base deck's seed)
  std::string replicates_where;
  CollectSpec collect;

  // Every varied key, in column order (blocks in order, their columns in order).
  std::vector<Column> columns() const;
  // The base deck's path: relative to the sweep file's folder unless absolute.
  std::string base_path() const;
};

// Parses `text` (the contents of `filename`). Throws input_error naming file:line:column and the key on any
// mistake: unknown keys, an unknown axis form or sample method, empty or mismatched value lists, a key varied
// twice, ranges with lo >= hi (or lo <= 0 on a log scale). Deck keys and values are checked later, against
// the base deck (sweep_plan).
SweepFile parse_sweep_file(const std::string& text, const std::string& filename);

} // namespace tessera::sweep
