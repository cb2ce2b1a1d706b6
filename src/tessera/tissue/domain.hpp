// The simulation box (SPEC §1.2): an axis-aligned box in 2-D or 3-D whose axes are periodic or reflecting.
// Read from the deck's `domain` section.
#pragma once

#include "tessera/core/keys.hpp"

#include <array>

namespace tessera {

class Deck;

struct Domain {
  int dim = 2;
  std::array<double, 3> lo{0, 0, 0};
  std::array<double, 3> hi{0, 0, 0}; // the unused third axis of a 2-D box is [0, 0]
  std::array<bool, 3> periodic{false, false, false};

  double extent(int axis) const { return hi[axis] - lo[axis]; }
  double volume() const; // area in 2-D
};

const KeyTable& domain_keys();
Domain read_domain(const Deck& deck);

} // namespace tessera
