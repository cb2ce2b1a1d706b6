// The per-type grouping of the gene models' parameter VJPs (grn/cells_by_type.hpp), sorted on the device,
// against a counting sort on the host: each type's cells in ascending order, the run starts, regrouping only
// when invalidated or the cell count changes, and a type outside the model's range refused naming the cell.
#include "tessera/grn/cells_by_type.hpp"

#include "tessera/core/error.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace tessera;

namespace {

std::vector<int> host_view(const Kokkos::View<int*>& v) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<int>(h.data(), h.data() + h.extent(0));
}

Kokkos::View<int*> upload(const std::vector<int>& types) {
  Kokkos::View<int*> v("types", types.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < types.size(); ++i)
    h(i) = types[i];
  Kokkos::deep_copy(v, h);
  return v;
}

} // namespace

TEST(CellsByType, GroupsEachTypesCellsInAscendingOrder) {
  const int n_types = 5, n_cells = 20000;
  std::mt19937 draw(3);
  std::uniform_int_distribution<int> pick(0, n_types - 2); // the last type has no cells
  std::vector<int> types(static_cast<std::size_t>(n_cells) + 10,
                         n_types + 7); // rows past n_cells are not read
  for (int i = 0; i < n_cells; ++i)
    types[static_cast<std::size_t>(i)] = pick(draw);
  std::vector<int> begin(n_types + 1, 0), order;
  for (int c = 0; c < n_types; ++c) {
    for (int i = 0; i < n_cells; ++i)
      if (types[static_cast<std::size_t>(i)] == c) order.push_back(i);
    begin[static_cast<std::size_t>(c) + 1] = static_cast<int>(order.size());
  }
  const auto device_types = upload(types);
  CellsByType by_type;
  by_type.update(device_types, n_cells, n_types, "sigmoid");
  EXPECT_EQ(host_view(by_type.begin()), begin);
  EXPECT_EQ(host_view(by_type.order()), order);

  // Unchanged types and count: the grouping is kept (the same View); invalidated: regrouped.
  const int* kept = by_type.order().data();
  by_type.update(device_types, n_cells, n_types, "sigmoid");
  EXPECT_EQ(by_type.order().data(), kept);
  by_type.invalidate();
  by_type.update(device_types, n_cells - 1, n_types, "sigmoid");
  EXPECT_EQ(by_type.order().extent(0), static_cast<std::size_t>(n_cells) - 1);
}

TEST(CellsByType, ATypeOutsideTheModelIsRefusedNamingTheCell) {
  std::vector<int> types(300, 1);
  types[123] = 4;
  types[200] = -1;
  CellsByType by_type;
  try {
    by_type.update(upload(types), 300, 3, "hill");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "hill: cell 123 has type 4 outside [0, 3)");
    EXPECT_EQ(e.code(), ExitCode::runtime);
  }
}
