// DiffusionFields against exact solutions (heat kernel, steady point sources, a 1-D Dirichlet profile),
// conservation, positivity under implicit uptake, and equality with a one-rank solve on every rank count.
#include "../support/petsc_environment.hpp"
#include "tessera/core/error.hpp"
#include "tessera/field/diffusion_fields.hpp"
#include "tessera/learn/petsc.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

namespace tessera {
namespace {

constexpr double pi = 3.14159265358979323846;

Domain box(int dim, double half_width) {
  Domain d;
  d.dim = dim;
  for (int a = 0; a < dim; ++a) {
    d.lo[a] = -half_width;
    d.hi[a] = half_width;
  }
  return d;
}

FieldParams one_substrate(const Domain& domain, double spacing, double diffusion, double decay, double dt) {
  FieldParams p;
  Substrate s;
  s.name = "u";
  s.diffusion = diffusion;
  s.decay = decay;
  p.substrates.push_back(s);
  p.spacing = spacing;
  p.dt = dt;
  for (int a = 0; a < domain.dim; ++a)
    p.voxels[a] = static_cast<int>(std::lround(domain.extent(a) / spacing));
  return p;
}

// Calls f(owned index, centre) for every owned voxel.
template <class F>
void for_each_voxel(const DiffusionFields& fields, const Domain& domain, F&& f) {
  const auto& lo = fields.owned_lo();
  const auto& n = fields.owned_count();
  std::size_t v = 0;
  for (int k = 0; k < n[2]; ++k)
    for (int j = 0; j < n[1]; ++j)
      for (int i = 0; i < n[0]; ++i, ++v) {
        const int index[3] = {lo[0] + i, lo[1] + j, lo[2] + k};
        double centre[3] = {0, 0, 0};
        for (int a = 0; a < domain.dim; ++a)
          centre[a] = fields.voxel_centre(a, index[a]);
        f(v, centre);
      }
}

double global_max(double x) {
  MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return x;
}

// Max error of a Gaussian pulse of width sigma0 after time T against the heat kernel, on a grid of spacing
// h with dt = dt_per_h2 * h^2 (so that backward Euler's O(dt) and the stencil's O(h^2) shrink together).
double gaussian_pulse_error(int dim, double h, double dt_per_h2) {
  const double half = dim == 2 ? 40.0 : 24.0, sigma0 = 4.0, diffusion = 2.0, end = 4.0;
  const Domain domain = box(dim, half);
  const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
  const double dt = end / std::round(end / (dt_per_h2 * h * h));
  DiffusionFields fields(decomposition, one_substrate(domain, h, diffusion, 0.0, dt));
  auto gauss = [&](const double* x, double var) {
    double r2 = 0;
    for (int a = 0; a < dim; ++a)
      r2 += x[a] * x[a];
    return std::pow(sigma0 * sigma0 / var, dim / 2.0) * std::exp(-r2 / (2 * var));
  };
  std::vector<double> initial(fields.n_owned_voxels());
  for_each_voxel(fields, domain,
                 [&](std::size_t v, const double* x) { initial[v] = gauss(x, sigma0 * sigma0); });
  fields.set_values(0, initial);
  fields.advance(end, {}, {});
  const std::vector<double> c = fields.values(0);
  double error = 0;
  const double var = sigma0 * sigma0 + 2 * diffusion * end;
  for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
    error = std::max(error, std::abs(c[v] - gauss(x, var)));
  });
  return global_max(error);
}

// Second order in space and (with dt proportional to h^2) first order in time: the error falls 4 times per
// halving of h. The measured orders (2-D: 1.90, 1.98; 3-D: 1.87, 1.91) leave room for the 1.8 floor, which
// a first-order scheme (order 1) or a wrong stencil (order 0) cannot reach.
void expect_second_order(int dim, const std::vector<double>& spacings) {
  std::vector<double> errors;
  for (double h : spacings)
    errors.push_back(gaussian_pulse_error(dim, h, 0.05));
  for (std::size_t i = 1; i < errors.size(); ++i) {
    const double order = std::log(errors[i - 1] / errors[i]) / std::log(spacings[i - 1] / spacings[i]);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
      std::printf("%d-D h = %g: max error %.3e, order %.3f\n", dim, spacings[i], errors[i], order);
    EXPECT_GT(order, 1.8) << "h " << spacings[i - 1] << " -> " << spacings[i];
    EXPECT_LT(order, 2.3);
  }
  EXPECT_LT(errors.back(), dim == 2 ? 1.5e-3 : 6e-3); // of a peak that starts at 1 (measured 8.7e-4, 4.0e-3)
}

TEST(DiffusionFields, GaussianPulseMatchesTheHeatKernelToSecondOrder2D) {
  expect_second_order(2, {2.0, 1.0, 0.5});
}

TEST(DiffusionFields, GaussianPulseMatchesTheHeatKernelToSecondOrder3D) {
  expect_second_order(3, {2.0, 1.5, 1.0});
}

// A point source of Q per minute with decay k: D Lap c - k c + Q delta = 0 has c = Q/(2 pi D) K0(r/lambda) in
// 2-D and Q/(4 pi D r) exp(-r/lambda) in 3-D, lambda = sqrt(D/k). One backward Euler step of a huge dt is
// the steady solve. Compared away from the source, where the 5/7-point lattice Green's function approaches
// the continuum one (r >= 3 voxels in 2-D, 5 in 3-D), and inside half the box (no-flux walls' images below
// 0.2%). Measured worst: 0.85% (2-D, lambda = 8 h), 2.6% (3-D, lambda = 5 h: O(h^2 / lambda^2) = 4%).
void expect_steady_point_source(int dim, double h, double lambda, double half, double r_min,
                                double tolerance) {
  const double diffusion = 10.0, decay = diffusion / (lambda * lambda), q = 5.0;
  // An even number of voxels per axis (so 2 and 4 ranks split them), one of them centred on the origin.
  Domain domain = box(dim, half);
  for (int a = 0; a < dim; ++a) {
    domain.lo[a] -= h / 2;
    domain.hi[a] -= h / 2;
  }
  const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
  DiffusionFields fields(decomposition, one_substrate(domain, h, diffusion, decay, 1e15));
  std::vector<double> source(fields.n_owned_voxels(), 0.0);
  bool has_origin = false;
  for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
    bool origin = true;
    for (int a = 0; a < dim; ++a)
      origin = origin && std::abs(x[a]) < h / 2;
    if (origin) {
      source[v] = q / fields.voxel_volume();
      has_origin = true;
    }
  });
  fields.advance(1e15, source, {});
  const std::vector<double> c = fields.values(0);
  double worst = 0;
  long long compared = 0;
  for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
    double r2 = 0;
    for (int a = 0; a < dim; ++a)
      r2 += x[a] * x[a];
    const double r = std::sqrt(r2);
    if (r < r_min - 1e-9 || r > half / 2) return;
    const double exact = dim == 2 ? q / (2 * pi * diffusion) * std::cyl_bessel_k(0.0, r / lambda)
                                  : q / (4 * pi * diffusion * r) * std::exp(-r / lambda);
    worst = std::max(worst, std::abs(c[v] - exact) / exact);
    ++compared;
  });
  EXPECT_EQ(1, [&] {
    int n = has_origin;
    MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    return n;
  }()) << "one voxel holds the source";
  long long total = compared;
  MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_GT(total, 100);
  worst = global_max(worst);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) std::printf("%d-D point source: worst relative error %.3e\n", dim, worst);
  EXPECT_LT(worst, tolerance);
}

TEST(DiffusionFields, SteadyPointSourceWithDecayMatchesBesselK0In2D) {
  expect_steady_point_source(2, 1.0, 8.0, 80.0, 3.0, 0.02);
}

TEST(DiffusionFields, SteadyPointSourceWithDecayMatchesExpOverRIn3D) {
  expect_steady_point_source(3, 1.0, 5.0, 24.0, 5.0, 0.04);
}

// Dirichlet c = 1 at x = 0 and 0 at x = L, no flux in y, decay k: c = sinh((L - x)/lambda) / sinh(L/lambda).
// Without decay the profile is linear, which the scheme (Dirichlet value half a voxel from the first
// centre) reproduces to the solver's tolerance; with decay the error is second order in h. One backward
// Euler step of dt = 1e15 is the steady solve (1/dt perturbs it by 1e-15 / (pi^2 D / L^2) ~ 1e-12).
double dirichlet_profile_error(double decay, double h) {
  Domain domain;
  domain.dim = 2;
  domain.hi = {100.0, 8.0, 0.0};
  const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 1, 1});
  FieldParams p = one_substrate(domain, h, 1.0, decay, 1e15);
  p.substrates[0].boundary[0] = FieldBoundary{true, 1.0};
  p.substrates[0].boundary[1] = FieldBoundary{true, 0.0};
  DiffusionFields fields(decomposition, p);
  fields.advance(1e15, {}, {});
  const std::vector<double> c = fields.values(0);
  const double length = 100.0, lambda = decay > 0 ? std::sqrt(1.0 / decay) : 0.0;
  double worst = 0;
  for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
    const double exact =
        decay > 0 ? std::sinh((length - x[0]) / lambda) / std::sinh(length / lambda) : 1.0 - x[0] / length;
    worst = std::max(worst, std::abs(c[v] - exact));
  });
  return global_max(worst);
}

TEST(DiffusionFields, DirichletProfileIn1D) {
  // Linear: exact but for the solver (rtol 1e-12 on a system of condition ~1e4).
  EXPECT_LT(dirichlet_profile_error(0.0, 1.0), 1e-9);
  const double coarse = dirichlet_profile_error(0.01, 1.0), fine = dirichlet_profile_error(0.01, 0.5);
  EXPECT_LT(coarse, 2e-3); // measured 1.2e-3
  EXPECT_GT(std::log2(coarse / fine), 1.8) << coarse << " -> " << fine;
}

// No decay, no-flux walls, secretion only: the amount grows by exactly what was secreted.
TEST(DiffusionFields, ConservesTheSecretedAmount) {
  for (int dim : {2, 3}) {
    const Domain domain = box(dim, 16.0);
    const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
    FieldParams p = one_substrate(domain, 2.0, 5.0, 0.0, 0.5);
    p.substrates[0].initial = 0.3;
    FieldSource region;
    region.lo = {-16, -16, -16};
    region.hi = {-8, 0, 4};
    region.rate = 0.7;
    p.substrates[0].sources.push_back(region);
    DiffusionFields fields(decomposition, p);
    double region_voxels = 0;
    std::vector<double> source(fields.n_owned_voxels(), 0.0);
    double secreted = 0; // per minute, this rank's cells
    for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
      bool in_region = true;
      for (int a = 0; a < dim; ++a)
        in_region = in_region && x[a] >= region.lo[a] && x[a] <= region.hi[a];
      region_voxels += in_region;
      // Cells somewhere else: a deterministic scatter of secreting voxels.
      if (std::fmod(std::abs(x[0] * 7 + x[1] * 3), 11.0) < 1.0) {
        source[v] = 2.5 / fields.voxel_volume();
        secreted += 2.5;
      }
    });
    MPI_Allreduce(MPI_IN_PLACE, &secreted, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &region_voxels, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    const double initial = fields.stats(0).total;
    EXPECT_NEAR(initial, 0.3 * domain.volume(), 1e-12 * initial);
    const double minutes = 10.0;
    for (int step = 0; step < 10; ++step)
      fields.advance(1.0, source, {});
    const double expected =
        initial + minutes * (secreted + region.rate * region_voxels * fields.voxel_volume());
    EXPECT_NEAR(fields.stats(0).total, expected, 1e-10 * expected) << dim << "-D";
  }
}

// Uptake u dt = 50 in the voxels of greedy cells: explicit uptake would make them -49 times their value;
// implicit uptake keeps every voxel non-negative (to the solver's rounding) and removes at most what is
// there.
TEST(DiffusionFields, ImplicitUptakeNeverDrivesAVoxelNegative) {
  const Domain domain = box(2, 20.0);
  const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
  FieldParams p = one_substrate(domain, 1.0, 0.5, 0.0, 1.0);
  p.substrates[0].initial = 1.0;
  DiffusionFields fields(decomposition, p);
  std::vector<double> uptake(fields.n_owned_voxels(), 0.0);
  for_each_voxel(fields, domain, [&](std::size_t v, const double* x) {
    if (std::abs(x[0]) < 6 && std::abs(x[1]) < 6) uptake[v] = 50.0;
  });
  double previous = fields.stats(0).total;
  for (int step = 0; step < 20; ++step) {
    fields.advance(1.0, {}, uptake);
    const FieldStats s = fields.stats(0);
    EXPECT_GE(s.min, -1e-12) << "step " << step;
    EXPECT_LE(s.total, previous * (1 + 1e-12));
    previous = s.total;
  }
  EXPECT_LT(fields.stats(0).min, 1e-3); // the greedy cells did empty their voxels
}

// Every rank count gives the one-rank answer: each rank also solves the whole problem alone
// (PETSC_COMM_SELF) and compares its own block. CG on the unpreconditioned residual to rtol 1e-12 leaves
// differences of order 1e-12 from the partitioned preconditioner and the reduction order: 1e-10 of the
// field's maximum is the stated tolerance.
TEST(DiffusionFields, EveryRankCountGivesTheOneRankFields) {
  for (int dim : {2, 3}) {
    Domain domain = box(dim, 12.0);
    domain.periodic[1] = true;
    FieldParams p = one_substrate(domain, 1.0, 3.0, 0.05, 0.25);
    Substrate second = p.substrates[0];
    second.name = "v";
    second.diffusion = 0.7;
    second.boundary[0] = FieldBoundary{true, 2.0};
    p.substrates.push_back(second);
    const CartesianDecomposition all(MPI_COMM_WORLD, domain, {0, 0, 0});
    const CartesianDecomposition alone(MPI_COMM_SELF, domain, {1, 1, 1});
    DiffusionFields shared(all, p), mine(alone, p);
    auto cell_terms = [&](const DiffusionFields& f, std::vector<double>& source,
                          std::vector<double>& uptake) {
      source.assign(f.n_owned_voxels() * 2, 0.0);
      uptake.assign(f.n_owned_voxels() * 2, 0.0);
      for_each_voxel(f, domain, [&](std::size_t v, const double* x) {
        if (x[0] > 2 && x[1] < 3) source[2 * v] = 1.5;
        if (x[0] < -3) uptake[2 * v + 1] = 0.4;
      });
    };
    std::vector<double> s1, u1, s2, u2;
    cell_terms(shared, s1, u1);
    cell_terms(mine, s2, u2);
    for (int step = 0; step < 4; ++step) {
      shared.advance(1.0, s1, u1);
      mine.advance(1.0, s2, u2);
    }
    for (int s = 0; s < 2; ++s) {
      const std::vector<double> a = shared.values(s), reference = mine.values(s);
      const auto& lo = shared.owned_lo();
      const auto& n = shared.owned_count();
      const auto& nn = p.voxels;
      double worst = 0, scale = 0;
      std::size_t v = 0;
      for (int k = 0; k < n[2]; ++k)
        for (int j = 0; j < n[1]; ++j)
          for (int i = 0; i < n[0]; ++i, ++v) {
            const std::size_t r =
                (static_cast<std::size_t>(lo[2] + k) * nn[1] + (lo[1] + j)) * nn[0] + lo[0] + i;
            worst = std::max(worst, std::abs(a[v] - reference[r]));
            scale = std::max(scale, std::abs(reference[r]));
          }
      EXPECT_LT(global_max(worst), 1e-10 * global_max(scale)) << dim << "-D substrate " << s;
    }
  }
}

// sample() (field -> gene sensing) interpolates (bi/trilinear) between the voxel centres around a point,
// the neighbouring ranks' ghost voxels included: it reproduces a field linear in x and z exactly, and on the
// periodic y axis interpolates between the last and the first layer across the wrap. Points are spread over
// each rank's own box up to its faces, so about half of them need a neighbour's voxels. Round-off: 1e-12.
TEST(DiffusionFields, SampleInterpolatesBetweenVoxelCentresAcrossRanks) {
  for (int dim : {2, 3}) {
    Domain domain = box(dim, 6.0);
    domain.periodic[1] = true;
    FieldParams p = one_substrate(domain, 1.0, 1.0, 0.0, 1.0);
    Substrate second = p.substrates[0];
    second.name = "v";
    p.substrates.push_back(second);
    const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
    DiffusionFields fields(decomposition, p);
    const int ny = p.voxels[1];
    auto layer = [](int j) { return 0.01 * j * j; }; // any values per y layer
    auto linear = [](const double* x, int s) { return s == 0 ? 1.0 + 0.3 * x[0] - 0.2 * x[2] : 2.0 - x[0]; };
    for (int s = 0; s < 2; ++s) {
      std::vector<double> values(fields.n_owned_voxels());
      const auto& lo = fields.owned_lo();
      const auto& n = fields.owned_count();
      std::size_t v = 0;
      for (int k = 0; k < n[2]; ++k)
        for (int j = 0; j < n[1]; ++j)
          for (int i = 0; i < n[0]; ++i, ++v) {
            double centre[3] = {0, 0, 0};
            const int index[3] = {lo[0] + i, lo[1] + j, lo[2] + k};
            for (int a = 0; a < dim; ++a)
              centre[a] = fields.voxel_centre(a, index[a]);
            values[v] = linear(centre, s) + layer(lo[1] + j);
          }
      fields.set_values(s, values);
    }
    // Points on a regular lattice of this rank's box (its faces included), inside the outermost centres on
    // the non-periodic axes.
    const auto& lo = fields.owned_lo();
    const auto& n = fields.owned_count();
    std::vector<double> points;
    std::vector<std::array<double, 3>> where;
    const int m = 7;
    for (int c = 0; c < (dim == 3 ? m : 1); ++c)
      for (int b = 0; b < m; ++b)
        for (int a = 0; a < m; ++a) {
          std::array<double, 3> x{0, 0, 0};
          const int step[3] = {a, b, c};
          for (int ax = 0; ax < dim; ++ax) {
            const double first = domain.lo[ax] + lo[ax] * p.spacing, last = first + n[ax] * p.spacing;
            x[ax] = first + (last - first) * step[ax] / (m - 1);
            if (ax != 1) x[ax] = std::clamp(x[ax], domain.lo[ax] + 0.5, domain.hi[ax] - 0.5);
          }
          for (int ax = 0; ax < dim; ++ax)
            points.push_back(x[ax]);
          where.push_back(x);
        }
    const std::vector<double> sampled = fields.sample(points, where.size());
    double worst = 0;
    for (std::size_t q = 0; q < where.size(); ++q) {
      const double u = (where[q][1] - domain.lo[1]) / p.spacing - 0.5;
      const int j0 = static_cast<int>(std::floor(u));
      const double t = u - j0;
      const double y_part = (1 - t) * layer((j0 + ny) % ny) + t * layer((j0 + 1) % ny);
      for (int s = 0; s < 2; ++s)
        worst = std::max(worst, std::abs(sampled[2 * q + s] - (linear(where[q].data(), s) + y_part)));
    }
    EXPECT_LT(global_max(worst), 1e-12) << dim << "-D";
  }
}

TEST(DiffusionFields, RankBoxesThatAreNotGridAlignedAreRefused) {
  Domain domain = box(2, 5.0); // 10 voxels of 1 um per axis
  FieldParams p = one_substrate(domain, 1.0, 1.0, 0.0, 1.0);
  EXPECT_NO_THROW(voxels_per_rank_box(p, domain, {2, 5, 1}));
  try {
    voxels_per_rank_box(p, domain, {3, 1, 1});
    FAIL() << "10 voxels over 3 rank boxes accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("fields.spacing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("parallel.dims"), std::string::npos) << e.what();
  }
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) {
    // 9 voxels never split over 2 or 4 ranks' boxes along both axes: the constructor refuses on every rank.
    Domain odd = box(2, 4.5);
    const CartesianDecomposition decomposition(MPI_COMM_WORLD, odd, {size, 1, 1});
    EXPECT_THROW(DiffusionFields(decomposition, one_substrate(odd, 1.0, 1.0, 0.0, 1.0)), Error);
  }
}

} // namespace
} // namespace tessera

namespace tessera {
namespace {

// fields.petsc_options reach the solver and its preconditioner (before the preconditioner was given the
// solver's options database it kept PETSc's default), options of another simulation in the same process do
// not, and an option PETSc refuses is an input error naming the key.
TEST(DiffusionFields, PetscOptionsReachTheSolverAndItsPreconditioner) {
  const Domain domain = box(2, 8.0);
  const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
  FieldParams p = one_substrate(domain, 1.0, 1.0, 0.0, 1.0);
  p.petsc_options = "-fields_ksp_type gmres -fields_pc_type jacobi";
  DiffusionFields tuned(decomposition, p);
  EXPECT_EQ(tuned.solver_description(), "gmres + jacobi");
  DiffusionFields plain(decomposition, one_substrate(domain, 1.0, 1.0, 0.0, 1.0));
  EXPECT_EQ(plain.solver_description().rfind("cg + ", 0), 0u) << plain.solver_description();
  EXPECT_NE(plain.solver_description(), "cg + jacobi");
  p.petsc_options = "-fields_pc_type no_such_preconditioner";
  try {
    DiffusionFields bad(decomposition, p);
    FAIL() << "an unknown preconditioner was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("fields.petsc_options"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace tessera
