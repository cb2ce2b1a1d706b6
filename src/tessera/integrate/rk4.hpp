// Fixed-step classical Runge–Kutta for the gene ODEs (SPEC §2.3, `rk4`): four RHS kernels and a few axpy
// kernels per substep, no solver library, so it runs unchanged on GPUs and has an exact discrete adjoint.
#pragma once

#include "tessera/integrate/gene_rhs.hpp"

#include <functional>

namespace tessera {

class Rk4Integrator {
public:
  explicit Rk4Integrator(double max_substep) : max_substep_(max_substep) {}

  // Advances x (n x G) from t0 to t1 in substeps(t0, t1) equal substeps. `before_substep(s, x)`, when
  // given, sees the state at the start of each substep s (the RK4 adjoint keeps these as checkpoints).
  void advance(const GeneRhs& rhs, GeneState x, double t0, double t1,
               const std::function<void(long long, ConstGeneState)>& before_substep = {});

  // ceil((t1 - t0) / max_substep), at least 1.
  long long substeps(double t0, double t1) const;

private:
  void ensure(std::size_t n, std::size_t g);
  double max_substep_;
  // Three vectors, not five: each stage's slope is folded into `sum_` as soon as the next stage is formed.
  GeneState slope_, sum_, stage_;
};

} // namespace tessera
