// This step's signalling graph (SPEC §2): from the neighbour list, the neighbours within r_sig with weight
// w(d) = exp(-d/ell), plus the cell itself (w = 1) when signalling is autocrine.
#pragma once

#include "tessera/grn/signaling.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/neighbour_list.hpp"

namespace tessera {

// Rows keep the neighbour list's id order, the cell itself inserted at its own id, so every sum over a row
// is evaluated in the same order on any number of ranks.
SignalingGraph build_signaling_graph(const Cells<>& cells, const NeighbourList& neighbours,
                                     const SignalingParams& params);

} // namespace tessera
