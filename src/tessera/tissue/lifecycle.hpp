// Division and death (SPEC §1.4). Daughter ids are assigned in the global order of their parents' ids, so
// they are the same for any number of ranks; every decision is a counter-based draw keyed by the cell id.
// Read from the deck's `cells.division` and `cells.death` sections.
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/walls.hpp"

#include <mpi.h>

#include <string>
#include <vector>

namespace tessera {

class Deck;

struct LifecycleParams {
  std::vector<double> division_time; // T_div per type, min (inf = never)
  int division_gene = -1;            // gene modulating division, -1 = none
  double division_gain = 0.0;        // g_div
  double division_threshold = 0.0;   // divides only while the division gene is >= this
  std::vector<double> death_rate;    // mu per type, 1/min
  int death_gene = -1;               // gene whose low expression kills, -1 = none
  double death_threshold = 0.0;
  double death_delay = 0.0; // min the gene must stay below the threshold

  bool divides() const;
  bool dies() const;
};

const KeyTable& division_keys();
const KeyTable& death_keys();
LifecycleParams read_lifecycle(const Deck& deck, int n_types, const std::vector<std::string>& gene_names);

struct LifecycleEvents {
  long long divisions = 0; // global
  long long deaths = 0;    // global
  bool capped = false;     // max_cells stopped some divisions this step
};

class Lifecycle {
public:
  // `next_id` is the smallest id never used (global, the same on every rank).
  Lifecycle(const LifecycleParams& params, const Domain& domain, std::uint64_t seed, long long max_cells,
            std::uint64_t next_id);

  // Collective. Applies death then division to the owned cells at the end of step `step` (cycle clocks
  // already advanced). Ghost rows are dropped.
  LifecycleEvents apply(MPI_Comm comm, Cells<>& cells, double dt, long long step);

  std::uint64_t next_id() const { return next_id_; }
  bool active() const { return params_.divides() || params_.dies(); }

private:
  LifecycleParams params_;
  Walls walls_;
  CounterRng rng_;
  long long max_cells_;
  std::uint64_t next_id_;
  Kokkos::View<double*> division_time_, death_rate_;
};

} // namespace tessera
