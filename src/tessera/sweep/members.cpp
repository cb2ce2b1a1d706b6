#include "tessera/sweep/members.hpp"

#include <sstream>

namespace tessera::sweep {

std::vector<Member> expand_members(const SweepFile& sweep) {
  std::vector<Member> out{Member{}};
  for (const Block& block : sweep.blocks) {
    std::vector<Member> next;
    next.reserve(out.size() * block.rows.size());
    for (const Member& m : out)
      for (const auto& row : block.rows) {
        Member n = m;
        n.values.insert(n.values.end(), row.begin(), row.end());
        next.push_back(std::move(n));
      }
    out = std::move(next);
  }
  if (sweep.replicates > 0) {
    std::vector<Member> next;
    for (const Member& m : out)
      for (long long r = 0; r < sweep.replicates; ++r) {
        Member n = m;
        n.replicate = r;
        next.push_back(std::move(n));
      }
    out = std::move(next);
  }
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k].index = static_cast<long long>(k);
  return out;
}

std::vector<std::string> member_overrides(const SweepFile& sweep, const Member& member) {
  std::vector<std::string> out = sweep.set;
  const std::vector<Column> columns = sweep.columns();
  for (std::size_t i = 0; i < columns.size(); ++i)
    out.push_back(columns[i].key + "=" + member.values[i]);
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::string members_csv(const SweepFile& sweep, const std::vector<Member>& members) {
  // A varied random.seed is a column already.
  bool seed_varied = false;
  for (const Column& c : sweep.columns())
    seed_varied = seed_varied || c.key == "random.seed";
  std::ostringstream out;
  out << "member";
  for (const Column& c : sweep.columns())
    out << "," << csv_field(c.key);
  if (sweep.replicates > 0) out << ",replicate";
  out << (seed_varied ? "\n" : ",random.seed\n");
  for (const Member& m : members) {
    out << m.index;
    for (const std::string& v : m.values)
      out << "," << csv_field(v);
    if (sweep.replicates > 0) out << "," << m.replicate;
    out << (seed_varied ? "" : "," + std::to_string(m.seed)) << "\n";
  }
  return out.str();
}

} // namespace tessera::sweep
