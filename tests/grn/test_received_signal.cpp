// The received ligand signal and its adjoint on a hand-made signalling graph with owned and ghost rows,
// distance weights and unit weights: the forward equals the sum written out, the adjoint equals the
// transpose written out, and <s_bar, S l> = <S^T s_bar, l> (the identity that makes it the adjoint).
#include "tessera/grn/received_signal.hpp"

#include "tessera/core/device_copy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace tessera;

namespace {

using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;

struct HandGraph {
  int n_owned = 0, n_rows = 0, columns = 3;
  std::vector<int> offsets{0}, source;
  std::vector<double> weight;
  SignalingGraph graph;

  HandGraph(unsigned seed, bool unit_weights) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    n_owned = 17;
    n_rows = 25; // rows 17 .. 24 are ghosts
    for (int i = 0; i < n_owned; ++i) {
      // Sorted distinct sources, sometimes none, sometimes the cell itself (autocrine).
      for (int n = 0; n < n_rows; ++n)
        if (u(rng) < (i == 3 ? 0.0 : 0.3)) {
          source.push_back(n);
          weight.push_back(0.1 + u(rng));
        }
      offsets.push_back(static_cast<int>(source.size()));
    }
    graph.offsets = to_device("offsets", offsets);
    graph.source = to_device("source", source);
    if (!unit_weights) graph.weight = to_device("weight", weight);
    graph.n_owned = static_cast<std::size_t>(n_owned);
    if (unit_weights) weight.assign(weight.size(), 1.0);
  }
};

Matrix random_matrix(int rows, int columns, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Matrix m("m", rows, columns);
  auto h = Kokkos::create_mirror_view(m);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < columns; ++c)
      h(r, c) = u(rng);
  Kokkos::deep_copy(m, h);
  return m;
}

} // namespace

TEST(ReceivedSignal, ForwardAndAdjointEqualTheSumsWrittenOut) {
  for (const bool unit : {false, true}) {
    const HandGraph g(5, unit);
    ReceivedSignal signal;
    // Told fewer rows than the sources reach: the transposed graph still covers every source row.
    signal.set_graph(&g.graph, 20);
    int reached = 20;
    for (const int n : g.source)
      reached = std::max(reached, n + 1);
    ASSERT_GT(reached, 20);
    ASSERT_EQ(signal.n_rows(), static_cast<std::size_t>(reached));
    const int rows = static_cast<int>(signal.n_rows());
    const Matrix ligand = random_matrix(g.n_rows, g.columns, 1);
    const Matrix signal_bar = random_matrix(g.n_owned, g.columns, 2);
    Matrix s("s", g.n_owned, g.columns), ligand_bar("ligand_bar", g.n_rows, g.columns);
    signal.forward(ligand, s);
    // += : what the adjoint adds to starts from a non-zero matrix.
    Kokkos::deep_copy(ligand_bar, 0.5);
    signal.adjoint(signal_bar, ligand_bar);
    const auto l = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ligand);
    const auto sb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), signal_bar);
    const auto sh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s);
    const auto lb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ligand_bar);
    std::vector<double> expected_bar(static_cast<std::size_t>(g.n_rows * g.columns), 0.5);
    double forward_pairing = 0.0, adjoint_pairing = 0.0;
    for (int i = 0; i < g.n_owned; ++i)
      for (int c = 0; c < g.columns; ++c) {
        double sum = 0.0;
        for (int e = g.offsets[i]; e < g.offsets[i + 1]; ++e) {
          sum += g.weight[e] * l(g.source[e], c);
          expected_bar[g.source[e] * g.columns + c] += g.weight[e] * sb(i, c);
        }
        // Sums of up to 25 terms of size ~1: rounding 1e-15.
        EXPECT_NEAR(sh(i, c), sum, 1e-14) << "cell " << i << " column " << c;
        forward_pairing += sb(i, c) * sh(i, c);
      }
    for (int n = 0; n < g.n_rows; ++n)
      for (int c = 0; c < g.columns; ++c) {
        EXPECT_NEAR(lb(n, c), expected_bar[n * g.columns + c], 1e-14) << "row " << n << " column " << c;
        adjoint_pairing += (lb(n, c) - 0.5) * l(n, c);
      }
    EXPECT_GT(rows, g.n_owned);
    EXPECT_NEAR(forward_pairing, adjoint_pairing, 1e-13 * std::fabs(forward_pairing) + 1e-13);
  }
}

TEST(ReceivedSignal, AdjointRefusesTooFewLigandRows) {
  const HandGraph g(7, false);
  ReceivedSignal signal;
  signal.set_graph(&g.graph, static_cast<std::size_t>(g.n_rows));
  Matrix signal_bar("signal_bar", g.n_owned, 3), ligand_bar("ligand_bar", g.n_owned, 3);
  EXPECT_THROW(signal.adjoint(signal_bar, ligand_bar), std::exception);
}
