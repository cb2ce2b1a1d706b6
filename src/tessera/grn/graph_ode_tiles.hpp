// How graph_ode's node tiles meet the threads (issue 11): on a host build the TILE is the unit of thread
// parallelism, its kernels running one after another on the thread that took it; a device build keeps one
// tile at a time, each kernel parallel over the tile's rows.
//
// Why: a tile is 240 nodes on the host (GraphOdeOptions::tile_nodes), and a fork/join of the rank's threads
// per kernel over 240 rows cost more than the kernels gained (a training iteration at 1 rank x 2 threads ran
// at 57-59 % of 2 ranks x 1 thread, docs/performance.md "Ranks x threads"). Whole tiles per thread need one
// fork/join per evaluation, keep each tile's activations and cotangents in its thread's cache, and let BLAS
// take each product in one small-matrix call.
//
// Determinism: the parameter gradients are sums over tiles. The tiles of a parameter set are cut into
// chunks of consecutive tiles whose size depends on the set's tile count only (graph_ode_tiles_per_chunk),
// never on the thread count; each chunk sums its tiles in order into a partial gradient of its own, and the
// partials are added in chunk order afterwards. Serial, 1, 2, 4, ... threads therefore make the same
// operations in the same order: bit-identical gradients.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>

namespace tessera {

// Chunks: at least kMinTilesPerChunk tiles each (a chunk's partial gradient is cleared and summed once, about
// as much memory traffic as one tile's VJP), at most kMaxChunksPerSet per parameter set (enough for the
// threads of a node's rank to share evenly).
inline constexpr int kMinTilesPerChunk = 8;
inline constexpr int kMaxChunksPerSet = 64;
inline int graph_ode_tiles_per_chunk(int tiles) {
  return std::max(kMinTilesPerChunk, (tiles + kMaxChunksPerSet - 1) / kMaxChunksPerSet);
}

// Runs the kernels of one tile: on the calling thread (`on_caller`: the host, inside the parallel loop over
// tiles), or as parallel_for over the tile's rows on `space` (a device build, one tile at a time).
template <class ExecutionSpace>
struct GraphOdeTileKernels {
  ExecutionSpace space;
  bool on_caller = false;

  template <class Functor>
  void range(const char* name, int n, const Functor& f) const {
    if (on_caller) {
      for (int i = 0; i < n; ++i)
        f(i);
      return;
    }
    Kokkos::parallel_for(name, Kokkos::RangePolicy<ExecutionSpace>(space, 0, n), f);
  }

  template <class Functor>
  void range_2d(const char* name, int n0, int n1, const Functor& f) const {
    if (on_caller) {
      for (int i = 0; i < n0; ++i)
        for (int j = 0; j < n1; ++j)
          f(i, j);
      return;
    }
    Kokkos::parallel_for(name,
                         Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {n0, n1}), f);
  }

  // Before a host library (BLAS) reads what the tile's kernels wrote. A tile's products are one cblas_dgemm
  // each (OpenBLAS's small-matrix kernels at tile sizes): the threads share tiles, not products.
  void fence() const {
    if (!on_caller) space.fence();
  }
};

// Threads that can run items of a loop on `space` at once: how many work spaces for_each_on_threads needs.
template <class HostSpace>
int thread_workers(const HostSpace& space) {
  return Kokkos::Experimental::UniqueToken<HostSpace>(space).size();
}

// body(i, worker) for every i in [0, n) on `space`'s threads (a host space), one item at a time to whichever
// thread is free (tiles differ in cost: some cells have more neighbours); `worker` in [0,
// thread_workers(space)) is held by no other item running at the same time: the index of its work space.
// Which thread runs an item changes nothing in what the item computes. Done on return.
template <class HostSpace, class Body>
void for_each_on_threads(const char* name, const HostSpace& space, int n, const Body& body) {
  const Kokkos::Experimental::UniqueToken<HostSpace> token(space);
  // A host-only loop (HostSpace is never a device), so the lambda may hold references.
  Kokkos::parallel_for(
      name,
      Kokkos::RangePolicy<HostSpace, Kokkos::Schedule<Kokkos::Dynamic>>(space, 0, n, Kokkos::ChunkSize(1)),
      [&](const int i) {
        const int worker = token.acquire();
        body(i, worker);
        token.release(worker);
      });
  space.fence();
}

} // namespace tessera
