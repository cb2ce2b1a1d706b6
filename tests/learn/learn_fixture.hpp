// What the training and read-out tests share: a 60 x 40 um 2-D box, a 3-gene network (A -> B, B -| C in
// every type, C -> A in type 1) and signalling within 12 um (ell = 10 um) for the given ligand -> receptor
// gene pairs. Each test file draws its own cells and trajectories.
#pragma once

#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/tissue/domain.hpp"

#include <array>
#include <vector>

namespace tessera::test {

inline Domain learn_box() {
  Domain d;
  d.dim = 2;
  d.hi = {60.0, 40.0, 0.0};
  return d;
}

inline GeneNetwork learn_network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = {"A", "B", "C"};
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {1, 2, 0, +1, 1, 0.5, 2}};
  return net;
}

inline SignalingParams learn_signaling(const std::vector<std::array<int, 2>>& ligand_receptor) {
  SignalingParams p;
  p.default_pairs(ligand_receptor);
  p.range = 12.0;
  p.length = 10.0;
  p.autocrine = false;
  return p;
}

} // namespace tessera::test
