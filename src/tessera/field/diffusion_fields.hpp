// Diffusible fields (issue 12): every substrate of the deck's `fields` section as one component of a PETSc
// DMDA whose blocks are exactly the rank boxes of the cell decomposition, so the voxels holding a rank's
// cells are its own. Each step is backward Euler on the assembled operator I/dt - D Lap + decay + uptake,
// solved by CG (PETSc KSP, options prefix fields_).
#pragma once

#include "tessera/field/field_params.hpp"
#include "tessera/parallel/decomposition.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

namespace tessera {

// One substrate over the whole grid (collective reductions).
struct FieldStats {
  double min = 0.0, mean = 0.0, max = 0.0;
  double total = 0.0; // amount: sum of c x voxel volume
};

class DiffusionFields {
public:
  // Collective on decomposition.comm(). Needs a live petsc::Session. Rank boxes that are not grid-aligned
  // are an input_error naming fields.spacing and parallel.dims (every rank reaches the same verdict).
  DiffusionFields(const CartesianDecomposition& decomposition, const FieldParams& params);
  ~DiffusionFields();
  DiffusionFields(const DiffusionFields&) = delete;
  DiffusionFields& operator=(const DiffusionFields&) = delete;

  const FieldParams& params() const { return params_; }
  int n_substrates() const { return static_cast<int>(params_.substrates.size()); }
  // This rank's block of voxels: first global index and count per axis (1 voxel on the third axis in 2-D).
  const std::array<int, 3>& owned_lo() const { return lo_; }
  const std::array<int, 3>& owned_count() const { return count_; }
  std::size_t n_owned_voxels() const {
    return static_cast<std::size_t>(count_[0]) * static_cast<std::size_t>(count_[1]) *
           static_cast<std::size_t>(count_[2]);
  }
  double voxel_volume() const; // µm² in 2-D, µm³ in 3-D
  // Centre of global voxel index `index` along `axis`.
  double voxel_centre(int axis, int index) const;
  // Index in the owned block (x fastest) of the voxel holding `position`, clamped into the owned block: a
  // cell owned by this rank lies in its box, which is exactly this block.
  std::size_t owned_voxel_of(const double* position) const;

  // Collective. Advances the fields by `dt` (params().substeps(dt) backward Euler steps of params().dt).
  // `cell_source` (concentration per minute) and `cell_uptake` (1/min) hold one value per owned voxel and
  // substrate (substrate fastest), or are empty; both stay fixed over the sub-steps. A solver that fails to
  // converge is a runtime_error naming the substrate's KSP reason.
  void advance(double dt, const std::vector<double>& cell_source, const std::vector<double>& cell_uptake);

  // Collective. Every substrate at `n` points of this rank's box (`positions`: n x dim, row-major), each
  // interpolated (bi/trilinear) between the voxel centres around it, the neighbours' voxels included;
  // constant beyond the outermost centres of a non-periodic wall. Returns n x n_substrates values.
  std::vector<double> sample(const std::vector<double>& positions, std::size_t n) const;

  // The owned values of substrate `s`, x fastest.
  std::vector<double> values(int s) const;
  // Replaces the owned values of substrate `s` (tests, restarts).
  void set_values(int s, const std::vector<double>& owned);
  // Collective.
  FieldStats stats(int s) const;
  // Linear iterations of the last solve (the sub-steps' sum for the last advance).
  long long last_iterations() const { return last_iterations_; }
  // The solver as PETSc describes it ("cg + bjacobi"), after the options were applied.
  std::string solver_description() const;

private:
  struct Petsc; // the DM, vectors, matrix and solver (PETSc types stay out of this header)

  void assemble(double dt, const std::vector<double>& cell_uptake);
  // Calls visit(index, v) for every owned voxel in the DMDA's storage order (x fastest): index its global
  // grid index (k = 0 in 2-D), v its position among the owned voxels.
  template <class Visit>
  void for_each_owned_voxel(Visit&& visit) const {
    std::size_t v = 0;
    for (int k = lo_[2]; k < lo_[2] + count_[2]; ++k)
      for (int j = lo_[1]; j < lo_[1] + count_[1]; ++j)
        for (int i = lo_[0]; i < lo_[0] + count_[0]; ++i, ++v)
          visit(std::array<int, 3>{i, j, k}, v);
  }

  FieldParams params_;
  Domain domain_;
  std::array<int, 3> lo_{0, 0, 0}, count_{1, 1, 1};
  std::unique_ptr<Petsc> petsc_;
  std::vector<double> fixed_source_; // per owned voxel and substrate: the deck's source regions
  std::vector<double> boundary_rhs_; // per owned voxel and substrate: Dirichlet faces' contribution / D-term
  double assembled_dt_ = 0.0;
  bool assembled_with_uptake_ = false;
  long long last_iterations_ = 0;
};

} // namespace tessera
