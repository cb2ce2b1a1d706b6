#include "tessera/grn/signaling.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/halo.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace tessera {

const KeyTable& signaling_keys() {
  static const KeyTable table = [] {
    KeyTable t("signaling", "Ligand -> receptor signalling between neighbouring cells (SPEC §2).");
    t.add("pairs", KeyType::entries)
        .describe("Ligand -> receptor pairs: the ligand gene of a neighbour feeds the receptor gene.");
    t.add("pairs[].ligand", KeyType::text).require().describe("Ligand gene (in grn.genes).");
    t.add("pairs[].receptor", KeyType::text).require().describe("Receptor gene (in grn.genes).");
    t.add("pairs[].K", KeyType::real)
        .def("1")
        .non_negative()
        .describe("`hill`: strength K^LR of the receptor's activation.");
    t.add("pairs[].h", KeyType::real)
        .def("0.5")
        .positive()
        .describe("`hill`: half-saturation of the received signal.");
    t.add("pairs[].n", KeyType::real)
        .def("2")
        .positive()
        .describe("`hill`: Hill coefficient of the received signal.");
    t.add("table", KeyType::path)
        .describe("LR table (TSV with header `ligand receptor [K h n]`, SPEC §6.2); its pairs are added to "
                  "`signaling.pairs`.");
    t.add("range", KeyType::real, Dimension::length)
        .def("20")
        .positive()
        .describe("r_sig: neighbours at this distance or closer (d <= r_sig) signal.");
    t.add("length", KeyType::real, Dimension::length)
        .def(".inf")
        .positive()
        .infinite_ok()
        .describe("ell in w(d) = exp(-d/ell); `.inf` gives w = 1 within r_sig.");
    t.add("autocrine", KeyType::boolean)
        .def("false")
        .describe("A cell's own ligand also reaches its receptors (w = 1).");
    return t;
  }();
  return table;
}

void SignalingParams::default_pairs(const std::vector<std::array<int, 2>>& ligand_receptor) {
  if (!pairs.empty()) return;
  for (const auto& lr : ligand_receptor) {
    LigandReceptorPair pair;
    pair.ligand = lr[0];
    pair.receptor = lr[1];
    pairs.push_back(pair);
  }
}

std::vector<int> SignalingParams::ligand_genes() const {
  std::vector<int> genes;
  for (const auto& p : pairs)
    genes.push_back(p.ligand);
  std::sort(genes.begin(), genes.end());
  genes.erase(std::unique(genes.begin(), genes.end()), genes.end());
  return genes;
}

void parse_lr_table(const std::string& text, const std::string& filename, const GeneNetwork& network,
                    SignalingParams& params) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, '\t');)
      f.push_back(x);
    const std::string at = filename + ":" + std::to_string(line_no);
    if (header.empty()) {
      header = f;
      const std::vector<std::string> want{"ligand", "receptor", "K", "h", "n"};
      if (header.size() < 2 || header.size() > 5)
        throw input_error(
            at + ": header must be the tab-separated columns 'ligand receptor' (then optionally 'K h n')");
      for (std::size_t c = 0; c < header.size(); ++c)
        if (header[c] != want[c])
          throw input_error(at + ": column " + std::to_string(c + 1) + " of the header is '" + header[c] +
                            "', expected '" + want[c] + "'");
      continue;
    }
    if (f.size() != header.size())
      throw input_error(at + ": expected " + std::to_string(header.size()) + " tab-separated fields, got " +
                        std::to_string(f.size()));
    LigandReceptorPair p;
    p.ligand = network.gene_index(f[0]);
    if (p.ligand < 0)
      throw input_error(at + ": column 'ligand': unknown gene '" + f[0] + "' (not in grn.genes)");
    p.receptor = network.gene_index(f[1]);
    if (p.receptor < 0)
      throw input_error(at + ": column 'receptor': unknown gene '" + f[1] + "' (not in grn.genes)");
    double* values[3] = {&p.K, &p.h, &p.n};
    for (std::size_t c = 2; c < f.size(); ++c) {
      const ParsedQuantity q = parse_quantity(f[c], Dimension::none);
      if (!q.ok || !std::isfinite(q.value) || q.value < 0 || (c > 2 && q.value == 0))
        throw input_error(at + ": column '" + header[c] + "': '" + f[c] + "' is not a " +
                          (c == 2 ? "non-negative" : "positive") + " number");
      *values[c - 2] = q.value;
    }
    params.pairs.push_back(p);
  }
  if (header.empty()) throw input_error(filename + ": empty LR table (needs a header line)");
}

SignalingParams read_signaling(const Deck& deck, const GeneNetwork& network) {
  const DeckView s = deck.section("signaling");
  SignalingParams p;
  for (const DeckView& e : s.entries("pairs")) {
    LigandReceptorPair pair;
    pair.ligand = network.gene_index(e.text("ligand"));
    if (pair.ligand < 0) e.fail("ligand", "unknown gene '" + e.text("ligand") + "' (not in grn.genes)");
    pair.receptor = network.gene_index(e.text("receptor"));
    if (pair.receptor < 0) e.fail("receptor", "unknown gene '" + e.text("receptor") + "' (not in grn.genes)");
    pair.K = e.real("K");
    pair.h = e.real("h");
    pair.n = e.real("n");
    p.pairs.push_back(pair);
  }
  if (s.has("table")) parse_lr_table(s.file_text("table"), s.path("table"), network, p);
  for (std::size_t a = 0; a < p.pairs.size(); ++a)
    for (std::size_t b = a + 1; b < p.pairs.size(); ++b)
      if (p.pairs[a].ligand == p.pairs[b].ligand && p.pairs[a].receptor == p.pairs[b].receptor)
        s.fail("pairs", "the pair " + network.genes[p.pairs[a].ligand] + " -> " +
                            network.genes[p.pairs[a].receptor] + " is given twice");
  p.range = s.real("range");
  p.length = s.real("length");
  p.autocrine = s.boolean("autocrine");
  return p;
}

LigandExchange::LigandExchange(std::vector<int> ligand_genes) : genes_host_(std::move(ligand_genes)) {
  genes_ = Kokkos::View<int*>("tessera::signaling::ligand_genes", genes_host_.size());
  auto h = Kokkos::create_mirror_view(genes_);
  for (std::size_t c = 0; c < genes_host_.size(); ++c)
    h(c) = genes_host_[c];
  Kokkos::deep_copy(genes_, h);
}

void LigandExchange::set_halo(const HaloPlan* halo, std::size_t n_owned, std::size_t n_ghost) {
  halo_ = halo;
  n_owned_ = n_owned;
  n_ghost_ = n_ghost;
}

int LigandExchange::column_of(int g) const {
  const auto it = std::lower_bound(genes_host_.begin(), genes_host_.end(), g);
  return it != genes_host_.end() && *it == g ? static_cast<int>(it - genes_host_.begin()) : -1;
}

Kokkos::View<const double**, Kokkos::LayoutRight> LigandExchange::gather(ConstGeneState x) const {
  const std::size_t rows = n_owned_ + n_ghost_;
  const std::size_t cols = genes_host_.size();
  if (values_.extent(0) < rows || values_.extent(1) != cols)
    values_ =
        Kokkos::View<double**, Kokkos::LayoutRight>("tessera::signaling::ligands", rows + rows / 4 + 8, cols);
  const auto values = values_;
  const auto genes = genes_;
  // One iteration per cell over its ligand columns: an MDRange over cells x columns cost nearly as much as
  // the received-signal kernel on the OpenMP backend (index arithmetic per copied value).
  Kokkos::parallel_for(
      "tessera::signaling::pack_ligands", range_for(0, x.extent(0), x.extent(0) * x.extent(1)),
      KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t c = 0; c < cols; ++c)
          values(i, c) = x(i, genes(c));
      });
  if (halo_) halo_->gather<double>(values_);
  return values_;
}

void LigandExchange::scatter_ligand_cotangents(Kokkos::View<double**, Kokkos::LayoutRight> ligand_bar,
                                               GeneState x_bar) const {
  if (halo_) halo_->scatter_add<double>(ligand_bar);
  const auto genes = genes_;
  const std::size_t cols = genes_host_.size();
  // One thread per owned cell: a gene may be the ligand of one column only, but keep the row to one thread.
  Kokkos::parallel_for(
      "tessera::signaling::add_ligand_cotangents",
      range_for(0, x_bar.extent(0), x_bar.extent(0) * x_bar.extent(1)), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t c = 0; c < cols; ++c)
          x_bar(i, genes(c)) += ligand_bar(i, c);
      });
}

} // namespace tessera
