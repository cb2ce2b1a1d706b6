#include "tessera/learn/train_params.hpp"

#include "tessera/core/units.hpp"
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
        .describe(
            "The gene graph the model is trained on (`grn.graph_ode.prior: edges`): a TSV with header "
            "`type source target` (`*` for every type; further columns ignored, so a GRN table "
            "works). Without it: `grn.edges`/`grn.table` of a `graph_ode` deck, else the dataset's "
            "`/grn/prior`, else (`simulate`) the hill network itself, which then is the truth. Self "
            "loops and repeated lines are ignored with a warning, and a cell type without any edge is "
            "named in one; under `grn.graph_ode.prior: dense` the table is unused (warned). `tessera "
            "run` (with `grn.<family>.model_file`) and `tessera predict` of the same deck run the fitted "
            "model on this graph too.");
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
                  "section; host memory only: a GPU build refuses it).");
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
        .describe(
            "`adamw`: Adam with decoupled weight decay on sampled start times; `lbfgs`: PETSc TAO's "
            "limited-memory variable-metric method (`lmvm`) on every training window at each "
            "evaluation (a deterministic objective for its line search), `weight_decay` then adds "
            "0.5 weight_decay |theta|^2 to the loss and `l1` is solved exactly (TAO's bound-constrained "
            "`blmvm` on the split W = U - V, U, V >= 0: weights end at exactly 0).");
    t.add("tao_from_options", KeyType::boolean)
        .def("true")
        .describe(
            "`lbfgs` and the `derivative` pre-fit: configure PETSc TAO through TaoSetFromOptions, "
            "PETSc's own set-up step, before tessera's settings (which win). It reads -tao_* options "
            "from PETSC_OPTIONS (e.g. -tao_lmvm_mat_lmvm_hist_size 10) and gives L-BFGS's diagonal "
            "initial Hessian the BFGS matrix's theta = 0.125 (a BFGS/DFP mix); `false` leaves theta = 0 "
            "and ignores PETSC_OPTIONS: tessera's set-up before 2026-12-06, to reproduce figures "
            "measured then. On `hill` fits warm-started from the ridge `true` needs about a third of the "
            "iterations; from a constant start (grn.hill.init: constant) `false` converges further "
            "(docs/performance.md).");
    t.add_choice("prefit", {"auto", "none", "derivative"})
        .def("auto")
        .describe("`derivative`: before the optimizer, fit the model's RHS to the data's derivative "
                  "(gradient matching: the mean over cells, genes and interior training times of "
                  "(f(x(t_k)) - dx/dt(t_k))^2, dx/dt the central difference of the observations at "
                  "t_k-1, t_k, t_k+1), by L-BFGS for `prefit_iterations` steps, no ODE solve; then train "
                  "as usual from there. `auto`: `derivative` for `hill` with `grn.hill.init: ridge` (its "
                  "model class holds the dynamics of hill data; the trajectory fit alone under-fits) and for "
                  "`sigmoid` with `grn.sigmoid.init: ridge` and `inputs: log` (whose terms are Hill "
                  "functions), else `none` (`sigmoid` with linear inputs recovers no better with it). Never "
                  "on a restart or a model read from `grn.<family>.model_file`.");
    t.add("prefit_iterations", KeyType::integer)
        .def("300")
        .positive()
        .describe("L-BFGS steps of the `derivative` pre-fit (fewer when its line search can no longer "
                  "improve).");
    t.add("lr", KeyType::real)
        .def("1e-3")
        .positive()
        .describe("Adam learning rate (the peak rate of `lr_schedule`).");
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
        .describe(
            "Adds l1 * |W|_1 to the loss, W the weight tensors (projections, attention vectors, MLP "
            "matrices; hill: K; sigmoid: W and V; not biases or decay rates): a sparser learned network. "
            "`adamw` adds its subgradient l1 sign(W) to the gradient; `lbfgs` minimises the sum exactly, "
            "so that the weights the data do not support end at 0.");
    t.add("l2", KeyType::real)
        .def("0")
        .non_negative()
        .describe(
            "Adds 0.5 l2 |W|^2 to the loss over the same weight tensors as `l1` (a ridge penalty on the edge "
            "parameters, hill: K, sigmoid: W and V, not on biases or rates), under either optimizer and in "
            "the `derivative` pre-fit: unlike `weight_decay` (AdamW's decoupled shrink, or a penalty on "
            "every parameter under `lbfgs`). It does not help `sigmoid` recover networks "
            "(docs/performance.md, "
            "\"Inference\"), so the generated and example decks leave it 0.");
    t.add("group_lasso", KeyType::real)
        .def("0")
        .non_negative()
        .describe(
            "Adds group_lasso * sum_g sqrt(n_g) |W_g| to the loss (hill, sigmoid), a group g per cell type "
            "and regulator gene: the n_g parameters of its outgoing candidate edges (hill: K, sigmoid: W; "
            "each LR pair's parameter is a group alone), so that a gene without visible targets loses all "
            "its edges together. |W_g| is smoothed as sqrt(|W_g|^2 + 1e-6) - 1e-3 for L-BFGS. Under "
            "either optimizer; not in the `derivative` pre-fit. It does not help `sigmoid` recover networks "
            "(docs/performance.md, \"Inference\"), so the generated decks leave it 0.");
    t.add("clip", KeyType::real)
        .def("inf")
        .positive()
        .infinite_ok()
        .describe("Gradient-norm clipping: the gradient is scaled to this norm when longer; `inf` is off.");
    t.add("val_fraction", KeyType::real)
        .def("0")
        .between(0, 1)
        .describe("Fraction of the observation times, the last ones, held out for the validation loss.");
    t.add_choice("lr_schedule", {"constant", "cosine", "plateau"})
        .def("constant")
        .describe("AdamW's learning rate over the iterations: `constant` (`lr`); `cosine`, from `lr` at the "
                  "first iteration after the warm-up down towards `lr_min` at `iterations` (lr_min + (lr - "
                  "lr_min) (1 + cos(pi (i - 1 - warmup) / (iterations - warmup))) / 2 at iteration i); "
                  "`plateau`, times `plateau_factor` whenever the validation loss (the train loss without "
                  "held-out times) has not improved for `plateau_patience` iterations, never below `lr_min`. "
                  "Each value is in loss.csv's `lr` column. `adamw` only.");
    t.add("warmup", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("Iterations of linear warm-up before `lr_schedule`: iteration i <= warmup uses lr i / "
                  "warmup. Fewer than `iterations`. `adamw` only.");
    t.add("lr_min", KeyType::real)
        .def("0")
        .non_negative()
        .describe("The rate `cosine` decays towards and `plateau` never goes below; less than `lr`.");
    t.add("plateau_factor", KeyType::real)
        .def("0.5")
        .between(0, 1)
        .describe("`plateau`: the rate is multiplied by this at each plateau; in (0, 1).");
    t.add("plateau_patience", KeyType::integer)
        .def("10")
        .positive()
        .describe("`plateau`: iterations in a row without improvement (see `improvement`) that make a "
                  "plateau; the count starts again after each reduction.");
    t.add("improvement", KeyType::real)
        .def("1e-4")
        .between(0, 1)
        .describe("A loss improves when it falls below best - improvement |best|, best the lowest so far "
                  "(what `plateau_patience` and `patience` count; `keep_best` keeps the lowest whatever the "
                  "margin).");
    t.add("stop_rel_loss", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Stop when the mean train loss of the last `stop_window` iterations differs from the mean "
                  "of the `stop_window` before them by less than this fraction; 0: off. The reason is logged "
                  "and in model.h5 /provenance attribute `stopped`.");
    t.add("stop_window", KeyType::integer)
        .def("10")
        .positive()
        .describe(
            "Iterations per mean of `stop_rel_loss` (AdamW's losses are over sampled start times and "
            "scatter from one iteration to the next), and of the warning at the end of a run that used "
            "every `iterations`: the mean train loss of its last stop_window iterations more than 1 % below "
            "that of the stop_window before (still falling: the model may still change).");
    t.add("stop_grad_norm", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Stop when the gradient norm (before clipping) falls below this; 0: off. With `lbfgs` "
                  "this is TAO's absolute gradient tolerance (gatol).");
    t.add("patience", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("Stop when the validation loss has not improved (see `improvement`) for this many "
                  "iterations; 0: off. Needs `val_fraction` > 0.");
    t.add("keep_best", KeyType::boolean)
        .def("false")
        .describe("model.h5 (and the read-out, metrics and predicted.h5 made from it) holds the parameters "
                  "of the iteration with the lowest validation loss, not the last; /provenance attribute "
                  "`best_iteration` and the log say which. Needs `val_fraction` > 0.");
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
  p.l2 = s.real("l2");
  p.group_lasso = s.real("group_lasso");
  const std::string prefit = s.text("prefit");
  p.prefit = prefit == "derivative" ? TrainPrefit::derivative
             : prefit == "none"     ? TrainPrefit::none
                                    : TrainPrefit::automatic;
  p.prefit_iterations = s.integer("prefit_iterations");
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
  const std::string schedule = s.text("lr_schedule");
  p.lr_schedule = schedule == "cosine"    ? LrSchedule::cosine
                  : schedule == "plateau" ? LrSchedule::plateau
                                          : LrSchedule::constant;
  p.warmup = s.integer("warmup");
  p.lr_min = s.real("lr_min");
  p.plateau_factor = s.real("plateau_factor");
  p.plateau_patience = s.integer("plateau_patience");
  p.improvement = s.real("improvement");
  p.stop_rel_loss = s.real("stop_rel_loss");
  p.stop_window = s.integer("stop_window");
  p.stop_grad_norm = s.real("stop_grad_norm");
  p.patience = s.integer("patience");
  p.keep_best = s.boolean("keep_best");
  p.tao_from_options = s.boolean("tao_from_options");
  if (p.plateau_factor <= 0 || p.plateau_factor >= 1)
    s.fail("plateau_factor", "must lie strictly between 0 and 1 (a reduction)");
  if (p.improvement >= 1) s.fail("improvement", "must be less than 1");
  if (p.lr_schedule != LrSchedule::constant && p.lr_min >= p.lr)
    s.fail("lr_min", "must be less than train.lr (" + format_number(p.lr) + "): the rate decays towards it");
  if (p.warmup >= p.iterations)
    s.fail("warmup", "must be less than train.iterations (" + std::to_string(p.iterations) + ")");
  if (p.optimizer == TrainOptimizer::lbfgs && p.lr_schedule != LrSchedule::constant)
    s.fail("lr_schedule", "L-BFGS takes its steps by line search, without a learning rate: use "
                          "optimizer adamw, or lr_schedule: constant with lbfgs");
  if (p.optimizer == TrainOptimizer::lbfgs && p.warmup > 0)
    s.fail("warmup", "L-BFGS takes its steps by line search, without a learning rate: use optimizer adamw, "
                     "or warmup: 0 with lbfgs");
  if (p.patience > 0 && p.val_fraction == 0)
    s.fail("patience", "counts iterations without a better validation loss: set train.val_fraction > 0");
  if (p.keep_best && p.val_fraction == 0)
    s.fail("keep_best", "keeps the parameters of the lowest validation loss: set train.val_fraction > 0");
  if (p.beta1 >= 1) s.fail("beta1", "must be less than 1");
  if (p.beta2 >= 1) s.fail("beta2", "must be less than 1");
  if (p.val_fraction >= 1) s.fail("val_fraction", "must be less than 1");
  if (p.optimizer == TrainOptimizer::lbfgs && p.checkpoint_every > 0)
    s.fail("checkpoint_every",
           "checkpoints keep AdamW's state; TAO's L-BFGS history cannot be saved: use optimizer adamw");
  return p;
}

} // namespace tessera
