// Cost of the diffusible-fields step (issue 12): seconds per backward Euler step, ns per voxel and substrate,
// and CG iterations, on a cube (3-D) or square (2-D) of N voxels per axis with an oxygen-like substrate
// (D dt / h^2 = 20 by default, decay 0.01/min, no-flux walls, a central uptake ball) for each preconditioner
// asked for. Wall and CPU seconds of the slowest rank.
//   mpirun -np R build/bin/tessera_bench_fields [--dim 3] [--n 100] [--substrates 1,4] [--steps 5]
//                                               [--d-dt-h2 20] [--pc jacobi,bjacobi,gamg,hypre]
#include "bench_common.hpp"
#include "tessera/field/diffusion_fields.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/decomposition.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

using namespace tessera;
using bench::max_over_ranks;
using bench::now;
using bench::parse_list;
using bench::thread_cpu_now;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    int dim = 3, n = 100, steps = 5;
    double d_dt_h2 = 20;
    std::vector<long long> substrate_counts{1, 4};
    std::vector<std::string> pcs{"jacobi", "bjacobi", "gamg", "hypre"};
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string key = argv[i], value = argv[i + 1];
      if (key == "--dim") dim = std::stoi(value);
      if (key == "--n") n = std::stoi(value);
      if (key == "--steps") steps = std::stoi(value);
      if (key == "--d-dt-h2") d_dt_h2 = std::stod(value);
      if (key == "--substrates") substrate_counts = parse_list(value);
      if (key == "--pc") {
        pcs.clear();
        std::stringstream ss(value);
        for (std::string item; std::getline(ss, item, ',');)
          pcs.push_back(item);
      }
    }
    const petsc::Session session(MPI_COMM_WORLD);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const double h = 10.0, dt = 1.0;
    Domain domain;
    domain.dim = dim;
    for (int a = 0; a < dim; ++a)
      domain.hi[a] = n * h;
    const CartesianDecomposition decomposition(MPI_COMM_WORLD, domain, {0, 0, 0});
    if (rank == 0)
      std::printf(
          "# %d-D, %d^%d voxels, D dt/h^2 = %g, %d steps, %d rank(s)\n"
          "# substrates pc wall_s_per_step cpu_s_per_step ns_per_voxel_substrate iterations_per_step\n",
          dim, n, dim, d_dt_h2, steps, ranks);
    for (const long long substrates : substrate_counts)
      for (const std::string& pc : pcs) {
        FieldParams p;
        p.spacing = h;
        p.dt = dt;
        for (int a = 0; a < dim; ++a)
          p.voxels[a] = n;
        for (long long s = 0; s < substrates; ++s) {
          Substrate sub;
          sub.name = "s" + std::to_string(s);
          sub.diffusion = d_dt_h2 * h * h / dt;
          sub.decay = 0.01;
          sub.initial = 1;
          p.substrates.push_back(sub);
        }
        p.petsc_options = "-fields_pc_type " + pc;
        DiffusionFields fields(decomposition, p);
        // Uptake in a central ball (as a spheroid's cells): the operator changes every step.
        std::vector<double> uptake(fields.n_owned_voxels() * static_cast<std::size_t>(substrates), 0.0);
        const auto& lo = fields.owned_lo();
        const auto& count = fields.owned_count();
        std::size_t v = 0;
        for (int k = 0; k < count[2]; ++k)
          for (int j = 0; j < count[1]; ++j)
            for (int i = 0; i < count[0]; ++i, ++v) {
              const int index[3] = {lo[0] + i, lo[1] + j, lo[2] + k};
              double r2 = 0;
              for (int a = 0; a < dim; ++a) {
                const double x = fields.voxel_centre(a, index[a]) - n * h / 2;
                r2 += x * x;
              }
              if (r2 < std::pow(n * h / 4, 2))
                for (long long s = 0; s < substrates; ++s)
                  uptake[v * static_cast<std::size_t>(substrates) + static_cast<std::size_t>(s)] = 1.0;
            }
        fields.advance(dt, {}, uptake); // set-up (matrix, preconditioner) outside the timing
        long long iterations = 0;
        const double wall0 = now(), cpu0 = thread_cpu_now();
        for (int step = 0; step < steps; ++step) {
          fields.advance(dt, {}, uptake);
          iterations += fields.last_iterations();
        }
        const double wall = max_over_ranks(now() - wall0) / steps;
        const double cpu = max_over_ranks(thread_cpu_now() - cpu0) / steps;
        const double voxels = std::pow(static_cast<double>(n), dim);
        if (rank == 0)
          std::printf("%lld %s %.4f %.4f %.1f %.1f\n", substrates, fields.solver_description().c_str(), wall,
                      cpu, cpu * ranks * 1e9 / (voxels * static_cast<double>(substrates)),
                      static_cast<double>(iterations) / steps);
      }
  }
  MPI_Finalize();
  return 0;
}
