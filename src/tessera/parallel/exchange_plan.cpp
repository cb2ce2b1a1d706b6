#include "tessera/parallel/exchange_plan.hpp"

#include <algorithm>
#include <numeric>

namespace tessera {

ExchangePlan::ExchangePlan(MPI_Comm comm, const std::vector<int>& neighbours,
                           const std::vector<int>& send_counts, Kokkos::View<int*> send_rows)
    : comm_(comm), neighbours_(neighbours), send_counts_(send_counts), send_rows_(send_rows) {
  const std::size_t n_nb = neighbours_.size();
  recv_counts_.assign(n_nb, 0);
  send_offsets_.assign(n_nb, 0);
  if (n_nb) std::partial_sum(send_counts_.begin(), send_counts_.end() - 1, send_offsets_.begin() + 1);

  // Counts with each neighbour (symmetric neighbourhood: everyone we send to also sends to us, maybe 0).
  std::vector<MPI_Request> requests(2 * n_nb);
  for (std::size_t n = 0; n < n_nb; ++n)
    mpi::check(MPI_Irecv(&recv_counts_[n], 1, MPI_INT, neighbours_[n], 7300, comm_, &requests[n]),
               "MPI_Irecv");
  for (std::size_t n = 0; n < n_nb; ++n)
    mpi::check(MPI_Isend(&send_counts_[n], 1, MPI_INT, neighbours_[n], 7300, comm_, &requests[n_nb + n]),
               "MPI_Isend");
  mpi::check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
             "MPI_Waitall");
  recv_offsets_.assign(n_nb, 0);
  if (n_nb) std::partial_sum(recv_counts_.begin(), recv_counts_.end() - 1, recv_offsets_.begin() + 1);
  n_recv_ = static_cast<std::size_t>(std::accumulate(recv_counts_.begin(), recv_counts_.end(), 0));
}

void ExchangePlan::forward_shifted(Kokkos::View<double**, Kokkos::LayoutRight> field,
                                   Kokkos::View<const double* [3], Kokkos::LayoutRight> shift,
                                   std::size_t dst_offset) const {
  const std::size_t width = field.extent(1);
  Kokkos::View<double**, Kokkos::LayoutRight> send("tessera::exchange::send", n_send(), width);
  const auto rows = send_rows_;
  Kokkos::parallel_for(
      "tessera::exchange::pack_shifted", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {n_send(), width}),
      KOKKOS_LAMBDA(const std::size_t k, const std::size_t c) {
        send(k, c) = field(rows(k), c) + shift(k, c);
      });
  Kokkos::fence();
  deliver<double>(send, field, dst_offset);
}

} // namespace tessera
