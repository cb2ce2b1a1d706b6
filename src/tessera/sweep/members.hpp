// The members of a sweep: the grid product of a sweep file's blocks times its replicates, each member's
// deck overrides, and members.csv (one row per member: index, varied values, replicate, seed).
#pragma once

#include "tessera/sweep/sweep_file.hpp"

#include <string>
#include <vector>

namespace tessera::sweep {

struct Member {
  long long index = 0;
  std::vector<std::string> values; // one per SweepFile::columns(), as YAML text
  long long replicate = 0;         // 0 .. replicates-1 (0 without replicates)
  long long seed = 0;              // the member deck's random.seed (filled in when its deck is resolved)
};

// Grid order: the first block varies slowest, replicates fastest. Not collective, reads no file.
std::vector<Member> expand_members(const SweepFile& sweep);

// The -s overrides that make a member's deck from the base deck: the sweep's `set`, then its values (the
// replicate's seed is added by the caller, who knows the base deck's seed).
std::vector<std::string> member_overrides(const SweepFile& sweep, const Member& member);

// members.csv: header "member,<keys>[,replicate],random.seed", one row per member. Fields holding a comma
// or a quote (list values) are quoted as RFC 4180 says.
std::string members_csv(const SweepFile& sweep, const std::vector<Member>& members);

// One CSV line split into fields, RFC 4180 quotes removed.
std::vector<std::string> split_csv_line(const std::string& line);
std::string csv_field(const std::string& text);

} // namespace tessera::sweep
