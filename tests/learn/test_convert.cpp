// Tests of `tessera convert`'s readers and writers that need no Python: the CSV folder of SPEC §6.3 read
// into exactly the values of its files, its errors naming file:line and column, and a CSV folder -> dataset
// -> .h5ad -> (tessera's own h5ad reader) round trip. The round trip through the real anndata package is
// h5ad_roundtrip.py.
#include "tessera/core/error.hpp"
#include "tessera/learn/convert.hpp"

#include <gtest/gtest.h>

#include <filesystem>

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
}

TEST(Convert, DirectionFromThePaths) {
  EXPECT_THROW(convert(fixture("csv_ok"), fresh_path("x.h5ad")), Error);
  EXPECT_THROW(convert(fixture("csv_ok/cell_types.csv"), fresh_path("x.h5")), Error);
  EXPECT_THROW(convert(fixture("nothing.h5ad"), fresh_path("x.h5")), Error);
}

} // namespace
} // namespace tessera
