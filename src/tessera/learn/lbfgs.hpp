// L-BFGS training (SPEC §3.5 "optional L-BFGS (PETSc TAO)"): TAO's limited-memory variable-metric method on
// the loss over every training window, run in lockstep on every rank (the loss and gradient are the same on
// all ranks, so are TAO's steps).
#pragma once

#include "tessera/learn/objective.hpp"
#include "tessera/learn/trainer.hpp"

#include <functional>
#include <string>

namespace tessera {

// Minimises L(theta) + 0.5 weight_decay |theta|^2 + 0.5 l2 |W|^2 + l1 |W|_1 (W the sparse tensors, as
// add_l1_penalty; the l1 term by minimize_l1_lmvm, so that weights reach exactly 0) over
// all_training_windows(params, split) for at most params.iterations TAO iterations. One record per iteration:
// the objective at the iteration's end point, the validation loss there, and the gradient norm TAO saw.
// train.stop_grad_norm is TAO's gatol; the StoppingRule ends the run as under AdamW (progress.stopped says
// why), and train.keep_best keeps the end point of the lowest validation loss in progress. `report` may be
// empty. `stop_requested` (may be empty; collective, the same answer on every rank) is asked after each
// iteration and ends TAO when true. Needs a live petsc::Session. Returns TAO's converged reason. Collective.
std::string train_lbfgs(const TrajectoryObjective& objective, TrainableGeneModel& model,
                        const TrainParams& params, TrainProgress& progress,
                        const std::function<void(const TrainRecord&)>& report,
                        const std::function<bool()>& stop_requested = {});

} // namespace tessera
