#include "tessera/app/run_directory.hpp"

#include "tessera/core/error.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"

#include <filesystem>

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

} // namespace tessera::app
