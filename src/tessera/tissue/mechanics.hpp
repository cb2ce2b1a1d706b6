// Centre-based overdamped mechanics (SPEC §1.3): repulsion, type-pair adhesion and Brownian motility,
// explicit Euler with the simulation step. Read from the deck's `mechanics` section.
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/neighbour_list.hpp"
#include "tessera/tissue/walls.hpp"

#include <vector>

namespace tessera {

class Deck;

struct MechanicsParams {
  bool frozen = false;
  std::vector<double> drag;           // eta per type
  std::vector<double> repulsion;      // k_rep per type
  std::vector<double> adhesion_range; // a per type (>= 1)
  std::vector<double> adhesion;       // k_adh, T x T row-major, symmetric
  std::vector<double> motility;       // D_c per type, µm^2/min

  // cutoff = max(a) * 2 * max(R) (SPEC §1.3): beyond it no pair force acts.
  double cutoff(const std::vector<double>& radius) const;
};

const KeyTable& mechanics_keys();
MechanicsParams read_mechanics(const Deck& deck, int n_types);

// Pair force on i from j at distance d along u = (p_i - p_j) / d. Pair parameters are the means of the two
// types' k_rep and a, so the force on j is exactly minus this one.
struct PairForce {
  KOKKOS_INLINE_FUNCTION static double magnitude(double d, double R, double k_rep, double k_adh, double a) {
    double f = 0.0;
    if (d < R) {
      const double s = 1.0 - d / R;
      f += k_rep * s * s;
    }
    if (d < a * R) {
      const double s = 1.0 - d / (a * R);
      f -= k_adh * s * s;
    }
    return f;
  }
};

class Mechanics {
public:
  Mechanics(const MechanicsParams& params, const Domain& domain, std::uint64_t seed);

  // Moves the owned cells by one explicit Euler step of length dt using neighbours (rows may be ghosts)
  // found within at least the cutoff; walls applied. `step` feeds the Brownian draws' counters.
  void advance(Cells<>& cells, const NeighbourList& neighbours, double dt, long long step);

  bool frozen() const { return frozen_; }

private:
  bool frozen_;
  int n_types_;
  Walls walls_;
  CounterRng rng_;
  Kokkos::View<double*> drag_, repulsion_, range_, motility_;
  Kokkos::View<double**, Kokkos::LayoutRight> adhesion_;
  Kokkos::View<double* [3], Kokkos::LayoutRight> displacement_;
};

} // namespace tessera
