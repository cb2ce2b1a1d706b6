#include "tessera/grn/received_signal.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/sort_by_key.hpp"

#include <algorithm>
#include <string>

namespace tessera {

namespace {

struct HighestSource {
  Kokkos::View<const int*> source;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t e, int& m) const {
    m = source(e) > m ? source(e) : m;
  }
};

// receiver(e) = the owned row whose edge e is.
struct ReceiverOfEdge {
  Kokkos::View<const int*> offsets;
  Kokkos::View<int*> receiver;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const {
    for (int e = offsets(i); e < offsets(i + 1); ++e)
      receiver(e) = static_cast<int>(i);
  }
};

// Slot k of the transposed graph holds edge order(k): its receiver and weight.
struct Transpose {
  Kokkos::View<const int*> order, receiver_of_edge;
  Kokkos::View<const double*> weight;
  Kokkos::View<int*> receiver;
  Kokkos::View<double*> weight_out;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k) const {
    receiver(k) = receiver_of_edge(order(k));
    if (weight_out.extent(0)) weight_out(k) = weight(order(k));
  }
};

} // namespace

EdgesBySource edges_by_source(const SignalingGraph& graph, std::size_t n_rows) {
  // Only the edge count and the highest source row cross to the host.
  int edges = 0;
  if (graph.offsets.extent(0) > graph.n_owned)
    Kokkos::deep_copy(edges, Kokkos::subview(graph.offsets, graph.n_owned));
  const auto n_edges = static_cast<std::size_t>(edges);
  int highest = -1;
  Kokkos::parallel_reduce("tessera::grn::edges_by_source::highest", Kokkos::RangePolicy<>(0, n_edges),
                          HighestSource{graph.source}, Kokkos::Max<int>(highest));
  EdgesBySource out;
  out.n_rows = std::max(n_rows, highest >= 0 ? static_cast<std::size_t>(highest) + 1 : std::size_t(0));
  const SortedByKey sorted = stable_sort_by_key(Kokkos::View<const int*>(graph.source), n_edges,
                                                static_cast<long long>(out.n_rows) - 1);
  out.offsets = key_offsets(sorted, static_cast<long long>(out.n_rows));
  out.edge = sorted.order;
  return out;
}

void ReceivedSignal::set_graph(const SignalingGraph* graph, std::size_t n_rows) {
  graph_ = graph;
  n_rows_ = 0;
  if (!graph) return;
  // Once per step (the graph changes with the cells), while the adjoint runs many times per step.
  const EdgesBySource transposed = edges_by_source(*graph, n_rows);
  n_rows_ = transposed.n_rows;
  const std::size_t n_edges = transposed.edge.extent(0);
  Kokkos::View<int*> receiver_of_edge("tessera::grn::received_signal::receiver_of_edge", n_edges);
  Kokkos::parallel_for("tessera::grn::received_signal::receiver_of_edge",
                       Kokkos::RangePolicy<>(0, graph->n_owned),
                       ReceiverOfEdge{graph->offsets, receiver_of_edge});
  transposed_offsets_ = transposed.offsets;
  transposed_receiver_ = Kokkos::View<int*>("tessera::grn::received_signal::receiver", n_edges);
  transposed_weight_ =
      Kokkos::View<double*>("tessera::grn::received_signal::weight", graph->weight.extent(0) ? n_edges : 0);
  Kokkos::parallel_for(
      "tessera::grn::received_signal::transpose", Kokkos::RangePolicy<>(0, n_edges),
      Transpose{transposed.edge, receiver_of_edge, graph->weight, transposed_receiver_, transposed_weight_});
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
