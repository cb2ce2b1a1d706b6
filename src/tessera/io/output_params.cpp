#include "tessera/io/output_params.hpp"

#include "tessera/io/deck.hpp"

namespace tessera {

const KeyTable& output_keys() {
  static const KeyTable table = [] {
    KeyTable t("output", "Output files (SPEC §6.4) and progress reporting.");
    t.add("every", KeyType::integer)
        .def("10")
        .positive()
        .describe("Write `tessera.h5`/`tessera.xmf`/`summary.csv` every this many steps (step 0 and the last "
                  "step always).");
    t.add("progress_every", KeyType::integer)
        .def("10")
        .positive()
        .describe("Print a progress line every this many steps.");
    t.add("checkpoint_every", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("`tessera run` writes `checkpoint.h5` (SPEC §6.6) every this many steps, and always at the "
                  "last step and when stopped by a signal or the walltime; `0`: only then. "
                  "`tessera run DECK --restart DIR` continues from it.");
    t.add("dir", KeyType::text)
        .describe("Run directory; `-o DIR` overrides it. Default: `runs/<deck file name without .yaml>`.");
    t.add("dataset", KeyType::boolean)
        .def("false")
        .describe(
            "Also write the output steps as a trajectory dataset (`dataset.h5`, SPEC §6.3) for "
            "`tessera train`, with "
            "the network that made the data as the ground truth under /grn/truth (a `hill` deck's edges; a "
            "learned `hill` or `sigmoid` model's edges with a non-zero parameter, signed by it; none for "
            "`graph_ode`). Needs a constant population.");
    t.add("gene_columns", KeyType::boolean)
        .def("true")
        .describe("Also store each gene as a 1-D dataset (`/steps/<n>/gene_columns/<g>`), which ParaView's "
                  "Xdmf3 readers need to show genes: 8 more bytes per cell, gene and output step. `false` "
                  "keeps only `genes[N][G]`, and `tessera.xmf` then shows no genes.");
    return t;
  }();
  return table;
}

OutputParams read_output_params(const Deck& deck) {
  const DeckView s = deck.section("output");
  OutputParams p;
  p.every = s.integer("every");
  p.progress_every = s.integer("progress_every");
  p.checkpoint_every = s.integer("checkpoint_every");
  if (s.has("dir")) p.directory = s.text("dir");
  p.dataset = s.boolean("dataset");
  p.gene_columns = s.boolean("gene_columns");
  return p;
}

} // namespace tessera
