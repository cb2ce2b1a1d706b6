#include "tessera/grn/received_signal.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace tessera {

void ReceivedSignal::set_graph(const SignalingGraph* graph, std::size_t n_rows) {
  graph_ = graph;
  n_rows_ = 0;
  if (!graph) return;
  // A counting sort on the host: once per step, O(edges), while the adjoint runs many times per step.
  const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->offsets);
  const auto source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->source);
  const auto weight = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->weight);
  const std::size_t n_owned = graph->n_owned;
  const int edges = offsets.extent(0) > n_owned ? offsets(n_owned) : 0;
  n_rows_ = n_rows;
  for (int e = 0; e < edges; ++e)
    n_rows_ = std::max(n_rows_, static_cast<std::size_t>(source(e)) + 1);
  std::vector<int> count(n_rows_ + 1, 0);
  for (int e = 0; e < edges; ++e)
    ++count[static_cast<std::size_t>(source(e)) + 1];
  for (std::size_t n = 0; n < n_rows_; ++n)
    count[n + 1] += count[n];
  transposed_offsets_ = Kokkos::View<int*>("tessera::grn::received_signal::offsets", n_rows_ + 1);
  transposed_receiver_ =
      Kokkos::View<int*>("tessera::grn::received_signal::receiver", static_cast<std::size_t>(edges));
  transposed_weight_ = Kokkos::View<double*>("tessera::grn::received_signal::weight",
                                             weight.extent(0) ? static_cast<std::size_t>(edges) : 0);
  auto t_offsets = Kokkos::create_mirror_view(transposed_offsets_);
  auto t_receiver = Kokkos::create_mirror_view(transposed_receiver_);
  auto t_weight = Kokkos::create_mirror_view(transposed_weight_);
  for (std::size_t n = 0; n <= n_rows_; ++n)
    t_offsets(n) = count[n];
  // Receivers visited in ascending order: each source row's list is sorted, whatever the thread count.
  for (std::size_t i = 0; i < n_owned; ++i)
    for (int e = offsets(i); e < offsets(i + 1); ++e) {
      const int slot = count[static_cast<std::size_t>(source(e))]++;
      t_receiver(slot) = static_cast<int>(i);
      if (weight.extent(0)) t_weight(slot) = weight(e);
    }
  Kokkos::deep_copy(transposed_offsets_, t_offsets);
  Kokkos::deep_copy(transposed_receiver_, t_receiver);
  Kokkos::deep_copy(transposed_weight_, t_weight);
}

void ReceivedSignal::forward(Kokkos::View<const double**, Kokkos::LayoutRight> ligands,
                             Kokkos::View<double**, Kokkos::LayoutRight> signal) const {
  if (!graph_) throw runtime_error("received signal: no signalling graph is set");
  const ReceivedSignalFunctor f{graph_->offsets, graph_->source, graph_->weight, ligands, signal};
  Kokkos::parallel_for("tessera::grn::received_signal", Kokkos::RangePolicy<>(0, graph_->n_owned), f);
}

void ReceivedSignal::adjoint(Kokkos::View<const double**, Kokkos::LayoutRight> signal_bar,
                             Kokkos::View<double**, Kokkos::LayoutRight> ligand_bar) const {
  if (!graph_) throw runtime_error("received signal: no signalling graph is set");
  if (ligand_bar.extent(0) < n_rows_)
    throw runtime_error("received signal: the ligand cotangents have " +
                        std::to_string(ligand_bar.extent(0)) + " rows, the graph's sources reach row " +
                        std::to_string(n_rows_));
  const ReceivedSignalAdjointFunctor f{transposed_offsets_, transposed_receiver_, transposed_weight_,
                                       signal_bar, ligand_bar};
  Kokkos::parallel_for("tessera::grn::received_signal_adjoint", Kokkos::RangePolicy<>(0, n_rows_), f);
}

} // namespace tessera
