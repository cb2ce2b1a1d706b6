#include "tessera/app/sweep_plan.hpp"

#include "tessera/app/commands.hpp"
#include "tessera/core/error.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace tessera::app {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw runtime_error(tmp.string() + ": cannot write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    throw runtime_error(path.string() + ": cannot rename from " + tmp.string() + " (" + ec.message() + ")");
}

namespace {

// The column whose key the deck checker's message names, for the error's location; else the first.
const sweep::Column* blamed_column(const std::vector<sweep::Column>& columns, const std::string& message) {
  for (const sweep::Column& c : columns)
    if (message.find("'" + c.key + "'") != std::string::npos ||
        message.find(c.key + "=") != std::string::npos)
      return &c;
  return nullptr;
}

} // namespace

SweepPlan make_sweep_plan(const std::string& text, const std::string& path,
                          const std::vector<std::string>& overrides) {
  SweepPlan plan;
  plan.sweep = sweep::parse_sweep_file(text, path);
  for (const std::string& o : overrides) {
    const std::string key = o.substr(0, o.find('='));
    for (const sweep::Column& c : plan.sweep.columns())
      if (c.key == key)
        throw input_error("-s " + o + ": '" + key + "' is varied by the sweep (" + c.where + ")");
    plan.sweep.set.push_back(o);
    plan.sweep.set_where.push_back("-s " + o);
  }
  const sweep::SweepFile& s = plan.sweep;
  const std::string base = s.base_path();
  std::error_code ec;
  if (!fs::is_regular_file(base, ec))
    throw input_error(s.base_where + ": 'base': deck '" + base + "' does not exist or is not a file");
  const std::string base_text = read_file(base);

  plan.members = sweep::expand_members(s);
  const std::vector<sweep::Column> columns = s.columns();
  for (sweep::Member& m : plan.members) {
    std::vector<std::string> member_set = sweep::member_overrides(s, m);
    std::string values;
    for (std::size_t i = 0; i < columns.size(); ++i)
      values += (values.empty() ? "" : ", ") + columns[i].key + "=" + m.values[i];
    try {
      Deck deck = Deck::parse(base_text, base, member_set, all_key_tables());
      m.seed = deck.section("random").integer("seed");
      if (s.replicates > 0) {
        // Replicate r runs with the deck's seed + r: Philox keyed by neighbouring seeds gives independent
        // streams, and every grid point sees the same seeds (common random numbers across the grid).
        m.seed += m.replicate;
        member_set.push_back("random.seed=" + std::to_string(m.seed));
        deck = Deck::parse(base_text, base, member_set, all_key_tables());
      }
      check_deck(deck, 1);
      plan.decks.push_back(deck.standalone_yaml());
    } catch (const Error& e) {
      if (e.code() != ExitCode::input) throw;
      const sweep::Column* c = blamed_column(columns, e.what());
      std::string where = c ? c->where + ": '" + c->key + "'" : s.base_where + ": 'base'";
      for (std::size_t i = 0; !c && i < s.set.size(); ++i)
        if (std::string(e.what()).find(s.set[i]) != std::string::npos)
          where = s.set_where[i] + (s.set_where[i].rfind("-s ", 0) == 0
                                        ? std::string()
                                        : ": 'set." + s.set[i].substr(0, s.set[i].find('=')) + "'");
      throw input_error(where + ": member " + std::to_string(m.index) +
                        (values.empty() ? "" : " (" + values + ")") + " is not a valid deck: " + e.what());
    }
  }
  plan.members_csv = sweep::members_csv(s, plan.members);
  return plan;
}

bool write_sweep_plan(const SweepPlan& plan, const std::string& sweep_text, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "members", ec);
  if (ec || !fs::is_directory(fs::path(dir) / "members"))
    throw input_error("cannot create the sweep folder '" + dir +
                      "/members': " + (ec ? ec.message() : "a file is in the way"));
  const fs::path csv = fs::path(dir) / "members.csv";
  const bool planned_before = fs::exists(csv);
  if (planned_before) {
    // The outputs there belong to the members planned then: only the very same members may continue.
    if (read_file(csv) != plan.members_csv)
      throw input_error(csv.string() + " lists other members than " + plan.sweep.filename +
                        " plans: that folder holds another sweep; choose another -o DIR");
    for (std::size_t k = 0; k < plan.decks.size(); ++k) {
      const fs::path deck = member_directory(dir, static_cast<long long>(k)) / "deck.yaml";
      if (read_file(deck) != plan.decks[k])
        throw input_error(deck.string() + " differs from the deck " + plan.sweep.filename +
                          " plans for member " + std::to_string(k) +
                          " (the base deck changed?): choose another -o DIR");
    }
  } else {
    for (std::size_t k = 0; k < plan.decks.size(); ++k) {
      const fs::path member = member_directory(dir, static_cast<long long>(k));
      fs::create_directories(member, ec);
      if (ec) throw input_error("cannot create '" + member.string() + "': " + ec.message());
      write_file_atomically(member / "deck.yaml", plan.decks[k]);
    }
    // members.csv last: a folder holding it is completely planned.
  }
  write_file_atomically(fs::path(dir) / "sweep.yaml", sweep_text);
  if (!planned_before) write_file_atomically(csv, plan.members_csv);
  return planned_before;
}

PlannedSweep read_planned_sweep(const std::string& stored_sweep_text, const std::string& dir) {
  PlannedSweep p;
  const fs::path stored = fs::path(dir) / "sweep.yaml";
  p.sweep = sweep::parse_sweep_file(stored_sweep_text, stored.string());
  const fs::path csv = fs::path(dir) / "members.csv";
  if (!fs::is_regular_file(csv))
    throw input_error(dir + ": no members.csv: not a planned sweep folder (tessera sweep plan SWEEP -o DIR)");
  p.members_csv = read_file(csv);
  std::istringstream lines(p.members_csv);
  long long n = -1; // the header
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) ++n;
  p.members = n < 0 ? 0 : n;
  return p;
}

fs::path member_directory(const std::string& dir, long long k) {
  return fs::path(dir) / "members" / std::to_string(k);
}

std::string read_member_status(const fs::path& member_dir) {
  std::ifstream in(member_dir / "status");
  std::string first;
  std::getline(in, first);
  return first.rfind("failed", 0) == 0 ? "failed" : first;
}

void clear_member_status(const fs::path& member_dir) {
  std::error_code ec;
  fs::remove(member_dir / "status", ec);
  if (ec) throw runtime_error((member_dir / "status").string() + ": cannot remove (" + ec.message() + ")");
}

void write_member_status(const fs::path& member_dir, int code, const std::string& message) {
  write_file_atomically(member_dir / "status",
                        code == 0 ? std::string("ok\n")
                                  : "failed " + std::to_string(code) + "\n" + message + "\n");
}

} // namespace tessera::app
