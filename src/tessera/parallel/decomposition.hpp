// Cartesian decomposition of the domain over MPI ranks (SPEC §4.1): each rank owns the cells whose centre
// lies in its box. Read from the deck's `parallel` section.
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/core/kokkos_compat.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/tissue/domain.hpp"

#include <array>
#include <vector>

namespace tessera {

class Deck;

// The rank grid a decomposition of `domain` over `n_ranks` ranks uses: `requested` with its 0 entries chosen
// by MPI_Dims_create (1 for the third axis in 2-D). Not collective; a grid that does not fit is an
// input_error naming parallel.dims.
std::array<int, 3> rank_grid_dims(const Domain& domain, std::array<int, 3> requested, int n_ranks);

// The box arithmetic of a decomposition as a plain value that kernels can copy: the host's edge and
// box_index are these functions, so a kernel and the host agree on the owner of every point. Boxes are equal
// (the domain divided by the rank grid) unless `cut` holds balanced edges (parallel.balance).
struct RankBoxes {
  // Most boxes along one axis a balanced decomposition has (the edges travel by value into kernels).
  static constexpr int max_balanced = 64;
  int dim = 2;
  int dims[3] = {1, 1, 1};
  int coords[3] = {0, 0, 0};
  double lo[3] = {0, 0, 0};
  double hi[3] = {0, 0, 0};
  bool uniform = true;
  double cut[3][max_balanced + 1] = {}; // without `uniform`: cut[a][i] is edge(a, i), i = 0 .. dims[a]

  // Lower edge of box `index` along `axis` (index == dims[axis] gives the domain's upper edge).
  KOKKOS_INLINE_FUNCTION double edge(const int axis, const int index) const {
    if (index >= dims[axis]) return hi[axis];
    if (!uniform) return cut[axis][index];
    return lo[axis] + (hi[axis] - lo[axis]) * static_cast<double>(index) / static_cast<double>(dims[axis]);
  }
  KOKKOS_INLINE_FUNCTION double box_lo(const int axis) const { return edge(axis, coords[axis]); }
  KOKKOS_INLINE_FUNCTION double box_hi(const int axis) const { return edge(axis, coords[axis] + 1); }
  // Box index along `axis` of coordinate x (clamped into the domain).
  KOKKOS_INLINE_FUNCTION int box_index(const int axis, const double x) const {
    if (!uniform) {
      // The last box whose lower edge is at or below x: [edge(i), edge(i+1)) holds x.
      int first = 0, last = dims[axis] - 1;
      while (first < last) {
        const int mid = (first + last + 1) / 2;
        if (x >= cut[axis][mid])
          first = mid;
        else
          last = mid - 1;
      }
      return first;
    }
    const double f = (x - lo[axis]) / (hi[axis] - lo[axis]);
    int i = static_cast<int>(math::floor(f * dims[axis]));
    i = i < 0 ? 0 : (i > dims[axis] - 1 ? dims[axis] - 1 : i);
    // Guard the floating-point boundary: the owner is the box whose [edge(i), edge(i+1)) holds x.
    while (i > 0 && x < edge(axis, i))
      --i;
    while (i + 1 < dims[axis] && x >= edge(axis, i + 1))
      ++i;
    return i;
  }
};

// Inner box edges per axis: edges[a] holds the dims[a] - 1 cuts between the boxes of axis a, increasing and
// strictly inside the domain (the outer edges are the domain's).
using BoxCuts = std::array<std::vector<double>, 3>;

// The rank boxes. Box edges are computed by one formula (or given as the same cuts) on every rank, so each
// point has exactly one owner.
class CartesianDecomposition {
public:
  // Collective on comm. `requested_dims` entries of 0 are chosen by MPI_Dims_create. With `cuts`, the boxes
  // are those edges (the same on every rank; see balanced_box_cuts) instead of equal ones.
  CartesianDecomposition(MPI_Comm comm, const Domain& domain, std::array<int, 3> requested_dims,
                         const BoxCuts* cuts = nullptr);

  MPI_Comm comm() const { return cart_.get(); }
  int rank() const { return cart_.rank(); }
  int size() const { return cart_.size(); }
  const std::array<int, 3>& dims() const { return dims_; }
  const std::array<int, 3>& coords() const { return coords_; }
  const Domain& domain() const { return domain_; }
  const RankBoxes& boxes() const { return boxes_; }
  // Whether the boxes are balanced edges rather than equal ones.
  bool balanced() const { return !boxes_.uniform; }
  // Moves the box edges to `cuts` (the same on every rank); the rank grid, the communicator and each rank's
  // place in it stay. Not collective.
  void set_cuts(const BoxCuts& cuts);

  // Lower edge of box `index` along `axis` (index == dims[axis] gives the domain's upper edge).
  double edge(int axis, int index) const { return boxes_.edge(axis, index); }
  double box_lo(int axis) const { return boxes_.box_lo(axis); }
  double box_hi(int axis) const { return boxes_.box_hi(axis); }
  // Box index along `axis` of coordinate x (clamped into the domain).
  int box_index(int axis, double x) const { return boxes_.box_index(axis, x); }
  bool owns(const double* position) const;

private:
  Domain domain_;
  std::array<int, 3> dims_{1, 1, 1};
  std::array<int, 3> coords_{0, 0, 0};
  mpi::Communicator cart_;
  RankBoxes boxes_;
};

const KeyTable& parallel_keys();
// Reads parallel.dims and checks that it fits `n_ranks` ranks (naming the key when it does not).
std::array<int, 3> read_rank_grid(const Deck& deck, int dim, int n_ranks);
// parallel.balance: whether `run` and `predict` cut the rank boxes at the initial tissue's quantiles.
bool read_balance(const Deck& deck);
// parallel.balance_every: steps between re-cuts of balanced boxes (0: at the start only); checked to come
// with parallel.balance: cells.
long long read_balance_every(const Deck& deck);
// parallel.groups, checked to divide n_ranks (the training's data-parallel groups, SPEC §3.4).
int read_groups(const Deck& deck, int n_ranks);

} // namespace tessera
