#include "tessera/learn/train_params.hpp"

#include "tessera/io/deck.hpp"

#include <cmath>

namespace tessera {

const KeyTable& train_keys() {
  static const KeyTable table = [] {
    KeyTable t("train", "Fitting the `graph_ode` model to a trajectory dataset (`tessera train`, SPEC §3).");
    t.add("dataset", KeyType::path)
        .describe(
            "Trajectory dataset (SPEC §6.3) to fit; required by `tessera train`. Its genes and cell types "
            "must equal `grn.genes` and `cells.types`.");
    t.add_choice("mode", {"one_step"})
        .def("one_step")
        .describe("Objective: `one_step` integrates from the observed state at t_k to t_{k+1}.");
    t.add("iterations", KeyType::integer).def("100").positive().describe("Optimizer iterations.");
    t.add("time_points_per_iter", KeyType::integer)
        .def("4")
        .positive()
        .describe("Start times sampled per iteration (without replacement, seeded by `random.seed`; all "
                  "training start times when there are fewer).");
    t.add("dt", KeyType::real, Dimension::time)
        .def("0.1")
        .positive()
        .describe("`rk4` step of the forward and adjoint integration between observation times.");
    t.add("lr", KeyType::real).def("1e-3").positive().describe("Adam learning rate.");
    t.add("beta1", KeyType::real).def("0.9").between(0, 1).describe("Adam first-moment decay.");
    t.add("beta2", KeyType::real).def("0.999").between(0, 1).describe("Adam second-moment decay.");
    t.add("eps", KeyType::real).def("1e-8").positive().describe("Adam epsilon.");
    t.add("weight_decay", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Decoupled weight decay (AdamW): theta -= lr * weight_decay * theta each iteration.");
    t.add("clip", KeyType::real)
        .def("inf")
        .positive()
        .infinite_ok()
        .describe("Gradient-norm clipping: the gradient is scaled to this norm when longer; `inf` is off.");
    t.add("val_fraction", KeyType::real)
        .def("0")
        .between(0, 1)
        .describe("Fraction of the observation times, the last ones, held out for the validation loss.");
    return t;
  }();
  return table;
}

TrainParams read_train_params(const Deck& deck) {
  const DeckView s = deck.section("train");
  TrainParams p;
  if (!s.has("dataset")) s.fail("dataset", "tessera train needs a dataset (train.dataset)");
  p.dataset = s.path("dataset");
  p.mode = TrainMode::one_step;
  p.iterations = s.integer("iterations");
  p.time_points_per_iter = s.integer("time_points_per_iter");
  p.dt = s.real("dt");
  p.lr = s.real("lr");
  p.beta1 = s.real("beta1");
  p.beta2 = s.real("beta2");
  p.eps = s.real("eps");
  p.weight_decay = s.real("weight_decay");
  p.clip = s.real("clip");
  p.val_fraction = s.real("val_fraction");
  if (p.beta1 >= 1) s.fail("beta1", "must be less than 1");
  if (p.beta2 >= 1) s.fail("beta2", "must be less than 1");
  if (p.val_fraction >= 1) s.fail("val_fraction", "must be less than 1");
  return p;
}

} // namespace tessera
