// Sorting rows by a non-negative integer key on the execution space's memory, stably: the permutation is
// std::stable_sort's whatever the backend and thread count. On a device, a least-significant-digit radix sort
// (one bit per pass, each pass a scan of the zero bits and a scatter, no atomics); in host memory, a
// sequential counting sort where the keys are small enough to count, the radix sort otherwise. Used for the
// spatial order of the cells, the per-type grouping of the gene models and the transposed signalling graph.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace tessera {

struct SortedByKey {
  Kokkos::View<int*> order;     // key(order(0)) <= key(order(1)) <= ...; equal keys in ascending index order
  Kokkos::View<long long*> key; // key(order(i)), ascending
};

// Not collective. Sorts key[0, n); every key must lie in [0, largest] (only the bits of `largest` are
// sorted on: find a key outside with first_key_outside()).
SortedByKey stable_sort_by_key(Kokkos::View<const long long*> key, std::size_t n, long long largest);
SortedByKey stable_sort_by_key(Kokkos::View<const int*> key, std::size_t n, long long largest);

namespace impl {
// The device's way, whatever the memory (for tests on host builds).
SortedByKey radix_sort_by_key(Kokkos::View<const long long*> key, std::size_t n, long long largest);
SortedByKey radix_sort_by_key(Kokkos::View<const int*> key, std::size_t n, long long largest);
} // namespace impl

// The index of the first key of key[0, n) outside [0, largest], or n when there is none.
std::size_t first_key_outside(Kokkos::View<const int*> key, std::size_t n, long long largest);

// Where each key's run starts in sorted keys (a counting sort's offsets): begin(c) is the number of keys
// below c, for c in [0, n_keys]; the keys of value c are order(begin(c)) .. order(begin(c + 1) - 1).
Kokkos::View<int*> key_offsets(const SortedByKey& sorted, long long n_keys);

} // namespace tessera
