#include "tessera/learn/train_checkpoint.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/invocation_attributes.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace tessera {

namespace fs = std::filesystem;

namespace {

void write_content(h5::File& file, const TrainableGeneModel& model, const AdamW* optimizer,
                   const TrainParams& params, const TrainProvenance& provenance,
                   const TrainProgress& progress) {
  model.write(file);
  if (optimizer) {
    // AdamW's state: moments in the layout of /params flattened (sets x values per set).
    h5::Handle state = h5::create_group(file.get(), "optimizer");
    h5::write_text_attribute(state.get(), "method", "adamw");
    h5::write_int_attribute(state.get(), "step", optimizer->steps());
    for (const auto& [name, value] : {std::pair<const char*, double>{"lr", params.lr},
                                      {"beta1", params.beta1},
                                      {"beta2", params.beta2},
                                      {"eps", params.eps},
                                      {"weight_decay", params.weight_decay},
                                      {"l1", params.l1},
                                      {"clip", params.clip}})
      h5::write_real_attribute(state.get(), name, value);
    const auto n = static_cast<std::int64_t>(optimizer->first_moment().size());
    h5::write_rows(state.get(), "m", optimizer->first_moment().data(), h5::Rows{0, n, n});
    h5::write_rows(state.get(), "v", optimizer->second_moment().data(), h5::Rows{0, n, n});
  }
  h5::Handle p = h5::create_group(file.get(), "provenance");
  h5::write_text_attribute(p.get(), "tessera", version() + " (" + git_hash() + ")");
  h5::write_text_attribute(p.get(), "subcommand", "train");
  write_invocation(p.get(), provenance.invocation);
  h5::write_text_attribute(p.get(), "mode", provenance.mode);
  h5::write_text_attribute(p.get(), "optimizer", provenance.optimizer);
  h5::write_text_attribute(p.get(), "dataset", provenance.dataset);
  h5::write_text_attribute(p.get(), "deck", provenance.deck);
  h5::write_int_attribute(p.get(), "ranks", provenance.ranks);
  h5::write_int_attribute(p.get(), "groups", provenance.groups);
  h5::write_int_attribute(p.get(), "iterations", progress.iteration);
  if (!progress.records.empty())
    h5::write_real_attribute(p.get(), "final_train_loss", progress.records.back().train);
  if (!progress.stopped.empty()) h5::write_text_attribute(p.get(), "stopped", progress.stopped);
  if (params.keep_best && progress.best_iteration > 0) {
    h5::write_int_attribute(p.get(), "best_iteration", progress.best_iteration);
    h5::write_real_attribute(
        p.get(), "best_validation_loss",
        progress.records[static_cast<std::size_t>(progress.best_iteration) - 1].validation);
  }
}

} // namespace

void write_trained_model(const std::string& path, const TrainableGeneModel& model, const AdamW* optimizer,
                         const TrainParams& params, const TrainProvenance& provenance,
                         const TrainProgress& progress) {
  h5::File file = h5::File::create(path);
  write_content(file, model, optimizer, params, provenance, progress);
  file.close();
}

void write_gradient(const std::string& path, TrainableGeneModel& model, const ParameterGradient& gradient,
                    const ObjectiveTerms& terms, const TrainParams& params,
                    const std::vector<ObservationWindow>& windows) {
  h5::File file = h5::File::create(path);
  {
    // The model's own writer lays the gradient out as model.h5 lays out the parameters.
    ModelParameters& parameters = model.parameters();
    const std::vector<double> saved = parameters.flat();
    Kokkos::deep_copy(parameters.values(), gradient);
    try {
      model.write(file);
    } catch (...) {
      parameters.set_flat(saved);
      throw;
    }
    parameters.set_flat(saved);
  }
  h5::Handle group = h5::create_group(file.get(), "objective");
  h5::write_real_attribute(group.get(), "total", terms.total());
  h5::write_real_attribute(group.get(), "data", terms.data);
  h5::write_real_attribute(group.get(), "l1_term", terms.l1);
  h5::write_real_attribute(group.get(), "l2_term", terms.l2);
  h5::write_real_attribute(group.get(), "group_lasso_term", terms.group_lasso);
  h5::write_real_attribute(group.get(), "weight_decay_term", terms.weight_decay);
  h5::write_text_attribute(group.get(), "optimizer",
                           params.optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw");
  h5::write_real_attribute(group.get(), "l1", params.l1);
  h5::write_real_attribute(group.get(), "l2", params.l2);
  h5::write_real_attribute(group.get(), "group_lasso", params.group_lasso);
  h5::write_real_attribute(group.get(), "weight_decay", params.weight_decay);
  std::vector<std::int32_t> flat;
  for (const ObservationWindow& w : windows) {
    flat.push_back(w.start);
    flat.push_back(w.end);
  }
  h5::write_array(group.get(), "windows", flat.data(), {static_cast<std::int64_t>(windows.size()), 2});
  group.reset();
  file.close();
}

void write_checkpoint(const std::string& dir, const TrainableGeneModel& model, const AdamW& optimizer,
                      const TrainParams& params, const TrainProvenance& provenance,
                      const TrainProgress& progress) {
  const fs::path final_path = fs::path(dir) / "checkpoint.h5";
  const fs::path temporary = fs::path(dir) / "checkpoint.h5.tmp";
  std::error_code ec;
  fs::remove(temporary, ec); // a previous attempt that did not finish
  {
    // A failure anywhere below removes the .tmp (h5::File) and leaves the previous checkpoint as it was.
    h5::File file = h5::File::create(temporary.string());
    write_content(file, model, &optimizer, params, provenance, progress);
    h5::Handle group = h5::create_group(file.get(), "progress");
    h5::write_int_attribute(group.get(), "iteration", progress.iteration);
    const auto n = static_cast<std::int64_t>(progress.records.size());
    std::vector<double> column(progress.records.size());
    auto write_column = [&](const char* name, auto field) {
      for (std::size_t i = 0; i < progress.records.size(); ++i)
        column[i] = field(progress.records[i]);
      h5::write_rows(group.get(), name, column.data(), h5::Rows{0, n, n});
    };
    write_column("iteration", [](const TrainRecord& r) { return static_cast<double>(r.iteration); });
    write_column("train", [](const TrainRecord& r) { return r.train; });
    write_column("validation", [](const TrainRecord& r) { return r.validation; });
    write_column("grad_norm", [](const TrainRecord& r) { return r.grad_norm; });
    write_column("wall_s", [](const TrainRecord& r) { return r.wall_s; });
    write_column("lr", [](const TrainRecord& r) { return r.lr; });
    if (!progress.best_parameters.empty()) {
      // train.keep_best: the parameters of the lowest validation loss so far, in the layout of /params
      // flattened, for the restart to go on comparing against.
      h5::Handle best = h5::create_group(file.get(), "best");
      h5::write_int_attribute(best.get(), "iteration", progress.best_iteration);
      const auto size = static_cast<std::int64_t>(progress.best_parameters.size());
      h5::write_rows(best.get(), "params", progress.best_parameters.data(), h5::Rows{0, size, size});
    }
    // Closed before the file, so that close() really flushes it and reports whether that worked.
    group.reset();
    file.close();
  }
  // rename() replaces the previous checkpoint atomically: it stays complete until the new one is.
  if (std::rename(temporary.c_str(), final_path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    fs::remove(temporary, ec);
    throw runtime_error("cannot rename " + temporary.string() + " to " + final_path.string() + ": " + reason);
  }
}

TrainCheckpoint read_checkpoint(const std::string& dir, const TrainableModelSpec& spec,
                                const std::vector<std::string>& genes,
                                const std::vector<std::string>& cell_types) {
  const std::string path = (fs::path(dir) / "checkpoint.h5").string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw input_error(path + ": no checkpoint to restart from (train.checkpoint_every writes one)");
  // Every field is checked before the restart uses it: a damaged or hand-edited checkpoint is an input
  // error naming the file and the field, never an out-of-range read later on.
  auto fail = [&](const std::string& field, const std::string& problem) {
    throw input_error(path + ": " + field + " " + problem +
                      " (a damaged checkpoint: restart from an earlier " +
                      "copy, or train again without --restart)");
  };
  TrainCheckpoint c;
  c.path = path;
  spec.check(path, genes, cell_types);
  h5::File file = h5::File::open_read(path);
  if (!h5::exists(file.get(), "optimizer") || !h5::exists(file.get(), "progress"))
    throw input_error(path + ": not a tessera training checkpoint (no /optimizer or /progress)");

  h5::Handle group = h5::open_group(file.get(), "progress");
  c.progress.iteration = h5::read_int_attribute(group.get(), "iteration");
  // write_checkpoint runs after an iteration: the first checkpoint is at iteration 1 or later.
  if (c.progress.iteration < 1)
    fail("/progress attribute iteration", "= " + std::to_string(c.progress.iteration) + ", expected >= 1");
  const auto iterations = static_cast<std::size_t>(c.progress.iteration);
  // The loss history: one record per iteration 1 .. iteration (a restart carries the earlier ones along).
  auto column = [&](const char* name) {
    const std::string field = std::string("/progress/") + name;
    if (!h5::exists(group.get(), name)) {
      // Checkpoints of tessera before learning-rate schedules have no lr column: their rate was constant.
      if (std::string(name) == "lr") return std::vector<double>(iterations, NAN);
      fail(field, "is missing");
    }
    const std::vector<std::int64_t> dims = h5::shape(group.get(), name);
    if (dims.size() != 1) fail(field, "has " + std::to_string(dims.size()) + " dimensions, expected 1");
    std::vector<double> values = h5::read_all<double>(group.get(), name);
    if (values.size() != iterations)
      fail(field, "has " + std::to_string(values.size()) + " records but /progress attribute iteration = " +
                      std::to_string(iterations) + " (one record per iteration)");
    return values;
  };
  const auto iteration = column("iteration");
  const auto train = column("train");
  const auto validation = column("validation");
  const auto grad_norm = column("grad_norm");
  const auto wall_s = column("wall_s");
  const auto lr = column("lr");
  for (std::size_t i = 0; i < iterations; ++i) {
    const std::string row = "[" + std::to_string(i) + "]";
    if (iteration[i] != static_cast<double>(i + 1))
      fail("/progress/iteration" + row,
           "= " + format_number(iteration[i]) + ", expected " + std::to_string(i + 1));
    // A diverged run records inf or nan losses and norms; only a negative norm or time is impossible.
    if (grad_norm[i] < 0)
      fail("/progress/grad_norm" + row, "= " + format_number(grad_norm[i]) + " is negative");
    if (!std::isfinite(wall_s[i]) || wall_s[i] < 0 || (i > 0 && wall_s[i] < wall_s[i - 1]))
      fail("/progress/wall_s" + row,
           "= " + format_number(wall_s[i]) + ": wall times are finite, >= 0 and never decrease");
    // NaN: a run under lbfgs (no rate) or a checkpoint without the column.
    if (lr[i] <= 0 || std::isinf(lr[i]))
      fail("/progress/lr" + row, "= " + format_number(lr[i]) + ", expected a finite rate > 0");
    c.progress.records.push_back(
        {static_cast<long long>(iteration[i]), train[i], validation[i], grad_norm[i], wall_s[i], lr[i]});
  }
  h5::Handle state = h5::open_group(file.get(), "optimizer");
  const std::string method = h5::read_text_attribute(state.get(), "method");
  if (method != "adamw") fail("/optimizer attribute method", "= '" + method + "', expected 'adamw'");
  c.optimizer_steps = h5::read_int_attribute(state.get(), "step");
  // AdamW steps once per iteration, and its bias correction depends on the count.
  if (c.optimizer_steps != c.progress.iteration)
    fail("/optimizer attribute step", "= " + std::to_string(c.optimizer_steps) +
                                          " but /progress attribute iteration = " +
                                          std::to_string(c.progress.iteration) + " (one step per iteration)");
  for (const char* name : {"lr", "beta1", "beta2", "eps", "weight_decay", "l1", "clip"}) {
    const double value = h5::read_real_attribute(state.get(), name);
    if (std::isnan(value) || value < 0)
      fail(std::string("/optimizer attribute ") + name, "= " + format_number(value) + ", expected >= 0");
  }
  // The parameters' count, whatever the family: every tensor under /params (spec.check read them).
  std::size_t size = 0;
  {
    h5::Handle params = h5::open_group(file.get(), "params");
    for (const std::string& set : h5::children(params.get())) {
      h5::Handle group = h5::open_group(params.get(), set);
      for (const std::string& tensor : h5::children(group.get())) {
        std::size_t n = 1;
        for (const std::int64_t d : h5::shape(group.get(), tensor))
          n *= static_cast<std::size_t>(d);
        size += n;
      }
    }
  }
  for (const char* name : {"m", "v"}) {
    const std::string field = std::string("/optimizer/") + name;
    if (!h5::exists(state.get(), name)) fail(field, "is missing");
    std::vector<double> moment = h5::read_all<double>(state.get(), name);
    if (moment.size() != size)
      fail(field, "has " + std::to_string(moment.size()) + " values, the parameters " + std::to_string(size));
    for (std::size_t e = 0; e < moment.size(); ++e)
      // v is a running mean of squares: finite and >= 0.
      if (!std::isfinite(moment[e]) || (name[0] == 'v' && moment[e] < 0))
        fail(field + "[" + std::to_string(e) + "]",
             "= " + format_number(moment[e]) +
                 (name[0] == 'v' ? ", expected finite and >= 0" : ", expected finite"));
    (name[0] == 'm' ? c.first_moment : c.second_moment) = std::move(moment);
  }
  if (h5::exists(file.get(), "best")) {
    // train.keep_best: the iteration must be the first with the lowest validation loss of the history (what
    // StoppingRule tracks), and the parameters as many as /params holds, finite.
    h5::Handle best = h5::open_group(file.get(), "best");
    c.progress.best_iteration = h5::read_int_attribute(best.get(), "iteration");
    long long lowest = 0;
    for (std::size_t i = 0; i < iterations; ++i)
      if (std::isfinite(validation[i]) &&
          (lowest == 0 || validation[i] < validation[static_cast<std::size_t>(lowest) - 1]))
        lowest = static_cast<long long>(i + 1);
    if (c.progress.best_iteration != lowest)
      fail("/best attribute iteration", "= " + std::to_string(c.progress.best_iteration) +
                                            " but the lowest validation loss of /progress is at iteration " +
                                            std::to_string(lowest));
    if (!h5::exists(best.get(), "params")) fail("/best/params", "is missing");
    c.progress.best_parameters = h5::read_all<double>(best.get(), "params");
    if (c.progress.best_parameters.size() != size)
      fail("/best/params", "has " + std::to_string(c.progress.best_parameters.size()) +
                               " values, the parameters " + std::to_string(size));
    for (std::size_t e = 0; e < size; ++e)
      if (!std::isfinite(c.progress.best_parameters[e]))
        fail("/best/params[" + std::to_string(e) + "]",
             "= " + format_number(c.progress.best_parameters[e]) + ", expected finite");
  }
  return c;
}

void restore_parameters(const TrainCheckpoint& checkpoint, TrainableGeneModel& model) {
  model.read(checkpoint.path);
  const std::size_t size = model.parameters().size();
  if (checkpoint.first_moment.size() != size)
    throw input_error(
        checkpoint.path + ": /optimizer/m has " + std::to_string(checkpoint.first_moment.size()) +
        " values, the parameters " + std::to_string(size) +
        " (a damaged checkpoint: restart from an earlier copy, or train again without --restart)");
}

} // namespace tessera
