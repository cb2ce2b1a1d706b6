#include "tessera/integrate/time_params.hpp"

#include "tessera/io/deck.hpp"

#include <cmath>
#include <limits>

namespace tessera {

const KeyTable& time_keys() {
  static const KeyTable table = [] {
    KeyTable t("time", "Time stepping and the gene ODE integrator (SPEC §2.3).");
    t.add("dt", KeyType::real, Dimension::time)
        .def("1")
        .positive()
        .describe("Simulation step (mechanics step `dt_mech`).");
    t.add("end", KeyType::real, Dimension::time)
        .positive()
        .describe("Simulated time to reach; required by `run`, `predict` and `train.simulate` (`train` on a "
                  "dataset integrates between its observation times and does not use it).");
    t.add_choice("integrator", {"cvode", "rk4"})
        .def("cvode")
        .describe("Gene ODE integrator: `cvode` (SUNDIALS CVODE, adaptive; host memory only: a GPU build "
                  "refuses it) or `rk4` (fixed-step classical Runge–Kutta).");
    t.add("dt_grn", KeyType::real, Dimension::time)
        .def("0.1")
        .positive()
        .describe(
            "`rk4` step; the simulation step is split into ceil(dt/dt_grn) equal substeps (at most 10^9 "
            "over `time.end`).");
    t.add_choice("method", {"bdf", "adams"})
        .def("bdf")
        .describe("`cvode` method: `bdf` with matrix-free Newton–GMRES (stiff) or `adams` with fixed-point "
                  "iteration (non-stiff).");
    t.add("rtol", KeyType::real).def("1e-6").between(0, 1).positive().describe("`cvode` relative tolerance.");
    t.add("atol", KeyType::real).def("1e-8").positive().describe("`cvode` absolute tolerance.");
    t.add("max_steps", KeyType::integer)
        .def("10000")
        .positive()
        .describe("`cvode` internal steps allowed per simulation step.");
    return t;
  }();
  return table;
}

long long TimeParams::steps() const {
  // A relative slack keeps 100 min / 0.1 min at 1000 steps despite rounding.
  return static_cast<long long>(std::ceil(end / dt * (1.0 - 1e-12)));
}

TimeParams read_time_params(const Deck& deck, EndTime end_time) {
  const DeckView s = deck.section("time");
  TimeParams p;
  p.dt = s.real("dt");
  if (!s.has("end")) {
    // Required by the command, not by the key table (a train deck needs none): the key table's messages.
    const DeckView root = deck.root();
    const std::string what = "the simulated time to reach; `train` on a dataset needs none";
    if (end_time == EndTime::required && !root.given("time"))
      root.fail("time", "required section is missing (needs 'time.end': " + what + ")");
    if (end_time == EndTime::required && root.given_empty("time"))
      root.fail("time", "required key 'time.end' is missing from the empty section 'time' (" + what + ")");
    if (end_time == EndTime::required) s.fail("end", "required key is missing (" + what + ")");
    p.end = std::numeric_limits<double>::quiet_NaN();
  } else {
    p.end = s.real("end");
  }
  p.integrator = s.text("integrator") == "rk4" ? GeneIntegrator::rk4 : GeneIntegrator::cvode;
  p.dt_grn = s.real("dt_grn");
  p.method = s.text("method") == "adams" ? CvodeMethod::adams : CvodeMethod::bdf;
  p.rtol = s.real("rtol");
  p.atol = s.real("atol");
  p.max_steps = s.integer("max_steps");
  if (std::isnan(p.end)) return p;
  if (p.dt > p.end)
    s.fail("dt", "the step (" + format_number(p.dt) + " min) is longer than time.end (" +
                     format_number(p.end) + " min)");
  // Checked in floating point: end/dt can exceed what a long long holds.
  if (p.end / p.dt > 1e9)
    s.fail(s.has("end") ? "end" : "dt",
           "time.end / time.dt = " + format_number(p.end / p.dt) +
               " steps, more than 10^9 steps: increase time.dt or reduce time.end");
  // rk4 takes ceil(dt / dt_grn) substeps per step: the same bound on the substeps as on the steps.
  if (p.integrator == GeneIntegrator::rk4 && p.end / p.dt_grn > 1e9)
    s.fail("dt_grn", "time.end / time.dt_grn = " + format_number(p.end / p.dt_grn) +
                         " rk4 substeps, more than 10^9: increase time.dt_grn or reduce time.end");
  return p;
}

} // namespace tessera
