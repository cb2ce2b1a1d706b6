#include "tessera/learn/train_checkpoint.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/invocation_attributes.hpp"

#include <cstdio>
#include <filesystem>

namespace tessera {

namespace fs = std::filesystem;

namespace {

void write_content(h5::File& file, const GraphOdeParameters& parameters, const AdamW* optimizer,
                   const TrainParams& params, const TrainProvenance& provenance,
                   const TrainProgress& progress) {
  write_graph_ode_model(file, parameters);
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
}

} // namespace

void write_trained_model(const std::string& path, const GraphOdeParameters& parameters,
                         const AdamW* optimizer, const TrainParams& params, const TrainProvenance& provenance,
                         const TrainProgress& progress) {
  h5::File file = h5::File::create(path);
  write_content(file, parameters, optimizer, params, provenance, progress);
  file.close();
}

void write_gradient(const std::string& path, const GraphOdeParameters& gradient, const ObjectiveTerms& terms,
                    const TrainParams& params, const std::vector<ObservationWindow>& windows) {
  h5::File file = h5::File::create(path);
  write_graph_ode_model(file, gradient);
  h5::Handle group = h5::create_group(file.get(), "objective");
  h5::write_real_attribute(group.get(), "total", terms.total());
  h5::write_real_attribute(group.get(), "data", terms.data);
  h5::write_real_attribute(group.get(), "l1_term", terms.l1);
  h5::write_real_attribute(group.get(), "weight_decay_term", terms.weight_decay);
  h5::write_text_attribute(group.get(), "optimizer",
                           params.optimizer == TrainOptimizer::lbfgs ? "lbfgs" : "adamw");
  h5::write_real_attribute(group.get(), "l1", params.l1);
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

void write_checkpoint(const std::string& dir, const GraphOdeParameters& parameters, const AdamW& optimizer,
                      const TrainParams& params, const TrainProvenance& provenance,
                      const TrainProgress& progress) {
  const fs::path final_path = fs::path(dir) / "checkpoint.h5";
  const fs::path temporary = fs::path(dir) / "checkpoint.h5.tmp";
  std::error_code ec;
  fs::remove(temporary, ec); // a previous attempt that did not finish
  {
    h5::File file = h5::File::create(temporary.string());
    write_content(file, parameters, &optimizer, params, provenance, progress);
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
    file.close();
  }
  // rename() replaces the previous checkpoint atomically: it stays complete until the new one is.
  if (std::rename(temporary.c_str(), final_path.c_str()) != 0)
    throw runtime_error("cannot rename " + temporary.string() + " to " + final_path.string());
}

TrainCheckpoint read_checkpoint(const std::string& dir, const GraphOdeArchitecture& architecture,
                                const std::vector<std::string>& genes,
                                const std::vector<std::string>& cell_types) {
  const std::string path = (fs::path(dir) / "checkpoint.h5").string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw input_error(path + ": no checkpoint to restart from (train.checkpoint_every writes one)");
  TrainCheckpoint c;
  c.parameters = read_graph_ode_model(path, architecture, genes, cell_types);
  h5::File file = h5::File::open_read(path);
  if (!h5::exists(file.get(), "optimizer") || !h5::exists(file.get(), "progress"))
    throw input_error(path + ": not a tessera training checkpoint (no /optimizer or /progress)");
  {
    h5::Handle state = h5::open_group(file.get(), "optimizer");
    c.optimizer_steps = h5::read_int_attribute(state.get(), "step");
    c.first_moment = h5::read_all<double>(state.get(), "m");
    c.second_moment = h5::read_all<double>(state.get(), "v");
  }
  const std::size_t size = c.parameters.values().size();
  if (c.optimizer_steps > 0 && (c.first_moment.size() != size || c.second_moment.size() != size))
    throw input_error(path + ": /optimizer moments have " + std::to_string(c.first_moment.size()) +
                      " values, the parameters " + std::to_string(size));
  h5::Handle group = h5::open_group(file.get(), "progress");
  c.progress.iteration = h5::read_int_attribute(group.get(), "iteration");
  const auto iteration = h5::read_all<double>(group.get(), "iteration");
  const auto train = h5::read_all<double>(group.get(), "train");
  const auto validation = h5::read_all<double>(group.get(), "validation");
  const auto grad_norm = h5::read_all<double>(group.get(), "grad_norm");
  const auto wall_s = h5::read_all<double>(group.get(), "wall_s");
  for (std::size_t i = 0; i < iteration.size(); ++i)
    c.progress.records.push_back(
        {static_cast<long long>(iteration[i]), train.at(i), validation.at(i), grad_norm.at(i), wall_s.at(i)});
  return c;
}

} // namespace tessera
