// "Plan, then apply" (SPEC §4.2): which local rows go to which neighbour rank, built once, then applied to
// any field. Halo (ghost gather and its reverse) and migration are both made of one ExchangePlan.
#pragma once

#include "tessera/parallel/mpi.hpp"

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

namespace tessera {

// Rows are exported to neighbour ranks; neighbours are known to both sides (the Cartesian neighbourhood is
// symmetric), so the plan exchanges only counts with them, never with all ranks.
class ExchangePlan {
public:
  ExchangePlan() = default;

  // Collective over `neighbours` (every rank passes its own symmetric neighbour list, self allowed).
  // `send_rows` (device) holds the exported rows grouped by neighbour: the first send_counts[0] go to
  // neighbours[0], and so on (an ExportList). Each rank receives rows grouped by source neighbour (ascending
  // rank), then in send order. Only the counts travel in the plan's own messages.
  ExchangePlan(MPI_Comm comm, const std::vector<int>& neighbours, const std::vector<int>& send_counts,
               Kokkos::View<int*> send_rows);

  std::size_t n_send() const { return send_rows_.extent(0); }
  std::size_t n_recv() const { return n_recv_; }
  // Exported rows in send order (device view), for packing kernels.
  Kokkos::View<const int*> send_rows() const { return send_rows_; }

  // Collective. Packs src(send_rows, :) and receives into dst(dst_offset + r, :) for r < n_recv().
  template <class T>
  void forward(Kokkos::View<const T**, Kokkos::LayoutRight> src, Kokkos::View<T**, Kokkos::LayoutRight> dst,
               std::size_t dst_offset) const;
  // Collective. forward() on a double field that adds shift(k, :) to exported row k (periodic images).
  void forward_shifted(Kokkos::View<double**, Kokkos::LayoutRight> field,
                       Kokkos::View<const double* [3], Kokkos::LayoutRight> shift,
                       std::size_t dst_offset) const;
  // Collective. The reverse: rows src(src_offset + r, :) travel back to the rows they came from, and are
  // added there: dst(send_rows[k], :) += received(k, :). The adjoint of forward().
  template <class T>
  void reverse_add(Kokkos::View<const T**, Kokkos::LayoutRight> src, std::size_t src_offset,
                   Kokkos::View<T**, Kokkos::LayoutRight> dst) const;

  // Whether MPI takes pointers into the cells' memory: host memory, or device memory with a GPU-aware MPI
  // (mpi::accepts_device_memory, asked at run time).
  static bool mpi_reaches_cells() {
    using memory_space = Kokkos::DefaultExecutionSpace::memory_space;
    if (Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible) return true;
    return mpi::accepts_device_memory();
  }

private:
  // Sends the packed rows `send` (n_send x width) and receives into dst(dst_offset + r, :).
  template <class T>
  void deliver(Kokkos::View<const T**, Kokkos::LayoutRight> send, Kokkos::View<T**, Kokkos::LayoutRight> dst,
               std::size_t dst_offset) const;
  // Raw exchange of packed rows of `width` elements of type T, forward (send -> recv) or reversed.
  template <class T>
  void exchange(const T* send, T* recv, std::size_t width, bool reversed) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::vector<int> neighbours_;
  std::vector<int> send_counts_, send_offsets_, recv_counts_, recv_offsets_;
  Kokkos::View<int*> send_rows_;
  std::size_t n_recv_ = 0;
};

template <class T>
MPI_Datatype mpi_type();
template <>
inline MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
inline MPI_Datatype mpi_type<std::uint64_t>() {
  return MPI_UINT64_T;
}
template <>
inline MPI_Datatype mpi_type<int>() {
  return MPI_INT;
}

template <class T>
void ExchangePlan::exchange(const T* send, T* recv, std::size_t width, bool reversed) const {
  const std::vector<int>& out_counts = reversed ? recv_counts_ : send_counts_;
  const std::vector<int>& out_offsets = reversed ? recv_offsets_ : send_offsets_;
  const std::vector<int>& in_counts = reversed ? send_counts_ : recv_counts_;
  const std::vector<int>& in_offsets = reversed ? send_offsets_ : recv_offsets_;
  std::vector<MPI_Request> requests;
  requests.reserve(2 * neighbours_.size());
  const int tag = 7301;
  for (std::size_t n = 0; n < neighbours_.size(); ++n) {
    if (in_counts[n] == 0) continue;
    requests.emplace_back();
    mpi::check(MPI_Irecv(recv + static_cast<std::size_t>(in_offsets[n]) * width,
                         static_cast<int>(in_counts[n] * width), mpi_type<T>(), neighbours_[n], tag, comm_,
                         &requests.back()),
               "MPI_Irecv");
  }
  for (std::size_t n = 0; n < neighbours_.size(); ++n) {
    if (out_counts[n] == 0) continue;
    requests.emplace_back();
    mpi::check(MPI_Isend(send + static_cast<std::size_t>(out_offsets[n]) * width,
                         static_cast<int>(out_counts[n] * width), mpi_type<T>(), neighbours_[n], tag, comm_,
                         &requests.back()),
               "MPI_Isend");
  }
  mpi::check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
             "MPI_Waitall");
}

template <class T>
void ExchangePlan::forward(Kokkos::View<const T**, Kokkos::LayoutRight> src,
                           Kokkos::View<T**, Kokkos::LayoutRight> dst, std::size_t dst_offset) const {
  const std::size_t width = src.extent(1);
  Kokkos::View<T**, Kokkos::LayoutRight> send("tessera::exchange::send", n_send(), width);
  const auto rows = send_rows_;
  Kokkos::parallel_for(
      "tessera::exchange::pack", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {n_send(), width}),
      KOKKOS_LAMBDA(const std::size_t k, const std::size_t c) { send(k, c) = src(rows(k), c); });
  Kokkos::fence();
  deliver<T>(send, dst, dst_offset);
}

template <class T>
void ExchangePlan::deliver(Kokkos::View<const T**, Kokkos::LayoutRight> send,
                           Kokkos::View<T**, Kokkos::LayoutRight> dst, std::size_t dst_offset) const {
  const std::size_t width = send.extent(1);
  // Rows [dst_offset, dst_offset + n_recv) of a LayoutRight matrix are one contiguous block: MPI receives
  // into it directly where it can address the memory (always on a host build; on a GPU with a GPU-aware
  // MPI); otherwise the send buffer and the received rows cross to the host once each.
  auto dst_rows = Kokkos::subview(dst, std::make_pair(dst_offset, dst_offset + n_recv_), Kokkos::ALL);
  if (mpi_reaches_cells()) {
    exchange<T>(send.data(), dst_rows.data(), width, false);
    return;
  }
  auto send_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), send);
  Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> recv_h("tessera::exchange::recv", n_recv_, width);
  exchange<T>(send_h.data(), recv_h.data(), width, false);
  Kokkos::deep_copy(dst_rows, recv_h);
}

template <class T>
void ExchangePlan::reverse_add(Kokkos::View<const T**, Kokkos::LayoutRight> src, std::size_t src_offset,
                               Kokkos::View<T**, Kokkos::LayoutRight> dst) const {
  const std::size_t width = src.extent(1);
  auto src_rows = Kokkos::subview(src, std::make_pair(src_offset, src_offset + n_recv_), Kokkos::ALL);
  Kokkos::View<T**, Kokkos::LayoutRight> got("tessera::exchange::got", n_send(), width);
  if (mpi_reaches_cells()) {
    exchange<T>(src_rows.data(), got.data(), width, true);
  } else {
    Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> back_h("tessera::exchange::back", n_recv_,
                                                                     width);
    Kokkos::deep_copy(back_h, src_rows);
    auto got_h = Kokkos::create_mirror_view(got);
    exchange<T>(back_h.data(), got_h.data(), width, true);
    Kokkos::deep_copy(got, got_h);
  }
  const auto rows = send_rows_;
  // Serial over exported rows: one owned row can be exported several times (several neighbours, periodic
  // images), and those contributions must be summed in a fixed order for reproducibility.
  Kokkos::parallel_for(
      "tessera::exchange::unpack_add", Kokkos::RangePolicy<>(0, width), KOKKOS_LAMBDA(const std::size_t c) {
        for (std::size_t k = 0; k < rows.extent(0); ++k)
          dst(rows(k), c) += got(k, c);
      });
  Kokkos::fence();
}

} // namespace tessera
