// The initial tissue (SPEC §1.1, §4.3, §6.2) at 1, 2 and 4 ranks: counts by density, uniform placement in a
// sphere, rank-independent cells in every placement mode, CSV and HDF5 round trips, and file errors.
#include "tessera/core/error.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/tissue/cell_file.hpp"
#include "tessera/tissue/initial_tissue.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

namespace tessera {
namespace {

namespace fs = std::filesystem;

int world_rank() {
  return mpi::rank(MPI_COMM_WORLD);
}
int world_size() {
  return mpi::size(MPI_COMM_WORLD);
}

// A fresh directory per test and rank count (ctest runs the rank counts side by side); `per_rank` gives each
// rank its own, for files no other rank reads. Collective.
std::string fresh_dir(const std::string& name, bool per_rank = false) {
  fs::path dir = fs::path(TESSERA_BINARY_DIR) / "tests" / "tissue" / "tmp" /
                 (name + "-np" + std::to_string(world_size()));
  if (world_rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (per_rank) {
    dir /= "rank" + std::to_string(world_rank());
    fs::create_directories(dir);
  }
  return dir.string();
}

const std::vector<std::string> genes{"A", "B", "C", "D", "E"};
const std::vector<std::string> types{"epi", "mes", "stem"};

// A deck whose `cells.init` map is `init` (YAML flow-map contents); 2-D box [0, 400] x [0, 300], 3-D box
// [0, 200] x [0, 160] x [0, 120].
std::string deck_text(int dim, const std::string& init, const std::string& cells_extra = "") {
  std::ostringstream d;
  if (dim == 2)
    d << "domain: {dim: 2, lo: [0, 0], hi: [400 um, 300 um], boundary: reflecting}\n";
  else
    d << "domain: {dim: 3, lo: [0, 0, 0], hi: [200, 160, 120], boundary: periodic}\n";
  d << "cells:\n"
    << "  types: [epi, mes, stem]\n"
    << "  radius: [5, 6, 4]\n"
    << "  fractions: [0.5, 0.3, 0.2]\n"
    << cells_extra << "  init: {" << init << "}\n"
    << "grn:\n"
    << "  genes: [A, B, C, D, E]\n"
    << "  edges:\n"
    << "    - {source: A, target: B, sign: activation}\n"
    << "time: {dt: 1 min, end: 10 min}\n"
    << "random: {seed: 17}\n";
  return d.str();
}

// What the initial tissue needs from a deck, read by the modules' own functions.
struct TissueDeck {
  Domain domain;
  CellTypes types;
  GeneNetwork network;
  InitialTissue init;
  std::uint64_t seed = 0;
};

// `directory` is the deck's folder: relative `init.file` names resolve against it.
TissueDeck read_setup(const std::string& text, const std::string& directory = ".") {
  const Deck deck = Deck::parse(text, (fs::path(directory) / "deck.yaml").string(), {}, all_key_tables());
  TissueDeck s;
  s.domain = read_domain(deck);
  s.types = read_cell_types(deck);
  s.network = read_gene_network(deck, s.types.names);
  s.init = read_initial_tissue(deck, s.domain, s.types, s.network.genes);
  s.seed = read_seed(deck);
  return s;
}

// The message of the input_error that reading `text` raises ("" and a test failure when none does).
std::string error_of(const std::string& text, const std::string& directory = ".") {
  try {
    read_setup(text, directory);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return "";
}

// Collective on comm: this rank's cells of the initial tissue.
CellSnapshot build(MPI_Comm comm, const TissueDeck& s) {
  const CartesianDecomposition decomposition(comm, s.domain, {0, 0, 0});
  const CounterRng rng{s.seed};
  return snapshot(create_initial_tissue(decomposition, s.types, s.init, rng, s.network.n_genes()));
}

// Collective on comm: every rank's cells on rank 0, sorted by id (empty elsewhere).
CellSnapshot gather(MPI_Comm comm, const CellSnapshot& local) {
  const int rank = mpi::rank(comm), size = mpi::size(comm);
  const int n = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size));
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
  auto gatherv = [&](const auto& values, int per_cell, auto& out, MPI_Datatype type) {
    std::vector<int> c(static_cast<std::size_t>(size)), displacements(static_cast<std::size_t>(size), 0);
    for (int r = 0; r < size; ++r)
      c[r] = counts[r] * per_cell;
    std::partial_sum(c.begin(), c.end() - 1, displacements.begin() + 1);
    out.resize(rank == 0 ? static_cast<std::size_t>(std::accumulate(c.begin(), c.end(), 0)) : 0);
    MPI_Gatherv(values.data(), n * per_cell, type, out.data(), c.data(), displacements.data(), type, 0, comm);
  };
  CellSnapshot all;
  all.dim = local.dim;
  all.n_genes = local.n_genes;
  gatherv(local.id, 1, all.id, MPI_UINT64_T);
  gatherv(local.type, 1, all.type, MPI_INT32_T);
  gatherv(local.position, local.dim, all.position, MPI_DOUBLE);
  gatherv(local.radius, 1, all.radius, MPI_DOUBLE);
  gatherv(local.genes, local.n_genes, all.genes, MPI_DOUBLE);
  gatherv(local.cycle, 1, all.cycle, MPI_DOUBLE);
  // Sort by id so two gathers compare row by row.
  std::vector<std::size_t> order(all.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return all.id[a] < all.id[b]; });
  CellSnapshot sorted;
  sorted.dim = all.dim;
  sorted.n_genes = all.n_genes;
  for (const std::size_t i : order) {
    sorted.id.push_back(all.id[i]);
    sorted.type.push_back(all.type[i]);
    sorted.radius.push_back(all.radius[i]);
    sorted.cycle.push_back(all.cycle[i]);
    for (int a = 0; a < all.dim; ++a)
      sorted.position.push_back(all.position[i * all.dim + a]);
    for (int g = 0; g < all.n_genes; ++g)
      sorted.genes.push_back(all.genes[i * all.n_genes + g]);
  }
  return sorted;
}

// Every field equal to the last bit: the same draws, or the same file values, whatever the rank count.
void expect_same_cells(const CellSnapshot& got, const CellSnapshot& want, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(got.dim, want.dim);
  ASSERT_EQ(got.n_genes, want.n_genes);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.position, want.position);
  EXPECT_EQ(got.radius, want.radius);
  EXPECT_EQ(got.cycle, want.cycle);
  EXPECT_EQ(got.genes, want.genes);
  for (std::size_t i = 1; i < got.size(); ++i)
    ASSERT_LT(got.id[i - 1], got.id[i]) << "an id is owned twice";
}

// Collective: the tissue built on every rank of MPI_COMM_WORLD equals the one rank 0 builds alone.
void expect_rank_independent(const TissueDeck& s, const std::string& what) {
  const CellSnapshot world = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, s));
  if (world_rank() != 0) return;
  const CellSnapshot alone = gather(MPI_COMM_SELF, build(MPI_COMM_SELF, s));
  EXPECT_EQ(static_cast<long long>(alone.size()), initial_cell_count(s.domain, s.init)) << what;
  EXPECT_GT(alone.size(), 0u) << what;
  expect_same_cells(world, alone, what);
}

long long global_count(const CellSnapshot& local) {
  return mpi::sum(MPI_COMM_WORLD, static_cast<std::int64_t>(local.size()));
}

// `cells` as a CSV: types as names (or indices for odd ids), the genes named in `columns`, every value
// printed with 17 significant digits so it reads back to the same double.
void write_csv(const std::string& path, const CellSnapshot& cells, const std::vector<std::string>& columns) {
  std::ofstream out(path);
  out << "id,type,x,y" << (cells.dim == 3 ? ",z" : "");
  for (const auto& c : columns)
    out << "," << c;
  out << "\n";
  char number[32];
  for (std::size_t i = 0; i < cells.size(); ++i) {
    out << cells.id[i] << ",";
    if (cells.id[i] % 2)
      out << cells.type[i];
    else
      out << types[static_cast<std::size_t>(cells.type[i])];
    for (int a = 0; a < cells.dim; ++a) {
      std::snprintf(number, sizeof number, "%.17g", cells.position[i * cells.dim + a]);
      out << "," << number;
    }
    for (const auto& c : columns) {
      const auto g = std::find(genes.begin(), genes.end(), c) - genes.begin();
      std::snprintf(number, sizeof number, "%.17g", cells.genes[i * cells.n_genes + g]);
      out << "," << number;
    }
    out << "\n";
  }
}

RunProvenance provenance(const std::vector<std::string>& gene_names = genes,
                         const std::vector<std::string>& type_names = types) {
  RunProvenance p;
  p.deck_file = "test_initial_tissue.yaml";
  p.resolved_deck = "# written by test_initial_tissue\n";
  p.kokkos_backend = "Serial";
  p.command = "run";
  p.gene_names = gene_names;
  p.type_names = type_names;
  return p;
}

// Radius and cycle that differ from what a fresh cell gets, so a read that ignored the file's would show.
CellSnapshot with_file_state(CellSnapshot cells, double gene_scale) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells.radius[i] = 3.0 + static_cast<double>(cells.id[i] % 7) / 3.0;
    cells.cycle[i] = static_cast<double>(cells.id[i]) / 9.0;
  }
  for (double& g : cells.genes)
    g *= gene_scale;
  return cells;
}

// ---------------------------------------------------------------------------------------------------------

TEST(InitialTissue, DensityGivesTheRoundedCountOfTheRegion) {
  // 2-D box: 0.0123 cells/um^2 x 400 x 300 um^2 = 1476 cells.
  const TissueDeck box = read_setup(deck_text(2, "density: 0.0123"));
  EXPECT_EQ(box.init.count, 1476);
  EXPECT_EQ(global_count(build(MPI_COMM_WORLD, box)), 1476);

  // 3-D ball of radius 50 um: 4/3 pi 50^3 um^3 x 0.002 = 1047.2 -> 1047 cells.
  const TissueDeck ball =
      read_setup(deck_text(3, "density: 0.002, region: sphere, center: [100, 80, 60], radius: 50 um"));
  EXPECT_EQ(ball.init.count, 1047);
  EXPECT_EQ(global_count(build(MPI_COMM_WORLD, ball)), 1047);
  EXPECT_EQ(initial_cell_count(ball.domain, ball.init), 1047);
  EXPECT_EQ(initial_cell_count_estimate(ball.domain, ball.init), 1047.0);
}

TEST(InitialTissue, RandomSphereIsInsideTheBallAndUniformInRadius) {
  for (const int dim : {2, 3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const long long n = 6000;
    const std::string where =
        dim == 2 ? "center: [150, 120], radius: 90" : "center: [90, 70, 65], radius: 50";
    const TissueDeck s =
        read_setup(deck_text(dim, "count: " + std::to_string(n) + ", region: sphere, " + where));
    const CellSnapshot local = build(MPI_COMM_WORLD, s);
    long long inner = 0;
    for (std::size_t i = 0; i < local.size(); ++i) {
      const double* p = &local.position[i * dim];
      ASSERT_TRUE(inside_initial_sphere(s.init, dim, p)) << "cell " << local.id[i] << " outside the ball";
      double d2 = 0;
      for (int a = 0; a < dim; ++a)
        d2 += (p[a] - s.init.center[a]) * (p[a] - s.init.center[a]);
      if (d2 < 0.25 * s.init.radius * s.init.radius) ++inner;
    }
    ASSERT_EQ(global_count(local), n);
    // Uniform in the ball: P(|p - c| < r/2) = (1/2)^dim; the count inside is binomial, so its fraction has
    // standard error sqrt(p (1 - p) / n). 5 standard errors: a false alarm once in ~3.5 million runs.
    const double fraction = static_cast<double>(mpi::sum(MPI_COMM_WORLD, inner)) / static_cast<double>(n);
    const double p = std::pow(0.5, dim);
    EXPECT_NEAR(fraction, p, 5.0 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
  }
}

TEST(InitialTissue, LatticeSphereKeepsTheBoxSitesInsideTheBallInLatticeOrder) {
  for (const int dim : {2, 3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    // A centre off the lattice's symmetry and a radius that grazes sites, so rounding would show.
    const std::string ball =
        dim == 2 ? "center: [201.3, 149.9], radius: 100" : "center: [97, 83.5, 60], radius: 45";
    const TissueDeck box = read_setup(deck_text(dim, "placement: lattice, spacing: 7.5 um"));
    const TissueDeck sphere =
        read_setup(deck_text(dim, "placement: lattice, spacing: 7.5 um, region: sphere, " + ball));
    const CellSnapshot all_sites = gather(MPI_COMM_SELF, build(MPI_COMM_SELF, box));
    const CellSnapshot kept = gather(MPI_COMM_SELF, build(MPI_COMM_SELF, sphere));
    // Box sites are numbered in lattice order, so filtering them keeps that order.
    std::vector<double> expected;
    for (std::size_t i = 0; i < all_sites.size(); ++i) {
      const double* p = &all_sites.position[i * dim];
      double d2 = 0;
      for (int a = 0; a < dim; ++a)
        d2 += (p[a] - sphere.init.center[a]) * (p[a] - sphere.init.center[a]);
      if (d2 <= sphere.init.radius * sphere.init.radius) expected.insert(expected.end(), p, p + dim);
    }
    ASSERT_EQ(kept.position, expected);
    for (std::size_t i = 0; i < kept.size(); ++i)
      ASSERT_EQ(kept.id[i], i) << "ids are not consecutive";
    EXPECT_EQ(initial_cell_count(sphere.domain, sphere.init), static_cast<long long>(kept.size()));
    EXPECT_EQ(initial_cell_count_estimate(sphere.domain, sphere.init), static_cast<double>(kept.size()));
    // Against the continuum: sites per unit volume is 1/spacing^dim, up to the boundary layer.
    const double continuum = initial_region_volume(sphere.domain, sphere.init) / std::pow(7.5, dim);
    EXPECT_NEAR(static_cast<double>(kept.size()) / continuum, 1.0, 0.05);
  }
}

TEST(InitialTissue, HexagonalLatticeGivesEveryCellSixNeighboursAtTheSpacing) {
  // A periodic box of 12 sites x 10 rows, its y extent typed to 16 digits as decks do: a seamless lattice.
  const double spacing = 7.5, row = spacing * std::sqrt(3.0) / 2.0;
  std::ostringstream text;
  text.precision(16);
  text << "domain: {dim: 2, lo: [-20, 5], hi: [" << -20 + 12 * spacing << ", " << 5 + 10 * row
       << "], boundary: periodic}\n"
       << "cells: {types: [a], init: {placement: hexagonal, spacing: " << spacing << "}}\n"
       << "grn: {genes: [A]}\ntime: {dt: 1 min, end: 10 min}\n";
  const TissueDeck s = read_setup(text.str());
  const CellSnapshot all = gather(MPI_COMM_SELF, build(MPI_COMM_SELF, s));
  ASSERT_EQ(all.size(), 120u);
  EXPECT_EQ(initial_cell_count(s.domain, s.init), 120);
  EXPECT_EQ(initial_cell_count_estimate(s.domain, s.init), 120.0);
  const double extent[2] = {12 * spacing, 10 * row};
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all.id[i], i);
    for (int a = 0; a < 2; ++a) {
      EXPECT_GE(all.position[2 * i + a], s.domain.lo[a]);
      EXPECT_LT(all.position[2 * i + a], s.domain.hi[a]);
    }
    // Distances to every other site by the nearest periodic image: the six nearest at `spacing` (1e-9
    // relative: rounding of sqrt(3)/2 and of the box), none nearer, the next shell at sqrt(3) x spacing.
    std::vector<double> d;
    for (std::size_t j = 0; j < all.size(); ++j) {
      if (j == i) continue;
      double d2 = 0;
      for (int a = 0; a < 2; ++a) {
        double delta = std::fabs(all.position[2 * i + a] - all.position[2 * j + a]);
        delta = std::min(delta, extent[a] - delta);
        d2 += delta * delta;
      }
      d.push_back(std::sqrt(d2));
    }
    std::sort(d.begin(), d.end());
    for (int k = 0; k < 6; ++k)
      ASSERT_NEAR(d[k], spacing, 1e-9 * spacing) << "cell " << i << ", neighbour " << k;
    ASSERT_NEAR(d[6], std::sqrt(3.0) * spacing, 1e-9 * spacing) << "cell " << i;
  }
  // In a box that is no whole number of rows, only the sites inside it: 400 / 7.5 = 53.3 -> 53 per row,
  // 300 / 6.495 = 46.2 -> 46 rows.
  const TissueDeck reflecting = read_setup(deck_text(2, "placement: hexagonal, spacing: 7.5"));
  EXPECT_EQ(initial_cell_count(reflecting.domain, reflecting.init), 53 * 46);
}

TEST(InitialTissue, EveryPlacementIsTheSameOnAnyRankCount) {
  const std::string uniform = ", genes: uniform, gene_low: [0, 0.5, 1, 0, 2], gene_high: [1, 1, 3, 0.1, 2.5]";
  for (const int dim : {2, 3}) {
    const std::string ball =
        dim == 2 ? "center: [180, 140], radius: 110" : "center: [100, 80, 60], radius: 55";
    expect_rank_independent(read_setup(deck_text(dim, "count: 1500" + uniform)), "random box");
    expect_rank_independent(read_setup(deck_text(dim, "count: 1500, region: sphere, " + ball + uniform)),
                            "random sphere");
    expect_rank_independent(read_setup(deck_text(dim, "placement: lattice, spacing: 9" + uniform)),
                            "lattice box");
    expect_rank_independent(
        read_setup(deck_text(dim, "placement: lattice, spacing: 9, region: sphere, " + ball + uniform)),
        "lattice sphere");
  }
  expect_rank_independent(read_setup(deck_text(2, "placement: hexagonal, spacing: 9" + uniform)),
                          "hexagonal");

  // Files: rank 0 writes them from a random tissue; genes the CSV lacks come from the uniform rule.
  const std::string dir = fresh_dir("placement-invariance");
  const TissueDeck source = read_setup(deck_text(3, "count: 900" + uniform));
  const CellSnapshot local = build(MPI_COMM_WORLD, source);
  const CellSnapshot all = gather(MPI_COMM_WORLD, local);
  if (world_rank() == 0) write_csv(dir + "/cells.csv", all, {"D", "B"});
  {
    SimulationOutput output(MPI_COMM_WORLD, dir + "/run", provenance(), 3);
    output.write_step(0, 0.0, with_file_state(local, 1.0));
    output.close();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  expect_rank_independent(read_setup(deck_text(3, "placement: file, file: cells.csv" + uniform), dir),
                          "CSV file");
  expect_rank_independent(read_setup(deck_text(3, "placement: file, file: run/tessera.h5"), dir),
                          "HDF5 file");
}

TEST(InitialTissue, CsvRoundTrip) {
  const std::string dir = fresh_dir("csv-round-trip");
  const TissueDeck source =
      read_setup(deck_text(3, "count: 700, genes: uniform, gene_low: 0, gene_high: [1, 2, 3, 4, 5]"));
  const CellSnapshot original = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, source));
  if (world_rank() == 0) {
    write_csv(dir + "/all_genes.csv", original, {"E", "A", "C", "B", "D"}); // columns in any order
    write_csv(dir + "/some_genes.csv", original, {"C"});
  }
  MPI_Barrier(MPI_COMM_WORLD);

  // Every gene from the file: the same cells, with their type's radius and a fresh cycle.
  const TissueDeck all_genes =
      read_setup(deck_text(3, "placement: file, file: all_genes.csv, genes: file"), dir);
  EXPECT_EQ(all_genes.init.file_cells, 700);
  EXPECT_FALSE(all_genes.init.file_is_hdf5);
  const CellSnapshot back = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, all_genes));
  if (world_rank() == 0) expect_same_cells(back, original, "all genes");

  // One gene from the file, the others constant.
  const TissueDeck some = read_setup(
      deck_text(
          3, "placement: file, file: some_genes.csv, genes: constant, gene_value: [0.5, 1.5, 9, 2.5, 3.5]"),
      dir);
  const CellSnapshot partial = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, some));
  if (world_rank() == 0) {
    CellSnapshot want = original;
    for (std::size_t i = 0; i < want.size(); ++i)
      for (int g = 0; g < 5; ++g)
        if (g != 2) want.genes[i * 5 + g] = std::vector<double>{0.5, 1.5, 9, 2.5, 3.5}[g];
    expect_same_cells(partial, want, "gene C from the file");
  }
}

TEST(InitialTissue, HandWrittenCsvReadsAsWritten) {
  // tests/tissue/data/cells_3d.csv: types by name, index and in quotes; cells on the domain's corners.
  const TissueDeck s = read_setup(deck_text(3, "placement: file, file: cells_3d.csv, gene_value: 7"),
                                  std::string(TESSERA_SOURCE_DIR) + "/tests/tissue/data");
  const CellSnapshot cells = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, s));
  if (world_rank() != 0) return;
  ASSERT_EQ(cells.size(), 5u);
  EXPECT_EQ(cells.id, (std::vector<std::uint64_t>{7, 10, 11, 12, 40}));
  EXPECT_EQ(cells.type, (std::vector<std::int32_t>{2, 0, 1, 2, 1}));
  EXPECT_EQ(cells.radius, (std::vector<double>{4, 5, 6, 4, 6}));
  EXPECT_EQ(std::vector<double>(cells.position.begin() + 3, cells.position.begin() + 6),
            (std::vector<double>{10.5, 20.25, 30}));
  // Genes A, C, E follow gene_value; B and D come from the file.
  EXPECT_EQ(std::vector<double>(cells.genes.begin() + 5 * 3, cells.genes.begin() + 5 * 4),
            (std::vector<double>{7, 1e-3, 7, 0, 7}));
}

TEST(InitialTissue, Hdf5RoundTripKeepsRadiusCycleAndGenes) {
  const std::string dir = fresh_dir("hdf5-round-trip");
  const TissueDeck source =
      read_setup(deck_text(2, "count: 800, genes: uniform, gene_low: 0.1, gene_high: 2"));
  const CellSnapshot local = build(MPI_COMM_WORLD, source);
  const CellSnapshot step0 = with_file_state(local, 1.0), step7 = with_file_state(local, 3.0);
  {
    SimulationOutput output(MPI_COMM_WORLD, dir, provenance(), 2);
    output.write_step(0, 0.0, step0);
    output.write_step(7, 7.0, step7);
    output.close();
  }
  const CellSnapshot want0 = gather(MPI_COMM_WORLD, step0), want7 = gather(MPI_COMM_WORLD, step7);

  // The last step unless init.step says otherwise; genes: file is allowed and changes nothing here.
  const TissueDeck last = read_setup(deck_text(2, "placement: file, file: tessera.h5"), dir);
  EXPECT_EQ(last.init.file_step, 7);
  EXPECT_TRUE(last.init.file_is_hdf5);
  EXPECT_EQ(last.init.file_cells, 800);
  const CellSnapshot got7 = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, last));
  if (world_rank() == 0) expect_same_cells(got7, want7, "last step");

  const TissueDeck first =
      read_setup(deck_text(2, "placement: file, file: tessera.h5, step: 0, genes: file"), dir);
  const CellSnapshot got0 = gather(MPI_COMM_WORLD, build(MPI_COMM_WORLD, first));
  if (world_rank() == 0) expect_same_cells(got0, want0, "step 0");
}

// ---------------------------------------------------------------------------------------------------------
// Errors

struct BadCsv {
  std::string name;
  std::string text;
  std::vector<std::string> expected; // substrings of the message, after "<file>:"
  int dim = 2;
  std::string init_extra;
};

TEST(InitialTissueErrors, MalformedCsvNamesFileLineAndColumn) {
  const std::string dir = fresh_dir("bad-csv", true);
  const std::vector<BadCsv> cases = {
      {"bad_header", "ID,type,x,y\n1,epi,1,1\n", {":1: bad header", "'ID,type,x,y'"}},
      {"empty", "", {"bad header", "empty"}},
      {"field_count",
       "id,type,x,y,A\n1,epi,1,1,0\n2,epi,3\n",
       {":3: expected 5 comma-separated fields", "got 3"}},
      {"not_a_number",
       "id,type,x,y\n1,epi,1,1\n2,epi,1.2.3,1\n",
       {":3: column 'x'", "expected a number, got '1.2.3'"}},
      {"nan", "id,type,x,y,A\n1,epi,1,nan,0\n", {":2: column 'y'", "'nan' is not a finite number"}},
      {"inf_gene",
       "id,type,x,y,A,B\n1,epi,1,1,0,0\n2,mes,4,4,inf,1\n",
       {":3: column 'A'", "not a finite number"}},
      {"empty_field", "id,type,x,y,A\n1,epi,1,,0\n", {":2: column 'y'", "empty field"}},
      {"negative_gene", "id,type,x,y,B,C\n1,epi,1,1,0,-0.5\n", {":2: column 'C'", "must be >= 0"}},
      {"unknown_type",
       "id,type,x,y\n1,epi,1,1\n2,stem,1,1\n3,neuron,1,1\n",
       {":4: column 'type'", "unknown cell type 'neuron'"}},
      {"type_index_out_of_range", "id,type,x,y\n1,3,1,1\n", {":2: column 'type'", "unknown cell type '3'"}},
      {"bad_id", "id,type,x,y\n-4,epi,1,1\n", {":2: column 'id'", "non-negative integer id"}},
      {"unknown_gene_column",
       "id,type,x,y,A,Wnt\n1,epi,1,1,0,0\n",
       {":1: column 'Wnt'", "unknown gene column"}},
      {"gene_column_twice", "id,type,x,y,A,A\n1,epi,1,1,0,0\n", {":1: column 'A'", "given twice"}},
      {"duplicate_id",
       "id,type,x,y\n# a comment line\n5,epi,1,1\n6,epi,2,2\n5,mes,3,3\n",
       {":5: column 'id'", "duplicate id 5 (also on line 3)"}},
      {"outside_domain",
       "id,type,x,y\n1,epi,1,1\n2,epi,400.5,1\n",
       {":3: column 'x'", "outside the domain [0, 400] um"}},
      {"below_domain", "id,type,x,y\n1,epi,1,-1e-9\n", {":2: column 'y'", "outside the domain"}},
      {"2d_file_for_3d_domain", "id,type,x,y,A\n1,epi,1,1,0\n", {":1: a 2-D file", "3-D domain"}, 3},
      {"3d_file_for_2d_domain", "id,type,x,y,z\n1,epi,1,1,1\n", {":1: a 3-D file", "2-D domain"}},
      {"genes_file_needs_all",
       "id,type,x,y,A,B,C\n1,epi,1,1,0,0,0\n",
       {":1:", "no column for gene(s) 'D', 'E'"},
       2,
       ", genes: file"},
  };
  for (const BadCsv& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/" + c.name + ".csv";
    std::ofstream(path) << c.text;
    const std::string message =
        error_of(deck_text(c.dim, "placement: file, file: " + c.name + ".csv" + c.init_extra), dir);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const std::string& part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
    // The deck key that named the file, too.
    EXPECT_NE(message.find("key 'cells.init.file'"), std::string::npos) << message;
  }
  // A missing file is the deck's error, at the key.
  const std::string missing = error_of(deck_text(2, "placement: file, file: nowhere.csv"), dir);
  EXPECT_NE(missing.find("nowhere.csv"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
  EXPECT_NE(missing.find("deck.yaml:6:"), std::string::npos) << missing; // the init line
}

TEST(InitialTissue, CsvToleratesByteOrderMarkCrLfQuotesAndBlankLines) {
  const std::string dir = fresh_dir("csv-dialects", true);
  std::ofstream(dir + "/excel.csv")
      << "\xEF\xBB\xBFid,type,x,y,A\r\n1,epi,1.5,2.5,0.25\r\n\r\n2,\"mes\",3,4,1\r\n";
  const TissueDeck s = read_setup(deck_text(2, "placement: file, file: excel.csv"), dir);
  EXPECT_EQ(s.init.file_cells, 2);
  CellFileSchema schema;
  schema.domain = s.domain;
  schema.type_names = types;
  schema.type_radius = {5, 6, 4};
  schema.gene_names = genes;
  const CellFileCells cells =
      read_cell_file(dir + "/excel.csv", -1, schema, [](const double*) { return true; });
  ASSERT_EQ(cells.kept.size(), 2u);
  EXPECT_EQ(cells.kept.type, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(cells.kept.position, (std::vector<double>{1.5, 2.5, 3, 4}));
  EXPECT_EQ(cells.has_gene, (std::vector<bool>{true, false, false, false, false}));
  EXPECT_EQ(cells.kept.genes[0], 0.25);
}

TEST(InitialTissueErrors, MalformedHdf5NamesFileStepAndRow) {
  const std::string dir = fresh_dir("bad-hdf5", true);
  auto write = [&](const std::string& name, const RunProvenance& p, CellSnapshot cells) {
    SimulationOutput output(MPI_COMM_SELF, dir + "/" + name, p, cells.dim);
    output.write_step(3, 3.0, cells);
    output.close();
    return name + "/tessera.h5";
  };
  CellSnapshot cells;
  cells.dim = 2;
  cells.n_genes = 5;
  cells.id = {4, 8, 15};
  cells.type = {0, 1, 2};
  cells.position = {10, 10, 20, 20, 30, 30};
  cells.radius = {5, 5, 5};
  cells.cycle = {0, 1, 2};
  cells.genes.assign(15, 0.5);

  auto expect_error = [&](const std::string& file, const std::string& init_extra,
                          const std::vector<std::string>& expected, int dim = 2) {
    SCOPED_TRACE(file + init_extra);
    const std::string message = error_of(deck_text(dim, "placement: file, file: " + file + init_extra), dir);
    EXPECT_NE(message.find(dir + "/" + file), std::string::npos) << message;
    for (const std::string& part : expected)
      EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
  };
  const std::string good = write("good", provenance(), cells);
  EXPECT_EQ(read_setup(deck_text(2, "placement: file, file: " + good), dir).init.file_cells, 3);
  expect_error(good, ", step: 4", {"no step 4", "steps in the file: 3"});
  expect_error(good, "", {"a 2-D file for a 3-D domain"}, 3);
  expect_error(write("other_genes", provenance({"A", "B", "C", "D", "Wnt"}), cells), "",
               {"/genes [A, B, C, D, Wnt] differs from grn.genes"});
  expect_error(write("other_types", provenance(genes, {"epi", "stem", "mes"}), cells), "",
               {"/cell_types [epi, stem, mes] differs from cells.types"});
  CellSnapshot bad = cells;
  bad.genes[7] = -1;
  expect_error(write("negative_gene", provenance(), bad), "",
               {"step 3: row 1 (id 8): 'genes'", "'C' must be >= 0"});
  bad = cells;
  bad.id[2] = 4;
  expect_error(write("duplicate_id", provenance(), bad), "",
               {"step 3: row 2: 'id': duplicate id 4 (also in row 0)"});
  bad = cells;
  bad.position[3] = 301;
  expect_error(write("outside", provenance(), bad), "",
               {"step 3: row 1 (id 8): 'position'", "outside the domain"});
  bad = cells;
  bad.type[0] = 3;
  expect_error(write("bad_type", provenance(), bad), "", {"step 3: row 0 (id 4): 'type'", "not in [0, 3)"});
  bad = cells;
  bad.radius[1] = std::nan("");
  expect_error(write("nan_radius", provenance(), bad), "", {"row 1 (id 8): 'radius'"});
  // step is for HDF5 files only.
  std::ofstream(dir + "/cells.csv") << "id,type,x,y\n1,epi,1,1\n";
  const std::string message = error_of(deck_text(2, "placement: file, file: cells.csv, step: 2"), dir);
  EXPECT_NE(message.find("key 'cells.init.step'"), std::string::npos) << message;
}

TEST(InitialTissueErrors, DeckCombinationsNameTheirKeys) {
  struct Case {
    std::string init;
    std::vector<std::string> expected;
    int dim = 2;
    std::string cells_extra;
  };
  const std::vector<Case> cases = {
      {"count: 10, density: 0.01", {"key 'cells.init.density'", "key 'cells.init.count'", "not both"}},
      {"placement: lattice, density: 0.01", {"key 'cells.init.density'", "placement: random only"}},
      {"region: sphere, radius: 200", {"key 'cells.init.radius'", "reaches outside the domain on axis y"}},
      {"region: sphere, center: [10, 10, 10], radius: 20", {"key 'cells.init.radius'", "axis x"}, 3},
      {"region: sphere, center: [500, 10], radius: 5",
       {"key 'cells.init.center'", "lies outside the domain"}},
      {"region: sphere, center: [10, 10]", {"key 'cells.init.radius'", "needs cells.init.radius"}},
      {"radius: 10", {"key 'cells.init.radius'", "needs region: sphere"}},
      {"center: [1, 2]", {"key 'cells.init.center'", "needs region: sphere"}},
      {"center: [1, 2, 3], region: sphere, radius: 1", {"key 'cells.init.center'", "one per axis"}},
      {"genes: file", {"key 'cells.init.genes'", "needs placement: file"}},
      {"placement: file", {"key 'cells.init.file'", "placement: file needs cells.init.file"}},
      {"placement: lattice, file: " + std::string(TESSERA_SOURCE_DIR) + "/tests/tissue/data/cells_3d.csv",
       {"key 'cells.init.file'", "only with placement: file"}},
      {"density: 1",
       {"key 'cells.init.density'", "120000 cells, more than cells.max_cells = 1000"},
       2,
       "  max_cells: 1000\n"},
      {"density: 1e300", {"key 'cells.init.density'", "more than cells.max_cells"}},
      {"placement: hexagonal", {"key 'cells.init.placement'", "2-D lattice; domain.dim is 3"}, 3},
      {"placement: hexagonal, region: sphere, radius: 50",
       {"key 'cells.init.region'", "hexagonal placement fills the box"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.init);
    const std::string message = error_of(deck_text(c.dim, c.init, c.cells_extra));
    EXPECT_NE(message.find("deck.yaml:"), std::string::npos) << message;
    for (const std::string& part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
  }
  // A sphere touching the walls from inside is fine, and its centre defaults to the box's.
  const TissueDeck touching = read_setup(deck_text(2, "region: sphere, radius: 150"));
  EXPECT_EQ(touching.init.center[0], 200.0);
  EXPECT_EQ(touching.init.center[1], 150.0);
}

} // namespace
} // namespace tessera
