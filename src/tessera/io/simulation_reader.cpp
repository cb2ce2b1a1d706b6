#include "tessera/io/simulation_reader.hpp"

#include "tessera/core/error.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/invocation_attributes.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace tessera {

namespace {

std::string resolve(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return (std::filesystem::path(path) / simulation_h5_name).string();
  return path;
}

void require_simulation(const h5::File& file) {
  h5::require_format(file, "a tessera simulation output", simulation_format, "format_version",
                     simulation_format_version);
}

h5::File open_simulation(const std::string& path) {
  h5::File file = h5::File::open_read(resolve(path));
  require_simulation(file);
  return file;
}

std::vector<long long> steps_in(const h5::File& file) {
  std::vector<long long> steps;
  if (!h5::exists(file.get(), "steps")) return steps;
  h5::Handle group = h5::open_group(file.get(), "steps");
  for (const std::string& name : h5::children(group.get())) {
    char* end = nullptr;
    errno = 0;
    const long long step = std::strtoll(name.c_str(), &end, 10);
    if (name.empty() || *end != '\0' || errno != 0)
      throw input_error(file.path() + ": '/steps/" + name + "' is not named by a step number");
    steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

h5::Handle open_step(const h5::File& file, long long step) {
  const std::string name = "steps/" + std::to_string(step);
  if (!h5::exists(file.get(), name)) {
    const std::vector<long long> steps = steps_in(file);
    std::string held = steps.empty() ? "none" : "";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps.size() > 8 && i == 3) {
        held += ", ...";
        i = steps.size() - 4;
        continue;
      }
      held += (held.empty() ? "" : ", ") + std::to_string(steps[i]);
    }
    throw input_error(file.path() + ": no step " + std::to_string(step) + " (steps in the file: " + held +
                      ")");
  }
  return h5::open_group(file.get(), name);
}

// Row count and column counts of a step, checked against each other so a damaged file fails here, not later.
struct StepShape {
  std::int64_t cells = 0;
  int dim = 2;
  int n_genes = 0;
};

StepShape step_shape(const h5::File& file, hid_t group, long long step) {
  const std::string where = file.path() + ": step " + std::to_string(step) + ": ";
  StepShape shape;
  const std::vector<std::int64_t> id = h5::shape(group, "id");
  const std::vector<std::int64_t> position = h5::shape(group, "position");
  const std::vector<std::int64_t> genes = h5::shape(group, "genes");
  if (id.size() != 1) throw input_error(where + "'id' is not 1-D");
  if (position.size() != 2 || (position[1] != 2 && position[1] != 3))
    throw input_error(where + "'position' is not [N][2] or [N][3]");
  if (genes.size() != 2) throw input_error(where + "'genes' is not [N][G]");
  shape.cells = id[0];
  shape.dim = static_cast<int>(position[1]);
  shape.n_genes = static_cast<int>(genes[1]);
  for (const char* field : {"type", "radius", "cycle", "position", "genes"}) {
    if (h5::shape(group, field)[0] != shape.cells)
      throw input_error(where + "'" + field + "' does not have " + std::to_string(shape.cells) +
                        " rows like 'id'");
  }
  return shape;
}

CellSnapshot read_rows(hid_t group, const StepShape& shape, std::int64_t offset, std::int64_t count) {
  CellSnapshot cells;
  cells.dim = shape.dim;
  cells.n_genes = shape.n_genes;
  cells.id = h5::read_rows<std::uint64_t>(group, "id", offset, count);
  cells.type = h5::read_rows<std::int32_t>(group, "type", offset, count);
  cells.position = h5::read_rows<double>(group, "position", offset, count);
  cells.radius = h5::read_rows<double>(group, "radius", offset, count);
  cells.genes = h5::read_rows<double>(group, "genes", offset, count);
  cells.cycle = h5::read_rows<double>(group, "cycle", offset, count);
  return cells;
}

} // namespace

std::vector<long long> list_steps(const std::string& path) {
  return steps_in(open_simulation(path));
}

double step_time(const std::string& path, long long step) {
  const h5::File file = open_simulation(path);
  const h5::Handle group = open_step(file, step);
  return h5::read_real_attribute(group.get(), "time");
}

CellSnapshot read_step(const std::string& path, long long step) {
  const h5::File file = open_simulation(path);
  const h5::Handle group = open_step(file, step);
  const StepShape shape = step_shape(file, group.get(), step);
  return read_rows(group.get(), shape, 0, shape.cells);
}

CellSnapshot read_step_slice(MPI_Comm comm, const std::string& path, long long step) {
  h5::File file = h5::File::open_read_parallel(comm, resolve(path));
  h5::Handle group;
  StepShape shape;
  // Every rank reads the same metadata, so they fail alike; agreeing keeps it that way if one rank's read
  // fails.
  mpi::agree(comm, [&] {
    require_simulation(file);
    group = open_step(file, step);
    shape = step_shape(file, group.get(), step);
  });
  const std::int64_t size = mpi::size(comm);
  const std::int64_t rank = mpi::rank(comm);
  const std::int64_t base = shape.cells / size;
  const std::int64_t extra = shape.cells % size;
  const std::int64_t count = base + (rank < extra ? 1 : 0);
  const std::int64_t offset = rank * base + std::min(rank, extra);
  return read_rows(group.get(), shape, offset, count);
}

SimulationInfo read_simulation_info(const std::string& path) {
  const h5::File file = open_simulation(path);
  const hid_t root = file.get();
  SimulationInfo info;
  info.provenance.deck_file = h5::read_text_attribute(root, "deck_file");
  info.provenance.resolved_deck = h5::read_text_attribute(root, "deck");
  info.provenance.kokkos_backend = h5::read_text_attribute(root, "kokkos_backend");
  info.provenance.command = h5::has_attribute(root, "subcommand")
                                ? h5::read_text_attribute(root, "subcommand")
                                : h5::read_text_attribute(root, "command");
  info.provenance.invocation = read_invocation(root);
  info.provenance.gene_names = h5::read_strings(root, "genes");
  info.provenance.type_names = h5::read_strings(root, "cell_types");
  info.dim = static_cast<int>(h5::read_int_attribute(root, "dim"));
  info.ranks = static_cast<int>(h5::read_int_attribute(root, "ranks"));
  info.version = h5::read_text_attribute(root, "version");
  info.git_hash = h5::read_text_attribute(root, "git_hash");
  info.created = h5::read_text_attribute(root, "created");
  info.complete = h5::has_attribute(root, "complete") && h5::read_int_attribute(root, "complete") == 1;
  if (h5::has_attribute(root, "last_step")) {
    info.last_step = h5::read_int_attribute(root, "last_step");
    info.last_time = h5::read_real_attribute(root, "last_time");
  }
  return info;
}

RunProvenance read_provenance(const std::string& path) {
  return read_simulation_info(path).provenance;
}

} // namespace tessera
