#include "tessera/app/run_directory.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"

#include <Kokkos_Core.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tessera::app {

namespace fs = std::filesystem;

Deck load_deck(MPI_Comm comm, const DeckOptions& options) {
  // A deck is a page of YAML; 16 MiB leaves room for long inline lists and stops /dev/zero or a data file
  // given by mistake before it fills memory.
  constexpr std::uintmax_t max_deck_bytes = 16u << 20;
  const std::string text = mpi::read_text_file(comm, options.deck, max_deck_bytes);
  Deck deck;
  mpi::agree(comm, [&] { deck = Deck::parse(text, options.deck, options.overrides, all_key_tables()); });
  return deck;
}

std::string default_run_directory(const DeckOptions& options, const std::string& from_deck) {
  if (!options.output_dir.empty()) return options.output_dir;
  if (!from_deck.empty()) return from_deck;
  return (fs::path("runs") / fs::path(options.deck).stem()).string();
}

const std::vector<std::string> run_outputs = {"tessera.h5",   "tessera.xmf",        "summary.csv",
                                              "tessera.log",  "resolved_deck.yaml", "dataset.h5",
                                              "checkpoint.h5"};

namespace {

// Why `dir` could not be made a folder: a file where a folder should be (the deepest such ancestor), else
// what the file system said.
std::string why_not_a_folder(const fs::path& dir, const std::error_code& ec) {
  std::error_code ignored;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ignored) && !fs::is_directory(p, ignored))
      return "'" + p.string() + "' is a file, not a folder";
    if (p == p.parent_path()) break;
  }
  return ec ? ec.message() : "not a folder";
}

// A folder can exist and still refuse new files (permissions, a read-only or special file system): try one,
// so the user hears it here rather than as an HDF5 error stack from the first output.
void require_writable(const fs::path& dir) {
  const fs::path probe = dir / (".tessera-write-test-" + std::to_string(::getpid()));
  std::FILE* file = std::fopen(probe.c_str(), "w");
  if (!file)
    throw input_error("run directory '" + dir.string() + "' is not writable (" + std::strerror(errno) + ")");
  std::fclose(file);
  std::error_code ec;
  fs::remove(probe, ec);
}

} // namespace

void prepare_run_directory(MPI_Comm comm, const std::string& dir, bool overwrite,
                           const std::vector<std::string>& outputs) {
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    // Missing parents are made too (mkdir -p), as a batch script's `-o runs/$SLURM_JOB_ID/x` expects.
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec))
      throw input_error("cannot create the run directory '" + dir + "': " + why_not_a_folder(dir, ec));
    require_writable(dir);
    for (const std::string& name : outputs) {
      const fs::path p = fs::path(dir) / name;
      if (!fs::exists(p)) continue;
      if (!overwrite)
        throw input_error(
            p.string() +
            " exists from an earlier run; pass --overwrite to replace it or choose another -o DIR");
      fs::remove(p, ec);
      if (ec) throw input_error(p.string() + ": cannot remove (" + ec.message() + ")");
    }
  });
}

void open_run_log(MPI_Comm comm, const std::string& dir, const Deck& deck, const Invocation& invocation,
                  Log& log, bool write_deck) {
  log.open_file((fs::path(dir) / "tessera.log").string());
  log.info("command: " + invocation.command_line + " (" + describe_where(invocation) + ")");
  if (write_deck && mpi::rank(comm) == 0)
    std::ofstream(fs::path(dir) / "resolved_deck.yaml") << deck.resolved_yaml();
}

double command_walltime(MPI_Comm comm, const DeckOptions& options, const Deck& deck) {
  double seconds = 0.0;
  mpi::agree(comm, [&] {
    if (options.walltime.empty()) {
      seconds = read_walltime(deck);
      return;
    }
    try {
      seconds = parse_walltime(options.walltime);
    } catch (const Error& e) {
      throw input_error(std::string("--walltime: ") + e.what());
    }
  });
  return seconds;
}

RunProvenance run_provenance(const std::string& command, const DeckOptions& options, const Deck& deck,
                             const SimulationSetup& setup) {
  RunProvenance p;
  p.deck_file = options.deck;
  p.resolved_deck = deck.resolved_yaml();
  p.kokkos_backend = Kokkos::DefaultExecutionSpace::name();
  p.command = command;
  p.invocation = options.invocation;
  p.gene_names = setup.network.genes;
  p.type_names = setup.types.names;
  return p;
}

} // namespace tessera::app
