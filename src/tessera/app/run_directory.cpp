#include "tessera/app/run_directory.hpp"

#include "tessera/core/error.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"

#include <Kokkos_Core.hpp>

#include <filesystem>
#include <fstream>

namespace tessera::app {

namespace fs = std::filesystem;

Deck load_deck(MPI_Comm comm, const DeckOptions& options) {
  const std::string text = mpi::read_text_file(comm, options.deck);
  Deck deck;
  mpi::agree(comm, [&] { deck = Deck::parse(text, options.deck, options.overrides, all_key_tables()); });
  return deck;
}

std::string default_run_directory(const DeckOptions& options, const std::string& from_deck) {
  if (!options.output_dir.empty()) return options.output_dir;
  if (!from_deck.empty()) return from_deck;
  return (fs::path("runs") / fs::path(options.deck).stem()).string();
}

const std::vector<std::string> run_outputs = {"tessera.h5",  "tessera.xmf",        "summary.csv",
                                              "tessera.log", "resolved_deck.yaml", "dataset.h5"};

void prepare_run_directory(MPI_Comm comm, const std::string& dir, bool overwrite,
                           const std::vector<std::string>& outputs) {
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) != 0) return;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw input_error("-o " + dir + ": cannot create the run directory (" + ec.message() + ")");
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

void open_run_log(MPI_Comm comm, const std::string& dir, const Deck& deck, Log& log, bool write_deck) {
  log.open_file((fs::path(dir) / "tessera.log").string());
  if (write_deck && mpi::rank(comm) == 0)
    std::ofstream(fs::path(dir) / "resolved_deck.yaml") << deck.resolved_yaml();
}

RunProvenance run_provenance(const std::string& command, const DeckOptions& options, const Deck& deck,
                             const SimulationSetup& setup) {
  RunProvenance p;
  p.deck_file = options.deck;
  p.resolved_deck = deck.resolved_yaml();
  p.kokkos_backend = Kokkos::DefaultExecutionSpace::name();
  p.command = command;
  p.gene_names = setup.network.genes;
  p.type_names = setup.types.names;
  return p;
}

} // namespace tessera::app
