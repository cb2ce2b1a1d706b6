// Tests of the trajectory dataset (SPEC §6.3): an exact write -> read round trip, and each kind of damage a
// file can carry rejected with an input_error that names the file and the problem.
#include "tessera/core/error.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/dataset.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string fresh_path(const std::string& name) {
  const fs::path dir = fs::path(TESSERA_BINARY_DIR) / "tests" / "learn" / "tmp";
  fs::create_directories(dir);
  const fs::path path = dir / (name + ".h5");
  fs::remove(path);
  return path.string();
}

// Values that are not exactly representable in decimal, so an exact comparison catches any mix-up.
TrajectoryDataset sample(bool per_time_positions) {
  TrajectoryDataset ds;
  ds.genes = {"Wnt", "Notch-1", "Dll", "Ecad"};
  ds.cell_types = {"epithelial", "mesenchymal"};
  ds.time = {0.0, 10.0 / 3.0, 7.25};
  ds.cell_id = {42, 7, (1ull << 60) + 3};
  ds.cell_type = {1, 0, 1};
  ds.dim = 3;
  ds.positions_per_time = per_time_positions;
  for (std::size_t t = 0; t < ds.n_times(); ++t)
    for (std::size_t i = 0; i < ds.n_cells(); ++i)
      for (std::size_t g = 0; g < ds.n_genes(); ++g)
        ds.expression.push_back(std::sin(1.0 + t * 17.0 + i * 3.0 + g) / 7.0);
  const std::size_t rows = per_time_positions ? ds.n_times() * ds.n_cells() : ds.n_cells();
  for (std::size_t k = 0; k < rows * 3; ++k)
    ds.positions.push_back(k / 3.0 + 0.1);
  ds.ligand_receptor = {{2, 1}};
  ds.prior_grn["*"] = {{0, 3}, {1, 0}};
  ds.prior_grn["epithelial"] = {{2, 3}};
  ds.truth_grn["mesenchymal"] = {{0, 3, -1}, {3, 1, 1}};
  return ds;
}

void expect_equal(const TrajectoryDataset& a, const TrajectoryDataset& b) {
  EXPECT_EQ(a.genes, b.genes);
  EXPECT_EQ(a.cell_types, b.cell_types);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.cell_id, b.cell_id);
  EXPECT_EQ(a.cell_type, b.cell_type);
  EXPECT_EQ(a.expression, b.expression);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.positions_per_time, b.positions_per_time);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.ligand_receptor, b.ligand_receptor);
  EXPECT_EQ(a.prior_grn, b.prior_grn);
  EXPECT_EQ(a.truth_grn, b.truth_grn);
}

TEST(Dataset, RoundTripIsExact) {
  for (bool per_time : {false, true}) {
    const TrajectoryDataset ds = sample(per_time);
    const std::string path = fresh_path(per_time ? "roundtrip-per-time" : "roundtrip-static");
    write_dataset(path, ds);
    expect_equal(read_dataset(path), ds);
  }
}

TEST(Dataset, RefusesToOverwrite) {
  const std::string path = fresh_path("no-overwrite");
  write_dataset(path, sample(false));
  EXPECT_THROW(write_dataset(path, sample(false)), Error);
}

// Writes the dataset without validation (as a foreign writer might) by letting `damage` edit the file.
std::string damaged_file(const std::string& name, const std::function<void(hid_t)>& damage) {
  const std::string path = fresh_path(name);
  write_dataset(path, sample(false));
  {
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    damage(file.get());
  }
  return path;
}

void replace(hid_t root, const std::string& name, const std::vector<double>& values,
             const std::vector<std::int64_t>& dims) {
  H5Ldelete(root, name.c_str(), H5P_DEFAULT);
  h5::write_array(root, name, values.data(), dims);
}
void replace(hid_t root, const std::string& name, const std::vector<std::int32_t>& values,
             const std::vector<std::int64_t>& dims) {
  H5Ldelete(root, name.c_str(), H5P_DEFAULT);
  h5::write_array(root, name, values.data(), dims);
}

void expect_rejected(const std::string& path, const std::string& fragment) {
  try {
    read_dataset(path);
    ADD_FAILURE() << path << ": accepted, expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << message;
  }
}

TEST(Dataset, RejectsWrongFormatAndVersion) {
  expect_rejected(
      damaged_file("format", [](hid_t f) { h5::write_text_attribute(f, "format", "tessera-simulation"); }),
      "not a tessera dataset (format is 'tessera-simulation'");
  expect_rejected(damaged_file("version", [](hid_t f) { h5::write_int_attribute(f, "version", 7); }),
                  "dataset version 7 is not supported");
}

TEST(Dataset, RejectsNonFiniteValues) {
  TrajectoryDataset ds = sample(false);
  std::vector<double> x = ds.expression;
  x[1 * 3 * 4 + 2 * 4 + 1] = std::numeric_limits<double>::quiet_NaN();
  expect_rejected(
      damaged_file("nan",
                   [&](hid_t f) {
                     replace(f, "expression", x, {3, 3, 4});
                   }),
      "/expression is not finite (nan) at time index 1, cell id 1152921504606846979, gene 'Notch-1'");
  std::vector<double> p = ds.positions;
  p[4] = std::numeric_limits<double>::infinity();
  expect_rejected(damaged_file("inf",
                               [&](hid_t f) {
                                 replace(f, "positions", p, {3, 3});
                               }),
                  "/positions holds a non-finite value (inf) at row 1, column 1");
}

TEST(Dataset, RejectsMismatchedShapes) {
  const std::vector<double> x(3 * 5 * 4, 1.0);
  expect_rejected(damaged_file("cells",
                               [&](hid_t f) {
                                 replace(f, "expression", x, {3, 5, 4});
                               }),
                  "/expression has 5 cells but /cell_id has 3");
  const std::vector<double> x2(3 * 3 * 2, 1.0);
  expect_rejected(damaged_file("genes",
                               [&](hid_t f) {
                                 replace(f, "expression", x2, {3, 3, 2});
                               }),
                  "/expression has 2 genes but /genes has 4");
  const std::vector<std::int32_t> types{0, 1};
  expect_rejected(damaged_file("types", [&](hid_t f) { replace(f, "cell_type", types, {2}); }),
                  "/cell_type has 2 cells but /cell_id has 3");
  const std::vector<double> p(4 * 2, 1.0);
  expect_rejected(damaged_file("positions",
                               [&](hid_t f) {
                                 replace(f, "positions", p, {4, 2});
                               }),
                  "/positions has shape [4][2], expected [3][d]");
}

TEST(Dataset, RejectsBadIndices) {
  expect_rejected(damaged_file("type-range",
                               [](hid_t f) {
                                 replace(f, "cell_type", std::vector<std::int32_t>{0, 2, 1}, {3});
                               }),
                  "/cell_type[1] = 2 is outside [0, 2)");
  expect_rejected(damaged_file("lr-range",
                               [](hid_t f) {
                                 replace(f, "ligand_receptor", std::vector<std::int32_t>{2, 4}, {1, 2});
                               }),
                  "/ligand_receptor row 0 names gene index 4, outside [0, 4)");
  expect_rejected(damaged_file("grn-range",
                               [](hid_t f) {
                                 replace(f, "grn/prior/epithelial", std::vector<std::int32_t>{-1, 3}, {1, 2});
                               }),
                  "/grn/prior/epithelial row 0 names gene index -1");
  expect_rejected(damaged_file("grn-type",
                               [](hid_t f) {
                                 h5::Handle prior = h5::open_group(f, "grn/prior");
                                 const std::vector<std::int32_t> e{0, 1};
                                 h5::write_array(prior.get(), "neuron", e.data(), {1, 2});
                               }),
                  "/grn/prior/neuron is neither a cell type of /cell_types nor '*'");
  expect_rejected(
      damaged_file("truth-sign",
                   [](hid_t f) {
                     replace(f, "grn/truth/mesenchymal", std::vector<std::int32_t>{0, 1, 0}, {1, 3});
                   }),
      "/grn/truth/mesenchymal row 0 has sign 0");
}

TEST(Dataset, RejectsTimesAndIds) {
  expect_rejected(damaged_file("unsorted",
                               [](hid_t f) {
                                 replace(f, "time", std::vector<double>{0, 5, 2}, {3});
                               }),
                  "/time is not strictly increasing");
  expect_rejected(damaged_file("repeated",
                               [](hid_t f) {
                                 replace(f, "time", std::vector<double>{0, 5, 5}, {3});
                               }),
                  "(a repeated time)");
  expect_rejected(damaged_file("ids",
                               [](hid_t f) {
                                 H5Ldelete(f, "cell_id", H5P_DEFAULT);
                                 const std::vector<std::uint64_t> ids{42, 7, 42};
                                 h5::write_array(f, "cell_id", ids.data(), {3});
                               }),
                  "/cell_id holds cell id 42 twice (rows 0 and 2)");
}

TEST(Dataset, RejectsMissingAndForeignFiles) {
  expect_rejected(fresh_path("missing"), "no such file");
  expect_rejected(damaged_file("no-expression", [](hid_t f) { H5Ldelete(f, "expression", H5P_DEFAULT); }),
                  "no /expression dataset");
}

} // namespace
} // namespace tessera
