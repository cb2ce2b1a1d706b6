#include "tessera/parallel/halo.hpp"

#include "tessera/core/units.hpp"
#include "tessera/parallel/export_list.hpp"

#include <algorithm>

namespace tessera {

namespace {

// Whether owned row i lies within `width` of the faces that neighbour box `c` (offset) is across, inclusive
// on both sides (SPEC §2: d <= r_sig): a cell exactly `width` from a face may have a neighbour at exactly
// `width` across it.
struct NearFace {
  RankBoxes boxes;
  double width;
  Kokkos::View<const double* [3], Kokkos::LayoutRight> pos;
  int offset[26][3];

  KOKKOS_INLINE_FUNCTION bool operator()(const std::size_t i, const std::size_t c) const {
    bool near = true;
    for (int a = 0; a < boxes.dim && near; ++a) {
      if (offset[c][a] < 0) near = pos(i, a) - boxes.box_lo(a) <= width;
      if (offset[c][a] > 0) near = boxes.box_hi(a) - pos(i, a) <= width;
    }
    return near;
  }
};

// Exported row k carries its channel's periodic shift.
struct ShiftOfChannel {
  Kokkos::View<double* [3], Kokkos::LayoutRight> shift;
  Kokkos::View<const int*> channel;
  Kokkos::View<const double* [3], Kokkos::LayoutRight> channel_shift;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k) const {
    for (int a = 0; a < 3; ++a)
      shift(k, a) = channel_shift(channel(k), a);
  }
};

} // namespace

std::vector<NeighbourBox> neighbour_boxes(const CartesianDecomposition& dec) {
  std::vector<NeighbourBox> boxes;
  const int dim = dec.domain().dim;
  const int range_z = dim == 3 ? 1 : 0;
  for (int oz = -range_z; oz <= range_z; ++oz)
    for (int oy = -1; oy <= 1; ++oy)
      for (int ox = -1; ox <= 1; ++ox) {
        if (ox == 0 && oy == 0 && oz == 0) continue;
        NeighbourBox box{{ox, oy, oz}, 0, {0, 0, 0}};
        int coords[3] = {0, 0, 0};
        bool inside = true;
        for (int a = 0; a < dim; ++a) {
          int c = dec.coords()[a] + box.offset[a];
          if (c < 0 || c >= dec.dims()[a]) {
            if (!dec.domain().periodic[a]) {
              inside = false;
              break;
            }
            // Leaving through the low face, a cell appears beyond the high face of the box across, and back.
            box.shift[a] = c < 0 ? dec.domain().extent(a) : -dec.domain().extent(a);
            c = (c + dec.dims()[a]) % dec.dims()[a];
          }
          coords[a] = c;
        }
        if (!inside) continue;
        mpi::check(MPI_Cart_rank(dec.comm(), coords, &box.rank), "MPI_Cart_rank");
        boxes.push_back(box);
      }
  return boxes;
}

std::vector<int> neighbour_ranks(const CartesianDecomposition& dec) {
  std::vector<int> ranks;
  for (const NeighbourBox& box : neighbour_boxes(dec))
    ranks.push_back(box.rank);
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
  // One export channel per neighbour box (offset), in the order for_each_neighbour_box visits them:
  // ghosts arrive grouped by the rank they come from, then by box, then by row.
  const std::vector<int> neighbours = neighbour_ranks(dec);
  NearFace near{dec.boxes(), width, positions, {}};
  std::vector<int> channel_slot;
  Kokkos::View<double* [3], Kokkos::LayoutRight> channel_shift("tessera::halo::channel_shift", 26);
  auto channel_shift_h = Kokkos::create_mirror_view(channel_shift);
  for (const NeighbourBox& box : neighbour_boxes(dec)) {
    const std::size_t c = channel_slot.size();
    for (int a = 0; a < 3; ++a) {
      near.offset[c][a] = box.offset[a];
      channel_shift_h(c, a) = box.shift[a];
    }
    channel_slot.push_back(static_cast<int>(std::lower_bound(neighbours.begin(), neighbours.end(), box.rank) -
                                            neighbours.begin()));
  }
  Kokkos::deep_copy(channel_shift, channel_shift_h);
  const ExportList list = make_export_list(n_owned, channel_slot, neighbours.size(), near);
  plan_ = ExchangePlan(dec.comm(), neighbours, list.send_counts, list.rows);
  shift_ = Kokkos::View<double* [3], Kokkos::LayoutRight>("tessera::halo::shift", list.rows.extent(0));
  Kokkos::parallel_for("tessera::halo::shifts", Kokkos::RangePolicy<>(0, list.rows.extent(0)),
                       ShiftOfChannel{shift_, list.channel, channel_shift});
  Kokkos::fence();
}

void HaloPlan::gather_positions(Kokkos::View<double* [3], Kokkos::LayoutRight> positions) const {
  Kokkos::View<double**, Kokkos::LayoutRight> as_matrix(positions.data(), positions.extent(0), 3);
  plan_.forward_shifted(as_matrix, shift_, n_owned_);
}

} // namespace tessera
