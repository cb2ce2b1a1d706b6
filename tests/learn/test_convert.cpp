// Tests of `tessera convert`'s readers and writers that need no Python: the CSV folder of SPEC §6.3 read
// into exactly the values of its files, its errors naming file:line and column, and a CSV folder -> dataset
// -> .h5ad -> (tessera's own h5ad reader) round trip. The round trip through the real anndata package is
// h5ad_roundtrip.py.
#include "tessera/core/error.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/convert.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return (fs::path(TESSERA_SOURCE_DIR) / "tests" / "learn" / "data" / name).string();
}

std::string fresh_path(const std::string& name) {
  const fs::path dir = fs::path(TESSERA_BINARY_DIR) / "tests" / "learn" / "tmp";
  fs::create_directories(dir);
  fs::remove(dir / name);
  return (dir / name).string();
}

TEST(CsvFolder, ReadsEveryFile) {
  const TrajectoryDataset ds = read_csv_folder(fixture("csv_ok"));
  EXPECT_EQ(ds.genes, (std::vector<std::string>{"Wnt", "Fzd", "Axin"}));
  EXPECT_EQ(ds.time, (std::vector<double>{0.0, 30.0}));
  EXPECT_EQ(ds.cell_id, (std::vector<std::uint64_t>{10, 11, 12}));
  // Type names in order of first appearance in cell_types.csv.
  EXPECT_EQ(ds.cell_types, (std::vector<std::string>{"mesenchymal", "epithelial"}));
  EXPECT_EQ(ds.cell_type, (std::vector<std::int32_t>{1, 0, 1}));
  // Rows of the second time point come in another order and are matched by cell id.
  EXPECT_EQ(ds.expression, (std::vector<double>{0.5, 1.25, 0, 0.1, 0.2, 0.3, 2, 0, 1e-3, //
                                                0.75, 1.5, 0.25, 0.2, 0.4, 0.6, 2.5, 0.125, 0.01}));
  EXPECT_EQ(ds.dim, 2);
  EXPECT_FALSE(ds.positions_per_time);
  EXPECT_EQ(ds.positions, (std::vector<double>{1.5, 2.5, 10, 20, -3.25, 4}));
  EXPECT_EQ(ds.ligand_receptor, (std::vector<std::array<int, 2>>{{0, 1}}));
  ASSERT_EQ(ds.prior_grn.size(), 2u);
  EXPECT_EQ(ds.prior_grn.at("*"), (std::vector<std::array<int, 2>>{{0, 2}}));
  EXPECT_EQ(ds.prior_grn.at("epithelial"), (std::vector<std::array<int, 2>>{{1, 2}}));
}

void expect_rejected(const std::string& folder, const std::string& fragment) {
  try {
    read_csv_folder(fixture(folder));
    ADD_FAILURE() << folder << ": accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(CsvFolder, ErrorsNameFileLineAndColumn) {
  expect_rejected("csv_bad_number",
                  "csv_bad_number/gene_expression.csv:6: column 'Fzd': expected a number, got 'abc'");
  expect_rejected("csv_unknown_lr_gene",
                  "csv_unknown_lr_gene/ligand_receptor_pairs.csv:2: column 'receptor': unknown gene 'Lrp6'");
  expect_rejected("csv_unknown_grn_gene",
                  "csv_unknown_grn_gene/prior_grns.csv:3: column 'target': unknown gene 'Apc'");
  expect_rejected("csv_missing_cell", "cell id 11 (present at time 0) is missing at time 30");
  expect_rejected("no_such_folder", "not a directory");
}

TEST(Convert, CsvToDatasetToH5adAndBack) {
  const std::string ds_path = fresh_path("csv_ok.h5");
  const std::string h5ad_path = fresh_path("csv_ok.h5ad");
  const std::string again_path = fresh_path("csv_ok_again.h5");
  EXPECT_NE(convert(fixture("csv_ok"), ds_path).find("2 time points, 3 cells, 3 genes"), std::string::npos);
  convert(ds_path, h5ad_path);
  convert(h5ad_path, again_path);
  const TrajectoryDataset a = read_dataset(ds_path), b = read_dataset(again_path);
  EXPECT_EQ(a.genes, b.genes);
  EXPECT_EQ(a.cell_types, b.cell_types);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.cell_id, b.cell_id);
  EXPECT_EQ(a.cell_type, b.cell_type);
  EXPECT_EQ(a.expression, b.expression);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.positions_per_time, b.positions_per_time);
  // The pairs and the prior graphs travel in the .h5ad's uns and come back.
  EXPECT_EQ(a.ligand_receptor, b.ligand_receptor);
  EXPECT_EQ(a.prior_grn, b.prior_grn);
}

// A CSV folder written by the test: file name -> contents.
std::string csv_folder(const std::string& name, const std::map<std::string, std::string>& files) {
  const fs::path dir = fs::path(TESSERA_BINARY_DIR) / "tests" / "learn" / "tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [file, text] : files)
    std::ofstream(dir / file) << text;
  return dir.string();
}

const std::string named_expression = "time,cell_id,Wnt,Fzd\n"
                                     "0,AAACGT-1,1,2\n"
                                     "0 h,TTGCA-2,3,4\n"
                                     "6 h,TTGCA-2,5,6\n"
                                     "360 min,AAACGT-1,7,8\n";
const std::string named_types = "cell_id,type\nTTGCA-2,b\nAAACGT-1,a\n";
const std::string named_positions = "cell_id,x,y\nAAACGT-1,0,1\nTTGCA-2,2,3\n";

// Times with their own units (mixed spellings of one time point), barcodes as cell ids: cells numbered in
// order of first appearance, the barcodes kept as names.
TEST(CsvFolder, TimesWithUnitsAndNamedCells) {
  const std::string dir = csv_folder("named", {{"gene_expression.csv", named_expression},
                                               {"cell_types.csv", named_types},
                                               {"cell_positions.csv", named_positions}});
  const TrajectoryDataset ds = read_csv_folder(dir);
  EXPECT_EQ(ds.time, (std::vector<double>{0.0, 360.0}));
  EXPECT_EQ(ds.cell_id, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(ds.cell_name, (std::vector<std::string>{"AAACGT-1", "TTGCA-2"}));
  EXPECT_EQ(ds.expression, (std::vector<double>{1, 2, 3, 4, 7, 8, 5, 6}));
  EXPECT_EQ(ds.cell_types, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ds.cell_type, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(ds.positions, (std::vector<double>{0, 1, 2, 3}));
  // Bare numbers take --time-unit; numbers with a unit keep theirs.
  const std::string days =
      csv_folder("days", {{"gene_expression.csv", "time,cell_id,Wnt\n0,1,1\n0.5,1,2\n24 h,1,3\n"},
                          {"cell_types.csv", "cell_id,type\n1,a\n"},
                          {"cell_positions.csv", "cell_id,x,y\n1,0,0\n"}});
  const TrajectoryDataset d = read_csv_folder(days, "day");
  EXPECT_EQ(d.time, (std::vector<double>{0.0, 720.0, 1440.0}));
  EXPECT_EQ(d.source_time_unit, "day");
  EXPECT_TRUE(d.cell_name.empty()); // integer ids need no names
}

void expect_input_error(const std::function<void()>& call, const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "accepted, expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(CsvFolder, ErrorsQuoteCellNamesAndTimes) {
  const std::string bad_time =
      csv_folder("bad_time", {{"gene_expression.csv", "time,cell_id,Wnt\n0,1,1\n6 weeks,1,2\n"},
                              {"cell_types.csv", "cell_id,type\n1,a\n"},
                              {"cell_positions.csv", "cell_id,x,y\n1,0,0\n"}});
  expect_input_error(
      [&] { read_csv_folder(bad_time); },
      "gene_expression.csv:3: column 'time': expected a time (a number in the --time-unit, or a "
      "number and a unit: d, day, h, min, s), got '6 weeks'");
  const std::string unknown = csv_folder("unknown_name", {{"gene_expression.csv", named_expression},
                                                          {"cell_types.csv", named_types + "GGGA-9,a\n"},
                                                          {"cell_positions.csv", named_positions}});
  expect_input_error([&] { read_csv_folder(unknown); },
                     "cell_types.csv:4: column 'cell_id': cell 'GGGA-9' is not in gene_expression.csv");
  const std::string missing =
      csv_folder("missing_name", {{"gene_expression.csv", named_expression + "12 h,AAACGT-1,1,1\n"},
                                  {"cell_types.csv", named_types},
                                  {"cell_positions.csv", named_positions}});
  expect_input_error([&] { read_csv_folder(missing); },
                     "cell 'TTGCA-2' (present at time 0) is missing at time 720");
}

TEST(Convert, TimeUnitOption) {
  ConvertOptions hours;
  hours.time_unit = "h";
  const std::string ds_path = fresh_path("csv_ok_hours.h5");
  const std::string summary = convert(fixture("csv_ok"), ds_path, hours);
  EXPECT_NE(summary.find("times 0 .. 1800 min (given in h)"), std::string::npos) << summary;
  EXPECT_EQ(read_dataset(ds_path).time, (std::vector<double>{0.0, 1800.0}));
  ConvertOptions weeks;
  weeks.time_unit = "weeks";
  expect_input_error([&] { convert(fixture("csv_ok"), fresh_path("weeks.h5"), weeks); },
                     "--time-unit 'weeks': unknown time unit 'weeks' (accepted: d, day, h, min, s)");
  EXPECT_FALSE(fs::exists(fresh_path("weeks.h5")));
  // Without --time-unit the summary says the times were read as minutes.
  EXPECT_NE(convert(fixture("csv_ok"), fresh_path("csv_ok_min.h5")).find("read as minutes"),
            std::string::npos);
}

// A simulation's tessera.h5 is not a dataset: the error says how to record one.
TEST(Convert, SimulationOutputPointsAtOutputDataset) {
  const std::string path = fresh_path("tessera.h5");
  {
    h5::File file = h5::File::create(path);
    h5::write_text_attribute(file.get(), "format", "tessera-simulation");
    file.close();
  }
  for (const std::string& to : {fresh_path("sim.h5ad"), fresh_path("sim.h5")})
    expect_input_error(
        [&] { convert(path, to); },
        "tessera.h5: this is a simulation output (tessera.h5), not a trajectory dataset; run with "
        "`output.dataset: true` to record a dataset (dataset.h5)");
}

TEST(Convert, DirectionFromThePaths) {
  EXPECT_THROW(convert(fixture("csv_ok"), fresh_path("x.h5ad")), Error);
  EXPECT_THROW(convert(fixture("csv_ok/cell_types.csv"), fresh_path("x.h5")), Error);
  EXPECT_THROW(convert(fixture("nothing.h5ad"), fresh_path("x.h5")), Error);
}

} // namespace
} // namespace tessera
