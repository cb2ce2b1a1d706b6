// Tests of the trajectory dataset (SPEC §6.3): an exact write -> read round trip (with the optional cell
// names, annotations and observations), /time's units, and each kind of damage a file can carry rejected
// with an input_error that names the file and the problem.
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
  EXPECT_EQ(a.cell_name, b.cell_name);
  EXPECT_EQ(a.source_time_unit, b.source_time_unit);
  EXPECT_EQ(a.observed, b.observed);
  ASSERT_EQ(a.annotations.size(), b.annotations.size());
  for (std::size_t k = 0; k < a.annotations.size(); ++k) {
    EXPECT_EQ(a.annotations[k].name, b.annotations[k].name);
    EXPECT_EQ(a.annotations[k].text, b.annotations[k].text);
    EXPECT_EQ(a.annotations[k].categories, b.annotations[k].categories);
    EXPECT_EQ(a.annotations[k].codes, b.annotations[k].codes);
    ASSERT_EQ(a.annotations[k].numbers.size(), b.annotations[k].numbers.size());
    for (std::size_t r = 0; r < a.annotations[k].numbers.size(); ++r) // NaN marks a missing value
      EXPECT_TRUE(a.annotations[k].numbers[r] == b.annotations[k].numbers[r] ||
                  (std::isnan(a.annotations[k].numbers[r]) && std::isnan(b.annotations[k].numbers[r])));
  }
}

// The sample with everything optional: cell names, the source's time unit, annotations (text with a
// missing value, numbers with NaN; stored in name order, so given so here), and a prediction's observations.
TrajectoryDataset annotated_sample() {
  TrajectoryDataset ds = sample(false);
  ds.cell_name = {"AAACGT-1", "TTGCA-2", "cell 3"};
  ds.source_time_unit = "h";
  CellAnnotation batch;
  batch.name = "batch";
  batch.text = true;
  batch.categories = {"b1", "b2"};
  batch.codes = {0, 1, 0, 0, 1, -1, 1, 1, 0};
  CellAnnotation score;
  score.name = "score";
  score.numbers = {0.1, 0.2, std::numeric_limits<double>::quiet_NaN(), 1, 2, 3, 1.0 / 3, 5, 6};
  ds.annotations = {batch, score};
  for (double x : ds.expression)
    ds.observed.push_back(x + 1.0 / 7.0);
  return ds;
}

TEST(Dataset, RoundTripIsExact) {
  for (bool per_time : {false, true}) {
    const TrajectoryDataset ds = sample(per_time);
    const std::string path = fresh_path(per_time ? "roundtrip-per-time" : "roundtrip-static");
    write_dataset(path, ds);
    expect_equal(read_dataset(path), ds);
  }
}

TEST(Dataset, RoundTripKeepsNamesAnnotationsAndObservations) {
  const TrajectoryDataset ds = annotated_sample();
  const std::string path = fresh_path("roundtrip-annotated");
  write_dataset(path, ds);
  expect_equal(read_dataset(path), ds);
  // /time is stored in minutes with its unit; the source's unit is kept for exporting it back.
  h5::File file = h5::File::open_read(path);
  h5::Handle time = h5::open_object(file.get(), "time");
  EXPECT_EQ(h5::read_text_attribute(time.get(), "units"), "min");
  EXPECT_EQ(h5::read_text_attribute(time.get(), "source_units"), "h");
  // Positions carry their unit too (issue 8, item 8).
  EXPECT_EQ(h5::read_text_attribute(h5::open_object(file.get(), "positions").get(), "units"), "um");
}

// A foreign writer may store /time in another unit: it is read as minutes; without `units`, as minutes.
TEST(Dataset, TimeUnitsAreConvertedToMinutes) {
  const std::string path = fresh_path("time-in-hours");
  write_dataset(path, sample(false));
  {
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    h5::Handle time = h5::open_object(file.get(), "time");
    h5::write_text_attribute(time.get(), "units", "h");
  }
  const std::vector<double> expected = {0.0, 10.0 / 3.0 * 60.0, 7.25 * 60.0};
  EXPECT_EQ(read_dataset(path).time, expected);
  const std::string no_units = fresh_path("time-no-units");
  write_dataset(no_units, sample(false));
  {
    h5::Handle file(H5Fopen(no_units.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    h5::Handle time = h5::open_object(file.get(), "time");
    H5Adelete(time.get(), "units");
  }
  EXPECT_EQ(read_dataset(no_units).time, sample(false).time);
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
      damaged_file("format", [](hid_t f) { h5::write_text_attribute(f, "format", "tessera-model"); }),
      "not a tessera dataset (root attribute format = 'tessera-model', expected format = 'tessera-dataset')");
  // A simulation's output is refused with the deck key that records a dataset.
  expect_rejected(damaged_file("simulation",
                               [](hid_t f) { h5::write_text_attribute(f, "format", "tessera-simulation"); }),
                  "this is a simulation output (tessera.h5), not a trajectory dataset; run with "
                  "`output.dataset: true` to "
                  "record a dataset (dataset.h5)");
  expect_rejected(damaged_file("version", [](hid_t f) { h5::write_int_attribute(f, "version", 7); }),
                  "root attribute version = 7 (expected version = 1, the tessera-dataset version");
  expect_rejected(damaged_file("no-version", [](hid_t f) { H5Adelete(f, "version"); }),
                  "no root attribute 'version' (expected version = 1");
  expect_rejected(damaged_file("text-version", [](hid_t f) { h5::write_text_attribute(f, "version", "1"); }),
                  "root attribute 'version' is not an integer");
  expect_rejected(damaged_file("no-format", [](hid_t f) { H5Adelete(f, "format"); }),
                  "not a tessera dataset (no root attribute 'format'");
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

TEST(Dataset, RejectsBadUnitsNamesAndAnnotations) {
  expect_rejected(damaged_file("bad-units",
                               [](hid_t f) {
                                 h5::Handle time = h5::open_object(f, "time");
                                 h5::write_text_attribute(time.get(), "units", "fortnight");
                               }),
                  "/time: attribute units: unknown time unit 'fortnight'");
  expect_rejected(damaged_file("names-repeated",
                               [](hid_t f) {
                                 h5::write_strings(f, "cell_name", {"a", "b", "a"});
                               }),
                  "/cell_name names 'a' twice");
  expect_rejected(damaged_file("names-short",
                               [](hid_t f) {
                                 h5::write_strings(f, "cell_name", {"a", "b"});
                               }),
                  "/cell_name has shape [2], expected [3]");
  expect_rejected(damaged_file("obs-shape",
                               [](hid_t f) {
                                 h5::Handle obs = h5::create_group(f, "obs");
                                 const std::vector<double> v(4, 1.0);
                                 h5::write_array(obs.get(), "score", v.data(), {4});
                               }),
                  "/obs/score has shape [4], expected [3][3] (T_obs x N)");
  expect_rejected(damaged_file("obs-code",
                               [](hid_t f) {
                                 h5::Handle obs = h5::create_group(f, "obs");
                                 h5::Handle batch = h5::create_group(obs.get(), "batch");
                                 h5::write_strings(batch.get(), "categories", {"b1"});
                                 const std::vector<std::int32_t> codes{0, 0, 0, 0, 1, 0, 0, 0, 0};
                                 h5::write_array(batch.get(), "codes", codes.data(), {3, 3});
                               }),
                  "/obs/batch/codes[4] = 1 is outside [-1, 1)");
  // Errors that name a cell quote its name too.
  TrajectoryDataset ds = sample(false);
  ds.cell_name = {"AAACGT-1", "TTGCA-2", "cell 3"};
  ds.expression[4 + 1] = std::numeric_limits<double>::infinity();
  try {
    validate_dataset(ds, "named.h5");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cell id 7 ('TTGCA-2'), gene 'Notch-1'"), std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace tessera
