// Ghost cells (SPEC §4.1–4.2): every owned cell within `width` of a face, edge or corner of its rank box is
// copied to the rank across it, periodic images included (positions shifted by the period). Built once per
// step from the owned positions; applied to any field, forward (gather) or reverse (scatter-add).
#pragma once

#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/exchange_plan.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

class HaloPlan {
public:
  HaloPlan() = default;

  // Collective. `positions` holds at least `n_owned` rows (x, y, z). Throws input_error when a rank box is
  // thinner than `width` (a ghost would have to cross two boxes).
  HaloPlan(const CartesianDecomposition& decomposition, double width,
           Kokkos::View<const double* [3], Kokkos::LayoutRight> positions, std::size_t n_owned);

  std::size_t n_owned() const { return n_owned_; }
  std::size_t n_ghost() const { return plan_.n_recv(); }
  double width() const { return width_; }

  // Collective. Rows [n_owned, n_owned + n_ghost) of `field` receive their owners' rows.
  template <class T>
  void gather(Kokkos::View<T**, Kokkos::LayoutRight> field) const {
    plan_.forward<T>(field, field, n_owned_);
  }
  // Collective. Ghost positions, shifted into this rank's frame for periodic images.
  void gather_positions(Kokkos::View<double* [3], Kokkos::LayoutRight> positions) const;
  // Collective. Ghost rows are added into their owners' rows (the adjoint of gather).
  template <class T>
  void scatter_add(Kokkos::View<T**, Kokkos::LayoutRight> field) const {
    plan_.reverse_add<T>(field, n_owned_, field);
  }

  const ExchangePlan& plan() const { return plan_; }

private:
  std::size_t n_owned_ = 0;
  double width_ = 0;
  ExchangePlan plan_;
  Kokkos::View<double* [3], Kokkos::LayoutRight> shift_; // per exported row
};

// One of the 3^d - 1 boxes around this rank's: its offset (-1, 0, 1 per axis), its rank and the shift a
// periodic wrap gives positions sent there.
struct NeighbourBox {
  int offset[3];
  int rank;
  double shift[3];
};
// The surrounding boxes, z slowest and x fastest; offsets that leave a non-periodic domain are left out.
std::vector<NeighbourBox> neighbour_boxes(const CartesianDecomposition& decomposition);

// The ranks of the 3^d - 1 surrounding boxes (and this rank when an axis is periodic with one box), sorted
// and unique: the neighbourhood every halo and migration exchange uses.
std::vector<int> neighbour_ranks(const CartesianDecomposition& decomposition);

} // namespace tessera
