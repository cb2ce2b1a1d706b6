// What a run writes and how often (SPEC §6.4): output cadence, progress cadence, run directory.
// Read from the deck's `output` section.
#pragma once

#include "tessera/core/keys.hpp"

#include <string>

namespace tessera {

class Deck;

struct OutputParams {
  long long every = 10;           // steps between output steps (the first and last steps are always written)
  long long progress_every = 10;  // steps between progress lines
  long long checkpoint_every = 0; // steps between checkpoint.h5 writes of `tessera run` (0: at the end only)
  std::string directory;          // run directory, "" = runs/<deck name>
  bool dataset = false;           // also record the output steps as a trajectory dataset (dataset.h5)
  bool gene_columns = true;       // also store genes one 1-D dataset per gene, for ParaView's Xdmf3 readers
};

const KeyTable& output_keys();
OutputParams read_output_params(const Deck& deck);

} // namespace tessera
