#include "tessera/grn/sigmoid.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/core/units.hpp"
#include "tessera/grn/model_file.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace tessera {

std::string to_string(SigmoidConfig::Init init) {
  switch (init) {
  case SigmoidConfig::Init::ridge:
    return "ridge";
  case SigmoidConfig::Init::zero:
    return "zero";
  case SigmoidConfig::Init::random:
    return "random";
  }
  return "ridge";
}

std::string to_string(const SigmoidInputs& inputs) {
  return inputs.log ? "log" : "linear";
}

SigmoidConfig read_sigmoid_config(const Deck& deck) {
  const DeckView s = deck.section("grn").section("sigmoid");
  SigmoidConfig config;
  config.prior = s.text("prior") == "dense" ? PriorGraph::dense : PriorGraph::edges;
  if (s.has("model_file")) config.model_file = s.path("model_file");
  const std::string init = s.text("init");
  config.init = init == "zero"
                    ? SigmoidConfig::Init::zero
                    : (init == "random" ? SigmoidConfig::Init::random : SigmoidConfig::Init::ridge);
  config.init_seed = static_cast<std::uint64_t>(s.integer("init_seed"));
  config.decay_init = s.real("decay_init");
  config.production_init = s.real("production_init");
  config.inputs.log = s.text("inputs") == "log";
  config.inputs.offset = s.real("log_offset");
  return config;
}

ParameterLayout sigmoid_layout(const CandidateEdges& candidates) {
  ParameterLayout layout;
  const std::int64_t T = candidates.n_types(), G = candidates.n_genes(), P = candidates.n_pairs();
  auto add = [&](std::string name, std::vector<std::int64_t> shape, bool sparse) {
    TensorSpec t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.sparse = sparse;
    layout.add(std::move(t));
  };
  add("W", {static_cast<std::int64_t>(candidates.n_edges())}, true);
  add("V", {T, P}, true);
  add("b", {T, G}, false);
  add("beta_rho", {T, G}, false);
  add("gamma_rho", {T, G}, false);
  return layout;
}

SigmoidModel::SigmoidModel(ModelParameters parameters, CandidateEdges candidates,
                           std::vector<LigandReceptorPair> pairs, PriorGraph prior, SigmoidInputs inputs)
    : parameters_(std::move(parameters)), candidates_(std::move(candidates)), pairs_(std::move(pairs)),
      prior_(prior), inputs_(inputs), n_genes_(candidates_.n_genes()), n_types_(candidates_.n_types()) {
  if (parameters_.family() != "sigmoid" || parameters_.n_sets() != 1 ||
      parameters_.layout().size() != sigmoid_layout(candidates_).size())
    throw runtime_error("sigmoid: the parameters do not have the layout of this candidate graph");
  if (candidates_.n_pairs() != static_cast<int>(pairs_.size()))
    throw runtime_error("sigmoid: the candidate graph has " + std::to_string(candidates_.n_pairs()) +
                        " LR pairs, the model is given " + std::to_string(pairs_.size()));
  if (inputs_.log && !(inputs_.offset > 0.0 && std::isfinite(inputs_.offset)))
    throw runtime_error("sigmoid: the log inputs' offset must be positive and finite, not " +
                        std::to_string(inputs_.offset));
  const ParameterLayout& layout = parameters_.layout();
  offset_W_ = layout.tensor("W").offset;
  offset_V_ = layout.tensor("V").offset;
  offset_b_ = layout.tensor("b").offset;
  offset_beta_ = layout.tensor("beta_rho").offset;
  offset_gamma_ = layout.tensor("gamma_rho").offset;
  const std::size_t rows = static_cast<std::size_t>(n_types_) * static_cast<std::size_t>(n_genes_);
  beta_ = Kokkos::View<double*>("tessera::grn::sigmoid::beta", rows);
  gamma_ = Kokkos::View<double*>("tessera::grn::sigmoid::gamma", rows);
}

void SigmoidModel::set_cell_types(Kokkos::View<const int*> cell_type) {
  cell_type_ = cell_type;
  by_type_.invalidate();
}

void SigmoidModel::set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) {
  if (graph && !exchange) throw runtime_error("sigmoid: a signalling graph needs its ligand exchange");
  signaling_graph_ = pairs_.empty() ? nullptr : graph;
  ligand_exchange_ = pairs_.empty() ? nullptr : exchange;
  if (!signaling_graph_) {
    received_.set_graph(nullptr, 0);
    return;
  }
  candidates_.use_columns_of(*exchange);
  received_.set_graph(graph, exchange->n_rows());
}

SigmoidTensors SigmoidModel::transform() const {
  SigmoidTensors p;
  p.log_offset = inputs_.log ? inputs_.offset : 0.0;
  return p;
}

RegulatorCoordinate SigmoidModel::regulator_coordinate(double v) const {
  const SigmoidTensors p = transform();
  return {p.input(v), p.input_slope(v)};
}

SigmoidTensors SigmoidModel::tensors() const {
  // beta and gamma once per evaluation (T x G softplus), not once per node.
  const double* theta = parameters_.values().data();
  const std::size_t rows = beta_.extent(0);
  using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
  const SigmoidRatesFunctor rates{Kokkos::View<const double*, Unmanaged>(theta + offset_beta_, rows),
                                  Kokkos::View<const double*, Unmanaged>(theta + offset_gamma_, rows), beta_,
                                  gamma_};
  Kokkos::parallel_for("tessera::grn::sigmoid::rates",
                       Kokkos::RangePolicy<execution_space>(0, static_cast<int>(rows)), rates);
  SigmoidTensors p = transform();
  p.W = theta + offset_W_;
  p.V = theta + offset_V_;
  p.b = theta + offset_b_;
  p.beta = beta_;
  p.gamma = gamma_;
  p.n_pairs = candidates_.n_pairs();
  return p;
}

SigmoidGraph SigmoidModel::graph_for(ConstGeneState x) const {
  const int n_cells = static_cast<int>(x.extent(0));
  SigmoidGraph graph;
  graph.cell_type = cell_type_;
  graph.offsets = candidates_.offsets();
  graph.source = candidates_.source();
  if (inputs_.log) {
    if (input_.extent(0) < x.extent(0) || input_.extent(1) != x.extent(1)) {
      const std::size_t rows = x.extent(0) + x.extent(0) / 4 + 8;
      input_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::grn::sigmoid::input", rows, x.extent(1));
      input_slope_ = Kokkos::View<double**, Kokkos::LayoutRight>("tessera::grn::sigmoid::input_slope", rows,
                                                                 x.extent(1));
    }
    if (n_cells > 0)
      Kokkos::parallel_for("tessera::grn::sigmoid::inputs", Kokkos::RangePolicy<execution_space>(0, n_cells),
                           SigmoidInputFunctor{transform(), x, input_, input_slope_});
    graph.log_inputs = true;
    graph.input = input_;
    graph.input_slope = input_slope_;
  }
  if (!signaling_graph_) return graph;
  if (signaling_graph_->n_owned != static_cast<std::size_t>(n_cells))
    throw runtime_error("sigmoid: the signalling graph has " + std::to_string(signaling_graph_->n_owned) +
                        " owned cells, the state " + std::to_string(n_cells));
  graph.signaling = true;
  graph.receptor_offsets = candidates_.receptor_offsets();
  graph.receptor_pair = candidates_.receptor_pair();
  graph.receptor_column = candidates_.receptor_column();
  // Collective (ghost ligands): every rank gathers, also one without cells.
  const auto ligands = ligand_exchange_->gather(x);
  if (signal_.extent(0) < x.extent(0) || signal_.extent(1) != ligands.extent(1))
    signal_ = Kokkos::View<double**, Kokkos::LayoutRight>(
        "tessera::grn::sigmoid::signal", x.extent(0) + x.extent(0) / 4 + 8, ligands.extent(1));
  if (n_cells > 0) received_.forward(ligands, signal_);
  graph.signal = signal_;
  return graph;
}

void SigmoidModel::evaluate(double /*t*/, ConstGeneState x, GeneState dxdt) const {
  ScopedRegion region("tessera::grn::sigmoid::rhs");
  const int n_cells = static_cast<int>(x.extent(0));
  const SigmoidGraph graph = graph_for(x);
  if (n_cells == 0) return;
  if (cell_type_.extent(0) < static_cast<std::size_t>(n_cells))
    throw runtime_error("sigmoid: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                        " cells, the state has " + std::to_string(n_cells));
  const SigmoidRhsFunctor f{graph, tensors(), x, dxdt, n_genes_};
  Kokkos::parallel_for("tessera::grn::sigmoid::rhs",
                       range_for<execution_space>(0, n_cells, n_cells * n_genes_), f);
}

void SigmoidModel::read(const std::string& path) {
  const ModelParameters read =
      read_sigmoid_model(path, candidates_, prior_, parameters_.genes(), parameters_.cell_types());
  Kokkos::deep_copy(parameters_.values(), read.values());
}

void SigmoidModel::write(h5::File& file) const {
  write_sigmoid_model(file, *this);
}

std::vector<SignedEdgeWeight> SigmoidModel::signed_edge_weights() const {
  const std::vector<double> W = parameters_.tensor(0, "W");
  const std::vector<double> V = parameters_.tensor(0, "V");
  std::vector<SignedEdgeWeight> out;
  for (int e = 0; e < candidates_.n_edges(); ++e)
    out.push_back({candidates_.type(e), candidates_.source(e), candidates_.target(e), -1,
                   W[static_cast<std::size_t>(e)]});
  const int P = candidates_.n_pairs();
  for (int c = 0; c < n_types_; ++c)
    for (int q = 0; q < P; ++q)
      out.push_back({c, pairs_[static_cast<std::size_t>(q)].ligand,
                     pairs_[static_cast<std::size_t>(q)].receptor, q,
                     V[static_cast<std::size_t>(c * P + q)]});
  return out;
}

ParameterGroups SigmoidModel::regulator_groups() const {
  const ParameterLayout& layout = parameters_.layout();
  return candidates_.regulator_groups(layout.tensor("W").offset, layout.tensor("V").offset);
}

bool SigmoidModel::warm_start(const LinearDerivativeFits& fits) {
  // Around z = z0, beta sigma(z) = beta sigma(z0) + beta sigma'(z0) (z - z0) + ...; at z0 = 0 the slope is
  // beta / 4. The linear fit intercept + sum_j c_j x_j + c_self x_k + sum_q d_q s_q is most accurate at the
  // data's operating point, the regressors' means xbar, sbar over the fit's rows, so the model is linearised
  // there: gamma = -c_self, and with the production the fit implies at that point,
  //   pbar = intercept + sum_j c_j xbar_j + sum_q d_q sbar_q + (c_self + gamma) xbar_k,
  // beta = 2 pbar (sigma at its midpoint, z = 0, at the operating point), W_jk = 4 c_j / beta,
  // V_cq = 4 d_q / beta and b = 4 pbar / beta - 2 - sum_j W_jk xbar_j - sum_q V_cq sbar_q (= -(W xbar + V
  // sbar) when beta = 2 pbar). A fit without a positive pbar keeps the initial beta (the drive at the
  // operating point, 4 pbar / beta - 2, then clipped to [-8, 8] so that sigma does not start deep in
  // saturation, where its gradient vanishes); gamma must stay
  // positive: a fit with c_self >= 0 (no visible decay) keeps the initial gamma. Without means (xbar = 0)
  // this is the linearisation at x = 0. Linearising at x = 0 instead left the drive z of genes with large
  // means far from 0 on the data, where sigma is flat and the fit's relative strengths are not the model's.
  // With log inputs the drive is linearised in the regressors too, u(v) ~ u(vbar) + u'(vbar) (v - vbar): W =
  // 4 c / (beta u'(xbar)), and the drive at the operating point is W u(xbar) (a regressor whose mean is not
  // positive, where u is flat, keeps W = 0).
  const int G = n_genes_, P = candidates_.n_pairs();
  const SigmoidTensors inputs = transform();
  // The weight that gives the fit's coefficient `slope` of a regressor of mean `mean` at the operating point.
  auto weight_of = [&](double slope, double mean, double beta) {
    const double du = inputs.input_slope(mean);
    return du > 0.0 ? 4.0 * slope / (beta * du) : 0.0;
  };
  std::vector<double> W = parameters_.tensor(0, "W"), V = parameters_.tensor(0, "V"),
                      b = parameters_.tensor(0, "b"), beta_rho = parameters_.tensor(0, "beta_rho"),
                      gamma_rho = parameters_.tensor(0, "gamma_rho");
  for (int c = 0; c < n_types_ && c < static_cast<int>(fits.fit.size()); ++c)
    for (int k = 0; k < G && k < static_cast<int>(fits.fit[static_cast<std::size_t>(c)].size()); ++k) {
      const LinearDerivativeFit& fit = fits.fit[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)];
      if (!fit.fitted) continue;
      const std::size_t row = static_cast<std::size_t>(c * G + k);
      const bool means =
          fit.regulator_mean.size() == fit.regulators.size() && fit.pair_mean.size() == fit.pairs.size();
      auto regulator_mean = [&](std::size_t a) { return means ? fit.regulator_mean[a] : 0.0; };
      auto pair_mean = [&](std::size_t a) { return means ? fit.pair_mean[a] : 0.0; };
      if (fit.self_coefficient < 0.0) gamma_rho[row] = inverse_softplus(-fit.self_coefficient);
      const double gamma = softplus(gamma_rho[row]);
      double production = fit.intercept + (fit.self_coefficient + gamma) * (means ? fit.self_mean : 0.0);
      for (std::size_t a = 0; a < fit.regulators.size(); ++a)
        production += fit.regulator_coefficient[a] * regulator_mean(a);
      for (std::size_t a = 0; a < fit.pairs.size(); ++a)
        production += fit.pair_coefficient[a] * pair_mean(a);
      const double beta = production > 0.0 ? 2.0 * production : softplus(beta_rho[row]);
      beta_rho[row] = inverse_softplus(beta);
      double drive = 0.0; // W xbar + V sbar at the operating point
      for (std::size_t a = 0; a < fit.regulators.size(); ++a) {
        const int e = candidates_.find(c, fit.regulators[a], k);
        if (e < 0) continue;
        W[static_cast<std::size_t>(e)] = weight_of(fit.regulator_coefficient[a], regulator_mean(a), beta);
        drive += W[static_cast<std::size_t>(e)] * inputs.input(regulator_mean(a));
      }
      for (std::size_t a = 0; a < fit.pairs.size(); ++a) {
        const int q = fit.pairs[a];
        if (q < 0 || q >= P || pairs_[static_cast<std::size_t>(q)].receptor != k) continue;
        V[static_cast<std::size_t>(c * P + q)] = weight_of(fit.pair_coefficient[a], pair_mean(a), beta);
        drive += V[static_cast<std::size_t>(c * P + q)] * inputs.input(pair_mean(a));
      }
      b[row] = std::clamp(4.0 * production / beta - 2.0, -8.0, 8.0) - drive;
    }
  parameters_.set_tensor(0, "W", W);
  parameters_.set_tensor(0, "V", V);
  parameters_.set_tensor(0, "b", b);
  parameters_.set_tensor(0, "gamma_rho", gamma_rho);
  parameters_.set_tensor(0, "beta_rho", beta_rho);
  return true;
}

void initialise_sigmoid(ModelParameters& parameters, const CandidateEdges& candidates,
                        const SigmoidConfig& config) {
  const int T = candidates.n_types(), G = candidates.n_genes(), P = candidates.n_pairs();
  std::vector<double> W(static_cast<std::size_t>(candidates.n_edges()), 0.0);
  std::vector<double> V(static_cast<std::size_t>(T * P), 0.0);
  if (config.init == SigmoidConfig::Init::random) {
    // U(-b, b), b = 1 / sqrt(in-degree + 1): the drive z of a node starts O(1) whatever its in-degree. Value
    // e of tensor `stream` draws CounterRng{seed}.uniform4(stream, 0, parameters, e / 4)[e % 4].
    const CounterRng rng{config.init_seed};
    const std::vector<int>& offsets = candidates.offsets_host();
    auto draw = [&](std::uint64_t stream, std::size_t e) {
      double u[4];
      rng.uniform4(stream, 0, RandomPurpose::parameters, e / 4, u);
      return 2.0 * u[e % 4] - 1.0;
    };
    for (int row = 0; row < T * G; ++row) {
      const int degree = offsets[static_cast<std::size_t>(row) + 1] - offsets[static_cast<std::size_t>(row)];
      for (int e = offsets[static_cast<std::size_t>(row)]; e < offsets[static_cast<std::size_t>(row) + 1];
           ++e)
        W[static_cast<std::size_t>(e)] = draw(0, static_cast<std::size_t>(e)) / std::sqrt(degree + 1.0);
    }
    for (std::size_t e = 0; e < V.size(); ++e)
      V[e] = draw(1, e) / std::sqrt(2.0);
  }
  parameters.set_tensor(0, "W", W);
  parameters.set_tensor(0, "V", V);
  parameters.set_tensor(0, "b", std::vector<double>(static_cast<std::size_t>(T * G), 0.0));
  parameters.set_tensor(
      0, "beta_rho",
      std::vector<double>(static_cast<std::size_t>(T * G), inverse_softplus(config.production_init)));
  parameters.set_tensor(
      0, "gamma_rho",
      std::vector<double>(static_cast<std::size_t>(T * G), inverse_softplus(config.decay_init)));
}

// ---- model.h5
// -----------------------------------------------------------------------------------------------

void write_sigmoid_model(h5::File& file, const SigmoidModel& model) {
  const hid_t root = file.get();
  const ModelParameters& parameters = model.parameters();
  const CandidateEdges& candidates = model.candidates();
  write_model_identity(file, parameters);
  {
    h5::Handle settings = h5::create_group(root, "sigmoid");
    h5::write_text_attribute(settings.get(), "prior", to_string(model.prior()));
    h5::write_text_attribute(settings.get(), "inputs", to_string(model.inputs()));
    if (model.inputs().log) h5::write_real_attribute(settings.get(), "log_offset", model.inputs().offset);
  }
  h5::write_strings(root, "genes", parameters.genes());
  h5::write_strings(root, "cell_types", parameters.cell_types());
  {
    h5::Handle edges = h5::create_group(root, "edges");
    std::vector<std::int32_t> type, source, target;
    for (int e = 0; e < candidates.n_edges(); ++e) {
      type.push_back(candidates.type(e));
      source.push_back(candidates.source(e));
      target.push_back(candidates.target(e));
    }
    const std::int64_t E = candidates.n_edges();
    h5::write_rows(edges.get(), "type", type.data(), h5::Rows{0, E, E});
    h5::write_rows(edges.get(), "source", source.data(), h5::Rows{0, E, E});
    h5::write_rows(edges.get(), "target", target.data(), h5::Rows{0, E, E});
  }
  {
    h5::Handle pairs = h5::create_group(root, "pairs");
    std::vector<std::int32_t> ligand, receptor;
    for (const LigandReceptorPair& p : model.pairs()) {
      ligand.push_back(p.ligand);
      receptor.push_back(p.receptor);
    }
    const std::int64_t P = static_cast<std::int64_t>(ligand.size());
    h5::write_rows(pairs.get(), "ligand", ligand.data(), h5::Rows{0, P, P});
    h5::write_rows(pairs.get(), "receptor", receptor.data(), h5::Rows{0, P, P});
  }
  write_model_parameters(file, parameters);
}

namespace {

// What the deck alone decides about a sigmoid model file: its format, family, prior, genes (the deck's, in
// any order) and cell types (every deck type present). input_error naming the file and what differs.
struct SigmoidFileHeader {
  std::vector<std::string> genes, cell_types;
  std::vector<int> file_type_of; // deck type -> file type
};

SigmoidFileHeader read_sigmoid_header(const h5::File& file, const std::string& path, PriorGraph prior,
                                      const std::vector<std::string>& genes,
                                      const std::vector<std::string>& cell_types,
                                      const SigmoidInputs& inputs) {
  const hid_t root = file.get();
  auto fail = [&](const std::string& message) { throw input_error(path + ": " + message); };
  require_model_file(file);
  const std::string family =
      h5::has_attribute(root, "family") ? h5::read_text_attribute(root, "family") : std::string("graph_ode");
  if (family != "sigmoid") fail("family = " + family + " but the deck's model is sigmoid");
  if (!h5::exists(root, "sigmoid")) fail("no /sigmoid group");
  std::string file_prior;
  SigmoidInputs file_inputs; // linear when the file does not say (files written before log inputs)
  {
    h5::Handle settings = h5::open_group(root, "sigmoid");
    if (!h5::has_attribute(settings.get(), "prior")) fail("/sigmoid has no attribute 'prior'");
    file_prior = h5::read_text_attribute(settings.get(), "prior");
    if (h5::has_attribute(settings.get(), "inputs")) {
      const std::string kind = h5::read_text_attribute(settings.get(), "inputs");
      if (kind != "linear" && kind != "log")
        fail("/sigmoid attribute inputs = " + kind + ", not linear or log");
      file_inputs.log = kind == "log";
      if (file_inputs.log) {
        if (!h5::has_attribute(settings.get(), "log_offset"))
          fail("/sigmoid has log inputs but no attribute 'log_offset'");
        file_inputs.offset = h5::read_real_attribute(settings.get(), "log_offset");
      }
    }
  }
  if (file_prior != to_string(prior))
    fail("prior = " + file_prior + " but grn.sigmoid.prior = " + to_string(prior));
  // The inputs change what every weight means: a model trained on one transform is another model under the
  // other.
  if (file_inputs.log != inputs.log)
    fail("inputs = " + to_string(file_inputs) + " but grn.sigmoid.inputs = " + to_string(inputs));
  if (file_inputs.log && file_inputs.offset != inputs.offset)
    fail("log_offset = " + format_number(file_inputs.offset) +
         " but grn.sigmoid.log_offset = " + format_number(inputs.offset));

  // Genes and types by name, each once.
  auto names = [&](const char* dataset, const char* what) {
    if (!h5::exists(root, dataset)) fail(std::string("no /") + dataset);
    const std::vector<std::string> found = h5::read_strings(root, dataset);
    for (const std::string& n : found)
      if (std::count(found.begin(), found.end(), n) > 1)
        fail(std::string(what) + " '" + n + "' appears twice in /" + dataset);
    return found;
  };
  SigmoidFileHeader header;
  header.genes = names("genes", "gene");
  header.cell_types = names("cell_types", "cell type");
  for (const std::string& g : genes)
    if (std::find(header.genes.begin(), header.genes.end(), g) == header.genes.end())
      fail("gene '" + g + "' of the deck is not in /genes");
  for (const std::string& g : header.genes)
    if (std::find(genes.begin(), genes.end(), g) == genes.end())
      fail("gene '" + g + "' of /genes is not in the deck's grn.genes");
  for (const std::string& type : cell_types) {
    const auto it = std::find(header.cell_types.begin(), header.cell_types.end(), type);
    if (it == header.cell_types.end()) fail("cell type '" + type + "' of the deck is not in /cell_types");
    header.file_type_of.push_back(static_cast<int>(it - header.cell_types.begin()));
  }
  return header;
}

} // namespace

void check_sigmoid_model_file(const std::string& path, PriorGraph prior,
                              const std::vector<std::string>& genes,
                              const std::vector<std::string>& cell_types, const SigmoidInputs& inputs) {
  const h5::File file = h5::File::open_read(path);
  (void)read_sigmoid_header(file, path, prior, genes, cell_types, inputs);
}

ModelParameters read_sigmoid_model(const std::string& path, const CandidateEdges& candidates,
                                   PriorGraph prior, const std::vector<std::string>& genes,
                                   const std::vector<std::string>& cell_types, const SigmoidInputs& inputs) {
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  auto fail = [&](const std::string& message) { throw input_error(path + ": " + message); };
  const SigmoidFileHeader header = read_sigmoid_header(file, path, prior, genes, cell_types, inputs);
  const std::vector<std::string>& file_genes = header.genes;
  const std::vector<std::string>& file_types = header.cell_types;
  const std::vector<int>& file_type_of = header.file_type_of;
  auto gene_of = [&](int file_gene) {
    return static_cast<int>(
        std::find(genes.begin(), genes.end(), file_genes[static_cast<std::size_t>(file_gene)]) -
        genes.begin());
  };

  // Integer columns of a group, all of one length, indices within [0, limit).
  auto columns = [&](const char* group_name, const std::vector<std::pair<const char*, std::size_t>>& spec) {
    if (!h5::exists(root, group_name)) fail(std::string("no /") + group_name + " group");
    h5::Handle group = h5::open_group(root, group_name);
    std::vector<std::vector<std::int32_t>> out;
    for (const auto& [name, limit] : spec) {
      const std::string where = std::string("/") + group_name + "/" + name;
      if (!h5::exists(group.get(), name)) fail(where + " is missing");
      out.push_back(h5::read_all<std::int32_t>(group.get(), name));
      if (out.size() > 1 && out.back().size() != out.front().size())
        fail(where + " has " + std::to_string(out.back().size()) + " rows, /" + group_name + "/" +
             spec[0].first + " " + std::to_string(out.front().size()));
      for (const std::int32_t v : out.back())
        if (v < 0 || static_cast<std::size_t>(v) >= limit)
          fail(where + " holds index " + std::to_string(v) + " outside [0, " + std::to_string(limit) + ")");
    }
    return out;
  };
  const auto edges = columns(
      "edges", {{"type", file_types.size()}, {"source", file_genes.size()}, {"target", file_genes.size()}});
  const auto lr = columns("pairs", {{"ligand", file_genes.size()}, {"receptor", file_genes.size()}});

  // The candidate graph must be the deck's for every deck type: file edge -> deck edge.
  const std::size_t file_edges = edges[0].size();
  std::map<std::tuple<int, int, int>, std::size_t> file_edge; // (file type, deck source, deck target)
  for (std::size_t e = 0; e < file_edges; ++e)
    file_edge[{edges[0][e], gene_of(edges[1][e]), gene_of(edges[2][e])}] = e;
  std::vector<std::size_t> file_index_of_edge(static_cast<std::size_t>(candidates.n_edges()));
  std::vector<int> used(file_types.size(), 0);
  for (int e = 0; e < candidates.n_edges(); ++e) {
    const int c = candidates.type(e);
    const auto it = file_edge.find(
        {file_type_of[static_cast<std::size_t>(c)], candidates.source(e), candidates.target(e)});
    if (it == file_edge.end())
      fail("/edges: the deck's candidate edge " + genes[static_cast<std::size_t>(candidates.source(e))] +
           " -> " + genes[static_cast<std::size_t>(candidates.target(e))] + " of cell type '" +
           cell_types[static_cast<std::size_t>(c)] +
           "' is not in the file (the model was trained on another gene graph)");
    file_index_of_edge[static_cast<std::size_t>(e)] = it->second;
    ++used[static_cast<std::size_t>(file_type_of[static_cast<std::size_t>(c)])];
  }
  for (std::size_t e = 0; e < file_edges; ++e) {
    const int ft = edges[0][e];
    const auto deck_type = std::find(file_type_of.begin(), file_type_of.end(), ft);
    if (deck_type == file_type_of.end()) continue; // a type the deck does not have
    const int c = static_cast<int>(deck_type - file_type_of.begin());
    if (candidates.find(c, gene_of(edges[1][e]), gene_of(edges[2][e])) < 0)
      fail("/edges: edge " + file_genes[static_cast<std::size_t>(edges[1][e])] + " -> " +
           file_genes[static_cast<std::size_t>(edges[2][e])] + " of cell type '" +
           file_types[static_cast<std::size_t>(ft)] +
           "' is not a candidate edge of the deck (the model was trained on another gene graph)");
  }
  // The LR pairs, in the deck's order.
  const int P = candidates.n_pairs();
  std::vector<std::size_t> file_index_of_pair(static_cast<std::size_t>(P));
  if (lr[0].size() != static_cast<std::size_t>(P))
    fail("/pairs has " + std::to_string(lr[0].size()) + " pairs but the deck's signalling has " +
         std::to_string(P));
  for (int q = 0; q < P; ++q) {
    bool found = false;
    for (std::size_t f = 0; f < lr[0].size(); ++f)
      if (gene_of(lr[0][f]) == candidates.pair_ligand(q) &&
          gene_of(lr[1][f]) == candidates.pair_receptor(q)) {
        file_index_of_pair[static_cast<std::size_t>(q)] = f;
        found = true;
      }
    if (!found)
      fail("/pairs: the deck's pair " + genes[static_cast<std::size_t>(candidates.pair_ligand(q))] + " -> " +
           genes[static_cast<std::size_t>(candidates.pair_receptor(q))] + " is not in the file");
  }

  ModelParameters parameters("sigmoid", sigmoid_layout(candidates), {"all"}, genes, cell_types);
  if (!h5::exists(root, "params") || !h5::exists(root, "params/all")) fail("no /params/all group");
  h5::Handle group = h5::open_group(root, "params/all");
  for (const std::string& name : h5::children(group.get()))
    if (!parameters.layout().has(name)) fail("/params/all/" + name + " is not a tensor of the sigmoid model");
  const std::int64_t FT = static_cast<std::int64_t>(file_types.size()),
                     FG = static_cast<std::int64_t>(file_genes.size());
  const std::int64_t FP = static_cast<std::int64_t>(lr[0].size());
  const int G = static_cast<int>(genes.size()), T = static_cast<int>(cell_types.size());
  for (const TensorSpec& t : parameters.layout().tensors()) {
    const std::string where = "/params/all/" + t.name;
    if (!h5::exists(group.get(), t.name)) fail(where + " is missing");
    std::vector<std::int64_t> wanted;
    if (t.name == "W")
      wanted = {static_cast<std::int64_t>(file_edges)};
    else if (t.name == "V")
      wanted = {FT, FP};
    else
      wanted = {FT, FG};
    const std::vector<std::int64_t> found = h5::shape(group.get(), t.name);
    if (found != wanted)
      fail(where + " has shape " + h5::shape_text(found) +
           " but /edges, /pairs, /cell_types and /genes need " + h5::shape_text(wanted));
    const std::vector<double> values = h5::read_all<double>(group.get(), t.name);
    for (const double v : values)
      if (!std::isfinite(v)) fail(where + " holds a non-finite value");
    std::vector<double> ordered(t.size());
    if (t.name == "W") {
      for (std::size_t e = 0; e < ordered.size(); ++e)
        ordered[e] = values[file_index_of_edge[e]];
    } else if (t.name == "V") {
      for (int c = 0; c < T; ++c)
        for (int q = 0; q < P; ++q)
          ordered[static_cast<std::size_t>(c * P + q)] =
              values[static_cast<std::size_t>(file_type_of[static_cast<std::size_t>(c)] * FP) +
                     file_index_of_pair[static_cast<std::size_t>(q)]];
    } else {
      for (int c = 0; c < T; ++c)
        for (int fk = 0; fk < FG; ++fk)
          ordered[static_cast<std::size_t>(c * G + gene_of(fk))] =
              values[static_cast<std::size_t>(file_type_of[static_cast<std::size_t>(c)] * FG + fk)];
    }
    parameters.set_tensor(0, t.name, ordered);
  }
  return parameters;
}

std::unique_ptr<SigmoidModel> make_sigmoid_model(MPI_Comm comm, const Deck& deck, const GeneNetwork& network,
                                                 const SignalingParams& signaling,
                                                 const std::vector<std::string>& type_names) {
  return make_sigmoid_model(comm, read_sigmoid_config(deck), network, signaling, type_names);
}

std::unique_ptr<SigmoidModel> make_sigmoid_model(MPI_Comm comm, const SigmoidConfig& config,
                                                 const GeneNetwork& network, const SignalingParams& signaling,
                                                 const std::vector<std::string>& type_names) {
  CandidateEdges candidates(network, static_cast<int>(type_names.size()), config.prior == PriorGraph::dense,
                            signaling.pairs);
  ModelParameters parameters("sigmoid", sigmoid_layout(candidates), {"all"}, network.genes, type_names);
  if (config.model_file.empty()) {
    initialise_sigmoid(parameters, candidates, config);
  } else {
    mpi::agree(comm, [&] {
      if (mpi::rank(comm) == 0)
        parameters = read_sigmoid_model(config.model_file, candidates, config.prior, network.genes,
                                        type_names, config.inputs);
    });
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
    mpi::check(MPI_Bcast(host.data(), static_cast<int>(host.size()), MPI_DOUBLE, 0, comm), "MPI_Bcast");
    Kokkos::deep_copy(parameters.values(), host);
  }
  return std::make_unique<SigmoidModel>(std::move(parameters), std::move(candidates), signaling.pairs,
                                        config.prior, config.inputs);
}

} // namespace tessera
