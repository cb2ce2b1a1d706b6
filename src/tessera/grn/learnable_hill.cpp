#include "tessera/grn/learnable_hill.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/grn/learnable_hill_kernels.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace tessera {

std::string to_string(LearnableHillConfig::Init init) {
  return init == LearnableHillConfig::Init::deck ? "deck" : "constant";
}

LearnableHillConfig read_learnable_hill_config(const Deck& deck) {
  const DeckView s = deck.section("grn").section("hill");
  LearnableHillConfig config;
  config.prior = s.text("prior") == "dense" ? PriorGraph::dense : PriorGraph::edges;
  if (s.has("model_file")) config.model_file = s.path("model_file");
  config.learn_n = s.boolean("learn_n");
  config.n = s.real("n");
  config.init =
      s.text("init") == "constant" ? LearnableHillConfig::Init::constant : LearnableHillConfig::Init::deck;
  config.init_seed = static_cast<std::uint64_t>(s.integer("init_seed"));
  return config;
}

HillCandidates hill_candidates(const GeneNetwork& network, int n_types, PriorGraph prior) {
  HillCandidates out;
  out.offsets.push_back(0);
  for (int c = 0; c < n_types; ++c) {
    const auto regulators = network.regulators(c, prior == PriorGraph::dense);
    for (int k = 0; k < network.n_genes(); ++k) {
      for (const int j : regulators[static_cast<std::size_t>(k)]) {
        out.type.push_back(c);
        out.source.push_back(j);
        out.target.push_back(k);
      }
      out.offsets.push_back(out.size());
    }
  }
  return out;
}

ParameterLayout learnable_hill_layout(int n_edges, int n_types, int n_genes, int n_pairs, bool learn_n) {
  ParameterLayout layout;
  auto add = [&](std::string name, std::vector<std::int64_t> shape, bool sparse) {
    TensorSpec t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.sparse = sparse;
    layout.add(std::move(t));
  };
  const std::int64_t E = n_edges, T = n_types, G = n_genes, P = n_pairs;
  add("K", {E}, true);
  add("h_rho", {E}, false);
  if (learn_n) add("n_rho", {E}, false);
  add("lr_K", {T, P}, true);
  add("lr_h_rho", {T, P}, false);
  if (learn_n) add("lr_n_rho", {T, P}, false);
  add("beta_rho", {T, G}, false);
  add("b_rho", {T, G}, false);
  add("lambda_rho", {T, G}, false);
  return layout;
}

namespace {

// n when it is an integer in [1, 16] (hill_power multiplies instead of calling pow, as HillModel does).
int small_integer(double n) {
  return n == std::floor(n) && n >= 1 && n <= 16 ? static_cast<int>(n) : 0;
}

LearnableHillOffsets offsets_of(const ModelParameters& p, int n_edges, int n_types, int n_pairs) {
  const ParameterLayout& l = p.layout();
  LearnableHillOffsets at;
  auto offset = [&](const char* name) { return l.has(name) ? static_cast<int>(l.tensor(name).offset) : -1; };
  at.K = offset("K");
  at.h_rho = offset("h_rho");
  at.n_rho = offset("n_rho");
  at.lr_K = offset("lr_K");
  at.lr_h_rho = offset("lr_h_rho");
  at.lr_n_rho = offset("lr_n_rho");
  at.beta_rho = offset("beta_rho");
  at.b_rho = offset("b_rho");
  at.lambda_rho = offset("lambda_rho");
  at.n_edges = n_edges;
  at.n_types = n_types;
  at.n_genes = p.n_genes();
  at.n_pairs = n_pairs;
  return at;
}

} // namespace

LearnableHillModel::LearnableHillModel(const LearnableHillConfig& config, const GeneNetwork& network,
                                       std::vector<std::string> type_names,
                                       std::vector<LigandReceptorPair> pairs)
    : config_(config), n_genes_(network.n_genes()), n_types_(static_cast<int>(type_names.size())),
      candidates_(hill_candidates(network, n_types_, config.prior)), pairs_(std::move(pairs)) {
  const int E = candidates_.size(), T = n_types_, G = n_genes_, P = static_cast<int>(pairs_.size());
  parameters_ = ModelParameters("hill", learnable_hill_layout(E, T, G, P, config_.learn_n), {"all"},
                                network.genes, std::move(type_names));
  offsets_ = to_device("tessera::grn::hill_fit::offsets", candidates_.offsets);
  source_ = to_device("tessera::grn::hill_fit::source", candidates_.source);
  std::vector<std::vector<int>> by_receptor(static_cast<std::size_t>(G));
  for (int p = 0; p < P; ++p)
    by_receptor[static_cast<std::size_t>(pairs_[p].receptor)].push_back(p);
  std::vector<int> offsets{0}, flat;
  for (const auto& r : by_receptor) {
    flat.insert(flat.end(), r.begin(), r.end());
    offsets.push_back(static_cast<int>(flat.size()));
  }
  receptor_offsets_ = to_device("tessera::grn::hill_fit::receptor_offsets", offsets);
  receptor_pair_ = to_device("tessera::grn::hill_fit::receptor_pair", flat);
  receptor_column_ = Kokkos::View<int*>("tessera::grn::hill_fit::receptor_column", flat.size());

  using Vector = Kokkos::View<double*>;
  const std::size_t edges = static_cast<std::size_t>(E), lr = static_cast<std::size_t>(T * P),
                    rows = static_cast<std::size_t>(T * G);
  for (Vector* v : {&edge_n_, &edge_h_, &edge_h_pow_n_, &edge_dh_, &edge_dn_})
    *v = Vector("tessera::grn::hill_fit::edge_values", edges);
  for (Vector* v : {&lr_n_, &lr_h_, &lr_h_pow_n_, &lr_dh_, &lr_dn_})
    *v = Vector("tessera::grn::hill_fit::lr_values", lr);
  for (Vector* v : {&beta_, &basal_, &decay_, &dbeta_, &dbasal_, &ddecay_})
    *v = Vector("tessera::grn::hill_fit::gene_values", rows);
}

void LearnableHillModel::initialise(const GeneNetwork& network,
                                    const std::vector<LigandReceptorPair>& pairs) {
  const int E = candidates_.size(), T = n_types_, G = n_genes_, P = static_cast<int>(pairs_.size());
  const double default_n = config_.n;
  std::vector<double> K(E, 0.0), h(E, 0.5), n(E, default_n);
  std::vector<double> lr_K(T * P, 0.0), lr_h(T * P, 0.5), lr_n(T * P, default_n);
  std::vector<double> beta(T * G, 1.0), basal(T * G, 0.1), decay(T * G, 0.1);
  auto edge_name = [&](const RegulatoryEdge& e) {
    return "grn edge " + network.genes[e.source] + " -> " + network.genes[e.target] +
           (e.type < 0 ? " (type *)" : " (type " + parameters_.cell_types()[e.type] + ")");
  };
  if (config_.init == LearnableHillConfig::Init::constant) {
    const CounterRng rng{config_.init_seed};
    for (int e = 0; e < E; ++e) {
      double u[4];
      rng.uniform4(0, 0, RandomPurpose::parameters, static_cast<std::uint64_t>(e / 4), u);
      K[e] = 0.02 * (u[e % 4] - 0.5);
    }
  } else {
    for (int c = 0; c < T; ++c)
      for (int k = 0; k < G; ++k) {
        beta[c * G + k] = network.production[k];
        basal[c * G + k] = network.basal[k];
        decay[c * G + k] = network.decay[k];
      }
    std::map<std::tuple<int, int, int>, int> edge_of; // (type, source, target) -> candidate
    for (int e = 0; e < E; ++e)
      edge_of[{candidates_.type[e], candidates_.source[e], candidates_.target[e]}] = e;
    std::vector<const RegulatoryEdge*> given(E, nullptr);
    for (const RegulatoryEdge& edge : network.edges) {
      if (edge.source == edge.target)
        throw input_error(
            edge_name(edge) +
            ": a self loop, which the learnable hill model has no parameter for (grn.hill.init: deck)");
      if (!config_.learn_n && edge.n != config_.n)
        throw input_error(edge_name(edge) + ": n = " + std::to_string(edge.n) +
                          " but grn.hill.learn_n is false "
                          "and grn.hill.n = " +
                          std::to_string(config_.n) + " (grn.hill.init: deck)");
      for (int c = 0; c < T; ++c) {
        if (edge.type >= 0 && edge.type != c) continue;
        const auto it = edge_of.find({c, edge.source, edge.target});
        if (it == edge_of.end()) continue; // not a candidate of the model's prior: nothing to start from
        const int e = it->second;
        if (given[e])
          throw input_error(edge_name(edge) + " and " + edge_name(*given[e]) + " both act in type " +
                            parameters_.cell_types()[c] +
                            ": the learnable hill model has one term per edge (grn.hill.init: deck)");
        given[e] = &edge;
        // H- = 1 - H+: a repression of strength K is an activation of strength -K plus K in the bracket.
        K[e] = edge.sign > 0 ? edge.K : -edge.K;
        if (edge.sign < 0) basal[c * G + edge.target] += edge.K;
        h[e] = edge.h;
        n[e] = edge.n;
      }
    }
    for (int p = 0; p < P; ++p) {
      if (!config_.learn_n && pairs[p].n != config_.n)
        throw input_error("signaling pair " + network.genes[pairs[p].ligand] + " -> " +
                          network.genes[pairs[p].receptor] + ": n = " + std::to_string(pairs[p].n) +
                          " but grn.hill.learn_n is false and grn.hill.n = " + std::to_string(config_.n));
      for (int c = 0; c < T; ++c) {
        lr_K[c * P + p] = pairs[p].K;
        lr_h[c * P + p] = pairs[p].h;
        lr_n[c * P + p] = pairs[p].n;
      }
    }
  }
  auto rho = [](std::vector<double> v) {
    for (double& e : v)
      e = inverse_softplus(e);
    return v;
  };
  parameters_.set_tensor(0, "K", K);
  parameters_.set_tensor(0, "h_rho", rho(h));
  parameters_.set_tensor(0, "lr_K", lr_K);
  parameters_.set_tensor(0, "lr_h_rho", rho(lr_h));
  if (config_.learn_n) {
    parameters_.set_tensor(0, "n_rho", rho(n));
    parameters_.set_tensor(0, "lr_n_rho", rho(lr_n));
  }
  parameters_.set_tensor(0, "beta_rho", rho(beta));
  parameters_.set_tensor(0, "b_rho", rho(basal));
  parameters_.set_tensor(0, "lambda_rho", rho(decay));
}

void LearnableHillModel::set_cell_types(Kokkos::View<const int*> cell_type) {
  cell_type_ = cell_type;
  grouping_stale_ = true;
}

void LearnableHillModel::set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) {
  if (graph && !exchange) throw runtime_error("hill: a signalling graph needs its ligand exchange");
  graph_ = graph;
  exchange_ = exchange;
  if (!graph || pairs_.empty()) return;
  std::vector<int> column(pairs_.size());
  const auto pair_of = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), receptor_pair_);
  for (std::size_t q = 0; q < pair_of.extent(0); ++q) {
    const LigandReceptorPair& pair = pairs_[static_cast<std::size_t>(pair_of(q))];
    column[q] = exchange->column_of(pair.ligand);
    if (column[q] < 0)
      throw runtime_error("hill: ligand gene " + std::to_string(pair.ligand) +
                          " is not carried by the ligand exchange");
  }
  column.resize(pair_of.extent(0));
  receptor_column_ = to_device("tessera::grn::hill_fit::receptor_column", column);

  // The graph transposed, for the VJP's ligand cotangents: per sending row, its receivers in ascending order
  // (a counting sort over the receivers in row order keeps that order).
  const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->offsets);
  const auto source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->source);
  const auto weight = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph->weight);
  const int receivers = static_cast<int>(graph->n_owned);
  int senders = static_cast<int>(exchange->n_rows());
  for (int e = 0; e < (receivers ? offsets(receivers) : 0); ++e)
    senders = std::max(senders, source(e) + 1);
  std::vector<int> begin(static_cast<std::size_t>(senders) + 1, 0);
  for (int e = 0; e < (receivers ? offsets(receivers) : 0); ++e)
    ++begin[static_cast<std::size_t>(source(e)) + 1];
  for (int m = 0; m < senders; ++m)
    begin[m + 1] += begin[m];
  std::vector<int> target(static_cast<std::size_t>(begin[senders]));
  std::vector<double> w(target.size());
  std::vector<int> next(begin.begin(), begin.end() - 1);
  for (int i = 0; i < receivers; ++i)
    for (int e = offsets(i); e < offsets(i + 1); ++e) {
      const int slot = next[static_cast<std::size_t>(source(e))]++;
      target[slot] = i;
      w[slot] = weight.extent(0) ? weight(e) : 1.0;
    }
  sender_offsets_ = to_device("tessera::grn::hill_fit::sender_offsets", begin);
  sender_target_ = to_device("tessera::grn::hill_fit::sender_target", target);
  sender_weight_ = to_device("tessera::grn::hill_fit::sender_weight", w);
}

void LearnableHillModel::group_cells(int n_cells) const {
  if (!grouping_stale_ && grouped_cells_ == n_cells) return;
  // Types change at most once per step while the VJP runs many times per step: a host counting sort.
  const auto types = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(cell_type_, std::make_pair(0, n_cells)));
  std::vector<int> begin(static_cast<std::size_t>(n_types_) + 1, 0);
  for (int i = 0; i < n_cells; ++i) {
    if (types(i) < 0 || types(i) >= n_types_)
      throw runtime_error("hill: cell " + std::to_string(i) + " has type " + std::to_string(types(i)) +
                          " outside [0, " + std::to_string(n_types_) + ")");
    ++begin[static_cast<std::size_t>(types(i)) + 1];
  }
  for (int c = 0; c < n_types_; ++c)
    begin[c + 1] += begin[c];
  std::vector<int> order(static_cast<std::size_t>(n_cells)), next(begin.begin(), begin.end() - 1);
  for (int i = 0; i < n_cells; ++i)
    order[static_cast<std::size_t>(next[static_cast<std::size_t>(types(i))]++)] = i;
  order_ = to_device("tessera::grn::hill_fit::order", order);
  type_begin_ = to_device("tessera::grn::hill_fit::type_begin", begin);
  grouped_cells_ = n_cells;
  grouping_stale_ = false;
}

void LearnableHillModel::update_shared() const {
  const int E = candidates_.size(), P = static_cast<int>(pairs_.size());
  LearnableHillSharedFunctor f;
  f.theta = parameters_.values();
  f.at = offsets_of(parameters_, E, n_types_, P);
  f.fixed_n = config_.n;
  f.fixed_n_int = small_integer(config_.n);
  f.edge_n = edge_n_;
  f.edge_h = edge_h_;
  f.edge_h_pow_n = edge_h_pow_n_;
  f.edge_dh = edge_dh_;
  f.edge_dn = edge_dn_;
  f.lr_n = lr_n_;
  f.lr_h = lr_h_;
  f.lr_h_pow_n = lr_h_pow_n_;
  f.lr_dh = lr_dh_;
  f.lr_dn = lr_dn_;
  f.beta = beta_;
  f.basal = basal_;
  f.decay = decay_;
  f.dbeta = dbeta_;
  f.dbasal = dbasal_;
  f.ddecay = ddecay_;
  Kokkos::parallel_for("tessera::grn::hill_fit::shared",
                       Kokkos::RangePolicy<>(0, E + n_types_ * (P + n_genes_)), f);
}

namespace {

// Everything the kernels read, for the current parameters and (when `signal` is not empty) received signals.
LearnableHillTerms terms_of(const LearnableHillModel& model, const LearnableHillOffsets& at, int n_int,
                            Kokkos::View<const int*> offsets, Kokkos::View<const int*> source) {
  LearnableHillTerms t;
  t.theta = model.parameters().values();
  t.at = at;
  t.n_int = n_int;
  t.offsets = offsets;
  t.source = source;
  return t;
}

} // namespace

void LearnableHillModel::evaluate(double /*t*/, ConstGeneState x, GeneState dxdt) const {
  ScopedRegion region("tessera::grn::hill_fit::rhs");
  const int n = static_cast<int>(x.extent(0));
  const bool signaling = !pairs_.empty() && graph_ && exchange_;
  if (n > 0 && cell_type_.extent(0) < static_cast<std::size_t>(n))
    throw runtime_error("hill: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                        " cells, the state has " + std::to_string(n));
  update_shared();
  if (signaling) {
    // Collective: ghost cells' ligand values come from their owners.
    const auto ligands = exchange_->gather(x);
    if (signal_.extent(0) < x.extent(0) || signal_.extent(1) != ligands.extent(1))
      signal_ = Kokkos::View<double**, Kokkos::LayoutRight>(
          "tessera::grn::hill_fit::signal", x.extent(0) + x.extent(0) / 4 + 8, ligands.extent(1));
    const ReceivedSignalFunctor received{graph_->offsets, graph_->source, graph_->weight, ligands, signal_};
    Kokkos::parallel_for("tessera::grn::hill_fit::received_signal", Kokkos::RangePolicy<>(0, n), received);
  }
  LearnableHillRhsFunctor f;
  f.terms =
      terms_of(*this, offsets_of(parameters_, candidates_.size(), n_types_, static_cast<int>(pairs_.size())),
               config_.learn_n ? 0 : small_integer(config_.n), offsets_, source_);
  f.terms.edge_n = edge_n_;
  f.terms.edge_h_pow_n = edge_h_pow_n_;
  f.terms.lr_n = lr_n_;
  f.terms.lr_h_pow_n = lr_h_pow_n_;
  f.terms.beta = beta_;
  f.terms.basal = basal_;
  f.terms.decay = decay_;
  f.terms.signaling = signaling;
  f.terms.receptor_offsets = receptor_offsets_;
  f.terms.receptor_pair = receptor_pair_;
  f.terms.receptor_column = receptor_column_;
  f.terms.signal = signal_;
  f.type = cell_type_;
  f.x = x;
  f.dxdt = dxdt;
  Kokkos::parallel_for("tessera::grn::hill_fit::rhs", Kokkos::RangePolicy<>(0, n), f);
}

void LearnableHillModel::vjp(double /*t*/, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
                             ParameterGradient theta_bar) const {
  ScopedRegion region("tessera::grn::hill_fit::vjp");
  const int n = static_cast<int>(x.extent(0));
  if (lambda.extent(0) != x.extent(0) || (x_bar.extent(0) && x_bar.extent(0) != x.extent(0)))
    throw runtime_error("hill: vjp needs x, lambda and x_bar of the same number of cells");
  if (theta_bar.extent(0) && (theta_bar.extent(0) != parameters_.values().extent(0) ||
                              theta_bar.extent(1) != parameters_.values().extent(1)))
    throw runtime_error("hill: theta_bar must have the shape of parameters().values()");
  if (n > 0 && cell_type_.extent(0) < static_cast<std::size_t>(n))
    throw runtime_error("hill: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                        " cells, the state has " + std::to_string(n));
  const bool signaling = !pairs_.empty() && graph_ && exchange_;
  update_shared();
  if (signaling) {
    // The forward's received signal at x (collective), which the Hill terms of the receptors read.
    const auto ligands = exchange_->gather(x);
    if (signal_.extent(0) < x.extent(0) || signal_.extent(1) != ligands.extent(1))
      signal_ = Kokkos::View<double**, Kokkos::LayoutRight>(
          "tessera::grn::hill_fit::signal", x.extent(0) + x.extent(0) / 4 + 8, ligands.extent(1));
    const ReceivedSignalFunctor received{graph_->offsets, graph_->source, graph_->weight, ligands, signal_};
    Kokkos::parallel_for("tessera::grn::hill_fit::received_signal", Kokkos::RangePolicy<>(0, n), received);
  }
  LearnableHillTerms terms =
      terms_of(*this, offsets_of(parameters_, candidates_.size(), n_types_, static_cast<int>(pairs_.size())),
               config_.learn_n ? 0 : small_integer(config_.n), offsets_, source_);
  terms.edge_n = edge_n_;
  terms.edge_h = edge_h_;
  terms.edge_h_pow_n = edge_h_pow_n_;
  terms.edge_dh = edge_dh_;
  terms.edge_dn = edge_dn_;
  terms.lr_n = lr_n_;
  terms.lr_h = lr_h_;
  terms.lr_h_pow_n = lr_h_pow_n_;
  terms.lr_dh = lr_dh_;
  terms.lr_dn = lr_dn_;
  terms.beta = beta_;
  terms.basal = basal_;
  terms.decay = decay_;
  terms.dbeta = dbeta_;
  terms.dbasal = dbasal_;
  terms.ddecay = ddecay_;
  terms.signaling = signaling;
  terms.receptor_offsets = receptor_offsets_;
  terms.receptor_pair = receptor_pair_;
  terms.receptor_column = receptor_column_;
  terms.signal = signal_;

  if (x_bar.extent(0) || (signaling && x_bar.extent(1))) {
    if (signaling) {
      const std::size_t columns = static_cast<std::size_t>(exchange_->n_ligands());
      if (signal_bar_.extent(0) < x.extent(0) || signal_bar_.extent(1) != columns)
        signal_bar_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::grn::hill_fit::signal_bar",
                                                                  x.extent(0) + x.extent(0) / 4 + 8, columns);
    }
    if (x_bar.extent(0)) {
      LearnableHillStateVjpFunctor f;
      f.terms = terms;
      f.type = cell_type_;
      f.x = x;
      f.lambda = lambda;
      f.x_bar = x_bar;
      f.signal_bar = signal_bar_;
      Kokkos::parallel_for("tessera::grn::hill_fit::vjp_state", Kokkos::RangePolicy<>(0, n), f);
    }
    if (signaling) {
      // Every rank sends its ghosts' ligand cotangents back (collective), also one without cells.
      const std::size_t rows = sender_offsets_.extent(0) ? sender_offsets_.extent(0) - 1 : 0;
      const std::size_t columns = static_cast<std::size_t>(exchange_->n_ligands());
      const std::size_t ligand_rows = std::max({rows, exchange_->n_rows(), x.extent(0)});
      if (ligand_bar_.extent(0) < ligand_rows || ligand_bar_.extent(1) != columns)
        ligand_bar_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::grn::hill_fit::ligand_bar",
                                                                  ligand_rows + ligand_rows / 4 + 8, columns);
      Kokkos::deep_copy(ligand_bar_, 0.0);
      LearnableHillLigandVjpFunctor g{sender_offsets_, sender_target_, sender_weight_, signal_bar_,
                                      ligand_bar_};
      Kokkos::parallel_for("tessera::grn::hill_fit::vjp_ligands", Kokkos::RangePolicy<>(0, rows), g);
      exchange_->scatter_ligand_cotangents(ligand_bar_, x_bar);
    }
  }
  if (theta_bar.extent(0) && n > 0) {
    group_cells(n);
    LearnableHillParameterVjpFunctor f;
    f.terms = terms;
    f.x = x;
    f.lambda = lambda;
    f.order = order_;
    f.type_begin = type_begin_;
    f.theta_bar = theta_bar;
    Kokkos::parallel_for("tessera::grn::hill_fit::vjp_parameters",
                         Kokkos::RangePolicy<>(0, n_types_ * n_genes_), f);
  }
  Kokkos::fence();
}

std::vector<SignedEdgeWeight> LearnableHillModel::signed_edge_weights() const {
  const std::vector<double> K = parameters_.tensor(0, "K"), lr_K = parameters_.tensor(0, "lr_K");
  std::vector<SignedEdgeWeight> out;
  for (int e = 0; e < candidates_.size(); ++e)
    out.push_back({candidates_.type[e], candidates_.source[e], candidates_.target[e], -1, K[e]});
  const int P = static_cast<int>(pairs_.size());
  for (int c = 0; c < n_types_; ++c)
    for (int p = 0; p < P; ++p)
      out.push_back({c, pairs_[p].ligand, pairs_[p].receptor, p, lr_K[c * P + p]});
  return out;
}

void LearnableHillModel::write(h5::File& file) const {
  write_learnable_hill_model(file, *this);
}

std::unique_ptr<LearnableHillModel> make_learnable_hill_model(MPI_Comm comm, const Deck& deck,
                                                              const GeneNetwork& network,
                                                              const SignalingParams& signaling,
                                                              const std::vector<std::string>& type_names) {
  return make_learnable_hill_model(comm, read_learnable_hill_config(deck), network, signaling, type_names);
}

std::unique_ptr<LearnableHillModel>
make_learnable_hill_model(MPI_Comm comm, const LearnableHillConfig& config, const GeneNetwork& network,
                          const SignalingParams& signaling, const std::vector<std::string>& type_names) {
  auto model = std::make_unique<LearnableHillModel>(config, network, type_names, signaling.pairs);
  if (config.model_file.empty()) {
    // Every rank checks the same deck, so every rank fails alike; agreed all the same, as every input error.
    mpi::agree(comm, [&] { model->initialise(network, signaling.pairs); });
    return model;
  }
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) read_learnable_hill_model(config.model_file, *model);
  });
  const ModelParameters::Values& values = model->parameters().values();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  mpi::check(MPI_Bcast(host.data(), static_cast<int>(host.size()), MPI_DOUBLE, 0, comm), "MPI_Bcast");
  Kokkos::deep_copy(values, host);
  return model;
}

} // namespace tessera
