// A planned sweep on disk: DIR/sweep.yaml (the sweep file as given), DIR/members.csv and
// DIR/members/<k>/deck.yaml (each member's resolved deck), and after a run each member's outputs and its
// status file. None of these functions is collective: the sweep commands call them on one rank.
#pragma once

#include "tessera/sweep/members.hpp"
#include "tessera/sweep/sweep_file.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace tessera::app {

struct SweepPlan {
  sweep::SweepFile sweep;
  std::vector<sweep::Member> members;
  std::vector<std::string> decks; // each member's resolved deck (YAML, file paths absolute)
  std::string members_csv;
};

// Parses the sweep file `text` (read from `path`), reads its base deck and resolves and checks every member
// deck as `tessera check` would. Any mistake is an input_error naming the sweep file's line and key and, for
// a member deck the base deck refuses, the member and what the deck checker said. `overrides` (-s key=value)
// apply to every member after the sweep file's `set`; a varied key cannot be among them.
SweepPlan make_sweep_plan(const std::string& text, const std::string& path,
                          const std::vector<std::string>& overrides);

// Writes the plan to `dir` (created when missing). A folder planned before from the same members is kept as
// it is (only sweep.yaml is replaced, so a changed `collect` section takes effect); one planned with other
// members or decks is an input_error: its outputs belong to another sweep. Returns whether it was planned
// before.
bool write_sweep_plan(const SweepPlan& plan, const std::string& sweep_text, const std::string& dir);

// The planned sweep in `dir`, from the sweep.yaml stored there (its base deck is not read again).
struct PlannedSweep {
  sweep::SweepFile sweep;
  long long members = 0;
  std::string members_csv;
};
PlannedSweep read_planned_sweep(const std::string& stored_sweep_text, const std::string& dir);

// Written whole or not at all: a temporary file renamed over `path`.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

std::filesystem::path member_directory(const std::string& dir, long long k);
// "ok", "failed" or "" (never run, or interrupted).
std::string read_member_status(const std::filesystem::path& member_dir);
void clear_member_status(const std::filesystem::path& member_dir);
// Written to a temporary file and renamed over `status`, so a reader sees the whole status or none.
void write_member_status(const std::filesystem::path& member_dir, int code, const std::string& message);

} // namespace tessera::app
