// The stable sort by key (core/sort_by_key.hpp), both its ways (the host's counting sort where it applies and
// the device's radix sort, run here on whatever memory the build has), against std::stable_sort of the same
// keys: the same permutation (equal keys in ascending index order) and the same run starts, on key sets where
// a threaded or GPU scan splits the rows: few distinct keys (cell types), many (signalling sources), one, and
// keys up to 2^59 (spatial bins).
#include "tessera/core/sort_by_key.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

using namespace tessera;

namespace {

void check_permutation(const SortedByKey& sorted, const std::vector<long long>& keys,
                       const std::vector<int>& expected, long long largest);

template <class Key>
void check_sort(std::size_t n, long long largest, unsigned seed) {
  std::mt19937_64 draw(seed);
  std::uniform_int_distribution<long long> pick(0, largest);
  Kokkos::View<Key*> key("key", n + 3); // longer than n: only key[0, n) is sorted
  auto key_h = Kokkos::create_mirror_view(key);
  std::vector<long long> keys(n);
  for (std::size_t i = 0; i < n; ++i) {
    keys[i] = pick(draw);
    key_h(i) = static_cast<Key>(keys[i]);
  }
  for (std::size_t i = n; i < n + 3; ++i)
    key_h(i) = 0; // would sort first if the tail were read
  Kokkos::deep_copy(key, key_h);

  std::vector<int> expected(n);
  std::iota(expected.begin(), expected.end(), 0);
  std::stable_sort(expected.begin(), expected.end(), [&](int a, int b) {
    return keys[static_cast<std::size_t>(a)] < keys[static_cast<std::size_t>(b)];
  });
  for (const bool radix : {false, true})
    check_permutation(radix ? impl::radix_sort_by_key(Kokkos::View<const Key*>(key), n, largest)
                            : stable_sort_by_key(Kokkos::View<const Key*>(key), n, largest),
                      keys, expected, largest);
}

void check_permutation(const SortedByKey& sorted, const std::vector<long long>& keys,
                       const std::vector<int>& expected, long long largest) {
  const std::size_t n = keys.size();
  ASSERT_EQ(sorted.order.extent(0), n);
  const auto order = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sorted.order);
  const auto sorted_key = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sorted.key);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool same = order(i) == expected[i] && sorted_key(i) == keys[static_cast<std::size_t>(expected[i])];
    if (!same && wrong++ < 5)
      ADD_FAILURE() << "position " << i << ": row " << order(i) << " (key " << sorted_key(i)
                    << "), expected row " << expected[i] << " (key "
                    << keys[static_cast<std::size_t>(expected[i])] << ")";
  }
  EXPECT_EQ(wrong, 0u) << n << " keys in [0, " << largest << "]";

  if (largest > 100000) return;
  const auto begin =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), key_offsets(sorted, largest + 1));
  ASSERT_EQ(begin.extent(0), static_cast<std::size_t>(largest) + 2);
  for (long long c = 0; c <= largest + 1; ++c) {
    const auto below = std::count_if(keys.begin(), keys.end(), [&](long long k) { return k < c; });
    ASSERT_EQ(begin(static_cast<std::size_t>(c)), below) << "key " << c;
  }
}

} // namespace

TEST(SortByKey, FewKeysGiveStdStableSortsPermutation) {
  check_sort<int>(50000, 4, 1);
  check_sort<int>(4097, 1, 2);
}

TEST(SortByKey, ManyKeysGiveStdStableSortsPermutation) {
  check_sort<int>(60000, 9999, 3);
  check_sort<int>(1000, 999999, 4); // mostly distinct keys
}

TEST(SortByKey, WideKeysGiveStdStableSortsPermutation) {
  check_sort<long long>(30000, (1LL << 59) + 12345, 5);
}

TEST(SortByKey, OneKeyOrNoRowsKeepTheOrder) {
  check_sort<int>(3000, 0, 6);
  check_sort<int>(0, 5, 7);
  check_sort<int>(1, 5, 8);
}

TEST(SortByKey, FirstKeyOutsideTheRange) {
  Kokkos::View<int*> key("key", 100);
  auto key_h = Kokkos::create_mirror_view(key);
  for (int i = 0; i < 100; ++i)
    key_h(i) = i % 5;
  Kokkos::deep_copy(key, key_h);
  EXPECT_EQ(first_key_outside(key, 100, 4), 100u);
  EXPECT_EQ(first_key_outside(key, 100, 3), 4u);
  EXPECT_EQ(first_key_outside(key, 0, 3), 0u);
  key_h(70) = -1;
  Kokkos::deep_copy(key, key_h);
  EXPECT_EQ(first_key_outside(key, 100, 4), 70u);
  EXPECT_EQ(first_key_outside(key, 60, 4), 60u);
}
