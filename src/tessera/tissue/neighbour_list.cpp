#include "tessera/tissue/neighbour_list.hpp"

#include "tessera/core/kokkos_compat.hpp"

#include <cmath>

namespace tessera {

namespace {

template <class View>
void ensure(View& v, std::size_t n, const char* label) {
  if (v.extent(0) < n)
    v = View(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), n + n / 16 + 16);
}

struct Grid {
  double lo[3];
  double inv_size[3];
  int n[3];

  // Clamped in floating point before the conversion, which is undefined for values beyond an int.
  KOKKOS_INLINE_FUNCTION int coord(int a, double x) const {
    const double c = (x - lo[a]) * inv_size[a];
    return c >= n[a] - 1 ? n[a] - 1 : (c > 0 ? static_cast<int>(c) : 0);
  }
  KOKKOS_INLINE_FUNCTION int bin(int cx, int cy, int cz) const { return (cz * n[1] + cy) * n[0] + cx; }
};

// Calls emit(j) for every cell j within `range2` (squared) of cell i, from the 3^d bins around i. A functor,
// not a generic lambda: nvcc's device lambdas cannot be generic, and each kernel below passes its own emit.
struct BinVisitor {
  Kokkos::View<double* [3], Kokkos::LayoutRight> pos;
  Grid grid;
  Kokkos::View<int*> bin_offset;
  Kokkos::View<double* [3], Kokkos::LayoutRight> bin_pos;
  Kokkos::View<int*> bin_cells;
  double range2;
  int reach_z;

  template <class Emit>
  KOKKOS_INLINE_FUNCTION void operator()(const int i, Emit&& emit) const {
    const double px = pos(i, 0), py = pos(i, 1), pz = pos(i, 2);
    const int cx = grid.coord(0, px), cy = grid.coord(1, py), cz = grid.coord(2, pz);
    for (int dz = -reach_z; dz <= reach_z; ++dz) {
      const int z = cz + dz;
      if (z < 0 || z >= grid.n[2]) continue;
      for (int dy = -1; dy <= 1; ++dy) {
        const int y = cy + dy;
        if (y < 0 || y >= grid.n[1]) continue;
        // The three bins along x are adjacent in bin order: one contiguous run of candidates.
        const int x0 = cx > 0 ? cx - 1 : 0, x1 = cx + 1 < grid.n[0] ? cx + 1 : grid.n[0] - 1;
        const int first = bin_offset(grid.bin(x0, y, z)), last = bin_offset(grid.bin(x1, y, z) + 1);
        for (int k = first; k < last; ++k) {
          const double rx = px - bin_pos(k, 0), ry = py - bin_pos(k, 1), rz = pz - bin_pos(k, 2);
          if (rx * rx + ry * ry + rz * rz <= range2) {
            const int j = bin_cells(k);
            if (j != i) emit(j);
          }
        }
      }
    }
  }
};

// Orders neighbour j before k: by id, then by position (periodic images of the same cell).
KOKKOS_INLINE_FUNCTION bool before(const Kokkos::View<std::uint64_t*>& id,
                                   const Kokkos::View<double* [3], Kokkos::LayoutRight>& pos, int j, int k) {
  if (id(j) != id(k)) return id(j) < id(k);
  for (int a = 0; a < 3; ++a)
    if (pos(j, a) != pos(k, a)) return pos(j, a) < pos(k, a);
  return false;
}

} // namespace

NeighbourList NeighbourSearch::build(const Cells<>& cells, double range) {
  ScopedRegion region("tessera::tissue::neighbours");
  const int n_owned = static_cast<int>(cells.n_owned);
  const int n_total = static_cast<int>(cells.n_owned + cells.n_ghost);
  const int dim = cells.dim;
  const auto pos = cells.position;
  // Bounding box of all cells, owned and ghost.
  double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (int a = 0; a < dim && n_total > 0; ++a) {
    Kokkos::parallel_reduce(
        "tessera::neighbours::bounds", Kokkos::RangePolicy<>(0, n_total),
        KOKKOS_LAMBDA(const int i, double& mn, double& mx) {
          mn = pos(i, a) < mn ? pos(i, a) : mn;
          mx = pos(i, a) > mx ? pos(i, a) : mx;
        },
        Kokkos::Min<double>(lo[a]), Kokkos::Max<double>(hi[a]));
  }
  Grid grid{};
  // Bins per axis in floating point, clamped before any conversion: a box of 10^12 or 10^300 um over a
  // range of 10 um holds no integer type's worth of bins. Each bin is a little wider than `range` (1e-6
  // relative): a pair at exactly `range` then lies in adjacent bins whatever the rounding of the bin
  // coordinates (their error is ~1e-16 x the bin count, which is at most ~2^31).
  const double cap = 2.0 * static_cast<double>(n_total) + 64.0;
  double bins[3] = {1, 1, 1};
  double extent[3] = {1, 1, 1};
  for (int a = 0; a < dim; ++a) {
    extent[a] = (hi[a] - lo[a]) * (1 + 1e-12) + 1e-9;
    const double fit = std::floor(extent[a] / (range * (1 + 1e-6)));
    bins[a] = fit >= 1.0 ? std::min(fit, cap) : 1.0;
  }
  // Cap the grid at about two bins per cell, so memory is bounded by the cells, not the box: larger bins
  // stay correct (a cell's neighbours are still in the 3^d bins around it), they only hold more candidates.
  while (bins[0] * bins[1] * bins[2] > cap) {
    int widest = 0;
    for (int a = 1; a < dim; ++a)
      if (bins[a] > bins[widest]) widest = a;
    bins[widest] = std::max(1.0, std::floor(bins[widest] / 2));
  }
  std::size_t n_bins = 1;
  for (int a = 0; a < 3; ++a) {
    grid.n[a] = static_cast<int>(bins[a]);
    grid.lo[a] = a < dim ? lo[a] : 0.0;
    grid.inv_size[a] = a < dim ? bins[a] / extent[a] : 0.0;
    n_bins *= static_cast<std::size_t>(bins[a]);
  }
  ensure(bin_of_, static_cast<std::size_t>(n_total), "tessera::neighbours::bin_of");
  ensure(bin_cells_, static_cast<std::size_t>(n_total), "tessera::neighbours::bin_cells");
  ensure(bin_offset_, n_bins + 1, "tessera::neighbours::bin_offset");
  ensure(bin_count_, n_bins, "tessera::neighbours::bin_count");
  ensure(offsets_, static_cast<std::size_t>(n_owned) + 1, "tessera::neighbours::offsets");
  if (bin_position_.extent(0) < static_cast<std::size_t>(n_total))
    bin_position_ = Kokkos::View<double* [3], Kokkos::LayoutRight>(
        Kokkos::view_alloc(std::string("tessera::neighbours::bin_position"), Kokkos::WithoutInitializing),
        static_cast<std::size_t>(n_total) + static_cast<std::size_t>(n_total) / 16 + 16);
  const auto bin_pos = bin_position_;
  const auto bin_of = bin_of_, bin_count = bin_count_, bin_offset = bin_offset_, bin_cells = bin_cells_;
  const auto offsets = offsets_;
  const auto id = cells.id;

  // 1. Counting sort of all cells into bins.
  Kokkos::deep_copy(Kokkos::subview(bin_count, std::make_pair(std::size_t(0), n_bins)), 0);
  Kokkos::parallel_for(
      "tessera::neighbours::bin", Kokkos::RangePolicy<>(0, n_total), KOKKOS_LAMBDA(const int i) {
        const int b = grid.bin(grid.coord(0, pos(i, 0)), grid.coord(1, pos(i, 1)), grid.coord(2, pos(i, 2)));
        bin_of(i) = b;
        Kokkos::atomic_increment(&bin_count(b));
      });
  Kokkos::parallel_scan(
      "tessera::neighbours::bin_offsets", Kokkos::RangePolicy<>(0, static_cast<int>(n_bins)),
      KOKKOS_LAMBDA(const int b, int& running, const bool final) {
        if (final) bin_offset(b) = running;
        running += bin_count(b);
        if (final && b == static_cast<int>(n_bins) - 1) bin_offset(b + 1) = running;
      });
  Kokkos::deep_copy(Kokkos::subview(bin_count, std::make_pair(std::size_t(0), n_bins)), 0);
  Kokkos::parallel_for(
      "tessera::neighbours::fill_bins", Kokkos::RangePolicy<>(0, n_total), KOKKOS_LAMBDA(const int i) {
        const int b = bin_of(i);
        const int slot = bin_offset(b) + Kokkos::atomic_fetch_add(&bin_count(b), 1);
        bin_cells(slot) = i;
        for (int a = 0; a < 3; ++a)
          bin_pos(slot, a) = pos(i, a);
      });

  // 2. Count, scan and fill each owned cell's row from the 3^d bins around it.
  const BinVisitor visit{pos, grid, bin_offset, bin_pos, bin_cells, range * range, dim == 3 ? 1 : 0};
  Kokkos::parallel_scan(
      "tessera::neighbours::count", Kokkos::RangePolicy<>(0, n_owned),
      KOKKOS_LAMBDA(const int i, int& running, const bool final) {
        int count = 0;
        visit(i, [&](int) { ++count; });
        if (final) offsets(i) = running;
        running += count;
        if (final && i == n_owned - 1) offsets(n_owned) = running;
      });
  int n_pairs = 0;
  if (n_owned > 0)
    Kokkos::deep_copy(n_pairs, Kokkos::subview(offsets, n_owned));
  else
    Kokkos::deep_copy(Kokkos::subview(offsets, 0), 0);
  ensure(neighbours_, static_cast<std::size_t>(n_pairs), "tessera::neighbours::list");
  const auto list = neighbours_;
  Kokkos::parallel_for(
      "tessera::neighbours::fill", Kokkos::RangePolicy<>(0, n_owned), KOKKOS_LAMBDA(const int i) {
        int next = offsets(i);
        visit(i, [&](int j) { list(next++) = j; });
        // Insertion sort of the row by neighbour id: rows are short (tens of entries).
        for (int a = offsets(i) + 1; a < offsets(i + 1); ++a) {
          const int v = list(a);
          int b = a - 1;
          while (b >= offsets(i) && before(id, pos, v, list(b))) {
            list(b + 1) = list(b);
            --b;
          }
          list(b + 1) = v;
        }
      });
  Kokkos::fence();
  NeighbourList out;
  out.offsets =
      Kokkos::subview(offsets_, std::make_pair(std::size_t(0), static_cast<std::size_t>(n_owned) + 1));
  out.neighbours =
      Kokkos::subview(neighbours_, std::make_pair(std::size_t(0), static_cast<std::size_t>(n_pairs)));
  out.n_owned = cells.n_owned;
  out.range = range;
  return out;
}

} // namespace tessera
