#include "tessera/parallel/decomposition.hpp"

#include "tessera/io/deck.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

const KeyTable& parallel_keys() {
  static const KeyTable table = [] {
    KeyTable t("parallel", "How ranks share the work (SPEC §4).");
    t.add("dims", KeyType::integer_list)
        .of_length(-1)
        .non_negative()
        .describe("Rank grid, one entry per axis; 0 lets MPI_Dims_create choose. The product of non-zero "
                  "entries must "
                  "divide the number of ranks.");
    t.add_choice("balance", {"none", "cells"})
        .def("none")
        .describe(
            "`run` and `predict`: how the rank boxes divide the domain. `none`: equal boxes. `cells`: "
            "each axis is cut where the initial tissue's cells (or the restarted checkpoint's) split "
            "evenly over that axis' boxes (every box at least the interaction range wide), so a tissue "
            "that fills its domain unevenly still gives every rank about the same number of cells. "
            "Results do not depend on it (SPEC §4.3). The cuts are made at the start (and at a "
            "restart), and again every `balance_every` steps. At most 64 boxes per axis. With diffusible "
            "fields the cuts lie on voxel faces (each rank's box a block of their grid).");
    t.add("balance_every", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("With `balance: cells`: steps between re-cuts of the rank boxes at the cells where they "
                  "are then (cells cross to their new owners in that step's migration), for a tissue that "
                  "grows or moves; 0: only at the start. A re-cut costs about one step's migration. Not with "
                  "diffusible fields, whose grid keeps the boxes it was made on.");
    t.add("groups", KeyType::integer)
        .def("1")
        .positive()
        .describe("`tessera train`: data-parallel groups (MPI_Comm_split of the ranks into this many "
                  "groups of consecutive ranks); each group decomposes the tissue over its ranks (with "
                  "`dims`) and takes every groups-th sampled window. Must divide the number of ranks.");
    // In `parallel` because it is how this job runs, not what it computes: results do not depend on it, and
    // a restarted or requeued job may have another limit (`--restart` accepts changed parallel keys).
    t.add("walltime", KeyType::text)
        .describe("Wall-clock limit of `run`, `train` and `predict`, counted from the start of the process "
                  "(`--walltime` overrides it): Slurm's forms (`55` minutes, `55:00`, `00:55:00`, "
                  "`1-00:00:00`) or a time with a unit (`3300 s`, `55 min`, `1 h`). Before it runs out the "
                  "command finishes its step or iteration, writes its checkpoint and exits 75 (resumable, "
                  "`--restart DIR` continues); the margin left is twice the longest step plus twice the "
                  "longest checkpoint write plus 2 % of the limit (at most 60 s). None by default.");
    return t;
  }();
  return table;
}

std::array<int, 3> read_rank_grid(const Deck& deck, int dim, int n_ranks) {
  const DeckView s = deck.section("parallel");
  std::array<int, 3> dims{0, 0, 0};
  if (dim == 2) dims[2] = 1;
  if (!s.has("dims")) return dims;
  const auto v = s.integers("dims");
  long long fixed = 1;
  std::string grid;
  for (int a = 0; a < dim; ++a) {
    dims[a] = static_cast<int>(v[a]);
    if (v[a] > 0) fixed *= v[a];
    grid += (a ? "x" : "") + (v[a] > 0 ? std::to_string(v[a]) : std::string("*"));
  }
  if (n_ranks % fixed != 0)
    s.fail("dims", "the rank grid " + grid + " does not fit " + std::to_string(n_ranks) +
                       " rank(s): the product of its " + "non-zero entries must divide the number of ranks");
  return dims;
}

bool read_balance(const Deck& deck) {
  return deck.section("parallel").text("balance") == "cells";
}

long long read_balance_every(const Deck& deck) {
  const DeckView s = deck.section("parallel");
  const long long every = s.integer("balance_every");
  if (every > 0 && !read_balance(deck))
    s.fail("balance_every", "re-cuts balanced boxes: set parallel.balance: cells too");
  return every;
}

int read_groups(const Deck& deck, int n_ranks) {
  const DeckView s = deck.section("parallel");
  const auto groups = s.integer("groups");
  if (n_ranks % groups != 0)
    s.fail("groups", std::to_string(groups) + " group(s) do not divide the " + std::to_string(n_ranks) +
                         " rank(s): every group needs the same number of ranks");
  return static_cast<int>(groups);
}

std::array<int, 3> rank_grid_dims(const Domain& domain, std::array<int, 3> requested, int n) {
  std::array<int, 3> dims = requested;
  if (domain.dim == 2) dims[2] = 1;
  int fixed = 1;
  for (int a = 0; a < 3; ++a)
    if (dims[a] > 0) fixed *= dims[a];
  if (n % fixed != 0)
    throw input_error("parallel.dims: the rank grid " + std::to_string(dims[0]) + "x" +
                      std::to_string(dims[1]) + (domain.dim == 3 ? "x" + std::to_string(dims[2]) : "") +
                      " does not fit " + std::to_string(n) + " ranks");
  mpi::check(MPI_Dims_create(n, domain.dim, dims.data()), "MPI_Dims_create");
  return dims;
}

CartesianDecomposition::CartesianDecomposition(MPI_Comm comm, const Domain& domain,
                                               std::array<int, 3> requested, const BoxCuts* cuts)
    : domain_(domain) {
  dims_ = rank_grid_dims(domain, requested, mpi::size(comm));
  std::array<int, 3> periods{domain.periodic[0], domain.periodic[1], domain.periodic[2]};
  MPI_Comm cart = MPI_COMM_NULL;
  // No reordering: rank numbers stay those of the parent so output slices and logs read naturally.
  mpi::check(MPI_Cart_create(comm, domain.dim, dims_.data(), periods.data(), 0, &cart), "MPI_Cart_create");
  cart_ = mpi::Communicator(cart);
  MPI_Comm_free(&cart);
  mpi::check(MPI_Cart_coords(cart_.get(), cart_.rank(), domain.dim, coords_.data()), "MPI_Cart_coords");
  boxes_.dim = domain.dim;
  for (int a = 0; a < 3; ++a) {
    boxes_.dims[a] = dims_[a];
    boxes_.coords[a] = coords_[a];
    boxes_.lo[a] = domain.lo[a];
    boxes_.hi[a] = domain.hi[a];
  }
  if (cuts) set_cuts(*cuts);
}

void CartesianDecomposition::set_cuts(const BoxCuts& cuts) {
  for (int a = 0; a < 3; ++a) {
    const std::vector<double>& c = cuts[static_cast<std::size_t>(a)];
    if (dims_[a] > RankBoxes::max_balanced)
      throw input_error(
          "parallel.balance: " + std::to_string(dims_[a]) + " rank boxes along axis " + std::to_string(a) +
          ", more than the " + std::to_string(RankBoxes::max_balanced) +
          " a balanced decomposition holds: use parallel.balance: none or fewer ranks on that axis");
    if (c.size() + 1 != static_cast<std::size_t>(dims_[a]))
      throw runtime_error("CartesianDecomposition: " + std::to_string(c.size()) + " cuts along axis " +
                          std::to_string(a) + " for " + std::to_string(dims_[a]) + " boxes");
    boxes_.cut[a][0] = domain_.lo[a];
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!(c[i] > boxes_.cut[a][i] && c[i] < domain_.hi[a]))
        throw runtime_error("CartesianDecomposition: the cuts along axis " + std::to_string(a) +
                            " do not increase inside the domain");
      boxes_.cut[a][i + 1] = c[i];
    }
    boxes_.cut[a][dims_[a]] = domain_.hi[a];
  }
  boxes_.uniform = false;
}

bool CartesianDecomposition::owns(const double* position) const {
  for (int a = 0; a < domain_.dim; ++a)
    if (box_index(a, position[a]) != coords_[a]) return false;
  return true;
}

} // namespace tessera
