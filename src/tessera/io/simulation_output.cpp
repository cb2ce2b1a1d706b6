#include "tessera/io/simulation_output.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/invocation_attributes.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

namespace tessera {

namespace {

// Shortest text that reads back to the same double, so ParaView's time axis matches the step attributes.
std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

// ParaView shows attributes by name; a gene called like a built-in field (or like another gene) would hide
// it.
std::vector<std::string> gene_attribute_names(const std::vector<std::string>& genes) {
  std::set<std::string> taken{"type", "id", "radius", "cycle"};
  std::vector<std::string> names;
  for (const std::string& gene : genes) {
    std::string base = gene.empty() ? "gene" : gene;
    if (taken.count(base)) base.insert(0, "gene_");
    std::string name = base;
    for (int suffix = 2; taken.count(name); ++suffix)
      name = base + "_" + std::to_string(suffix);
    taken.insert(name);
    names.push_back(name);
  }
  return names;
}

std::string step_group_name(long long step) {
  return std::to_string(step);
}

// Rows per chunk of the extendible tables: /steps_index grows by one row per step, /vertex_index by the
// growth of the largest population (8 bytes a row).
constexpr std::int64_t steps_index_chunk = 256;
constexpr std::int64_t vertex_index_chunk = 8192;

} // namespace

std::string simulation_xdmf(const std::string& h5_name, int dim, const std::vector<std::string>& gene_names,
                            const std::vector<std::string>& type_names, const std::vector<XdmfStep>& steps,
                            const FieldGrid* fields) {
  const std::string file = xml_escape(h5_name);
  const std::vector<std::string> gene_attributes = gene_attribute_names(gene_names);
  std::int64_t vertices = 0; // length of /vertex_index: the most cells of any step written
  for (const XdmfStep& s : steps)
    vertices = std::max(vertices, s.cells);
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    << "<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n"
    << "<Xdmf Version=\"3.0\">\n"
    << "  <Domain>\n"
    << "    <Grid Name=\"cells\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
  for (const XdmfStep& s : steps) {
    const std::string n = std::to_string(s.cells);
    const std::string where = file + ":/steps/" + step_group_name(s.step) + "/";
    auto node_array = [&](const std::string& name, const std::string& dataset, const char* number_type,
                          int precision) {
      x << "        <Attribute Name=\"" << xml_escape(name)
        << "\" AttributeType=\"Scalar\" Center=\"Node\">\n"
        << "          <DataItem Dimensions=\"" << n << "\" NumberType=\"" << number_type << "\" Precision=\""
        << precision << "\" Format=\"HDF\">" << where << dataset << "</DataItem>\n"
        << "        </Attribute>\n";
    };
    x << "      <Grid Name=\"step_" << s.step << "\" GridType=\"Uniform\">\n"
      << "        <Time Value=\"" << exact(s.time) << "\" />\n"
      << "        <Topology TopologyType=\"Polyvertex\" NumberOfElements=\"" << n
      << "\" NodesPerElement=\"1\"";
    if (s.cells == 0) {
      x << " />\n";
    } else {
      // Explicit connectivity: ParaView's Xdmf3 readers build no cells from a Polyvertex topology without
      // it. Vertex i of the step is cell i, so the first N entries of the shared 0, 1, 2, ... index serve.
      x << ">\n"
        << "          <DataItem ItemType=\"HyperSlab\" Type=\"HyperSlab\" Dimensions=\"" << n
        << "\" NumberType=\"Int\" Precision=\"8\">\n"
        << "            <DataItem Dimensions=\"3 1\" NumberType=\"UInt\" Format=\"XML\">0 1 " << n
        << "</DataItem>\n"
        << "            <DataItem Dimensions=\"" << vertices
        << "\" NumberType=\"Int\" Precision=\"8\" Format=\"HDF\">" << file << ":/vertex_index</DataItem>\n"
        << "          </DataItem>\n"
        << "        </Topology>\n";
    }
    x << "        <Geometry GeometryType=\"" << (dim == 3 ? "XYZ" : "XY") << "\">\n"
      << "          <DataItem Dimensions=\"" << n << " " << dim
      << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << where << "position</DataItem>\n"
      << "        </Geometry>\n";
    node_array("type", "type", "Int", 4);
    // Declared signed: ParaView's legacy XDMF Reader reads an 8-byte UInt as 32 bits. Ids count up from 0, so
    // HDF5's conversion of the stored uint64 keeps every value.
    node_array("id", "id", "Int", 8);
    node_array("radius", "radius", "Float", 8);
    node_array("cycle", "cycle", "Float", 8);
    // The 1-D copies, not HyperSlabs of genes[N][G]: the Xdmf3 readers skip a HyperSlab of a 2-D dataset.
    for (std::size_t g = 0; g < gene_names.size(); ++g)
      node_array(gene_attributes[g], "gene_columns/" + std::to_string(g), "Float", 8);
    // Field data that names each type code, since VTK arrays from XDMF cannot hold strings.
    for (std::size_t t = 0; t < type_names.size(); ++t)
      x << "        <Attribute Name=\"" << xml_escape(type_name_prefix + type_names[t])
        << "\" AttributeType=\"Scalar\" Center=\"Grid\">\n"
        << "          <DataItem Dimensions=\"1\" NumberType=\"Int\" Precision=\"4\" Format=\"XML\">" << t
        << "</DataItem>\n"
        << "        </Attribute>\n";
    x << "      </Grid>\n";
  }
  x << "    </Grid>\n";
  if (fields) {
    // XDMF lists a CoRectMesh's axes slowest first (z y x), as the datasets are stored. A 2-D grid is a 3-D
    // one of a single z layer: ParaView puts a 2DCoRectMesh's axes on y and z instead of x and y.
    std::string shape, origin, spacing;
    for (int a = 2; a >= 0; --a) {
      const auto axis = static_cast<std::size_t>(a);
      const bool flat = a >= dim;
      shape += std::to_string(flat ? 1 : fields->voxels[axis]) + (a ? " " : "");
      origin += exact(flat ? 0.0 : fields->origin[axis] + fields->spacing / 2) + (a ? " " : "");
      spacing += exact(fields->spacing) + (a ? " " : "");
    }
    x << "    <Grid Name=\"fields\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
    for (const XdmfStep& s : steps) {
      x << "      <Grid Name=\"fields_" << s.step << "\" GridType=\"Uniform\">\n"
        << "        <Time Value=\"" << exact(s.time) << "\" />\n"
        << "        <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"" << shape << "\" />\n"
        << "        <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n"
        << "          <DataItem Dimensions=\"3\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">"
        << origin << "</DataItem>\n"
        << "          <DataItem Dimensions=\"3\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">"
        << spacing << "</DataItem>\n"
        << "        </Geometry>\n";
      for (const std::string& name : fields->names)
        x << "        <Attribute Name=\"" << xml_escape(name)
          << "\" AttributeType=\"Scalar\" Center=\"Node\">\n"
          << "          <DataItem Dimensions=\"" << shape
          << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << file << ":/steps/"
          << step_group_name(s.step) << "/fields/" << xml_escape(name) << "</DataItem>\n"
          << "        </Attribute>\n";
      x << "      </Grid>\n";
    }
    x << "    </Grid>\n";
  }
  x << "  </Domain>\n"
    << "</Xdmf>\n";
  return x.str();
}

SimulationOutput::SimulationOutput(MPI_Comm comm, const std::string& directory,
                                   const RunProvenance& provenance, int dim, bool gene_columns)
    : comm_(comm), dim_(dim), gene_names_(provenance.gene_names), type_names_(provenance.type_names),
      gene_columns_(gene_columns) {
  if (dim != 2 && dim != 3)
    throw runtime_error("SimulationOutput: dim must be 2 or 3, got " + std::to_string(dim));
  const std::filesystem::path folder(directory);
  h5_path_ = (folder / simulation_h5_name).string();
  xmf_path_ = (folder / simulation_xmf_name).string();
  mpi::agree(comm_.get(), [&] {
    if (comm_.rank() != 0) return;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw input_error(directory + ": cannot create output directory: " + ec.message());
  });
  file_ = h5::File::create_parallel(comm_.get(), h5_path_);

  // Attribute writes are collective and must carry the same bytes everywhere, so rank 0's clock decides.
  const std::string created =
      mpi::broadcast(comm_.get(), comm_.rank() == 0 ? utc_now_iso8601() : std::string());
  const hid_t root = file_.get();
  h5::write_text_attribute(root, "format", simulation_format);
  h5::write_int_attribute(root, "format_version", simulation_format_version);
  h5::write_text_attribute(root, "version", version());
  h5::write_text_attribute(root, "git_hash", git_hash());
  h5::write_text_attribute(root, "deck", provenance.resolved_deck);
  h5::write_text_attribute(root, "deck_file", provenance.deck_file);
  h5::write_int_attribute(root, "ranks", comm_.size());
  h5::write_text_attribute(root, "kokkos_backend", provenance.kokkos_backend);
  h5::write_text_attribute(root, "subcommand", provenance.command);
  write_invocation(root, provenance.invocation);
  h5::write_int_attribute(root, "dim", dim);
  h5::write_text_attribute(root, "created", created);
  h5::write_text_attribute(root, "time_units", "min");
  // A reader can tell a run that stopped early (killed, failed) from a finished one; last_step and
  // last_time follow each step.
  h5::write_int_attribute(root, "complete", 0);
  h5::write_strings(root, "genes", provenance.gene_names);
  h5::write_strings(root, "cell_types", provenance.type_names);
  steps_group_ = h5::create_ordered_group(root, "steps");
  // Empty until the first step, so a reader finds the same layout in a run stopped at any point.
  h5::append<h5::StepTime>(root, "steps_index", {}, steps_index_chunk);
  h5::append<std::int64_t>(root, "vertex_index", {}, vertex_index_chunk);
  file_.flush();
}

SimulationOutput::SimulationOutput(MPI_Comm comm, const std::string& directory,
                                   const RunProvenance& provenance, int dim, bool gene_columns,
                                   const ResumePoint& resume)
    : comm_(comm), dim_(dim), gene_names_(provenance.gene_names), type_names_(provenance.type_names),
      gene_columns_(gene_columns) {
  const std::filesystem::path folder(directory);
  h5_path_ = (folder / simulation_h5_name).string();
  xmf_path_ = (folder / simulation_xmf_name).string();
  file_ = h5::File::open_append_parallel(comm_.get(), h5_path_);
  const hid_t root = file_.get();
  mpi::agree(comm_.get(), [&] {
    h5::require_format(file_, "a simulation output", simulation_format, "format_version",
                       simulation_format_version);
    if (h5::read_int_attribute(root, "dim") != dim)
      throw input_error(h5_path_ + ": is " + std::to_string(h5::read_int_attribute(root, "dim")) +
                        "-D, the deck's domain is " + std::to_string(dim) + "-D");
  });
  steps_group_ = h5::open_group(root, "steps");
  // Every rank reads the same file and so removes the same steps: the removals are collective.
  const std::vector<h5::StepTime> index = h5::read_table<h5::StepTime>(root, "steps_index");
  std::size_t kept = 0;
  while (kept < index.size() && resume.keeps(index[kept].step))
    ++kept;
  // Also groups a crash left without an index row (a step cut off while being written).
  for (const std::string& name : h5::children(steps_group_.get())) {
    const bool listed = std::any_of(index.begin(), index.begin() + static_cast<std::ptrdiff_t>(kept),
                                    [&](const h5::StepTime& s) { return step_group_name(s.step) == name; });
    if (!listed) h5::remove_link(steps_group_.get(), name);
  }
  h5::truncate_table(root, "steps_index", static_cast<std::int64_t>(kept));
  for (std::size_t k = 0; k < kept; ++k) {
    const h5::Handle group = h5::open_group(steps_group_.get(), step_group_name(index[k].step));
    steps_.push_back(XdmfStep{index[k].step, index[k].time, h5::read_int_attribute(group.get(), "cells")});
  }
  const std::vector<std::int64_t> vertices = h5::shape(root, "vertex_index");
  vertex_index_rows_ = vertices.empty() ? 0 : vertices[0];
  h5::write_int_attribute(root, "complete", 0);
  // The deck now in effect (a restart may change time.end and output keys).
  h5::write_text_attribute(root, "deck", provenance.resolved_deck);
  // The root's ranks, command and host stay those of the run that created the file; each restart adds a
  // line saying from which step, when, on how many ranks and by which command the steps after it were
  // written.
  const std::string now = mpi::broadcast(comm_.get(), comm_.rank() == 0 ? utc_now_iso8601() : std::string());
  std::vector<std::string> restarts =
      h5::exists(root, "restarts") ? h5::read_strings(root, "restarts") : std::vector<std::string>{};
  std::string line = "from step " + std::to_string(resume.step) + " at " + now + " on " +
                     std::to_string(comm_.size()) + " ranks, host " + provenance.invocation.host;
  if (!provenance.invocation.slurm_job_id.empty())
    line += ", SLURM job " + provenance.invocation.slurm_job_id;
  line += ": " + provenance.invocation.command_line;
  restarts.push_back(line);
  if (h5::exists(root, "restarts")) h5::remove_link(root, "restarts");
  h5::write_strings(root, "restarts", restarts);
  if (!steps_.empty()) {
    h5::write_int_attribute(root, "last_step", steps_.back().step);
    h5::write_real_attribute(root, "last_time", steps_.back().time);
  }
  file_.flush();
  mpi::agree(comm_.get(), [&] {
    if (comm_.rank() == 0) write_xdmf();
  });
}

void SimulationOutput::check_snapshot(long long step, const CellSnapshot& local) const {
  const std::string what = h5_path_ + ": step " + std::to_string(step) + ": ";
  if (!file_.valid()) throw runtime_error(what + "output already closed");
  if (step < 0) throw runtime_error(what + "step numbers must not be negative");
  for (const XdmfStep& s : steps_)
    if (s.step == step) throw runtime_error(what + "already written");
  // Sizes differ between ranks, so a bad snapshot may exist on one rank only: agree before any collective.
  mpi::agree(comm_.get(), [&] {
    const std::size_t n = local.size();
    const auto genes = gene_names_.size();
    auto require = [&](bool ok, const std::string& message) {
      if (!ok) throw runtime_error(what + "rank " + std::to_string(comm_.rank()) + ": " + message);
    };
    require(local.dim == dim_,
            "snapshot is " + std::to_string(local.dim) + "-D, output is " + std::to_string(dim_) + "-D");
    require(local.n_genes == static_cast<int>(genes),
            "snapshot has " + std::to_string(local.n_genes) + " genes, output has " + std::to_string(genes));
    require(local.type.size() == n && local.radius.size() == n && local.cycle.size() == n &&
                local.position.size() == n * static_cast<std::size_t>(dim_) &&
                local.genes.size() == n * genes,
            "field sizes disagree with " + std::to_string(n) + " cells");
  });
}

// HDF5 1.10 cannot fail a collective flush cleanly: when the disk fills while it writes metadata, the rank
// whose write failed leaves the flush early and waits in a barrier the other ranks never reach (seen with
// Open MPI's OMPIO: one rank in MPI_File_sync, the other in H5AC's sync point), so no error reaches tessera
// and the job hangs. Checking the room a step needs before entering HDF5 turns a full disk into a clean,
// agreed error; a disk that another process fills between this check and the write can still hang HDF5.
void SimulationOutput::require_room_for(long long step, std::int64_t total_cells) const {
  mpi::agree(comm_.get(), [&] {
    if (comm_.rank() != 0) return;
    const auto genes = static_cast<long long>(gene_names_.size());
    // id, type, position, radius, genes, cycle (+ the per-gene copies and the vertex index), then HDF5's
    // chunk indices, checksums and metadata cache: a quarter more and a fixed 256 KiB, generous on purpose.
    const long long per_cell = 8 + 4 + 8LL * dim_ + 8 + 8 * genes + 8 + (gene_columns_ ? 8 * genes : 0) + 8;
    const long long needed = per_cell * total_cells / 4 * 5 + (256LL << 10);
    const long long available = h5::available_bytes_beside(h5_path_);
    if (available >= 0 && available < needed)
      throw runtime_error(h5_path_ + ": step " + std::to_string(step) +
                          ": no space left on device (the step needs about " + std::to_string(needed / 1024) +
                          " KiB, " + std::to_string(available / 1024) + " KiB free)");
  });
}

void SimulationOutput::set_fields(const FieldGrid& grid) {
  if (h5::exists(file_.get(), "field_names")) {
    // A restarted run's output: the steps kept hold these fields already.
    if (h5::read_strings(file_.get(), "field_names") != grid.names)
      throw input_error(h5_path_ + ": its /field_names are not the deck's fields.substrates");
    has_fields_ = true;
    field_grid_ = grid;
    return;
  }
  if (!steps_.empty()) throw runtime_error(h5_path_ + ": fields declared after the first step");
  has_fields_ = true;
  field_grid_ = grid;
  h5::write_strings(file_.get(), "field_names", grid.names);
  h5::write_real_attribute(file_.get(), "field_spacing", grid.spacing);
  std::string origin;
  for (int a = 0; a < dim_; ++a)
    origin += (a ? " " : "") + exact(grid.origin[static_cast<std::size_t>(a)]);
  h5::write_text_attribute(file_.get(), "field_origin", origin);
}

void SimulationOutput::write_step(long long step, double time, const CellSnapshot& local,
                                  const FieldBlock* fields) {
  check_snapshot(step, local);
  if (has_fields_ != (fields != nullptr) || (fields && fields->values.size() != field_grid_.names.size()))
    throw runtime_error(h5_path_ + ": step " + std::to_string(step) +
                        ": the fields given do not match those declared (set_fields)");
  const MPI_Comm comm = comm_.get();
  const auto count = static_cast<std::int64_t>(local.size());
  const h5::Rows rows{mpi::exclusive_prefix_sum(comm, count), count, mpi::sum(comm, count)};
  require_room_for(step, rows.total);

  h5::Handle group = h5::create_group(steps_group_.get(), step_group_name(step));
  h5::write_real_attribute(group.get(), "time", time);
  h5::write_int_attribute(group.get(), "cells", rows.total);
  h5::write_rows(group.get(), "id", local.id.data(), rows);
  h5::write_rows(group.get(), "type", local.type.data(), rows);
  h5::write_rows(group.get(), "position", local.position.data(), rows, dim_);
  h5::write_rows(group.get(), "radius", local.radius.data(), rows);
  h5::write_rows(group.get(), "genes", local.genes.data(), rows,
                 static_cast<std::int64_t>(gene_names_.size()));
  h5::write_rows(group.get(), "cycle", local.cycle.data(), rows);
  for (const auto& [field, units] :
       {std::pair<const char*, const char*>{"position", "um"}, {"radius", "um"}, {"cycle", "min"}})
    h5::write_text_attribute(h5::open_object(group.get(), field).get(), "units", units);
  if (gene_columns_) write_gene_columns(group.get(), local, rows);
  if (fields) {
    // Slowest axis first, as XDMF's CoRectMesh reads them; chunks tile every rank's block (equal blocks: one
    // chunk each; balanced boxes' uneven ones: the blocks' common divisor).
    std::vector<std::int64_t> dims, offset, count;
    for (int a = dim_ - 1; a >= 0; --a) {
      const auto axis = static_cast<std::size_t>(a);
      dims.push_back(field_grid_.voxels[axis]);
      offset.push_back(fields->lo[axis]);
      count.push_back(fields->count[axis]);
    }
    const std::vector<std::int64_t> chunk = h5::block_chunk(comm_.get(), offset, count);
    h5::Handle field_group = h5::create_ordered_group(group.get(), "fields");
    for (std::size_t f = 0; f < field_grid_.names.size(); ++f)
      h5::write_block(field_group.get(), field_grid_.names[f], fields->values[f].data(), dims, offset, count,
                      chunk);
  }
  group.reset();
  if (rows.total > vertex_index_rows_) {
    std::vector<std::int64_t> more(static_cast<std::size_t>(rows.total - vertex_index_rows_));
    std::iota(more.begin(), more.end(), vertex_index_rows_);
    h5::append(file_.get(), "vertex_index", more, vertex_index_chunk);
    vertex_index_rows_ = rows.total;
  }
  // Last, so that a step listed in the index (and named by last_step) is complete.
  h5::append(file_.get(), "steps_index", std::vector<h5::StepTime>{{step, time}}, steps_index_chunk);
  h5::write_int_attribute(file_.get(), "last_step", step);
  h5::write_real_attribute(file_.get(), "last_time", time);
  // On disk before the XMF names it, so ParaView never sees a step the file does not hold yet.
  file_.flush();
  steps_.push_back(XdmfStep{step, time, rows.total});
  mpi::agree(comm, [&] {
    if (comm_.rank() == 0) write_xdmf();
  });
}

void SimulationOutput::write_gene_columns(hid_t step_group, const CellSnapshot& local, const h5::Rows& rows) {
  const std::size_t genes = gene_names_.size();
  h5::Handle columns = h5::create_ordered_group(step_group, "gene_columns");
  std::vector<double> column(local.size());
  for (std::size_t g = 0; g < genes; ++g) {
    for (std::size_t i = 0; i < column.size(); ++i)
      column[i] = local.genes[i * genes + g];
    h5::write_rows(columns.get(), std::to_string(g), column.data(), rows);
  }
}

void SimulationOutput::write_xdmf() const {
  std::vector<XdmfStep> ordered = steps_;
  std::sort(ordered.begin(), ordered.end(),
            [](const XdmfStep& a, const XdmfStep& b) { return a.step < b.step; });
  const std::string text =
      simulation_xdmf(simulation_h5_name, dim_, gene_columns_ ? gene_names_ : std::vector<std::string>{},
                      type_names_, ordered, has_fields_ ? &field_grid_ : nullptr);
  // Written aside and renamed over the old one, so a crash leaves the previous complete XMF, never half of
  // one.
  const std::string partial = xmf_path_ + ".tmp";
  std::error_code ec;
  auto fail = [&](const std::string& message) {
    std::filesystem::remove(partial, ec);
    throw runtime_error(message);
  };
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) fail(partial + ": cannot open for writing: " + std::strerror(errno));
    out << text;
    out.close();
    if (!out) fail(partial + ": write failed: " + std::strerror(errno));
  }
  std::filesystem::rename(partial, xmf_path_, ec);
  if (ec) fail(xmf_path_ + ": cannot replace with " + partial + ": " + ec.message());
}

void SimulationOutput::finish() {
  if (!file_.valid()) throw runtime_error(h5_path_ + ": output already closed");
  h5::write_int_attribute(file_.get(), "complete", 1);
  close();
}

void SimulationOutput::close() {
  steps_group_.reset();
  file_.close();
}

} // namespace tessera
