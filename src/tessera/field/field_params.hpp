// Diffusible fields (issue 12): substrates that diffuse, decay, are secreted and taken up by cells on a
// voxel grid co-partitioned with the rank boxes. This header holds what the deck's `fields` section says.
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/tissue/domain.hpp"

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace tessera {

class Deck;
struct CellTypes;
struct GeneNetwork;

// A face of the box: no flux through it, or a fixed (Dirichlet) value on it. Periodic axes have neither.
struct FieldBoundary {
  bool dirichlet = false;
  double value = 0.0;
};

// A box region whose voxels (by their centres) gain `rate` per minute.
struct FieldSource {
  std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};
  double rate = 0.0; // concentration per minute
};

struct Substrate {
  std::string name;
  double diffusion = 0.0; // µm²/min
  double decay = 0.0;     // 1/min
  double initial = 0.0;   // concentration (amount per µm^d)
  // Or every voxel's initial value from an HDF5 dataset (absolute path once the deck is read; empty: none).
  std::string initial_file, initial_dataset;
  // Faces in the order x_lo, x_hi, y_lo, y_hi, z_lo, z_hi.
  std::array<FieldBoundary, 6> boundary;
  std::vector<FieldSource> sources;
};

// What the cells of one type do to one substrate. Secretion adds `secretion` (times the level of
// `secretion_gene` when set: gene -> field) amount per minute per cell; uptake removes uptake x c x V_cell
// per minute (V_cell the cell's area in 2-D, volume in 3-D), treated implicitly so c never goes negative.
struct FieldCoupling {
  int type = 0;
  int substrate = 0;
  double secretion = 0.0;  // amount per cell per minute
  double uptake = 0.0;     // 1/min
  int secretion_gene = -1; // gene index, -1: constant secretion
  // The secretion falls as secretion * (1 - c / saturation): it stops at this density (infinity: never).
  double saturation = INFINITY;
};

struct FieldParams {
  std::vector<Substrate> substrates;
  double spacing = 0.0;      // µm, voxel edge
  double dt = 0.0;           // min; divides time.dt
  double rtol = 1e-12;       // KSP relative tolerance
  std::string petsc_options; // inserted into PETSc's options database (prefix fields_ for the solver)
  std::array<int, 3> voxels{1, 1, 1}; // per axis (1 on the unused third axis of a 2-D box)
  std::vector<FieldCoupling> couplings;
  std::vector<FieldReceptor> receptors; // field -> gene

  bool active() const { return !substrates.empty(); }
  int substeps(double step_dt) const; // fields.dt sub-steps per simulation step
};

const KeyTable& fields_keys();
// Not collective: every rank reads the same deck and reaches the same verdict. `step_dt` is time.dt (the
// default fields.dt, and a multiple of it). Throws input_error naming the key.
FieldParams read_field_params(const Deck& deck, const Domain& domain, const CellTypes& types,
                              const GeneNetwork& network, double step_dt);

// Voxels per rank box along each axis. The rank boxes of CartesianDecomposition are equal, so they are
// grid-aligned exactly when `dims` divides the voxel counts; otherwise an input_error naming fields.spacing
// and parallel.dims. Not collective (the same verdict everywhere).
std::array<int, 3> voxels_per_rank_box(const FieldParams& fields, const Domain& domain,
                                       const std::array<int, 3>& dims);

} // namespace tessera
