#include "tessera/io/simulation_checkpoint.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/invocation_attributes.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace tessera {

namespace fs = std::filesystem;

namespace {

// The test hook of write_simulation_checkpoint: the step whose checkpoint is never renamed, or -1.
long long kill_before_rename_step() {
  const char* text = std::getenv("TESSERA_TEST_KILL_BEFORE_CHECKPOINT_RENAME");
  if (!text || !*text) return -1;
  char* end = nullptr;
  const long long step = std::strtoll(text, &end, 10);
  return end && *end == '\0' ? step : -1;
}

// Rank 0 writes every row of a small table that all ranks hold.
template <class T>
void write_shared_rows(MPI_Comm comm, hid_t parent, const std::string& name, const std::vector<T>& values) {
  const auto n = static_cast<std::int64_t>(values.size());
  const bool root = mpi::rank(comm) == 0;
  h5::write_rows(parent, name, values.data(), h5::Rows{0, root ? n : 0, n});
}

// As SimulationOutput::require_room_for, and for the same reason: HDF5 1.10 hangs a collective write that
// fills the disk on some ranks, so a checkpoint that cannot fit is refused before HDF5 is entered. Its data
// plus a quarter and 256 KiB for HDF5's chunk indices, checksums and metadata.
void require_room(MPI_Comm comm, const std::string& path, std::int64_t cells, int dim, int genes) {
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    const long long per_cell = 8 + 4 + 8LL * dim + 8 + 8LL * genes + 8 + 8;
    const long long needed = per_cell * cells / 4 * 5 + (256LL << 10);
    const long long available = h5::available_bytes_beside(path);
    if (available >= 0 && available < needed)
      throw runtime_error(path + ": no space left on device (the checkpoint needs about " +
                          std::to_string(needed / 1024) + " KiB, " + std::to_string(available / 1024) +
                          " KiB free)");
  });
}

} // namespace

void write_simulation_checkpoint(MPI_Comm comm, const std::string& dir, const SimulationState& state,
                                 const CheckpointCells& local, const RunProvenance& provenance,
                                 const std::array<int, 3>& rank_grid, const CheckpointFields* fields,
                                 bool balanced_boxes) {
  const std::string final_path = (fs::path(dir) / checkpoint_h5_name).string();
  const std::string partial = final_path + ".tmp";
  // A .tmp left by a run killed while writing is incomplete by definition.
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    std::error_code ec;
    fs::remove(partial, ec);
    if (ec) throw runtime_error(partial + ": cannot remove a stale partial checkpoint: " + ec.message());
  });
  const CellSnapshot& cells = local.cells;
  const auto count = static_cast<std::int64_t>(cells.size());
  const h5::Rows rows{mpi::exclusive_prefix_sum(comm, count), count, mpi::sum(comm, count)};
  const int ranks = mpi::size(comm);
  std::vector<std::int64_t> rank_rows(static_cast<std::size_t>(ranks));
  mpi::check(MPI_Allgather(&count, 1, MPI_INT64_T, rank_rows.data(), 1, MPI_INT64_T, comm), "MPI_Allgather");
  const std::string created = mpi::broadcast(comm, mpi::rank(comm) == 0 ? utc_now_iso8601() : std::string());
  require_room(comm, partial, rows.total, cells.dim, cells.n_genes);
  // Every failure below is agreed by all ranks (the adapter's agreed writes): rank 0 removes the partial
  // file, and the previous checkpoint stays as it was.
  try {
    h5::File file = h5::File::create_parallel(comm, partial);
    const hid_t root = file.get();
    h5::write_text_attribute(root, "format", checkpoint_format);
    h5::write_int_attribute(root, "format_version", checkpoint_format_version);
    h5::write_text_attribute(root, "version", version());
    h5::write_text_attribute(root, "git_hash", git_hash());
    h5::write_text_attribute(root, "deck", provenance.resolved_deck);
    h5::write_text_attribute(root, "deck_file", provenance.deck_file);
    h5::write_text_attribute(root, "subcommand", provenance.command);
    write_invocation(root, provenance.invocation);
    h5::write_text_attribute(root, "created", created);
    h5::write_int_attribute(root, "dim", cells.dim);
    h5::write_int_attribute(root, "ranks", ranks);
    h5::write_int_attribute(root, "balanced_boxes", balanced_boxes ? 1 : 0);
    h5::write_int_attribute(root, "step", state.step);
    h5::write_real_attribute(root, "time", state.time);
    h5::write_int_attribute(root, "next_id", static_cast<std::int64_t>(state.next_id));
    h5::write_int_attribute(root, "divisions", state.divisions);
    h5::write_int_attribute(root, "deaths", state.deaths);
    h5::write_int_attribute(root, "cap_reported", state.cap_reported ? 1 : 0);
    h5::write_real_attribute(root, "cvode_step", state.cvode_step);
    h5::write_strings(root, "genes", provenance.gene_names);
    h5::write_strings(root, "cell_types", provenance.type_names);
    write_shared_rows(comm, root, "rank_grid",
                      std::vector<std::int64_t>{rank_grid[0], rank_grid[1], rank_grid[2]});
    write_shared_rows(comm, root, "rank_rows", rank_rows);
    {
      h5::Handle group = h5::create_group(root, "cells");
      const hid_t g = group.get();
      h5::write_rows(g, "id", cells.id.data(), rows);
      h5::write_rows(g, "type", cells.type.data(), rows);
      h5::write_rows(g, "position", cells.position.data(), rows, cells.dim);
      h5::write_rows(g, "radius", cells.radius.data(), rows);
      h5::write_rows(g, "genes", cells.genes.data(), rows, cells.n_genes);
      h5::write_rows(g, "cycle", cells.cycle.data(), rows);
      h5::write_rows(g, "below_time", local.below_time.data(), rows);
    }
    if (fields) {
      // As tessera.h5 stores them (slowest axis first), in chunks that tile every rank's block.
      std::vector<std::int64_t> dims, offset, block;
      for (int a = cells.dim - 1; a >= 0; --a) {
        const auto axis = static_cast<std::size_t>(a);
        dims.push_back(fields->voxels[axis]);
        offset.push_back(fields->lo[axis]);
        block.push_back(fields->count[axis]);
      }
      h5::write_strings(root, "field_names", fields->names);
      const std::vector<std::int64_t> chunk = h5::block_chunk(comm, offset, block);
      h5::Handle group = h5::create_ordered_group(root, "fields");
      for (std::size_t f = 0; f < fields->names.size(); ++f)
        h5::write_block(group.get(), fields->names[f], fields->values[f].data(), dims, offset, block, chunk);
    }
    // Last: a reader that finds complete = 1 finds everything above.
    h5::write_int_attribute(root, "complete", 1);
    file.flush();
    file.close();
  } catch (...) {
    if (mpi::rank(comm) == 0) {
      std::error_code ec;
      fs::remove(partial, ec);
    }
    throw;
  }
  const long long kill_step = kill_before_rename_step();
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    if (kill_step >= 0 && kill_step == state.step) std::raise(SIGKILL);
    std::error_code ec;
    fs::rename(partial, final_path, ec);
    if (ec) throw runtime_error(final_path + ": cannot replace with " + partial + ": " + ec.message());
  });
}

namespace {

// Reads the checkpoint's attributes and rows; every failure names the file (the adapter's do).
class CheckpointReader {
public:
  explicit CheckpointReader(const std::string& path) : path_(path), file_(h5::File::open_read(path)) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw input_error(path_ + ": " + message +
                      " (not a complete tessera checkpoint; restart from an earlier "
                      "copy or run again)");
  }
  void require(bool ok, const std::string& message) const {
    if (!ok) fail(message);
  }
  hid_t root() const { return file_.get(); }

private:
  std::string path_;
  h5::File file_;
};

void require_finite(const CheckpointReader& r, const std::vector<double>& values, const char* field) {
  for (const double v : values)
    r.require(std::isfinite(v), std::string("/cells/") + field + " holds a value that is not finite");
}

} // namespace

SimulationCheckpoint read_simulation_checkpoint(const std::string& path, const CheckpointShape& shape,
                                                int ranks, const std::array<int, 3>& rank_grid, int rank,
                                                bool balanced_boxes) {
  if (!fs::is_regular_file(path))
    throw input_error(path + ": no checkpoint there (output.checkpoint_every writes one, and every run "
                             "writes one at its end)");
  const CheckpointReader r(path);
  const hid_t root = r.root();
  // A file killed before its `complete` attribute never got renamed, but a copy or a full disk can still
  // leave one behind: check it before anything else.
  r.require(h5::has_attribute(root, "format") && h5::read_text_attribute(root, "format") == checkpoint_format,
            std::string("root attribute 'format' is not '") + checkpoint_format + "'");
  r.require(h5::has_attribute(root, "format_version") &&
                h5::read_int_attribute(root, "format_version") == checkpoint_format_version,
            "root attribute 'format_version' is not " + std::to_string(checkpoint_format_version));
  r.require(h5::has_attribute(root, "complete") && h5::read_int_attribute(root, "complete") == 1,
            "it was not written to the end (root attribute 'complete' is missing or not 1)");

  SimulationCheckpoint c;
  c.path = path;
  c.resolved_deck = h5::read_text_attribute(root, "deck");
  if (h5::has_attribute(root, "subcommand")) c.subcommand = h5::read_text_attribute(root, "subcommand");
  SimulationState& s = c.state;
  s.step = h5::read_int_attribute(root, "step");
  s.time = h5::read_real_attribute(root, "time");
  const std::int64_t next_id = h5::read_int_attribute(root, "next_id");
  s.divisions = h5::read_int_attribute(root, "divisions");
  s.deaths = h5::read_int_attribute(root, "deaths");
  s.cap_reported = h5::read_int_attribute(root, "cap_reported") != 0;
  s.cvode_step = h5::read_real_attribute(root, "cvode_step");
  r.require(s.step >= 0 && std::isfinite(s.time) && s.time >= 0, "step or time is negative or not finite");
  r.require(next_id >= 0 && s.divisions >= 0 && s.deaths >= 0, "next_id, divisions or deaths is negative");
  r.require(std::isfinite(s.cvode_step) && s.cvode_step >= 0, "cvode_step is negative or not finite");
  s.next_id = static_cast<std::uint64_t>(next_id);

  const std::int64_t dim = h5::read_int_attribute(root, "dim");
  r.require(dim == shape.dim,
            "it is " + std::to_string(dim) + "-D, the deck's domain is " + std::to_string(shape.dim) + "-D");
  r.require(h5::read_strings(root, "genes") == shape.genes, "its /genes are not the deck's grn.genes");
  r.require(h5::read_strings(root, "cell_types") == shape.cell_types,
            "its /cell_types are not the deck's cells.types");
  c.ranks = static_cast<int>(h5::read_int_attribute(root, "ranks"));
  const std::vector<std::int64_t> grid = h5::read_all<std::int64_t>(root, "rank_grid");
  r.require(grid.size() == 3, "/rank_grid does not have 3 entries");
  for (int a = 0; a < 3; ++a)
    c.rank_grid[static_cast<std::size_t>(a)] = static_cast<int>(grid[static_cast<std::size_t>(a)]);
  const std::vector<std::int64_t> rank_rows = h5::read_all<std::int64_t>(root, "rank_rows");
  r.require(c.ranks >= 1 && rank_rows.size() == static_cast<std::size_t>(c.ranks) &&
                c.rank_grid[0] * c.rank_grid[1] * c.rank_grid[2] == c.ranks,
            "/rank_rows and /rank_grid disagree with the root attribute 'ranks'");
  std::int64_t total = 0;
  for (const std::int64_t n : rank_rows) {
    r.require(n >= 0, "/rank_rows holds a negative count");
    total += n;
  }

  const h5::Handle group = h5::open_group(root, "cells");
  const hid_t g = group.get();
  const int G = static_cast<int>(shape.genes.size());
  auto require_shape = [&](const char* name, std::int64_t columns) {
    const std::vector<std::int64_t> dims = h5::shape(g, name);
    const bool ok = !dims.empty() && dims[0] == total &&
                    (columns == 0 ? dims.size() == 1 : dims.size() == 2 && dims[1] == columns);
    r.require(ok, std::string("/cells/") + name + " does not have the " + std::to_string(total) +
                      " rows (x " + std::to_string(std::max<std::int64_t>(columns, 1)) +
                      ") that /rank_rows sums to");
  };
  require_shape("id", 0);
  require_shape("type", 0);
  require_shape("position", dim);
  require_shape("radius", 0);
  require_shape("genes", G);
  require_shape("cycle", 0);
  require_shape("below_time", 0);

  // The writer's own rows when the decomposition is the same: each rank then holds exactly the cells, in
  // exactly the order, it held when the checkpoint was written. Balanced boxes are cut from the cells, so a
  // writer's and a reader's boxes on the same grid are the same boxes only when both are equal ones.
  const bool written_balanced =
      h5::has_attribute(root, "balanced_boxes") && h5::read_int_attribute(root, "balanced_boxes") != 0;
  std::int64_t offset = 0, count = total;
  c.all_rows = !(c.ranks == ranks && c.rank_grid == rank_grid && !written_balanced && !balanced_boxes);
  if (!c.all_rows) {
    for (int k = 0; k < rank; ++k)
      offset += rank_rows[static_cast<std::size_t>(k)];
    count = rank_rows[static_cast<std::size_t>(rank)];
  }
  CellSnapshot& cells = c.cells.cells;
  cells.dim = static_cast<int>(dim);
  cells.n_genes = G;
  cells.id = h5::read_rows<std::uint64_t>(g, "id", offset, count);
  cells.type = h5::read_rows<std::int32_t>(g, "type", offset, count);
  cells.position = h5::read_rows<double>(g, "position", offset, count);
  cells.radius = h5::read_rows<double>(g, "radius", offset, count);
  cells.genes = h5::read_rows<double>(g, "genes", offset, count);
  cells.cycle = h5::read_rows<double>(g, "cycle", offset, count);
  c.cells.below_time = h5::read_rows<double>(g, "below_time", offset, count);

  const auto n_types = static_cast<std::int32_t>(shape.cell_types.size());
  for (const std::int32_t t : cells.type)
    r.require(t >= 0 && t < n_types, "/cells/type holds " + std::to_string(t) + ", not a cell type code");
  require_finite(r, cells.position, "position");
  require_finite(r, cells.genes, "genes");
  require_finite(r, cells.cycle, "cycle");
  require_finite(r, c.cells.below_time, "below_time");
  for (const double radius : cells.radius)
    r.require(std::isfinite(radius) && radius > 0, "/cells/radius holds a radius that is not positive");
  std::vector<std::uint64_t> ids = cells.id;
  std::sort(ids.begin(), ids.end());
  r.require(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), "/cells/id holds an id twice");
  r.require(ids.empty() || ids.back() < s.next_id, "/cells/id holds an id not below next_id");

  const bool has_fields = h5::exists(root, "field_names");
  r.require(has_fields == !shape.fields.empty(),
            has_fields
                ? "it holds diffusible fields and the deck has no fields.substrates"
                : "it holds no diffusible fields (written by a tessera without fields in checkpoints, or "
                  "a deck without fields.substrates)");
  if (has_fields) {
    r.require(h5::read_strings(root, "field_names") == shape.fields,
              "its /field_names are not the deck's fields.substrates");
    std::vector<std::int64_t> dims;
    for (int a = static_cast<int>(dim) - 1; a >= 0; --a)
      dims.push_back(shape.voxels[static_cast<std::size_t>(a)]);
    const h5::Handle group = h5::open_group(root, "fields");
    for (const std::string& name : shape.fields) {
      r.require(h5::exists(group.get(), name) && h5::shape(group.get(), name) == dims,
                "/fields/" + name + " is missing or not the deck's voxel grid");
      c.fields.push_back(h5::read_all<double>(group.get(), name));
      for (const double v : c.fields.back())
        r.require(std::isfinite(v) && v >= 0,
                  "/fields/" + name + " holds a value that is negative or not finite");
    }
  }
  return c;
}

} // namespace tessera
