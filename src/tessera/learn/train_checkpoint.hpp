// What `tessera train` keeps on disk besides the read-out (SPEC §3.5, §6.5, §6.6): model.h5 (parameters,
// architecture, names, AdamW's state, provenance) and checkpoint.h5, the same plus the iteration and the
// loss history, from which `--restart` continues bit for bit.
#pragma once

#include "tessera/core/invocation.hpp"
#include "tessera/grn/model_factory.hpp"
#include "tessera/grn/trainable_model.hpp"
#include "tessera/learn/adamw.hpp"
#include "tessera/learn/trainer.hpp"

#include <string>

namespace tessera {

// Provenance attributes of model.h5 and checkpoint.h5.
struct TrainProvenance {
  std::string mode, optimizer, dataset, deck; // deck: the resolved deck text
  int ranks = 1, groups = 1;
  Invocation invocation; // the command line, host and batch job of the training run
};

// Writes model.h5 at `path` (refusing to replace it): the model (TrainableGeneModel::write), /optimizer
// (AdamW's step, settings and moments in the layout of /params flattened; absent for lbfgs) and
// /provenance (with `stopped` when a stopping rule ended the run early, and under train.keep_best
// `best_iteration` and `best_validation_loss`: the caller passes that iteration's parameters). Rank 0 only.
void write_trained_model(const std::string& path, const TrainableGeneModel& model, const AdamW* optimizer,
                         const TrainParams& params, const TrainProvenance& provenance,
                         const TrainProgress& progress);

// Writes `dir`/checkpoint.h5: model.h5's content plus /progress (iteration, and the loss records as
// columns) and, under train.keep_best, /best (the best-validation parameters and their iteration). Written as
// checkpoint.h5.tmp and renamed over the previous checkpoint only when complete, so a crash leaves the
// earlier one intact. Rank 0 only.
void write_checkpoint(const std::string& dir, const TrainableGeneModel& model, const AdamW& optimizer,
                      const TrainParams& params, const TrainProvenance& provenance,
                      const TrainProgress& progress);

// Writes gradient.h5 of `tessera train --gradient-only` at `path`: the gradient of the whole objective in
// model.h5's layout (the model written with the gradient in place of its parameters, which are restored
// exactly afterwards), and /objective with the value of each term and their total (attributes), the
// optimizer and coefficients they were computed with, and the observation windows (int32 [n][2]: start and
// end time index). Rank 0 only.
void write_gradient(const std::string& path, TrainableGeneModel& model, const ParameterGradient& gradient,
                    const ObjectiveTerms& terms, const TrainParams& params,
                    const std::vector<ObservationWindow>& windows);

struct TrainCheckpoint {
  std::string path; // the checkpoint.h5 read; its parameters are loaded by restore_parameters()
  long long optimizer_steps = 0;
  std::vector<double> first_moment, second_moment;
  TrainProgress progress;
};
// Reads `dir`/checkpoint.h5 and checks, from the deck alone, that `spec`'s model can continue from it
// (TrainableModelSpec::check: family, settings, genes, types); every other field must be what
// write_checkpoint writes: iteration >= 1, one loss record per iteration numbered 1.., wall times finite and
// non-decreasing, learning rates > 0 (or NaN), AdamW's step = iteration, moments finite, v >= 0, /best (when
// present) at the history's lowest validation loss with finite parameters of the moments' size. Anything
// else is an input_error naming the file and the field (or the missing file). Not collective.
TrainCheckpoint read_checkpoint(const std::string& dir, const TrainableModelSpec& spec,
                                const std::vector<std::string>& genes,
                                const std::vector<std::string>& cell_types);
// Loads the checkpoint's parameters into `model` (TrainableGeneModel::read) and checks that its moments
// have the parameters' size; input_error naming the file otherwise. Not collective.
void restore_parameters(const TrainCheckpoint& checkpoint, TrainableGeneModel& model);

} // namespace tessera
