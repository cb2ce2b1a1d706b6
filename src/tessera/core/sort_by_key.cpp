#include "tessera/core/sort_by_key.hpp"

#include <utility>
#include <vector>

namespace tessera {

namespace {

// The keys, widened, in their original order: the first pass's input.
template <class Key>
struct StartSort {
  Kokkos::View<const Key*> key;
  Kokkos::View<long long*> key_out;
  Kokkos::View<int*> order;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const {
    key_out(i) = static_cast<long long>(key(i));
    order(i) = static_cast<int>(i);
  }
};

// One pass on one bit: the rows whose bit is 0 go first, then those whose bit is 1, each in their current
// order. Stable passes from the lowest bit up give a stable sort. zeros_before(i) counts the 0 bits before
// row i; zeros_before(n) is their total.
struct CountZeros {
  using value_type = std::size_t;
  Kokkos::View<const long long*> key;
  Kokkos::View<int*> zeros_before;
  int bit;
  std::size_t n;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, value_type& zeros, const bool final) const {
    const bool zero = ((key(i) >> bit) & 1) == 0;
    if (final) {
      zeros_before(i) = static_cast<int>(zeros);
      if (i + 1 == n) zeros_before(n) = static_cast<int>(zeros + (zero ? 1 : 0));
    }
    if (zero) ++zeros;
  }
};

struct SplitByBit {
  Kokkos::View<const long long*> key;
  Kokkos::View<const int*> order;
  Kokkos::View<const int*> zeros_before;
  Kokkos::View<long long*> key_out;
  Kokkos::View<int*> order_out;
  int bit;
  std::size_t n;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const {
    const bool zero = ((key(i) >> bit) & 1) == 0;
    const std::size_t at = zero ? static_cast<std::size_t>(zeros_before(i))
                                : static_cast<std::size_t>(zeros_before(n)) + i - zeros_before(i);
    key_out(at) = key(i);
    order_out(at) = order(i);
  }
};

struct FirstOutside {
  Kokkos::View<const int*> key;
  long long largest;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, std::size_t& first) const {
    if ((key(i) < 0 || key(i) > largest) && i < first) first = i;
  }
};

// begin(c) = the number of sorted keys below c: a binary search per key value (std::lower_bound).
struct KeyStarts {
  Kokkos::View<const long long*> key;
  Kokkos::View<int*> begin;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t c) const {
    std::size_t lo = 0, hi = key.extent(0);
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (key(mid) < static_cast<long long>(c))
        lo = mid + 1;
      else
        hi = mid;
    }
    begin(c) = static_cast<int>(lo);
  }
};

// Where the Views' memory is the host's (Serial, OpenMP, Threads builds), one sequential counting sort
// (counts, prefix sums, a stable placement) is 10-40 times cheaper in CPU time than the radix passes
// (250000 keys: 1 vs 43 ms below 25000, 0.4 vs 11 ms below 10) and gives the same permutation; it needs a
// count per key value, so it serves keys up to a few times the row count.
constexpr bool host_memory =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, Kokkos::View<int*>::memory_space>::accessible;

bool counting_sort_fits(std::size_t n, long long largest) {
  return host_memory && largest >= 0 && static_cast<unsigned long long>(largest) <= 4 * n + 65536;
}

// The result's two Views, n entries each, filled by either sort.
SortedByKey uninitialised_result(std::size_t n) {
  return {
      Kokkos::View<int*>(Kokkos::view_alloc("tessera::sort_by_key::order", Kokkos::WithoutInitializing), n),
      Kokkos::View<long long*>(Kokkos::view_alloc("tessera::sort_by_key::key", Kokkos::WithoutInitializing),
                               n)};
}

template <class Key>
SortedByKey counting_sort(Kokkos::View<const Key*> key, std::size_t n, long long largest) {
  SortedByKey sorted = uninitialised_result(n);
  Kokkos::fence(); // the keys' kernels are done
  const Key* k = key.data();
  int* order = sorted.order.data();
  long long* sorted_key = sorted.key.data();
  std::vector<std::size_t> next(static_cast<std::size_t>(largest) + 2, 0);
  for (std::size_t i = 0; i < n; ++i)
    ++next[static_cast<std::size_t>(k[i]) + 1];
  for (std::size_t c = 1; c < next.size(); ++c)
    next[c] += next[c - 1];
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = next[static_cast<std::size_t>(k[i])]++;
    order[at] = static_cast<int>(i);
    sorted_key[at] = static_cast<long long>(k[i]);
  }
  return sorted;
}

template <class Key>
SortedByKey radix_sort(Kokkos::View<const Key*> key, std::size_t n, long long largest) {
  SortedByKey sorted = uninitialised_result(n);
  Kokkos::parallel_for("tessera::sort_by_key::start", Kokkos::RangePolicy<>(0, n),
                       StartSort<Key>{key, sorted.key, sorted.order});
  // As many passes as the largest key has bits.
  int n_bits = 0;
  while (largest > 0 && n_bits < 63 && (largest >> n_bits) != 0)
    ++n_bits;
  if (n < 2 || n_bits == 0) return sorted;
  SortedByKey other{
      Kokkos::View<int*>(Kokkos::view_alloc("tessera::sort_by_key::order_other", Kokkos::WithoutInitializing),
                         n),
      Kokkos::View<long long*>(
          Kokkos::view_alloc("tessera::sort_by_key::key_other", Kokkos::WithoutInitializing), n)};
  Kokkos::View<int*> zeros_before("tessera::sort_by_key::zeros_before", n + 1);
  for (int bit = 0; bit < n_bits; ++bit) {
    Kokkos::parallel_scan("tessera::sort_by_key::count_zeros", Kokkos::RangePolicy<>(0, n),
                          CountZeros{sorted.key, zeros_before, bit, n});
    Kokkos::parallel_for("tessera::sort_by_key::split", Kokkos::RangePolicy<>(0, n),
                         SplitByBit{sorted.key, sorted.order, zeros_before, other.key, other.order, bit, n});
    std::swap(sorted, other);
  }
  return sorted;
}

} // namespace

SortedByKey stable_sort_by_key(Kokkos::View<const long long*> key, std::size_t n, long long largest) {
  return counting_sort_fits(n, largest) ? counting_sort(key, n, largest) : radix_sort(key, n, largest);
}

SortedByKey stable_sort_by_key(Kokkos::View<const int*> key, std::size_t n, long long largest) {
  return counting_sort_fits(n, largest) ? counting_sort(key, n, largest) : radix_sort(key, n, largest);
}

namespace impl {

SortedByKey radix_sort_by_key(Kokkos::View<const long long*> key, std::size_t n, long long largest) {
  return radix_sort(key, n, largest);
}

SortedByKey radix_sort_by_key(Kokkos::View<const int*> key, std::size_t n, long long largest) {
  return radix_sort(key, n, largest);
}

} // namespace impl

std::size_t first_key_outside(Kokkos::View<const int*> key, std::size_t n, long long largest) {
  std::size_t first = n;
  Kokkos::parallel_reduce("tessera::sort_by_key::first_outside", Kokkos::RangePolicy<>(0, n),
                          FirstOutside{key, largest}, Kokkos::Min<std::size_t>(first));
  return first < n ? first : n; // no rows: the reduction's identity, the largest size_t
}

Kokkos::View<int*> key_offsets(const SortedByKey& sorted, long long n_keys) {
  Kokkos::View<int*> begin("tessera::sort_by_key::begin", static_cast<std::size_t>(n_keys) + 1);
  Kokkos::parallel_for("tessera::sort_by_key::begin",
                       Kokkos::RangePolicy<>(0, static_cast<std::size_t>(n_keys) + 1),
                       KeyStarts{sorted.key, begin});
  return begin;
}

} // namespace tessera
