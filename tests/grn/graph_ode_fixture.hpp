// The small tissue the graph_ode tests share: 7 cells of 2 types, 5 genes, 3 LR pairs (two on one receptor),
// a hand-built signalling graph with an autocrine cell and a cell that hears nobody; and host/device helpers.
#pragma once

#include "tessera/grn/graph_ode.hpp"

#include <Kokkos_Core.hpp>

#include <random>
#include <string>
#include <vector>

// Included by one test file per executable: the anonymous namespace keeps the helpers local to it.
namespace {

using namespace tessera;

const std::vector<std::string> gene_names{"A", "B", "C", "D", "E"};
const std::vector<std::string> type_names{"epi", "mes"};
const std::vector<int> cell_types{0, 1, 1, 0, 1, 0, 0};
constexpr int n_cells = 7;
constexpr int n_genes = 5;

GeneNetwork small_network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = gene_names;
  // type -1 = every type. Includes a duplicate (B->C given for "*" and for epi) and a self edge (D->D),
  // which the graph holds once and not at all (every node has its own self loop).
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {0, 1, 2, +1, 1, 0.5, 2},
               {0, 3, 0, +1, 1, 0.5, 2},  {1, 4, 0, -1, 1, 0.5, 2},  {1, 2, 3, +1, 1, 0.5, 2},
               {-1, 3, 3, +1, 1, 0.5, 2}, {0, 0, 4, +1, 1, 0.5, 2},  {0, 2, 4, +1, 1, 0.5, 2}};
  return net;
}

std::vector<LigandReceptorPair> small_pairs() {
  LigandReceptorPair a, b, c;
  a.ligand = 0; // A -> D
  a.receptor = 3;
  b.ligand = 2; // C -> D
  b.receptor = 3;
  c.ligand = 1; // B -> E
  c.receptor = 4;
  return {a, b, c};
}

// The genes a LigandExchange for these pairs carries (sorted, each once).
std::vector<int> small_ligand_genes() {
  SignalingParams signaling;
  signaling.pairs = small_pairs();
  return signaling.ligand_genes();
}

// Who signals to whom, with weights; cell 2 hears itself (autocrine), cell 5 hears nobody.
struct HostGraph {
  std::vector<int> offsets{0, 2, 5, 6, 8, 8, 8, 10};
  std::vector<int> source{1, 3, 0, 2, 4, 4, 2, 6, 0, 3};
  std::vector<double> weight{0.8, 0.3, 1.0, 1.0, 0.25, 0.6, 0.45, 0.9, 0.7, 0.15};
};

template <class T>
Kokkos::View<T*> device_copy(const std::string& label, const std::vector<T>& v) {
  Kokkos::View<T*> out(label, v.size());
  auto h = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < v.size(); ++i)
    h(i) = v[i];
  Kokkos::deep_copy(out, h);
  return out;
}

SignalingGraph device_graph(const HostGraph& g) {
  SignalingGraph out;
  out.offsets = device_copy("offsets", g.offsets);
  out.source = device_copy("source", g.source);
  out.weight = device_copy("weight", g.weight);
  out.n_owned = n_cells;
  return out;
}

std::vector<std::vector<double>> random_state(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.3,
                                           2.0); // a few negative values: the RHS must not assume x >= 0
  std::vector<std::vector<double>> x(n_cells, std::vector<double>(n_genes));
  for (auto& row : x)
    for (double& v : row)
      v = u(rng);
  return x;
}

GeneState to_device(const std::vector<std::vector<double>>& x) {
  GeneState out("x", x.size(), x.empty() ? 0 : x[0].size());
  auto h = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t k = 0; k < x[i].size(); ++k)
      h(i, k) = x[i][k];
  Kokkos::deep_copy(out, h);
  return out;
}

std::vector<std::vector<double>> to_host(const GeneState& x) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  std::vector<std::vector<double>> out(x.extent(0), std::vector<double>(x.extent(1)));
  for (std::size_t i = 0; i < x.extent(0); ++i)
    for (std::size_t k = 0; k < x.extent(1); ++k)
      out[i][k] = h(i, k);
  return out;
}

// Every tensor, biases included, drawn from U(-scale, scale) so that no term of the RHS is trivially zero.
void randomize(GraphOdeParameters& p, unsigned seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  for (int s = 0; s < p.n_sets(); ++s)
    for (const TensorSpec& t : p.layout().tensors()) {
      std::vector<double> v(t.size());
      for (double& e : v)
        e = u(rng);
      p.set_tensor(s, t.name, v);
    }
}

} // namespace
