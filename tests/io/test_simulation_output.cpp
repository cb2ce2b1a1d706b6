// Tests of the HDF5 adapter, the simulation output writer (tessera.h5 + tessera.xmf) and its readers, at 1, 2
// and 4 ranks: uneven and empty slices round-trip exactly, provenance is kept, and errors never hang.
#include "tessera/core/error.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/io/simulation_reader.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

namespace tessera {
namespace {

namespace fs = std::filesystem;

int world_rank() {
  return mpi::rank(MPI_COMM_WORLD);
}
int world_size() {
  return mpi::size(MPI_COMM_WORLD);
}

// A fresh, empty directory per test and rank count, so ctest can run the rank counts side by side.
std::string fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::path(TESSERA_BINARY_DIR) / "tests" / "io" / "tmp" / (name + "-" + std::to_string(world_size()));
  if (world_rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir.string();
}

const std::vector<std::string> gene_names{"Wnt", "Notch-1", "a<b&\"c\"", "type"};

RunProvenance provenance() {
  RunProvenance p;
  p.deck_file = "inputs/tissue é.yaml";
  // Larger than the 64 KiB an HDF5 attribute can hold inline, with quotes, newlines and UTF-8.
  std::ostringstream deck;
  deck << "# résumé: \"quoted\" and 'single' µm\n";
  for (int i = 0; i < 4000; ++i)
    deck << "key_" << i << ": [" << i << ", " << i * 0.5 << "]\n";
  p.resolved_deck = deck.str();
  p.kokkos_backend = "Serial";
  p.command = "run";
  p.invocation.command_line = "tessera run 'deck é.yaml' -s 'domain.hi=[1,2]'";
  p.invocation.host = "node-7";
  p.invocation.slurm_job_id = "4242";
  p.gene_names = gene_names;
  p.type_names = {"epithelial", "mesenchymal", "stem"};
  return p;
}

// Cells of `rank` at `step`: rank 1 of several owns none; every value depends on rank, index, step and field,
// and most are not exactly representable in decimal, so an exact comparison catches any mix-up.
std::int64_t cells_on(int rank, int size) {
  return size > 1 && rank == 1 ? 0 : 3 + 2 * rank;
}

CellSnapshot snapshot_of(int rank, int size, int dim, long long step) {
  CellSnapshot s;
  s.dim = dim;
  s.n_genes = static_cast<int>(gene_names.size());
  const std::int64_t n = cells_on(rank, size);
  for (std::int64_t i = 0; i < n; ++i) {
    s.id.push_back((static_cast<std::uint64_t>(rank) << 32) + static_cast<std::uint64_t>(i) + (1ull << 60));
    s.type.push_back(static_cast<std::int32_t>((i + rank) % 3));
    for (int d = 0; d < dim; ++d)
      s.position.push_back(rank * 100.0 + i / 3.0 + d * 0.1 + step * 1e-3);
    s.radius.push_back(5.0 + i / 7.0 + rank);
    for (int g = 0; g < s.n_genes; ++g)
      s.genes.push_back(std::exp(-0.1 * g) * (i + 1) / (rank + 1.0) + step);
    s.cycle.push_back(step * 0.5 + i / 11.0);
  }
  return s;
}

// All ranks' cells in rank order: what the file should hold.
CellSnapshot global_snapshot(int size, int dim, long long step) {
  CellSnapshot all;
  all.dim = dim;
  all.n_genes = static_cast<int>(gene_names.size());
  for (int r = 0; r < size; ++r) {
    const CellSnapshot s = snapshot_of(r, size, dim, step);
    all.id.insert(all.id.end(), s.id.begin(), s.id.end());
    all.type.insert(all.type.end(), s.type.begin(), s.type.end());
    all.position.insert(all.position.end(), s.position.begin(), s.position.end());
    all.radius.insert(all.radius.end(), s.radius.begin(), s.radius.end());
    all.genes.insert(all.genes.end(), s.genes.begin(), s.genes.end());
    all.cycle.insert(all.cycle.end(), s.cycle.begin(), s.cycle.end());
  }
  return all;
}

// Rows [offset, offset + count) of `all`.
CellSnapshot rows_of(const CellSnapshot& all, std::size_t offset, std::size_t count) {
  CellSnapshot s;
  s.dim = all.dim;
  s.n_genes = all.n_genes;
  auto slice = [&](const auto& v, std::size_t width) {
    using V = std::decay_t<decltype(v)>;
    return V(v.begin() + static_cast<long>(offset * width),
             v.begin() + static_cast<long>((offset + count) * width));
  };
  s.id = slice(all.id, 1);
  s.type = slice(all.type, 1);
  s.position = slice(all.position, static_cast<std::size_t>(all.dim));
  s.radius = slice(all.radius, 1);
  s.genes = slice(all.genes, static_cast<std::size_t>(all.n_genes));
  s.cycle = slice(all.cycle, 1);
  return s;
}

// Exact equality: the file must give back the very bits that were written.
void expect_same(const CellSnapshot& expected, const CellSnapshot& actual) {
  EXPECT_EQ(expected.dim, actual.dim);
  EXPECT_EQ(expected.n_genes, actual.n_genes);
  EXPECT_EQ(expected.id, actual.id);
  EXPECT_EQ(expected.type, actual.type);
  EXPECT_EQ(expected.position, actual.position);
  EXPECT_EQ(expected.radius, actual.radius);
  EXPECT_EQ(expected.genes, actual.genes);
  EXPECT_EQ(expected.cycle, actual.cycle);
}

// Steps whose decimal names sort differently from their numbers ("100" < "20").
const long long first_step = 20;
const long long second_step = 100;
const double first_time = 10.0 / 3.0;
const double second_time = 50.25;

std::string write_run(const std::string& name, int dim) {
  std::string dir = fresh_dir(name);
  SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), dim);
  output.write_step(first_step, first_time, snapshot_of(world_rank(), world_size(), dim, first_step));
  output.write_step(second_step, second_time, snapshot_of(world_rank(), world_size(), dim, second_step));
  output.finish();
  return dir;
}

// Body runs on rank 0 only; a throw there reaches every rank instead of leaving them in the next collective.
template <class Body>
void on_rank0(Body&& body) {
  mpi::agree(MPI_COMM_WORLD, [&] {
    if (world_rank() == 0) body();
  });
}

class SimulationOutputRoundTrip : public ::testing::TestWithParam<int> {};

TEST_P(SimulationOutputRoundTrip, EveryFieldReadsBackExactly) {
  const int dim = GetParam();
  const std::string dir = write_run("roundtrip-" + std::to_string(dim) + "d", dim);
  const std::string path = dir + "/tessera.h5";
  const int size = world_size();

  on_rank0([&] {
    EXPECT_EQ(list_steps(path), (std::vector<long long>{first_step, second_step}));
    EXPECT_EQ(list_steps(dir), list_steps(path)); // a run directory names its tessera.h5
    EXPECT_EQ(step_time(path, first_step), first_time);
    EXPECT_EQ(step_time(path, second_step), second_time);
    for (const long long step : {first_step, second_step}) {
      SCOPED_TRACE("step " + std::to_string(step));
      expect_same(global_snapshot(size, dim, step), read_step(path, step));
    }
  });

  for (const long long step : {first_step, second_step}) {
    SCOPED_TRACE("slice of step " + std::to_string(step));
    const CellSnapshot all = global_snapshot(size, dim, step);
    const std::size_t n = all.size();
    const auto rank = static_cast<std::size_t>(world_rank());
    const std::size_t base = n / static_cast<std::size_t>(size);
    const std::size_t extra = n % static_cast<std::size_t>(size);
    const std::size_t count = base + (rank < extra ? 1 : 0);
    const std::size_t offset = rank * base + std::min(rank, extra);
    const CellSnapshot mine = read_step_slice(MPI_COMM_WORLD, path, step);
    expect_same(rows_of(all, offset, count), mine);
    EXPECT_EQ(mpi::sum(MPI_COMM_WORLD, static_cast<std::int64_t>(mine.size())), static_cast<std::int64_t>(n));
  }
}

INSTANTIATE_TEST_SUITE_P(Dimensions, SimulationOutputRoundTrip, ::testing::Values(2, 3),
                         [](const auto& param_info) { return std::to_string(param_info.param) + "D"; });

TEST(SimulationOutput, RecordsProvenanceAndStepAttributes) {
  const std::string dir = write_run("provenance", 3);
  const std::string path = dir + "/tessera.h5";
  on_rank0([&] {
    const SimulationInfo info = read_simulation_info(path);
    const RunProvenance expected = provenance();
    EXPECT_EQ(info.provenance.resolved_deck, expected.resolved_deck);
    EXPECT_EQ(info.provenance.deck_file, expected.deck_file);
    EXPECT_EQ(info.provenance.kokkos_backend, expected.kokkos_backend);
    EXPECT_EQ(info.provenance.command, expected.command);
    EXPECT_EQ(info.provenance.invocation.command_line, expected.invocation.command_line);
    EXPECT_EQ(info.provenance.invocation.host, expected.invocation.host);
    EXPECT_EQ(info.provenance.invocation.slurm_job_id, "4242");
    EXPECT_EQ(info.provenance.invocation.slurm_array_task_id, ""); // not in a job array: not written
    EXPECT_TRUE(info.complete);
    EXPECT_EQ(info.last_step, second_step);
    EXPECT_EQ(info.last_time, second_time);
    EXPECT_EQ(info.provenance.gene_names, expected.gene_names);
    EXPECT_EQ(info.provenance.type_names, expected.type_names);
    EXPECT_EQ(read_provenance(path).resolved_deck, expected.resolved_deck);
    EXPECT_EQ(info.dim, 3);
    EXPECT_EQ(info.ranks, world_size());
    EXPECT_EQ(info.version, version());
    EXPECT_EQ(info.git_hash, git_hash());
    EXPECT_EQ(info.created.size(), std::string("2026-01-01T00:00:00Z").size());

    const h5::File file = h5::File::open_read(path);
    EXPECT_EQ(h5::read_text_attribute(file.get(), "format"), "tessera-simulation");
    EXPECT_EQ(h5::read_int_attribute(file.get(), "format_version"), 1);
    std::int64_t total = 0;
    for (int r = 0; r < world_size(); ++r)
      total += cells_on(r, world_size());
    const h5::Handle step = h5::open_group(file.get(), "steps/" + std::to_string(second_step));
    EXPECT_EQ(h5::read_int_attribute(step.get(), "cells"), total);
    EXPECT_EQ(h5::read_real_attribute(step.get(), "time"), second_time);
    EXPECT_EQ(h5::shape(step.get(), "position"), (std::vector<std::int64_t>{total, 3}));
    EXPECT_EQ(h5::shape(step.get(), "genes"), (std::vector<std::int64_t>{total, 4}));
    EXPECT_EQ(h5::shape(step.get(), "id"), (std::vector<std::int64_t>{total}));
    // Units (issue 8, item 8): of the datasets that have one, and of the steps' time attribute.
    EXPECT_EQ(h5::read_text_attribute(file.get(), "time_units"), "min");
    for (const auto& [field, units] :
         {std::pair<std::string, std::string>{"position", "um"}, {"radius", "um"}, {"cycle", "min"}})
      EXPECT_EQ(h5::read_text_attribute(h5::open_object(step.get(), field).get(), "units"), units) << field;
    EXPECT_EQ(h5::read_text_attribute(file.get(), "command"), provenance().invocation.command_line);
    EXPECT_EQ(h5::read_text_attribute(file.get(), "subcommand"), "run");
    EXPECT_FALSE(h5::has_attribute(file.get(), "slurm_array_task_id"));
  });
}

// A run that stops early (an error, a kill) leaves tessera.h5 marked incomplete, with the last step it
// wrote (issue 8, item 18): readers can tell it from a finished run, whose root attributes are the same.
TEST(SimulationOutput, AnUnfinishedOutputIsMarkedIncomplete) {
  const std::string dir = fresh_dir("unfinished");
  const std::string path = dir + "/tessera.h5";
  {
    SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
    output.write_step(first_step, first_time, snapshot_of(world_rank(), world_size(), 2, first_step));
    output.write_step(second_step, second_time, snapshot_of(world_rank(), world_size(), 2, second_step));
    output.close(); // without finish(): as when the run fails
  }
  on_rank0([&] {
    const SimulationInfo info = read_simulation_info(path);
    EXPECT_FALSE(info.complete);
    EXPECT_EQ(info.last_step, second_step);
    EXPECT_EQ(info.last_time, second_time);
    const h5::File file = h5::File::open_read(path);
    EXPECT_EQ(h5::read_int_attribute(file.get(), "complete"), 0);
  });
}

TEST(SimulationOutput, AllRanksEmptyStillWrites) {
  const std::string dir = fresh_dir("empty");
  {
    SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
    CellSnapshot none;
    none.dim = 2;
    none.n_genes = static_cast<int>(gene_names.size());
    output.write_step(0, 0.0, none);
  }
  on_rank0([&] {
    const CellSnapshot read = read_step(dir + "/tessera.h5", 0);
    EXPECT_EQ(read.size(), 0u);
    EXPECT_EQ(read.dim, 2);
    EXPECT_EQ(read.n_genes, 4);
  });
  EXPECT_EQ(read_step_slice(MPI_COMM_WORLD, dir, 0).size(), 0u);
}

TEST(SimulationOutput, XdmfListsEveryStepWithRelativePaths) {
  const std::string dir = fresh_dir("xdmf");
  SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
  auto xmf_text = [&] {
    std::string text;
    on_rank0([&] {
      std::ifstream in(output.xmf_path());
      ASSERT_TRUE(in) << output.xmf_path();
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    });
    return mpi::broadcast(MPI_COMM_WORLD, text);
  };
  auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
      ++n;
    return n;
  };
  output.write_step(second_step, second_time, snapshot_of(world_rank(), world_size(), 2, second_step));
  std::string text = xmf_text();
  EXPECT_EQ(count(text, "<Time "), 1u);
  output.write_step(first_step, first_time, snapshot_of(world_rank(), world_size(), 2, first_step));
  text = xmf_text();
  EXPECT_EQ(count(text, "<Time "), 2u);
  EXPECT_EQ(count(text, "TopologyType=\"Polyvertex\""), 2u);
  EXPECT_EQ(count(text, "GeometryType=\"XY\""), 2u);
  // Listed by step number, with paths relative to the run directory so it can be moved.
  EXPECT_LT(text.find("tessera.h5:/steps/20/position"), text.find("tessera.h5:/steps/100/position"));
  EXPECT_EQ(text.find(dir), std::string::npos);
  // Gene names are XML-escaped, and a gene named like a built-in field gets a distinct attribute name.
  EXPECT_NE(text.find("Name=\"a&lt;b&amp;&quot;c&quot;\""), std::string::npos);
  EXPECT_NE(text.find("Name=\"gene_type\""), std::string::npos);
  // What ParaView's Xdmf3 readers need (tests/io/check_paraview.py opens it in ParaView): explicit Polyvertex
  // connectivity, one 1-D dataset per gene, and the type names as field data.
  EXPECT_EQ(count(text, "tessera.h5:/vertex_index</DataItem>"), 2u);
  EXPECT_EQ(count(text, "/gene_columns/"), 2 * gene_names.size());
  EXPECT_EQ(count(text, "tessera.h5:/steps/20/gene_columns/3</DataItem>"), 1u);
  EXPECT_EQ(count(text, "Name=\"type_name:mesenchymal\" AttributeType=\"Scalar\" Center=\"Grid\""), 2u);
  on_rank0([&] { EXPECT_FALSE(fs::exists(output.xmf_path() + ".tmp")); });
}

TEST(SimulationOutput, WithoutGeneColumnsOnlyTheGeneMatrixIsWritten) {
  const std::string dir = fresh_dir("no-gene-columns");
  {
    SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 3, /*gene_columns=*/false);
    output.write_step(first_step, first_time, snapshot_of(world_rank(), world_size(), 3, first_step));
    output.close();
  }
  on_rank0([&] {
    const h5::File file = h5::File::open_read(dir + "/tessera.h5");
    const std::string step = "steps/" + std::to_string(first_step);
    EXPECT_TRUE(h5::exists(file.get(), step + "/genes"));
    EXPECT_FALSE(h5::exists(file.get(), step + "/gene_columns"));
    std::ifstream in(dir + "/tessera.xmf");
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().find("gene_columns"), std::string::npos);
    EXPECT_EQ(text.str().find("Name=\"Wnt\""), std::string::npos);
    EXPECT_NE(text.str().find("tessera.h5:/vertex_index"), std::string::npos); // still cells to draw
  });
}

TEST(SimulationOutput, WritingAStepTwiceIsAnError) {
  const std::string dir = fresh_dir("twice");
  SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
  const CellSnapshot mine = snapshot_of(world_rank(), world_size(), 2, 0);
  output.write_step(0, 0.0, mine);
  try {
    output.write_step(0, 1.0, mine);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find("already written"), std::string::npos) << e.what();
  }
  output.write_step(1, 1.0, mine); // the writer is still usable
}

TEST(SimulationOutput, ABadSnapshotOnOneRankFailsOnAll) {
  const std::string dir = fresh_dir("bad-snapshot");
  SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
  CellSnapshot mine = snapshot_of(world_rank(), world_size(), 2, 0);
  if (world_rank() == world_size() - 1) mine.dim = 3; // the last rank has the wrong shape
  try {
    output.write_step(0, 0.0, mine);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::runtime);
    EXPECT_TRUE(e.agreed());
    EXPECT_NE(std::string(e.what()).find("3-D"), std::string::npos) << e.what();
  }
}

// ---- Errors
// -------------------------------------------------------------------------------------------------

// Runs `body`, which must throw an input_error whose message contains every piece of `expected`.
template <class Body>
void expect_input_error(Body&& body, const std::vector<std::string>& expected) {
  try {
    body();
    ADD_FAILURE() << "expected an input error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    for (const std::string& piece : expected)
      EXPECT_NE(std::string(e.what()).find(piece), std::string::npos)
          << "'" << piece << "' not in: " << e.what();
  }
}

TEST(SimulationOutputErrors, CreatingOverAnExistingFileIsAnInputError) {
  const std::string dir = fresh_dir("exists");
  { SimulationOutput first(MPI_COMM_WORLD, dir, provenance(), 2); }
  const std::string path = dir + "/tessera.h5";
  expect_input_error([&] { SimulationOutput second(MPI_COMM_WORLD, dir, provenance(), 2); },
                     {path, "exists"});
  // The first run's file is untouched.
  on_rank0([&] { EXPECT_EQ(read_provenance(path).command, "run"); });
}

TEST(SimulationOutputErrors, AnyExistingFileIsKeptEvenIfNotHdf5) {
  // Rank 0 decides whether the file exists, and every rank gets its answer before H5Fcreate.
  const std::string dir = fresh_dir("exists-rank0");
  on_rank0([&] { std::ofstream(dir + "/tessera.h5") << "not hdf5"; });
  expect_input_error([&] { SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 3); },
                     {dir + "/tessera.h5"});
}

TEST(SimulationOutputErrors, ReadingAMissingFileIsAnInputError) {
  const std::string missing = fresh_dir("missing") + "/nothing.h5";
  expect_input_error([&] { read_step(missing, 0); }, {missing, "no such file"});
  expect_input_error([&] { list_steps(missing); }, {missing});
  expect_input_error([&] { read_provenance(missing); }, {missing});
  expect_input_error([&] { read_step_slice(MPI_COMM_WORLD, missing, 0); }, {missing});
  expect_input_error([&] { h5::File::open_read(missing); }, {missing});
}

TEST(SimulationOutputErrors, ReadingAMissingStepIsAnInputError) {
  const std::string dir = write_run("missing-step", 2);
  const std::string path = dir + "/tessera.h5";
  expect_input_error([&] { read_step(path, 7); }, {path, "step 7", "20, 100"});
  expect_input_error([&] { step_time(path, 7); }, {path, "step 7"});
  expect_input_error([&] { read_step_slice(MPI_COMM_WORLD, path, 7); }, {path, "step 7"});
}

TEST(SimulationOutputErrors, ANonTesseraFileIsAnInputError) {
  const std::string dir = fresh_dir("foreign");
  const std::string other = dir + "/other.h5";
  const std::string text = dir + "/text.h5";
  on_rank0([&] {
    h5::File file = h5::File::create(other);
    h5::write_text_attribute(file.get(), "format", "tessera-dataset");
    h5::Handle steps = h5::create_group(file.get(), "steps");
    steps.reset();
    file.close();
    std::ofstream(text) << "id,type\n1,0\n";
  });
  expect_input_error([&] { read_step(other, 0); },
                     {other, "not a tessera simulation output", "tessera-dataset"});
  expect_input_error([&] { list_steps(other); }, {other, "not a tessera simulation output"});
  expect_input_error([&] { read_step_slice(MPI_COMM_WORLD, other, 0); }, {other, "not a tessera simulation"});
  expect_input_error([&] { read_step(text, 0); }, {text, "not an HDF5 file"});
  expect_input_error([&] { read_step_slice(MPI_COMM_WORLD, text, 0); }, {text, "not an HDF5 file"});
  expect_input_error([&] { read_step(dir, 0); }, {dir, "tessera.h5", "no such file"});
}

// A tessera.h5 of another format version (a later tessera's), or with none, is refused by every reader
// (issue 8, item 3): initial cells, predict, restart all read through them.
TEST(SimulationOutputErrors, AnotherFormatVersionIsAnInputError) {
  const std::string dir = write_run("format-version", 2);
  const std::string path = dir + "/tessera.h5";
  auto edit = [&](const std::function<void(hid_t)>& change) {
    on_rank0([&] {
      h5::File file = h5::File::open_append(path);
      change(file.get());
      file.close();
    });
  };
  edit([](hid_t root) { h5::write_int_attribute(root, "format_version", 2); });
  const std::string expected =
      "expected format_version = 1, the tessera-simulation version this tessera reads";
  on_rank0([&] {
    expect_input_error([&] { list_steps(path); }, {path, "root attribute format_version = 2", expected});
    expect_input_error([&] { read_step(path, first_step); }, {path, "format_version = 2"});
    expect_input_error([&] { read_simulation_info(path); }, {path, "format_version = 2"});
  });
  expect_input_error([&] { read_step_slice(MPI_COMM_WORLD, path, first_step); },
                     {path, "format_version = 2"});
  edit([](hid_t root) { H5Adelete(root, "format_version"); });
  on_rank0([&] {
    expect_input_error([&] { list_steps(path); }, {path, "no root attribute 'format_version'", expected});
  });
}

// ---- The adapter itself
// -------------------------------------------------------------------------------------

// A read that fails is the file's fault (SPEC §5): an input error naming the file, what was read, and
// HDF5's reason.
TEST(Hdf5Adapter, FailedReadsNameTheFileWhatAndHdf5sReason) {
  const std::string dir = fresh_dir("adapter");
  on_rank0([&] {
    h5::File file = h5::File::create(dir + "/adapter.h5");
    try {
      h5::open_group(file.get(), "absent");
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input);
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(dir + "/adapter.h5", 0), 0u) << message;
      EXPECT_NE(message.find("cannot read group 'absent'"), std::string::npos) << message;
      EXPECT_NE(message.find("H5Gopen2"), std::string::npos) << "no HDF5 stack in: " << message;
    }
    expect_input_error([&] { h5::read_int_attribute(file.get(), "absent"); }, {"adapter.h5", "absent"});
    h5::write_text_attribute(file.get(), "text", "x");
    expect_input_error([&] { h5::read_int_attribute(file.get(), "text"); }, {"'text' is not an integer"});
  });
}

TEST(Hdf5Adapter, HandlesAreMoveOnlyAndReleaseOnce) {
  const std::string dir = fresh_dir("handles");
  on_rank0([&] {
    h5::File file = h5::File::create(dir + "/handles.h5");
    h5::Handle a = h5::create_group(file.get(), "a");
    const hid_t id = a.get();
    h5::Handle b(std::move(a));
    EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): a moved-from handle must be empty
    EXPECT_EQ(b.get(), id);
    h5::Handle c;
    c = std::move(b);
    EXPECT_EQ(c.get(), id);
    EXPECT_GT(H5Iis_valid(id), 0);
    c.reset();
    EXPECT_FALSE(c.valid());
    EXPECT_LE(H5Iis_valid(id), 0);
    EXPECT_TRUE(h5::exists(file.get(), "a"));
    EXPECT_FALSE(h5::exists(file.get(), "a/b/c"));
    file.close();
    EXPECT_FALSE(file.valid());
  });
}

TEST(Hdf5Adapter, RowSlicesAndStringsRoundTripInParallel) {
  const std::string dir = fresh_dir("rows");
  const std::string path = dir + "/rows.h5";
  const int rank = world_rank();
  const std::int64_t count = rank % 2 == 0 ? rank + 1 : 0;
  std::int64_t total = 0;
  for (int r = 0; r < world_size(); ++r)
    total += r % 2 == 0 ? r + 1 : 0;
  const std::int64_t offset = mpi::exclusive_prefix_sum(MPI_COMM_WORLD, count);
  std::vector<std::int64_t> mine;
  for (std::int64_t i = 0; i < count; ++i)
    mine.insert(mine.end(), {offset + i, -(offset + i)});
  const std::vector<std::string> names{"", "ü", "three words here"};
  {
    h5::File file = h5::File::create_parallel(MPI_COMM_WORLD, path);
    h5::write_rows(file.get(), "pairs", mine.data(), h5::Rows{offset, count, total}, 2);
    h5::write_strings(file.get(), "names", names);
    h5::write_strings(file.get(), "none", {});
    file.close();
  }
  h5::File file = h5::File::open_read_parallel(MPI_COMM_WORLD, path);
  EXPECT_EQ(h5::read_rows<std::int64_t>(file.get(), "pairs", offset, count), mine);
  EXPECT_EQ(h5::read_strings(file.get(), "names"), names);
  EXPECT_TRUE(h5::read_strings(file.get(), "none").empty());
  expect_input_error([&] { h5::read_rows<double>(file.get(), "pairs", 0, 1); }, {"pairs", "floating point"});
  expect_input_error([&] { h5::read_rows<std::int64_t>(file.get(), "pairs", total, 1); }, {"pairs", "rows"});
}

// Writes the runs that check_xdmf.py and h5dump inspect (tests/io/CMakeLists.txt): only when asked to, so the
// ordinary runs of this test at several rank counts never write the same folder at once.
TEST(SimulationOutputSample, WritesRunsForExternalCheckers) {
  const char* folder = std::getenv("TESSERA_IO_SAMPLE_DIR");
  if (folder == nullptr || *folder == '\0') GTEST_SKIP() << "TESSERA_IO_SAMPLE_DIR not set";
  for (const int dim : {2, 3}) {
    const std::string dir = std::string(folder) + "/run-" + std::to_string(dim) + "d";
    if (world_rank() == 0) fs::remove_all(dir);
    MPI_Barrier(MPI_COMM_WORLD);
    SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), dim);
    // Steps 0, 10, ..., 120 as a run writes them: more than 8 (HDF5 then stores the links of /steps in a
    // dense, indexed form) and with names whose order differs from their numbers' ("100" < "20").
    for (long long step = 0; step <= 120; step += 10) {
      CellSnapshot cells = snapshot_of(world_rank(), world_size(), dim, step);
      if (step == 50) { // a step without cells must still be valid XDMF
        cells = CellSnapshot{};
        cells.dim = dim;
        cells.n_genes = static_cast<int>(gene_names.size());
      }
      if (step == 20) cells = rows_of(cells, 0, cells.size() / 2); // fewer cells than the largest step
      output.write_step(step, step * 0.5 + (step == 30 ? 1.0 / 3.0 : 0.0), cells);
    }
  }
}

} // namespace
} // namespace tessera
