#include "tessera/learn/train_params.hpp"

#include "tessera/io/deck.hpp"

#include <cmath>

namespace tessera {

const KeyTable& train_keys() {
  static const KeyTable table = [] {
    KeyTable t("train", "Fitting a learnable gene model to a trajectory dataset (`tessera train`, SPEC §3).");
    t.add("dataset", KeyType::path)
        .describe("Trajectory dataset (SPEC §6.3) to fit; required by `tessera train` unless `simulate` is "
                  "set. Its "
                  "genes and cell types must equal `grn.genes` and `cells.types`.");
    t.add("simulate", KeyType::boolean)
        .def("false")
        .describe("Make the dataset first: run the deck's simulation (`grn.model: hill`, as `tessera run` "
                  "with `output.dataset: true`) into the run directory, then fit `graph_ode` (architecture "
                  "from `grn.graph_ode`, gene graph from `grn.edges`/`grn.file`) to its `dataset.h5`. "
                  "Excludes `dataset`.");
    t.add("model", KeyType::text)
        .describe(
            "The model family to fit: `graph_ode` (SPEC §2.2, settings `grn.graph_ode`), or a trainable "
            "mechanistic model of SPEC §2.4 where built (settings `grn.<family>`). Default: `graph_ode` "
            "under `simulate` (where `grn.model: hill` is the ground truth), else `grn.model`.");
    t.add("prior", KeyType::path)
        .describe("The gene graph the model is trained on (`grn.graph_ode.prior: edges`): a TSV with header "
                  "`type source target` (`*` for every type; further columns ignored, so a GRN table "
                  "works). Without it: `grn.edges`/`grn.table` of a `graph_ode` deck, else the dataset's "
                  "`/grn/prior`, else (`simulate`) the hill network itself, which then is the truth. Self "
                  "loops and repeated lines are ignored with a warning, and a cell type without any edge is "
                  "named in one; under `grn.graph_ode.prior: dense` the table is unused (warned).");
    t.add_choice("mode", {"one_step", "window", "full"})
        .def("one_step")
        .describe("Objective: `one_step` integrates from the observed state at t_k to t_{k+1}; `window` "
                  "from t_k through the next `window` observation times (multiple shooting); `full` from "
                  "t_0 through every training time (one window per iteration; `time_points_per_iter` "
                  "unused).");
    t.add("window", KeyType::integer)
        .def("4")
        .positive()
        .describe("`window` mode: observation intervals integrated from each sampled start (fewer where "
                  "the training times end).");
    t.add("iterations", KeyType::integer).def("100").positive().describe("Optimizer iterations.");
    t.add("time_points_per_iter", KeyType::integer)
        .def("4")
        .positive()
        .describe("Start times sampled per iteration (without replacement, seeded by `random.seed`; all "
                  "training start times when there are fewer).");
    t.add_choice("integrator", {"rk4", "cvode"})
        .def("rk4")
        .describe("Forward and adjoint solves: `rk4` with its exact discrete adjoint (step `dt`), or "
                  "`cvode`, the CVODES adjoint with checkpointing (tolerances and method from the `time` "
                  "section).");
    t.add("cvode_backward_factor", KeyType::real)
        .def("1")
        .positive()
        .describe(
            "`cvode`: the backward (adjoint) problem's tolerances are `time.rtol`/`time.atol` times this. "
            "On `graph_ode` the backward problem takes several times the forward's steps (its RHS jumps "
            "where ReLU units switch); 10-100 cuts them several-fold for a gradient about that much "
            "less accurate.");
    t.add("dt", KeyType::real, Dimension::time)
        .def("0.1")
        .positive()
        .describe("`rk4` step of the forward and adjoint integration between observation times.");
    t.add_choice("optimizer", {"adamw", "lbfgs"})
        .def("adamw")
        .describe("`adamw`: Adam with decoupled weight decay on sampled start times; `lbfgs`: PETSc TAO's "
                  "limited-memory variable-metric method (`lmvm`) on every training window at each "
                  "evaluation (a deterministic objective for its line search), `weight_decay` then adds "
                  "0.5 weight_decay |theta|^2 to the loss; no `l1`.");
    t.add("lr", KeyType::real).def("1e-3").positive().describe("Adam learning rate.");
    t.add("beta1", KeyType::real).def("0.9").between(0, 1).describe("Adam first-moment decay.");
    t.add("beta2", KeyType::real).def("0.999").between(0, 1).describe("Adam second-moment decay.");
    t.add("eps", KeyType::real).def("1e-8").positive().describe("Adam epsilon.");
    t.add("weight_decay", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Decoupled weight decay (AdamW): theta -= lr * weight_decay * theta each iteration, "
                  "outside the loss (`loss.csv` and `--gradient-only` report no such term); with `lbfgs`, "
                  "0.5 weight_decay |theta|^2 is a term of the minimised loss.");
    t.add("l1", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Adds l1 * |W|_1 to the loss, W the weight tensors (projections, attention vectors, MLP "
                  "matrices; not biases or decay rates): a sparser learned network. `adamw` only.");
    t.add("clip", KeyType::real)
        .def("inf")
        .positive()
        .infinite_ok()
        .describe("Gradient-norm clipping: the gradient is scaled to this norm when longer; `inf` is off.");
    t.add("val_fraction", KeyType::real)
        .def("0")
        .between(0, 1)
        .describe("Fraction of the observation times, the last ones, held out for the validation loss.");
    t.add("progress_every", KeyType::integer)
        .def("1")
        .positive()
        .describe("Iterations between rank 0's progress lines (iteration, train and validation loss, "
                  "gradient norm, s/iteration, ETA); loss.csv gets every iteration.");
    t.add("checkpoint_every", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("Iterations between checkpoints (`checkpoint.h5` in the run directory: parameters, "
                  "optimizer state, iteration, loss history; written to a temporary name and renamed); 0: "
                  "none. `tessera train DECK --restart DIR` continues from it. `adamw` only.");
    return t;
  }();
  return table;
}

TrainParams read_train_params(const Deck& deck) {
  const DeckView s = deck.section("train");
  TrainParams p;
  p.simulate = s.boolean("simulate");
  if (s.has("model")) p.model = s.text("model");
  if (p.simulate && s.has("dataset"))
    s.fail("dataset", "give either train.dataset or train.simulate: true, not both");
  if (!p.simulate && !s.has("dataset"))
    s.fail("dataset", "tessera train needs a dataset (train.dataset, or train.simulate: true)");
  if (!p.simulate) p.dataset = s.path("dataset");
  if (s.has("prior")) p.prior = s.path("prior");
  const std::string mode = s.text("mode");
  p.mode = mode == "window" ? TrainMode::window : mode == "full" ? TrainMode::full : TrainMode::one_step;
  p.window = s.integer("window");
  p.use_cvode = s.text("integrator") == "cvode";
  p.cvode_backward_factor = s.real("cvode_backward_factor");
  p.optimizer = s.text("optimizer") == "lbfgs" ? TrainOptimizer::lbfgs : TrainOptimizer::adamw;
  p.l1 = s.real("l1");
  p.progress_every = s.integer("progress_every");
  p.checkpoint_every = s.integer("checkpoint_every");
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
  if (p.optimizer == TrainOptimizer::lbfgs && p.l1 > 0)
    s.fail("l1", "the l1 term is not differentiable: use optimizer adamw, or l1: 0 with lbfgs");
  if (p.optimizer == TrainOptimizer::lbfgs && p.checkpoint_every > 0)
    s.fail("checkpoint_every",
           "checkpoints keep AdamW's state; TAO's L-BFGS history cannot be saved: use optimizer adamw");
  return p;
}

} // namespace tessera
