#include "tessera/grn/learnable_hill.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/grn/learnable_hill_kernels.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

std::string to_string(LearnableHillConfig::Init init) {
  switch (init) {
  case LearnableHillConfig::Init::deck:
    return "deck";
  case LearnableHillConfig::Init::constant:
    return "constant";
  case LearnableHillConfig::Init::ridge:
    break;
  }
  return "ridge";
}

LearnableHillConfig read_learnable_hill_config(const Deck& deck) {
  const DeckView s = deck.section("grn").section("hill");
  LearnableHillConfig config;
  config.prior = s.text("prior") == "dense" ? PriorGraph::dense : PriorGraph::edges;
  if (s.has("model_file")) config.model_file = s.path("model_file");
  config.learn_n = s.boolean("learn_n");
  config.n = s.real("n");
  const std::string init = s.text("init");
  config.init = init == "deck"       ? LearnableHillConfig::Init::deck
                : init == "constant" ? LearnableHillConfig::Init::constant
                                     : LearnableHillConfig::Init::ridge;
  config.init_seed = static_cast<std::uint64_t>(s.integer("init_seed"));
  return config;
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
      pairs_(std::move(pairs)), candidates_(network, n_types_, config.prior == PriorGraph::dense, pairs_) {
  const int E = candidates_.n_edges(), T = n_types_, G = n_genes_, P = static_cast<int>(pairs_.size());
  parameters_ = ModelParameters("hill", learnable_hill_layout(E, T, G, P, config_.learn_n), {"all"},
                                network.genes, std::move(type_names));

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
  const int E = candidates_.n_edges(), T = n_types_, G = n_genes_, P = static_cast<int>(pairs_.size());
  const double default_n = config_.n;
  std::vector<double> K(E, 0.0), h(E, 0.5), n(E, default_n);
  std::vector<double> lr_K(T * P, 0.0), lr_h(T * P, 0.5), lr_n(T * P, default_n);
  std::vector<double> beta(T * G, 1.0), basal(T * G, 0.1), decay(T * G, 0.1);
  auto edge_name = [&](const RegulatoryEdge& e) {
    return "grn edge " + network.genes[e.source] + " -> " + network.genes[e.target] +
           (e.type < 0 ? " (type *)" : " (type " + parameters_.cell_types()[e.type] + ")");
  };
  if (config_.init != LearnableHillConfig::Init::deck) {
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
    std::vector<const RegulatoryEdge*> given(E, nullptr);
    for (const RegulatoryEdge& edge : network.initial_edges()) {
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
        const int e = candidates_.find(c, edge.source, edge.target);
        if (e < 0) continue; // not a candidate of the model's prior: nothing to start from
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

bool LearnableHillModel::warm_start(const LinearDerivativeFits& fits) {
  // Around x = h, K H+(x; h, n) = K / 2 + K n / (4 h) (x - h) + O((x - h)^2), so the hill derivative is the
  // linear model intercept + sum_j c_j x_j + c_self x_k + sum_q d_q s_q with
  //   K_e = 4 h_e c_j / (beta n_e),  K_cq = 4 h_cq d_q / (beta n_cq),
  //   b = intercept / beta - sum_e K_e (1/2 - n_e / 4) (the same over the pairs),  lambda = -c_self,
  // h, n and beta kept: the fit's signs and relative strengths within each target's row are the model's from
  // the first iteration. b and lambda must stay positive: b is kept at least 1e-3, and a fit without a
  // visible decay (c_self >= 0) keeps the initial lambda.
  const int G = n_genes_, P = static_cast<int>(pairs_.size());
  auto positive = [&](const char* name) {
    std::vector<double> v = parameters_.tensor(0, name);
    for (double& e : v)
      e = softplus(e);
    return v;
  };
  std::vector<double> K = parameters_.tensor(0, "K"), lr_K = parameters_.tensor(0, "lr_K"),
                      b_rho = parameters_.tensor(0, "b_rho"),
                      lambda_rho = parameters_.tensor(0, "lambda_rho");
  const std::vector<double> h = positive("h_rho"), lr_h = positive("lr_h_rho"), beta = positive("beta_rho");
  const std::vector<double> n =
      config_.learn_n ? positive("n_rho") : std::vector<double>(K.size(), config_.n);
  const std::vector<double> lr_n =
      config_.learn_n ? positive("lr_n_rho") : std::vector<double>(lr_K.size(), config_.n);
  for (int c = 0; c < n_types_ && c < static_cast<int>(fits.fit.size()); ++c)
    for (int k = 0; k < G && k < static_cast<int>(fits.fit[static_cast<std::size_t>(c)].size()); ++k) {
      const LinearDerivativeFit& fit = fits.fit[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)];
      if (!fit.fitted) continue;
      const std::size_t row = static_cast<std::size_t>(c * G + k);
      double basal = fit.intercept / beta[row];
      for (std::size_t a = 0; a < fit.regulators.size(); ++a) {
        const int e = candidates_.find(c, fit.regulators[a], k);
        if (e < 0) continue;
        K[e] = 4.0 * h[e] * fit.regulator_coefficient[a] / (beta[row] * n[e]);
        basal -= K[e] * (0.5 - n[e] / 4.0);
      }
      for (std::size_t a = 0; a < fit.pairs.size(); ++a) {
        const int q = fit.pairs[a];
        if (q < 0 || q >= P || pairs_[static_cast<std::size_t>(q)].receptor != k) continue;
        const std::size_t cq = static_cast<std::size_t>(c * P + q);
        lr_K[cq] = 4.0 * lr_h[cq] * fit.pair_coefficient[a] / (beta[row] * lr_n[cq]);
        basal -= lr_K[cq] * (0.5 - lr_n[cq] / 4.0);
      }
      b_rho[row] = inverse_softplus(std::max(basal, 1e-3));
      if (fit.self_coefficient < 0.0) lambda_rho[row] = inverse_softplus(-fit.self_coefficient);
    }
  parameters_.set_tensor(0, "K", K);
  parameters_.set_tensor(0, "lr_K", lr_K);
  parameters_.set_tensor(0, "b_rho", b_rho);
  parameters_.set_tensor(0, "lambda_rho", lambda_rho);
  return true;
}

void LearnableHillModel::set_cell_types(Kokkos::View<const int*> cell_type) {
  cell_type_ = cell_type;
  by_type_.invalidate();
}

void LearnableHillModel::set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) {
  if (graph && !exchange) throw runtime_error("hill: a signalling graph needs its ligand exchange");
  exchange_ = exchange;
  if (!graph || pairs_.empty()) {
    received_.set_graph(nullptr, 0);
    return;
  }
  candidates_.use_columns_of(*exchange);
  received_.set_graph(graph, exchange->n_rows());
}

void LearnableHillModel::update_shared() const {
  const int E = candidates_.n_edges(), P = static_cast<int>(pairs_.size());
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
  const bool signaling = received_.graph() != nullptr;
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
    received_.forward(ligands, signal_);
  }
  LearnableHillRhsFunctor f;
  f.terms = terms_of(
      *this, offsets_of(parameters_, candidates_.n_edges(), n_types_, static_cast<int>(pairs_.size())),
      config_.learn_n ? 0 : small_integer(config_.n), candidates_.offsets(), candidates_.source());
  f.terms.edge_n = edge_n_;
  f.terms.edge_h_pow_n = edge_h_pow_n_;
  f.terms.lr_n = lr_n_;
  f.terms.lr_h_pow_n = lr_h_pow_n_;
  f.terms.beta = beta_;
  f.terms.basal = basal_;
  f.terms.decay = decay_;
  f.terms.signaling = signaling;
  f.terms.receptor_offsets = candidates_.receptor_offsets();
  f.terms.receptor_pair = candidates_.receptor_pair();
  f.terms.receptor_column = candidates_.receptor_column();
  f.terms.signal = signal_;
  f.type = cell_type_;
  f.x = x;
  f.dxdt = dxdt;
  Kokkos::parallel_for("tessera::grn::hill_fit::rhs", range_for(0, n, n * n_genes_), f);
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
  const bool signaling = received_.graph() != nullptr;
  update_shared();
  if (signaling) {
    // The forward's received signal at x (collective), which the Hill terms of the receptors read.
    const auto ligands = exchange_->gather(x);
    if (signal_.extent(0) < x.extent(0) || signal_.extent(1) != ligands.extent(1))
      signal_ = Kokkos::View<double**, Kokkos::LayoutRight>(
          "tessera::grn::hill_fit::signal", x.extent(0) + x.extent(0) / 4 + 8, ligands.extent(1));
    received_.forward(ligands, signal_);
  }
  LearnableHillTerms terms = terms_of(
      *this, offsets_of(parameters_, candidates_.n_edges(), n_types_, static_cast<int>(pairs_.size())),
      config_.learn_n ? 0 : small_integer(config_.n), candidates_.offsets(), candidates_.source());
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
  terms.receptor_offsets = candidates_.receptor_offsets();
  terms.receptor_pair = candidates_.receptor_pair();
  terms.receptor_column = candidates_.receptor_column();
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
      Kokkos::parallel_for("tessera::grn::hill_fit::vjp_state", range_for(0, n, n * n_genes_), f);
    }
    if (signaling && !intracellular_vjp_) {
      // The received signal's cotangents to its senders' ligands (owned and ghost rows), then every rank
      // sends its ghosts' back (collective), also one without cells.
      const std::size_t columns = static_cast<std::size_t>(exchange_->n_ligands());
      const std::size_t ligand_rows = std::max({received_.n_rows(), exchange_->n_rows(), x.extent(0)});
      if (ligand_bar_.extent(0) < ligand_rows || ligand_bar_.extent(1) != columns)
        ligand_bar_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::grn::hill_fit::ligand_bar",
                                                                  ligand_rows + ligand_rows / 4 + 8, columns);
      Kokkos::deep_copy(ligand_bar_, 0.0);
      received_.adjoint(signal_bar_, ligand_bar_);
      exchange_->scatter_ligand_cotangents(ligand_bar_, x_bar);
    }
  }
  if (theta_bar.extent(0) && n > 0) {
    by_type_.update(cell_type_, n, n_types_, "hill");
    LearnableHillParameterVjpFunctor f;
    f.terms = terms;
    f.x = x;
    f.lambda = lambda;
    f.order = by_type_.order();
    f.type_begin = by_type_.begin();
    f.theta_bar = theta_bar;
    Kokkos::parallel_for("tessera::grn::hill_fit::vjp_parameters",
                         Kokkos::RangePolicy<>(0, n_types_ * n_genes_), f);
  }
  Kokkos::fence();
}

std::vector<SignedEdgeWeight> LearnableHillModel::signed_edge_weights() const {
  const std::vector<double> K = parameters_.tensor(0, "K"), lr_K = parameters_.tensor(0, "lr_K");
  std::vector<SignedEdgeWeight> out;
  for (int e = 0; e < candidates_.n_edges(); ++e)
    out.push_back({candidates_.type(e), candidates_.source(e), candidates_.target(e), -1, K[e]});
  const int P = static_cast<int>(pairs_.size());
  for (int c = 0; c < n_types_; ++c)
    for (int p = 0; p < P; ++p)
      out.push_back({c, pairs_[p].ligand, pairs_[p].receptor, p, lr_K[c * P + p]});
  return out;
}

ParameterGroups LearnableHillModel::regulator_groups() const {
  const ParameterLayout& layout = parameters_.layout();
  return candidates_.regulator_groups(layout.tensor("K").offset, layout.tensor("lr_K").offset);
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
