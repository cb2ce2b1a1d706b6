// The candidate gene graph of the per-edge models: its CSR rows hold exactly the prior (or dense) regulators
// of each (type, target), its global edge indices and host copies agree with the rows, and the LR pairs are
// grouped by receptor with their ligands' exchange columns. Compared with sets built by brute force.
#include "tessera/grn/candidate_edges.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

using namespace tessera;

namespace {

GeneNetwork network() {
  GeneNetwork net;
  net.genes = {"A", "B", "C", "D", "E"};
  // type, source, target: shared edges, type-specific ones, a duplicate and a self loop (never a candidate).
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {0, 3, 0, +1, 1, 0.5, 2},
               {1, 4, 0, -1, 1, 0.5, 2},  {1, 2, 3, +1, 1, 0.5, 2},  {0, 0, 1, +1, 1, 0.5, 2},
               {1, 2, 2, +1, 1, 0.5, 2},  {2, 4, 1, +1, 1, 0.5, 2}};
  return net;
}

std::vector<LigandReceptorPair> pairs() {
  // Ligands 4 and 1 (columns 1 and 0 of an exchange over {1, 4}); receptor 3 has two pairs.
  LigandReceptorPair a, b, c;
  a.ligand = 4;
  a.receptor = 3;
  b.ligand = 1;
  b.receptor = 0;
  c.ligand = 1;
  c.receptor = 3;
  return {a, b, c};
}

using Edge = std::tuple<int, int, int>; // type, source, target

std::set<Edge> edges_of(const CandidateEdges& candidates) {
  std::set<Edge> out;
  const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), candidates.offsets());
  const auto source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), candidates.source());
  const int G = candidates.n_genes();
  EXPECT_EQ(offsets.extent(0), static_cast<std::size_t>(candidates.n_types() * G + 1));
  for (int c = 0; c < candidates.n_types(); ++c)
    for (int k = 0; k < G; ++k)
      for (int e = offsets(c * G + k); e < offsets(c * G + k + 1); ++e) {
        // The host copies describe the same edge, and find() returns its index.
        EXPECT_EQ(candidates.type(e), c);
        EXPECT_EQ(candidates.source(e), source(e));
        EXPECT_EQ(candidates.target(e), k);
        EXPECT_EQ(candidates.find(c, source(e), k), e);
        if (e > offsets(c * G + k)) EXPECT_LT(source(e - 1), source(e)) << "sources ascending, unique";
        EXPECT_TRUE(out.insert({c, source(e), k}).second);
      }
  EXPECT_EQ(static_cast<int>(out.size()), candidates.n_edges());
  return out;
}

} // namespace

TEST(CandidateEdges, PriorRowsHoldEachTypesEdgesOnceWithoutSelfLoops) {
  const GeneNetwork net = network();
  const CandidateEdges candidates(net, 3, false, pairs());
  std::set<Edge> expected;
  for (const RegulatoryEdge& e : net.edges)
    for (int c = 0; c < 3; ++c)
      if ((e.type < 0 || e.type == c) && e.source != e.target) expected.insert({c, e.source, e.target});
  EXPECT_EQ(edges_of(candidates), expected);
  EXPECT_EQ(candidates.find(0, 2, 2), -1);
  EXPECT_EQ(candidates.find(2, 3, 0), -1);
  EXPECT_EQ(candidates.find(3, 0, 1), -1);
}

TEST(CandidateEdges, DenseRowsHoldEveryOrderedPair) {
  const CandidateEdges candidates(network(), 2, true, pairs());
  std::set<Edge> expected;
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 5; ++k)
        if (j != k) expected.insert({c, j, k});
  EXPECT_EQ(edges_of(candidates), expected);
  EXPECT_EQ(candidates.n_edges(), 2 * 5 * 4);
}

TEST(CandidateEdges, PairsAreGroupedByReceptorWithTheirLigandColumns) {
  CandidateEdges candidates(network(), 2, false, pairs());
  auto check = [&](const std::vector<int>& column_of_ligand) {
    const auto offsets =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), candidates.receptor_offsets());
    const auto pair = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), candidates.receptor_pair());
    const auto column =
        Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), candidates.receptor_column());
    const auto all = pairs();
    std::set<int> seen;
    for (int k = 0; k < 5; ++k)
      for (int p = offsets(k); p < offsets(k + 1); ++p) {
        const int q = pair(p);
        EXPECT_EQ(all[static_cast<std::size_t>(q)].receptor, k);
        EXPECT_EQ(candidates.pair_receptor(q), k);
        EXPECT_EQ(candidates.pair_ligand(q), all[static_cast<std::size_t>(q)].ligand);
        EXPECT_EQ(column(p),
                  column_of_ligand[static_cast<std::size_t>(all[static_cast<std::size_t>(q)].ligand)]);
        if (p > offsets(k)) EXPECT_LT(pair(p - 1), q);
        EXPECT_TRUE(seen.insert(q).second);
      }
    EXPECT_EQ(seen.size(), all.size());
  };
  // Columns of an exchange over the pairs' own ligands {1, 4} ...
  check({-1, 0, -1, -1, 1});
  // ... and of one that carries more ligand genes.
  candidates.use_columns_of(LigandExchange({0, 1, 3, 4}));
  check({-1, 1, -1, -1, 3});
  EXPECT_THROW(candidates.use_columns_of(LigandExchange({1})), std::exception);
}
