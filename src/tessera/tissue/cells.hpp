// Cell storage (SPEC §1.1): structure-of-arrays in Kokkos Views, genes as one cells x G view so the GRN
// solver sees every local gene as one contiguous vector. Rows [0, n_owned) are the rank's own cells, rows
// [n_owned, n_owned + n_ghost) ghost copies of neighbours' cells. Capacity grows geometrically.
#pragma once

#include "tessera/io/snapshot.hpp"

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace tessera {

template <class MemorySpace = Kokkos::DefaultExecutionSpace::memory_space>
struct Cells {
  using memory_space = MemorySpace;
  // LayoutRight: one cell's genes (and coordinates) are contiguous, and the first n*G entries of `genes`
  // are exactly the owned cells' state.
  Kokkos::View<std::uint64_t*, MemorySpace> id;
  Kokkos::View<int*, MemorySpace> type;
  Kokkos::View<double* [3], Kokkos::LayoutRight, MemorySpace> position;
  Kokkos::View<double*, MemorySpace> radius;
  Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace> genes;
  Kokkos::View<double*, MemorySpace> cycle;
  Kokkos::View<double*, MemorySpace> below_time; // min the death gene has stayed below its threshold

  int dim = 2;
  int n_genes = 0;
  std::size_t n_owned = 0;
  std::size_t n_ghost = 0;

  Cells() = default;
  Cells(int dim_, int n_genes_, std::size_t capacity) : dim(dim_), n_genes(n_genes_) { reserve(capacity); }

  std::size_t capacity() const { return id.extent(0); }

  // Keeps the first n_owned + n_ghost rows; grows to at least `wanted` (x1.25 headroom so growth is rare).
  void reserve(std::size_t wanted) {
    if (wanted <= capacity() && id.data() != nullptr) return;
    const std::size_t cap = std::max<std::size_t>(wanted + wanted / 4, 16);
    Kokkos::resize(id, cap);
    Kokkos::resize(type, cap);
    Kokkos::resize(position, cap);
    Kokkos::resize(radius, cap);
    Kokkos::resize(genes, cap, static_cast<std::size_t>(n_genes));
    Kokkos::resize(cycle, cap);
    Kokkos::resize(below_time, cap);
  }

  // Calls f(matrix) for every per-cell field as a rows x columns LayoutRight View of the same memory
  // (1-D fields as one column), so exchanges and compactions treat all fields alike and none is forgotten.
  template <class F>
  void for_each_field(F&& f) const {
    f(as_matrix(id));
    f(as_matrix(type));
    f(Matrix<double>(position.data(), position.extent(0), 3));
    f(as_matrix(radius));
    f(Matrix<double>(genes.data(), genes.extent(0), genes.extent(1)));
    f(as_matrix(cycle));
    f(as_matrix(below_time));
  }

  template <class T>
  using Matrix = Kokkos::View<T**, Kokkos::LayoutRight, MemorySpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  template <class T>
  static Matrix<T> as_matrix(const Kokkos::View<T*, MemorySpace>& v) {
    return Matrix<T>(v.data(), v.extent(0), 1);
  }

  // Bytes per cell of capacity, for the memory figures in docs/performance.md.
  std::size_t bytes_per_cell() const {
    return sizeof(std::uint64_t) + sizeof(int) + 3 * sizeof(double) + sizeof(double) +
           static_cast<std::size_t>(n_genes) * sizeof(double) + 2 * sizeof(double);
  }
};

// Host copy of the owned cells, for output.
template <class MemorySpace>
CellSnapshot snapshot(const Cells<MemorySpace>& cells) {
  const std::size_t n = cells.n_owned;
  const auto range = std::make_pair(std::size_t(0), n);
  auto id = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(cells.id, range));
  auto type = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(cells.type, range));
  auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                 Kokkos::subview(cells.position, range, Kokkos::ALL));
  auto radius =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(cells.radius, range));
  auto genes = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                   Kokkos::subview(cells.genes, range, Kokkos::ALL));
  auto cycle = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(cells.cycle, range));
  CellSnapshot s;
  s.dim = cells.dim;
  s.n_genes = cells.n_genes;
  s.id.assign(id.data(), id.data() + n);
  s.type.resize(n);
  s.position.resize(n * static_cast<std::size_t>(cells.dim));
  s.radius.assign(radius.data(), radius.data() + n);
  s.genes.resize(n * static_cast<std::size_t>(cells.n_genes));
  s.cycle.assign(cycle.data(), cycle.data() + n);
  for (std::size_t i = 0; i < n; ++i) {
    s.type[i] = type(i);
    for (int a = 0; a < cells.dim; ++a)
      s.position[i * cells.dim + a] = pos(i, a);
    for (int g = 0; g < cells.n_genes; ++g)
      s.genes[i * cells.n_genes + g] = genes(i, g);
  }
  return s;
}

} // namespace tessera
