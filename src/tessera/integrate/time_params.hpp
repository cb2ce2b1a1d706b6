// Time stepping (SPEC §2.3): the mechanics step, the end time, and how the gene ODEs are integrated within
// each step. Read from the deck's `time` section.
#pragma once

#include "tessera/core/keys.hpp"

namespace tessera {

class Deck;

enum class GeneIntegrator { cvode, rk4 };
enum class CvodeMethod { bdf, adams };

struct TimeParams {
  double dt = 1.0;  // min, one simulation step
  double end = 0.0; // min
  GeneIntegrator integrator = GeneIntegrator::cvode;
  double dt_grn = 0.1; // min, rk4 step (rounded down so it divides dt)
  CvodeMethod method = CvodeMethod::bdf;
  double rtol = 1e-6;
  double atol = 1e-8;
  long long max_steps = 10000;

  long long steps() const; // number of simulation steps to reach `end`
};

// Whether a command needs `time.end`: `run`, `predict` and `train.simulate` simulate up to it; `train` on a
// dataset integrates between the observation times and has no end time of its own.
enum class EndTime { required, optional };

const KeyTable& time_keys();
// Without `time.end` under EndTime::optional, `end` is NaN and steps() meaningless.
TimeParams read_time_params(const Deck& deck, EndTime end_time = EndTime::required);

} // namespace tessera
