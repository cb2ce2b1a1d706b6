// The ligand signal each owned cell receives, s(i, c) = sum over its signalling sources n of w(d_in) *
// ligand(n, c) (SPEC §2.1), and its adjoint, which sends a cotangent of s back to the sources' ligand values
// (owned and ghost rows) in a fixed order, so that gradients do not depend on the thread count.
#pragma once

#include "tessera/grn/signaling.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace tessera {

// A signalling graph's edges grouped by source row (the transposed graph), by a stable sort on the device:
// the edges from row n are edge(offsets(n)) .. edge(offsets(n + 1) - 1), in ascending edge order, so with
// ascending receivers. Rows [0, n_rows): the n_rows asked for, raised to cover every source row.
struct EdgesBySource {
  Kokkos::View<int*> offsets, edge;
  std::size_t n_rows = 0;
};
EdgesBySource edges_by_source(const SignalingGraph& graph, std::size_t n_rows);

// s(i, c) = sum over the signalling sources n of cell i of w * ligand(n, c), in the graph's (id) order.
struct ReceivedSignalFunctor {
  Kokkos::View<const int*> offsets, source;
  Kokkos::View<const double*> weight;
  Kokkos::View<const double**, Kokkos::LayoutRight> ligands;
  Kokkos::View<double**, Kokkos::LayoutRight> signal;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    for (std::size_t c = 0; c < ligands.extent(1); ++c) {
      double sum = 0.0;
      if (weight.extent(0))
        for (int e = offsets(i); e < offsets(i + 1); ++e)
          sum += weight(e) * ligands(source(e), c);
      else // unit weights (ell = infinity)
        for (int e = offsets(i); e < offsets(i + 1); ++e)
          sum += ligands(source(e), c);
      signal(i, c) = sum;
    }
  }
};

// ligand_bar(n, c) += sum over the receivers i of source row n of w * signal_bar(i, c): one thread per
// source row, its receivers in ascending row order (the transposed graph), so no two threads write one value
// and the sum's order is fixed.
struct ReceivedSignalAdjointFunctor {
  Kokkos::View<const int*> offsets, receiver; // the transposed graph: receivers of each source row
  Kokkos::View<const double*> weight;         // per transposed entry; empty when every weight is 1
  Kokkos::View<const double**, Kokkos::LayoutRight> signal_bar;
  Kokkos::View<double**, Kokkos::LayoutRight> ligand_bar;

  KOKKOS_INLINE_FUNCTION void operator()(const int n) const {
    for (std::size_t c = 0; c < signal_bar.extent(1); ++c) {
      double sum = 0.0;
      if (weight.extent(0))
        for (int e = offsets(n); e < offsets(n + 1); ++e)
          sum += weight(e) * signal_bar(receiver(e), c);
      else
        for (int e = offsets(n); e < offsets(n + 1); ++e)
          sum += signal_bar(receiver(e), c);
      ligand_bar(n, c) += sum;
    }
  }
};

// The received signal of one step's signalling graph: the forward over the owned cells and its adjoint over
// the ligand rows (owned, then ghost). Holds the transposed graph, rebuilt by set_graph().
class ReceivedSignal {
public:
  // Per step (the graph's content changes with the cells): builds the transposed graph over `n_rows` ligand
  // rows (LigandExchange::n_rows(); raised to cover every source row of the graph). The graph must outlive
  // the calls below; nullptr forgets it.
  void set_graph(const SignalingGraph* graph, std::size_t n_rows);

  const SignalingGraph* graph() const { return graph_; }
  std::size_t n_rows() const { return n_rows_; }

  // signal(i, c) for the graph's owned cells i (signal has at least graph->n_owned rows and the columns of
  // `ligands`, LigandExchange::gather()'s result).
  void forward(Kokkos::View<const double**, Kokkos::LayoutRight> ligands,
               Kokkos::View<double**, Kokkos::LayoutRight> signal) const;
  // ligand_bar(n, c) += sum_i w * signal_bar(i, c) for every ligand row n < n_rows() (ligand_bar has at least
  // n_rows() rows); then LigandExchange::scatter_ligand_cotangents() takes the ghost rows home.
  void adjoint(Kokkos::View<const double**, Kokkos::LayoutRight> signal_bar,
               Kokkos::View<double**, Kokkos::LayoutRight> ligand_bar) const;

private:
  const SignalingGraph* graph_ = nullptr;
  std::size_t n_rows_ = 0;
  Kokkos::View<int*> transposed_offsets_, transposed_receiver_;
  Kokkos::View<double*> transposed_weight_;
};

} // namespace tessera
