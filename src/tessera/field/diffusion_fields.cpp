#include "tessera/field/diffusion_fields.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/mpi.hpp"

#include <petscdmda.h>
#include <petscksp.h>

#include <algorithm>
#include <cmath>

namespace tessera {

// RAII for the PETSc objects of the fields. Destruction order matters: the solver and matrix refer to the DM,
// the DM to the communicator, and the options object is the solver's.
struct DiffusionFields::Petsc {
  mpi::Communicator comm; // the rank boxes' ranks in the order DMDA numbers them (x fastest)
  DM dm = nullptr;
  DM sampling = nullptr; // the same blocks with a box stencil: ghosts across edges and corners, for sample()
  Vec x = nullptr;       // the fields: every substrate as a component
  Vec b = nullptr;       // right-hand side of a step
  Vec local = nullptr;   // x with a ghost layer of one voxel (edges and corners too), for sampling
  Mat a = nullptr;
  KSP ksp = nullptr;
  PetscOptions options = nullptr;
  ~Petsc() {
    if (ksp) KSPDestroy(&ksp);
    if (a) MatDestroy(&a);
    if (b) VecDestroy(&b);
    if (local) VecDestroy(&local);
    if (x) VecDestroy(&x);
    if (dm) DMDestroy(&dm);
    if (sampling) DMDestroy(&sampling);
    if (options) PetscOptionsDestroy(&options);
  }
};

namespace {

// Read and write access to a Vec's owned entries for one scope.
class VecArray {
public:
  explicit VecArray(Vec v) : v_(v) { petsc::check(VecGetArray(v_, &a_), "VecGetArray"); }
  ~VecArray() { VecRestoreArray(v_, &a_); }
  VecArray(const VecArray&) = delete;
  VecArray& operator=(const VecArray&) = delete;
  PetscScalar& operator[](std::size_t i) { return a_[i]; }

private:
  Vec v_;
  PetscScalar* a_ = nullptr;
};

} // namespace

DiffusionFields::DiffusionFields(const CartesianDecomposition& decomposition, const FieldParams& params)
    : params_(params), domain_(decomposition.domain()), petsc_(std::make_unique<Petsc>()) {
  PetscBool initialized = PETSC_FALSE;
  petsc::check(PetscInitialized(&initialized), "PetscInitialized");
  if (!initialized) throw runtime_error("DiffusionFields: PETSc is not initialised (petsc::Session)");
  const auto& dims = decomposition.dims();
  const auto& c = decomposition.coords();
  // Voxel faces at the box edges: equal boxes must split the voxels evenly (refused, naming the keys, when
  // they do not), balanced ones were cut on voxel faces (balanced_box_cuts with the field grid).
  if (!decomposition.balanced()) voxels_per_rank_box(params_, domain_, dims);
  std::array<std::vector<int>, 3> face;
  for (int a = 0; a < 3; ++a)
    for (int i = 0; i <= dims[a]; ++i) {
      if (a >= domain_.dim) {
        face[a].push_back(i);
        continue;
      }
      const double voxels = (decomposition.edge(a, i) - domain_.lo[a]) / params_.spacing;
      if (std::abs(voxels - std::round(voxels)) > 1e-6)
        throw runtime_error("DiffusionFields: rank box edge " + format_number(decomposition.edge(a, i)) +
                            " um is not a voxel face");
      face[a].push_back(static_cast<int>(std::llround(voxels)));
    }
  petsc_->comm = mpi::Communicator::split(decomposition.comm(), 0, c[0] + dims[0] * (c[1] + dims[1] * c[2]));
  const int dof = n_substrates();
  std::array<std::vector<PetscInt>, 3> ranges;
  for (int a = 0; a < 3; ++a)
    for (int i = 0; i < dims[a]; ++i)
      ranges[a].push_back(face[a][static_cast<std::size_t>(i) + 1] - face[a][static_cast<std::size_t>(i)]);
  auto boundary = [&](int a) { return domain_.periodic[a] ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE; };
  const auto& n = params_.voxels;
  auto create = [&](DMDAStencilType stencil, DM* dm) {
    if (domain_.dim == 2)
      petsc::check(DMDACreate2d(petsc_->comm.get(), boundary(0), boundary(1), stencil, n[0], n[1], dims[0],
                                dims[1], dof, 1, ranges[0].data(), ranges[1].data(), dm),
                   "DMDACreate2d");
    else
      petsc::check(DMDACreate3d(petsc_->comm.get(), boundary(0), boundary(1), boundary(2), stencil, n[0],
                                n[1], n[2], dims[0], dims[1], dims[2], dof, 1, ranges[0].data(),
                                ranges[1].data(), ranges[2].data(), dm),
                   "DMDACreate3d");
    petsc::check(DMSetUp(*dm), "DMSetUp");
  };
  create(DMDA_STENCIL_STAR, &petsc_->dm);
  // Sampling at a point near a rank box's edge or corner reads the diagonal neighbours' voxels too, which a
  // star stencil's ghost layer leaves out: a second DMDA of the same blocks with a box stencil gathers them
  // (the operator keeps the star one, whose matrix holds only the 5/7-point couplings).
  create(DMDA_STENCIL_BOX, &petsc_->sampling);
  // Substrates do not react with each other: each couples only to itself, in its voxel and its neighbours'.
  std::vector<PetscInt> fill(static_cast<std::size_t>(dof * dof), 0);
  for (int s = 0; s < dof; ++s)
    fill[static_cast<std::size_t>(s * dof + s)] = 1;
  petsc::check(DMDASetBlockFills(petsc_->dm, fill.data(), fill.data()), "DMDASetBlockFills");
  PetscInt xs, ys, zs, xm, ym, zm;
  petsc::check(DMDAGetCorners(petsc_->dm, &xs, &ys, &zs, &xm, &ym, &zm), "DMDAGetCorners");
  lo_ = {static_cast<int>(xs), static_cast<int>(ys), static_cast<int>(zs)};
  count_ = {static_cast<int>(xm), static_cast<int>(ym), static_cast<int>(zm)};
  for (int a = 0; a < domain_.dim; ++a)
    if (lo_[a] != face[a][static_cast<std::size_t>(c[a])] ||
        count_[a] != face[a][static_cast<std::size_t>(c[a]) + 1] - face[a][static_cast<std::size_t>(c[a])])
      throw runtime_error("DiffusionFields: the DMDA block of this rank is not its rank box");
  petsc::check(DMCreateGlobalVector(petsc_->dm, &petsc_->x), "DMCreateGlobalVector");
  petsc::check(VecDuplicate(petsc_->x, &petsc_->b), "VecDuplicate");
  petsc::check(DMCreateMatrix(petsc_->dm, &petsc_->a), "DMCreateMatrix");

  // Fixed sources and Dirichlet faces, per owned voxel and substrate. A Dirichlet value sits on the face,
  // half a voxel from the centre of the voxel beside it: the flux D (c_b - c) / (h/2) adds 2 D / h^2 to the
  // diagonal and 2 D / h^2 c_b to the right-hand side (second order for the cell-centred grid).
  const std::size_t voxels = n_owned_voxels();
  fixed_source_.assign(voxels * static_cast<std::size_t>(dof), 0.0);
  boundary_rhs_.assign(voxels * static_cast<std::size_t>(dof), 0.0);
  const double h2 = params_.spacing * params_.spacing;
  {
    VecArray x(petsc_->x);
    for_each_owned_voxel([&](const std::array<int, 3>& index, std::size_t v) {
      for (int s = 0; s < dof; ++s) {
        const Substrate& sub = params_.substrates[static_cast<std::size_t>(s)];
        const std::size_t at = v * static_cast<std::size_t>(dof) + static_cast<std::size_t>(s);
        x[at] = sub.initial;
        for (const FieldSource& src : sub.sources) {
          bool inside = true;
          for (int a = 0; a < domain_.dim; ++a) {
            const double centre = voxel_centre(a, index[a]);
            inside = inside && centre >= src.lo[a] && centre <= src.hi[a];
          }
          if (inside) fixed_source_[at] += src.rate;
        }
        for (int a = 0; a < domain_.dim; ++a) {
          const FieldBoundary& low = sub.boundary[static_cast<std::size_t>(2 * a)];
          const FieldBoundary& high = sub.boundary[static_cast<std::size_t>(2 * a + 1)];
          if (index[a] == 0 && low.dirichlet) boundary_rhs_[at] += 2.0 * sub.diffusion / h2 * low.value;
          if (index[a] == params_.voxels[a] - 1 && high.dirichlet)
            boundary_rhs_[at] += 2.0 * sub.diffusion / h2 * high.value;
        }
      }
    });
  }

  // The deck's options go into this solver's own options database (with the process's, from PETSC_OPTIONS
  // and the like), so two simulations in one process (a sweep) do not see each other's. The solver and its
  // preconditioner read it, set before either reads any option.
  petsc::check(PetscOptionsCreate(&petsc_->options), "PetscOptionsCreate");
  {
    char* global = nullptr;
    petsc::check(PetscOptionsGetAll(nullptr, &global), "PetscOptionsGetAll");
    const PetscErrorCode rc = PetscOptionsInsertString(petsc_->options, global);
    PetscFree(global);
    petsc::check(rc, "PetscOptionsInsertString");
  }
  KSP& ksp = petsc_->ksp;
  petsc::check(KSPCreate(petsc_->comm.get(), &ksp), "KSPCreate");
  petsc::check(PetscObjectSetOptions(reinterpret_cast<PetscObject>(ksp), petsc_->options),
               "PetscObjectSetOptions");
  PC pc = nullptr;
  petsc::check(KSPGetPC(ksp, &pc), "KSPGetPC");
  petsc::check(PetscObjectSetOptions(reinterpret_cast<PetscObject>(pc), petsc_->options),
               "PetscObjectSetOptions");
  petsc::check(KSPSetType(ksp, KSPCG), "KSPSetType");
  // The unpreconditioned residual: the stopping test then means the same whatever the preconditioner and
  // the rank count.
  petsc::check(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED), "KSPSetNormType");
  petsc::check(KSPSetTolerances(ksp, params_.rtol, PETSC_DEFAULT, PETSC_DEFAULT, 10000), "KSPSetTolerances");
  petsc::check(KSPSetInitialGuessNonzero(ksp, PETSC_TRUE), "KSPSetInitialGuessNonzero");
  petsc::check(KSPSetOptionsPrefix(ksp, "fields_"), "KSPSetOptionsPrefix");
  // An option PETSc refuses is the user's input. PETSc's default handler would print its traceback and, on
  // ranks other than 0, abort after a pause; returning the code lets every rank throw the same input_error.
  petsc::check(PetscPushErrorHandler(PetscReturnErrorHandler, nullptr), "PetscPushErrorHandler");
  PetscErrorCode rc = PetscOptionsInsertString(petsc_->options, params_.petsc_options.c_str());
  const char* call = "PetscOptionsInsertString";
  if (rc == 0) {
    rc = KSPSetFromOptions(ksp);
    call = "KSPSetFromOptions";
  }
  PetscPopErrorHandler();
  try {
    petsc::check(rc, call);
  } catch (const Error& e) {
    throw input_error("fields.petsc_options '" + params_.petsc_options + "': " + e.what());
  }
}

DiffusionFields::~DiffusionFields() = default;

double DiffusionFields::voxel_volume() const {
  return std::pow(params_.spacing, domain_.dim);
}

double DiffusionFields::voxel_centre(int axis, int index) const {
  return domain_.lo[axis] + (index + 0.5) * params_.spacing;
}

std::size_t DiffusionFields::owned_voxel_of(const double* position) const {
  std::size_t v = 0;
  for (int a = domain_.dim - 1; a >= 0; --a) {
    int i = static_cast<int>(std::floor((position[a] - domain_.lo[a]) / params_.spacing));
    i = std::clamp(i, lo_[a], lo_[a] + count_[a] - 1) - lo_[a];
    v = v * static_cast<std::size_t>(count_[a]) + static_cast<std::size_t>(i);
  }
  return v;
}

void DiffusionFields::assemble(double dt, const std::vector<double>& cell_uptake) {
  const int dof = n_substrates();
  const double h2 = params_.spacing * params_.spacing;
  Mat a = petsc_->a;
  petsc::check(MatZeroEntries(a), "MatZeroEntries");
  for_each_owned_voxel([&](const std::array<int, 3>& index, std::size_t v) {
    for (int s = 0; s < dof; ++s) {
      const Substrate& sub = params_.substrates[static_cast<std::size_t>(s)];
      const std::size_t at = v * static_cast<std::size_t>(dof) + static_cast<std::size_t>(s);
      const double off = sub.diffusion / h2;
      MatStencil row{};
      row.i = index[0], row.j = index[1], row.k = domain_.dim == 3 ? index[2] : 0, row.c = s;
      MatStencil cols[7];
      PetscScalar vals[7];
      int n = 1;
      double diagonal = 1.0 / dt + sub.decay + (cell_uptake.empty() ? 0.0 : cell_uptake[at]);
      for (int ax = 0; ax < domain_.dim; ++ax)
        for (int side = -1; side <= 1; side += 2) {
          const int neighbour = index[ax] + side;
          const bool outside = neighbour < 0 || neighbour >= params_.voxels[ax];
          if (outside && !domain_.periodic[ax]) {
            // A Dirichlet face (see the constructor); a no-flux face adds nothing.
            if (sub.boundary[static_cast<std::size_t>(2 * ax + (side > 0 ? 1 : 0))].dirichlet)
              diagonal += 2.0 * off;
            continue;
          }
          if (off == 0.0) continue;
          MatStencil col = row;
          (ax == 0 ? col.i : ax == 1 ? col.j : col.k) = neighbour; // periodic DMDAs wrap -1 and n
          cols[n] = col;
          vals[n] = -off;
          diagonal += off;
          ++n;
        }
      cols[0] = row;
      vals[0] = diagonal;
      petsc::check(MatSetValuesStencil(a, 1, &row, n, cols, vals, ADD_VALUES), "MatSetValuesStencil");
    }
  });
  petsc::check(MatAssemblyBegin(a, MAT_FINAL_ASSEMBLY), "MatAssemblyBegin");
  petsc::check(MatAssemblyEnd(a, MAT_FINAL_ASSEMBLY), "MatAssemblyEnd");
  petsc::check(KSPSetOperators(petsc_->ksp, a, a), "KSPSetOperators");
  assembled_dt_ = dt;
}

void DiffusionFields::advance(double dt, const std::vector<double>& cell_source,
                              const std::vector<double>& cell_uptake) {
  const int substeps = params_.substeps(dt);
  if (substeps == 0)
    throw runtime_error("DiffusionFields::advance: " + format_number(dt) +
                        " min is not a multiple of fields.dt");
  const double h = dt / substeps;
  const std::size_t n = fixed_source_.size();
  if ((!cell_source.empty() && cell_source.size() != n) || (!cell_uptake.empty() && cell_uptake.size() != n))
    throw runtime_error("DiffusionFields::advance: cell terms of the wrong size");
  // The operator holds the uptake of the cells where they are now: reassembled when they take anything up
  // (or did last time), else kept with its preconditioner.
  const bool any_uptake =
      mpi::max(
          petsc_->comm.get(),
          std::any_of(cell_uptake.begin(), cell_uptake.end(), [](double u) { return u != 0.0; }) ? 1 : 0) > 0;
  if (assembled_dt_ != h || any_uptake || assembled_with_uptake_) assemble(h, cell_uptake);
  assembled_with_uptake_ = any_uptake;
  last_iterations_ = 0;
  for (int step = 0; step < substeps; ++step) {
    {
      VecArray x(petsc_->x), b(petsc_->b);
      for (std::size_t i = 0; i < n; ++i)
        b[i] = x[i] / h + fixed_source_[i] + boundary_rhs_[i] + (cell_source.empty() ? 0.0 : cell_source[i]);
    }
    petsc::check(KSPSolve(petsc_->ksp, petsc_->b, petsc_->x), "KSPSolve");
    KSPConvergedReason reason;
    petsc::check(KSPGetConvergedReason(petsc_->ksp, &reason), "KSPGetConvergedReason");
    PetscInt iterations = 0;
    petsc::check(KSPGetIterationNumber(petsc_->ksp, &iterations), "KSPGetIterationNumber");
    last_iterations_ += iterations;
    if (reason < 0)
      throw runtime_error(std::string("the field solver did not converge: ") + KSPConvergedReasons[reason] +
                          " after " + std::to_string(iterations) +
                          " iterations (tune it with fields.petsc_options, or reduce fields.dt)");
  }
}

std::vector<double> DiffusionFields::sample(const std::vector<double>& positions, std::size_t n) const {
  const int dim = domain_.dim;
  if (positions.size() < n * static_cast<std::size_t>(dim))
    throw runtime_error("DiffusionFields::sample: fewer positions than points");
  DM dm = petsc_->sampling;
  if (!petsc_->local) petsc::check(DMCreateLocalVector(dm, &petsc_->local), "DMCreateLocalVector");
  petsc::check(DMGlobalToLocalBegin(dm, petsc_->x, INSERT_VALUES, petsc_->local), "DMGlobalToLocalBegin");
  petsc::check(DMGlobalToLocalEnd(dm, petsc_->x, INSERT_VALUES, petsc_->local), "DMGlobalToLocalEnd");
  PetscInt gs[3] = {0, 0, 0}, gm[3] = {1, 1, 1};
  petsc::check(DMDAGetGhostCorners(dm, &gs[0], &gs[1], &gs[2], &gm[0], &gm[1], &gm[2]),
               "DMDAGetGhostCorners");
  const auto dof = static_cast<std::size_t>(n_substrates());
  std::vector<double> out(n * dof, 0.0);
  const PetscScalar* a = nullptr;
  petsc::check(VecGetArrayRead(petsc_->local, &a), "VecGetArrayRead");
  for (std::size_t p = 0; p < n; ++p) {
    // The 2^dim voxel centres around the point and their weights, per axis.
    int index[3][2] = {{0, 0}, {0, 0}, {0, 0}};
    double weight[3][2] = {{1, 0}, {1, 0}, {1, 0}};
    for (int ax = 0; ax < dim; ++ax) {
      const double u =
          (positions[p * static_cast<std::size_t>(dim) + static_cast<std::size_t>(ax)] - domain_.lo[ax]) /
              params_.spacing -
          0.5;
      int i0 = static_cast<int>(std::floor(u));
      double t = u - i0;
      int i1 = i0 + 1;
      if (!domain_.periodic[ax]) {
        // Beyond the outermost centres the value of the last voxel holds (no extrapolation past a wall).
        if (i0 < 0) i0 = i1 = 0, t = 0;
        if (i1 > params_.voxels[ax] - 1) i0 = i1 = params_.voxels[ax] - 1, t = 0;
      }
      // A point outside this rank's box (it should not be) takes the nearest values held here.
      const int first = static_cast<int>(gs[ax]), last = static_cast<int>(gs[ax] + gm[ax]) - 1;
      index[ax][0] = std::clamp(i0, first, last) - first;
      index[ax][1] = std::clamp(i1, first, last) - first;
      weight[ax][0] = 1 - t;
      weight[ax][1] = t;
    }
    for (int corner = 0; corner < (1 << dim); ++corner) {
      double w = 1;
      std::size_t at = 0;
      for (int ax = dim - 1; ax >= 0; --ax) {
        const int bit = (corner >> ax) & 1;
        w *= weight[ax][bit];
        at = at * static_cast<std::size_t>(gm[ax]) + static_cast<std::size_t>(index[ax][bit]);
      }
      if (w == 0) continue;
      for (std::size_t s = 0; s < dof; ++s)
        out[p * dof + s] += w * a[at * dof + s];
    }
  }
  petsc::check(VecRestoreArrayRead(petsc_->local, &a), "VecRestoreArrayRead");
  return out;
}

std::vector<double> DiffusionFields::values(int s) const {
  const int dof = n_substrates();
  std::vector<double> out(n_owned_voxels());
  const PetscScalar* a = nullptr;
  petsc::check(VecGetArrayRead(petsc_->x, &a), "VecGetArrayRead");
  for (std::size_t v = 0; v < out.size(); ++v)
    out[v] = a[v * static_cast<std::size_t>(dof) + static_cast<std::size_t>(s)];
  petsc::check(VecRestoreArrayRead(petsc_->x, &a), "VecRestoreArrayRead");
  return out;
}

void DiffusionFields::set_values(int s, const std::vector<double>& owned) {
  if (owned.size() != n_owned_voxels()) throw runtime_error("DiffusionFields::set_values: wrong size");
  const int dof = n_substrates();
  VecArray x(petsc_->x);
  for (std::size_t v = 0; v < owned.size(); ++v)
    x[v * static_cast<std::size_t>(dof) + static_cast<std::size_t>(s)] = owned[v];
}

FieldStats DiffusionFields::stats(int s) const {
  FieldStats out;
  petsc::check(VecStrideMin(petsc_->x, s, nullptr, &out.min), "VecStrideMin");
  petsc::check(VecStrideMax(petsc_->x, s, nullptr, &out.max), "VecStrideMax");
  PetscScalar sum = 0;
  petsc::check(VecStrideSum(petsc_->x, s, &sum), "VecStrideSum");
  double voxels = 1;
  for (int a = 0; a < domain_.dim; ++a)
    voxels *= params_.voxels[a];
  out.mean = sum / voxels;
  out.total = sum * voxel_volume();
  return out;
}

std::string DiffusionFields::solver_description() const {
  KSPType ksp_type = nullptr;
  petsc::check(KSPGetType(petsc_->ksp, &ksp_type), "KSPGetType");
  PC pc = nullptr;
  petsc::check(KSPGetPC(petsc_->ksp, &pc), "KSPGetPC");
  PCType pc_type = nullptr;
  petsc::check(PCGetType(pc, &pc_type), "PCGetType");
  return std::string(ksp_type ? ksp_type : "?") + " + " + (pc_type ? pc_type : "(default)");
}

} // namespace tessera
