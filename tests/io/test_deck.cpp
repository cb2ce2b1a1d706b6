// Decks (SPEC §6.1): typed reads with defaults and units, -s overrides, and errors that name the file,
// line, column and key, with "did you mean" for near misses.
#include "tessera/core/error.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace tessera;

namespace {

const std::string minimal = R"(domain:
  lo: [0, 0]
  hi: [100 um, 1 mm]
cells:
  types: [a, b, c]
  radius: [4, 5 um, 6]
grn:
  genes: [x, y]
  decay: 0.6 /h
  edges:
    - {source: x, target: y}
time:
  end: 2 h
)";

Deck parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return Deck::parse(text, "deck.yaml", overrides, all_key_tables());
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    return e.what();
  }
  ADD_FAILURE() << "deck was accepted";
  return "";
}

} // namespace

TEST(Deck, ReadsValuesDefaultsAndUnits) {
  const Deck deck = parse(minimal);
  const DeckView domain = deck.section("domain");
  EXPECT_EQ(domain.integer("dim"), 2);
  EXPECT_EQ(domain.reals("hi"), (std::vector<double>{100.0, 1000.0}));
  EXPECT_EQ(domain.text("boundary"), "reflecting");
  EXPECT_EQ(deck.section("cells").per_type("radius", 3), (std::vector<double>{4, 5, 6}));
  EXPECT_DOUBLE_EQ(deck.section("time").real("end"), 120.0);
  EXPECT_DOUBLE_EQ(deck.section("time").real("dt"), 1.0);
  const auto decay = deck.section("grn").per_gene("decay", 2);
  EXPECT_DOUBLE_EQ(decay[1], 0.01);
  const auto edges = deck.section("grn").entries("edges");
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].text("sign"), "activation"); // default
  EXPECT_DOUBLE_EQ(edges[0].real("n"), 2.0);
}

TEST(Deck, OverridesReplaceAndAddKeys) {
  const Deck deck = parse(minimal, {"time.dt=30 s", "random.seed=17", "domain.hi=[5, 6]"});
  EXPECT_DOUBLE_EQ(deck.section("time").real("dt"), 0.5);
  EXPECT_EQ(deck.section("random").integer("seed"), 17);
  EXPECT_EQ(deck.section("domain").reals("hi"), (std::vector<double>{5, 6}));
  const std::string e = error_of(minimal, {"time.dt=-1"});
  EXPECT_NE(e.find("-s time.dt=-1"), std::string::npos) << e;
  EXPECT_NE(error_of(minimal, {"time.dtt=1"}).find("did you mean 'time.dt'"), std::string::npos);
}

TEST(Deck, ErrorsNameLineColumnAndKey) {
  std::string text = minimal + "  dtt: 2 min\n";
  std::string e = error_of(text);
  EXPECT_NE(e.find("deck.yaml:14:3: key 'time.dtt'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'time.dt'"), std::string::npos) << e;

  text = minimal + "  dt: -2 min\n";
  e = error_of(text);
  EXPECT_NE(e.find("deck.yaml:14:7: key 'time.dt'"), std::string::npos) << e;
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;

  e = error_of(minimal + "  dt: .nan\n");
  EXPECT_NE(e.find("NaN"), std::string::npos) << e;

  e = error_of(minimal + "  genes: [x]\n");
  EXPECT_NE(e.find("'cells.init.genes' or 'grn.genes' (it belongs in another section)"), std::string::npos)
      << e;
}

TEST(Deck, ListLengthsFollowTypesGenesAndDimension) {
  std::string text = minimal;
  text.replace(text.find("[4, 5 um, 6]"), 12, "[4, 5]");
  EXPECT_NE(error_of(text).find("one per cell type"), std::string::npos);
  EXPECT_NE(error_of(minimal, {"domain.lo=[0, 0, 0]"}).find("one per axis"), std::string::npos);
  EXPECT_NE(error_of(minimal, {"grn.production=[1, 2, 3]"}).find("one per gene"), std::string::npos);
}

TEST(Deck, SyntaxErrorsAndMissingRequiredKeys) {
  EXPECT_NE(error_of("domain: [1, 2\n").find("deck.yaml:"), std::string::npos);
  EXPECT_NE(error_of("- a\n- b\n").find("a deck is a map"), std::string::npos);
  const std::string e = error_of("time: {end: 1}\n");
  EXPECT_NE(e.find("required"), std::string::npos) << e;
  EXPECT_NE(error_of(minimal + "  end: 3 h\n").find("given twice"), std::string::npos);
}

TEST(Deck, ResolvedDeckParsesBackToTheSameValues) {
  const Deck deck = parse(minimal);
  const Deck again = parse(deck.resolved_yaml());
  EXPECT_EQ(again.section("time").real("dt"), deck.section("time").real("dt"));
  EXPECT_EQ(again.section("grn").per_gene("decay", 2), deck.section("grn").per_gene("decay", 2));
  EXPECT_EQ(again.section("cells").section("init").integer("count"),
            deck.section("cells").section("init").integer("count"));
  EXPECT_NE(deck.resolved_yaml().find("max_cells"), std::string::npos); // defaults are shown
}

TEST(Deck, EditDistance) {
  EXPECT_EQ(edit_distance("domian", "domain"), 2);
  EXPECT_EQ(edit_distance("", "abc"), 3);
  EXPECT_EQ(edit_distance("genes", "genes"), 0);
}

// A path typed on the command line (-s) is relative to the shell's current folder, a path written in a deck
// to the deck's folder (issue 8, item 11). The deck lives in decks/ below the current folder here.
TEST(Deck, CommandLinePathsFollowTheCurrentFolderDeckPathsTheDeckFolder) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("tessera_deck_paths_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "decks");
  std::ofstream(root / "here.csv") << "id,type,x,y\n";
  std::ofstream(root / "decks" / "beside.csv") << "id,type,x,y\n";
  const fs::path before = fs::current_path();
  fs::current_path(root);
  std::string text = minimal;
  text.insert(text.find("grn:"), "  init: {placement: file, file: beside.csv}\n");
  auto file_of = [](const Deck& deck) { return deck.section("cells").section("init").path("file"); };

  const Deck written = Deck::parse(text, "decks/deck.yaml", {}, all_key_tables());
  EXPECT_EQ(fs::path(file_of(written)), fs::path("decks") / "beside.csv");
  const Deck typed = Deck::parse(text, "decks/deck.yaml", {"cells.init.file=here.csv"}, all_key_tables());
  EXPECT_EQ(file_of(typed), "here.csv");
  // beside.csv typed on the command line means ./beside.csv, which does not exist: the error says so.
  std::string error;
  try {
    Deck::parse(text, "decks/deck.yaml", {"cells.init.file=beside.csv"}, all_key_tables());
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("-s cells.init.file=beside.csv"), std::string::npos) << error;
  EXPECT_NE(error.find("file 'beside.csv' does not exist"), std::string::npos) << error;

  fs::current_path(before);
  fs::remove_all(root);
}
