// Counter-based random numbers (SPEC §4.3): every draw is Philox4x64 keyed by (seed, cell id) with counter
// (step, purpose, index), so a cell's random numbers do not depend on which rank or thread draws them.
#pragma once

#include "tessera/core/kokkos_compat.hpp"

#include <Kokkos_Core.hpp>
#include <Random123/philox.h>

#include <cstdint>

namespace tessera {

// What a draw is for; part of the counter so different uses of the same (cell, step) never share numbers.
enum class RandomPurpose : std::uint64_t {
  init_position = 1,
  init_type = 2,
  init_genes = 3,
  motility = 4,
  division = 5,
  death = 6,
  parameters = 7,
  init_cycle = 8,
  sweep_sample = 9, // draws of a sweep file's sample axes (not per cell: key = axis, step = draw)
};

struct CounterRng {
  std::uint64_t seed = 0;

  // Four independent 64-bit words for (key, step, purpose, index).
  KOKKOS_INLINE_FUNCTION r123::Philox4x64::ctr_type bits(std::uint64_t key, std::uint64_t step,
                                                         RandomPurpose purpose, std::uint64_t index) const {
    r123::Philox4x64 philox;
    const r123::Philox4x64::key_type k = {{seed, key}};
    const r123::Philox4x64::ctr_type c = {
        {step, static_cast<std::uint64_t>(purpose), index, 0x7465737365726121ull}};
    return philox(c, k);
  }

  // A double uniform in the open interval (0, 1) from 53 random bits.
  KOKKOS_INLINE_FUNCTION static double to_unit(std::uint64_t x) {
    return (static_cast<double>(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }

  // Four uniforms in (0, 1).
  KOKKOS_INLINE_FUNCTION void uniform4(std::uint64_t key, std::uint64_t step, RandomPurpose purpose,
                                       std::uint64_t index, double out[4]) const {
    const auto r = bits(key, step, purpose, index);
    for (int i = 0; i < 4; ++i)
      out[i] = to_unit(r.v[i]);
  }

  // Four standard normals (two Box–Muller pairs).
  KOKKOS_INLINE_FUNCTION void normal4(std::uint64_t key, std::uint64_t step, RandomPurpose purpose,
                                      std::uint64_t index, double out[4]) const {
    double u[4];
    uniform4(key, step, purpose, index, u);
    for (int p = 0; p < 2; ++p) {
      const double radius = math::sqrt(-2.0 * math::log(u[2 * p]));
      const double angle = 6.283185307179586 * u[2 * p + 1];
      out[2 * p] = radius * math::cos(angle);
      out[2 * p + 1] = radius * math::sin(angle);
    }
  }
};

} // namespace tessera
