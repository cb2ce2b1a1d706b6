#include "tessera/parallel/halo.hpp"

#include "tessera/core/units.hpp"

#include <algorithm>

namespace tessera {

namespace {

// Visits each of the 3^d - 1 offsets with the neighbour's rank and the shift a periodic wrap implies;
// offsets that leave a non-periodic domain are skipped.
template <class Visit>
void for_each_neighbour_box(const CartesianDecomposition& dec, Visit&& visit) {
  const int dim = dec.domain().dim;
  const int range_z = dim == 3 ? 1 : 0;
  for (int oz = -range_z; oz <= range_z; ++oz)
    for (int oy = -1; oy <= 1; ++oy)
      for (int ox = -1; ox <= 1; ++ox) {
        if (ox == 0 && oy == 0 && oz == 0) continue;
        const int offset[3] = {ox, oy, oz};
        int coords[3] = {0, 0, 0};
        double shift[3] = {0, 0, 0};
        bool inside = true;
        for (int a = 0; a < dim; ++a) {
          int c = dec.coords()[a] + offset[a];
          if (c < 0 || c >= dec.dims()[a]) {
            if (!dec.domain().periodic[a]) {
              inside = false;
              break;
            }
            // Leaving through the low face, a cell appears beyond the high face of the box across, and back.
            shift[a] = c < 0 ? dec.domain().extent(a) : -dec.domain().extent(a);
            c = (c + dec.dims()[a]) % dec.dims()[a];
          }
          coords[a] = c;
        }
        if (!inside) continue;
        int rank = 0;
        mpi::check(MPI_Cart_rank(dec.comm(), coords, &rank), "MPI_Cart_rank");
        visit(offset, rank, shift);
      }
}

} // namespace

std::vector<int> neighbour_ranks(const CartesianDecomposition& dec) {
  std::vector<int> ranks;
  for_each_neighbour_box(dec, [&](const int*, int rank, const double*) { ranks.push_back(rank); });
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

HaloPlan::HaloPlan(const CartesianDecomposition& dec, double width,
                   Kokkos::View<const double* [3], Kokkos::LayoutRight> positions, std::size_t n_owned)
    : n_owned_(n_owned), width_(width) {
  const int dim = dec.domain().dim;
  for (int a = 0; a < dim; ++a) {
    const double box = dec.box_hi(a) - dec.box_lo(a);
    if (box < width)
      throw input_error("the rank boxes are " + format_number(box) + " um wide along axis " +
                        std::to_string(a) + ", less than the interaction range " + format_number(width) +
                        " um: use fewer ranks along that axis (parallel.dims) or a larger domain");
  }
  auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), positions);
  std::vector<int> rows, destination;
  std::vector<double> shifts;
  // Offsets first, cells second: ghosts arrive grouped by the box they come from.
  for_each_neighbour_box(dec, [&](const int* offset, int rank, const double* shift) {
    for (std::size_t i = 0; i < n_owned; ++i) {
      bool near = true;
      // Within `width` inclusive on both sides (SPEC §2: d <= r_sig): a cell exactly `width` from a face
      // may have a neighbour at exactly `width` across it.
      for (int a = 0; a < dim && near; ++a) {
        if (offset[a] < 0) near = pos(i, a) - dec.box_lo(a) <= width;
        if (offset[a] > 0) near = dec.box_hi(a) - pos(i, a) <= width;
      }
      if (!near) continue;
      rows.push_back(static_cast<int>(i));
      destination.push_back(rank);
      shifts.insert(shifts.end(), shift, shift + 3);
    }
  });
  const std::vector<int> neighbours = neighbour_ranks(dec);
  plan_ = ExchangePlan(dec.comm(), neighbours, rows, destination);
  // The plan groups rows by neighbour (stably); reorder the shifts the same way.
  std::vector<std::size_t> order(rows.size());
  std::vector<int> slot_of(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k)
    slot_of[k] = static_cast<int>(std::lower_bound(neighbours.begin(), neighbours.end(), destination[k]) -
                                  neighbours.begin());
  for (std::size_t k = 0; k < rows.size(); ++k)
    order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return slot_of[a] < slot_of[b]; });
  shift_ = Kokkos::View<double* [3], Kokkos::LayoutRight>("tessera::halo::shift", rows.size());
  auto shift_h = Kokkos::create_mirror_view(shift_);
  for (std::size_t k = 0; k < order.size(); ++k)
    for (int a = 0; a < 3; ++a)
      shift_h(k, a) = shifts[3 * order[k] + a];
  Kokkos::deep_copy(shift_, shift_h);
}

void HaloPlan::gather_positions(Kokkos::View<double* [3], Kokkos::LayoutRight> positions) const {
  Kokkos::View<double**, Kokkos::LayoutRight> as_matrix(positions.data(), positions.extent(0), 3);
  plan_.forward_shifted(as_matrix, shift_, n_owned_);
}

} // namespace tessera
