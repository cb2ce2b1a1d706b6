// L-BFGS for an objective plus an L1 term on some of its variables, min f(x) + l1 sum_{e in S} |x_e|, by
// the splitting x_e = u_e - v_e, u_e, v_e >= 0 of the penalised variables: the problem becomes the smooth
// min f(u - v, rest) + l1 sum (u_e + v_e) under bounds, which TAO's bound-constrained L-BFGS (petsc.hpp)
// solves. Unlike a subgradient of |x| added to the loss, the bounds stop a variable exactly at zero, so a
// penalised weight the data do not support ends at 0, not at a small value of either sign.
#pragma once

#include "tessera/learn/petsc.hpp"

#include <string>
#include <vector>

namespace tessera {

// Minimises f(x) + l1 sum_{e : penalised[e]} |x_e| from x (updated in place; penalised.size() == x.size()).
// `f` and `monitor` see x itself, never the split variables; the monitor's f includes the l1 term (as
// sum u + v, which equals l1 |x|_1 once no variable holds both signs) and its |g| is the norm of the
// projected gradient of the split problem. options.lower must be empty. l1 == 0 is plain minimize_lmvm. Needs
// a live petsc::Session; returns TAO's converged reason.
std::string minimize_l1_lmvm(std::vector<double>& x, const std::vector<bool>& penalised, double l1,
                             const petsc::LmvmOptions& options, const petsc::ObjectiveAndGradient& f,
                             const petsc::LmvmMonitor& monitor);

} // namespace tessera
