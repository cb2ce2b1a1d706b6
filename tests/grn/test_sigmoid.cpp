// The `sigmoid` gene model (SPEC §2.4) on the small tissue of the graph_ode tests (7 cells of 2 types, 5
// genes, 3 LR pairs, a hand-made signalling graph): its RHS equals the formula evaluated independently on the
// host; its state and parameter VJPs equal central differences, also through the rk4 discrete adjoint and the
// CVODES adjoint; a model without edges follows the analytic solution of its decoupled ODEs; model.h5 round
// trips by name and refuses files of another model; the ridge warm start is sigma's linearisation. Each with
// linear inputs (the classic model) and with log inputs (grn.sigmoid.inputs: log).
#include "tessera/grn/model_factory.hpp"
#include "tessera/grn/sigmoid.hpp"

#include "tessera/core/error.hpp"
#include "tessera/integrate/cvode.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/integrate/rk4.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/hdf5.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "graph_ode_fixture.hpp"

namespace {

// Every value drawn from U(-scale, scale) (W, V, b) or so that beta, gamma lie in [0.3, 1.3].
void randomize(ModelParameters& p, unsigned seed, double scale = 0.8) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale), rate(0.3, 1.3);
  for (const TensorSpec& t : p.layout().tensors()) {
    std::vector<double> v(t.size());
    for (double& e : v)
      e = t.name == "beta_rho" || t.name == "gamma_rho" ? inverse_softplus(rate(rng)) : u(rng);
    p.set_tensor(0, t.name, v);
  }
}

// Log inputs with the default offset, small against the states (0.1-2), so that the log bends over them.
SigmoidInputs log_inputs() {
  SigmoidInputs inputs;
  inputs.log = true;
  inputs.offset = 0.05;
  return inputs;
}

const SigmoidInputs both_inputs[] = {SigmoidInputs{}, log_inputs()};

// Every value moved into [0.1, 2.1): states where log inputs are smooth, and which the ODE keeps positive
// (dx/dt >= -gamma x), so that central differences through an integrator never straddle u's kink at 0.
std::vector<std::vector<double>> positive_state(unsigned seed) {
  auto x = random_state(seed);
  for (auto& row : x)
    for (double& v : row)
      v = 0.1 + std::fabs(v);
  return x;
}

struct Problem {
  CandidateEdges candidates;
  ModelParameters parameters;
  std::unique_ptr<SigmoidModel> model;
  SignalingGraph graph;
  LigandExchange exchange;
  SigmoidInputs inputs;
  bool signaling = false;

  Problem(bool dense, bool signals, unsigned seed, SigmoidInputs in = {})
      : candidates(small_network(), 2, dense, small_pairs()),
        parameters("sigmoid", sigmoid_layout(candidates), {"all"}, gene_names, type_names),
        exchange(small_ligand_genes()), inputs(in), signaling(signals) {
    randomize(parameters, seed);
    model = std::make_unique<SigmoidModel>(parameters, candidates, small_pairs(),
                                           dense ? PriorGraph::dense : PriorGraph::edges, inputs);
    model->set_cell_types(device_copy("types", cell_types));
    graph = device_graph(HostGraph{});
    exchange.set_halo(nullptr, n_cells, 0);
    if (signals) model->set_signaling(&graph, &exchange);
  }
};

// The RHS written out on the host from the tensors, independently of the kernels.
std::vector<std::vector<double>> rhs_by_hand(const Problem& p, const std::vector<std::vector<double>>& x,
                                             bool signaling) {
  const std::vector<double> W = p.parameters.tensor(0, "W"), V = p.parameters.tensor(0, "V"),
                            b = p.parameters.tensor(0, "b"), beta = p.parameters.tensor(0, "beta_rho"),
                            gamma = p.parameters.tensor(0, "gamma_rho");
  const HostGraph g;
  const auto pairs = small_pairs();
  const int P = static_cast<int>(pairs.size());
  auto u = [&](double v) { return p.inputs.log ? std::log(std::max(v, 0.0) + p.inputs.offset) : v; };
  std::vector<std::vector<double>> f(n_cells, std::vector<double>(n_genes));
  for (int i = 0; i < n_cells; ++i) {
    const int c = cell_types[i];
    for (int k = 0; k < n_genes; ++k) {
      double z = b[c * n_genes + k];
      for (int j = 0; j < n_genes; ++j) {
        const int e = p.candidates.find(c, j, k);
        if (e >= 0) z += W[e] * u(x[i][j]);
      }
      if (signaling)
        for (int q = 0; q < P; ++q)
          if (pairs[q].receptor == k) {
            double s = 0.0;
            for (int n = g.offsets[i]; n < g.offsets[i + 1]; ++n)
              s += g.weight[n] * x[g.source[n]][pairs[q].ligand];
            z += V[c * P + q] * u(s);
          }
      f[i][k] =
          softplus(beta[c * n_genes + k]) / (1.0 + std::exp(-z)) - softplus(gamma[c * n_genes + k]) * x[i][k];
    }
  }
  return f;
}

std::vector<std::vector<double>> rhs(const Problem& p, const std::vector<std::vector<double>>& x) {
  GeneState f("f", n_cells, n_genes);
  p.model->evaluate(0.0, to_device(x), f);
  return to_host(f);
}

// The gradients of L = <c, x(t1)> by `adjoint` (Rk4Adjoint or CvodesAdjoint) from x0 at t = 0: dL/dx0 and
// dL/dtheta (host copies).
template <class Adjoint>
std::pair<std::vector<std::vector<double>>,
          decltype(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ParameterGradient()))>
adjoint_gradients(Adjoint& adjoint, const Problem& p, const std::vector<std::vector<double>>& x0,
                  const std::vector<std::vector<double>>& c, double t1) {
  GeneState x = to_device(x0);
  adjoint.forward(*p.model, x, 0.0, t1);
  GeneState x_bar = to_device(c);
  ParameterGradient theta_bar("theta_bar", 1, p.parameters.size());
  adjoint.reverse(*p.model, *p.model, x_bar, theta_bar);
  return {to_host(x_bar), Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar)};
}

// 2 + 0.01 random_state(seed): states far from x = 0, spread 0.02.
std::vector<std::vector<double>> states_near_two(unsigned seed) {
  auto x = random_state(seed);
  for (auto& row : x)
    for (double& v : row)
      v = 2.0 + 0.01 * v;
  return x;
}

// s_iq, the ligand of pair q received by cell i in the hand-made signalling graph.
double received_signal(const std::vector<std::vector<double>>& x, int i, int q) {
  const HostGraph g;
  double s = 0.0;
  for (int n = g.offsets[i]; n < g.offsets[i + 1]; ++n)
    s += g.weight[n] * x[g.source[n]][small_pairs()[q].ligand];
  return s;
}

// A linear fit of the derivative around the states x, as the ridge baseline would give it: per (type, target)
// the self coefficient -0.3 - 0.1 k, each candidate regulator's coefficient U(-0.3, 0.3) and, when the model
// signals, each received pair's 0.01 U(-0.3, 0.3) (s varies O(1) between cells: a small d keeps z small),
// each regressor's mean over the type's cells, and the intercept that makes the production at the means 0.4.
// Without `with_means` the means are dropped (the linearisation at x = 0).
LinearDerivativeFits fit_around(Problem& p, const std::vector<std::vector<double>>& x, unsigned seed,
                                bool with_means) {
  SigmoidConfig config;
  config.init = SigmoidConfig::Init::zero;
  config.production_init = 0.8;
  initialise_sigmoid(p.parameters, p.candidates, config);
  auto mean_over_type = [&](int c, auto value) {
    double sum = 0.0, count = 0.0;
    for (int i = 0; i < n_cells; ++i)
      if (cell_types[i] == c) {
        sum += value(i);
        count += 1.0;
      }
    return sum / count;
  };
  const auto pairs = small_pairs();
  LinearDerivativeFits fits;
  fits.fit.assign(2, std::vector<LinearDerivativeFit>(n_genes));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      LinearDerivativeFit& f = fits.fit[c][k];
      f.fitted = true;
      f.self_coefficient = -0.3 - 0.1 * k;
      f.self_mean = mean_over_type(c, [&](int i) { return x[i][k]; });
      f.intercept = 0.4; // the production at the means: 0.4 once the terms below are subtracted
      for (int j = 0; j < n_genes; ++j)
        if (p.candidates.find(c, j, k) >= 0) {
          f.regulators.push_back(j);
          f.regulator_coefficient.push_back(u(rng));
          f.regulator_mean.push_back(mean_over_type(c, [&](int i) { return x[i][j]; }));
          f.intercept -= f.regulator_coefficient.back() * f.regulator_mean.back();
        }
      for (int q = 0; p.signaling && q < static_cast<int>(pairs.size()); ++q)
        if (pairs[q].receptor == k) {
          f.pairs.push_back(q);
          f.pair_coefficient.push_back(0.01 * u(rng));
          f.pair_mean.push_back(mean_over_type(c, [&](int i) { return received_signal(x, i, q); }));
          f.intercept -= f.pair_coefficient.back() * f.pair_mean.back();
        }
      if (!with_means) {
        f.regulator_mean.clear();
        f.pair_mean.clear();
        f.self_mean = 0.0;
      }
    }
  return fits;
}

// The largest |f(x) - the fit's prediction| over cells and genes.
double worst_against_fit(const Problem& p, const LinearDerivativeFits& fits,
                         const std::vector<std::vector<double>>& x) {
  const auto f = rhs(p, x);
  double worst = 0.0;
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      const LinearDerivativeFit& fit = fits.fit[cell_types[i]][k];
      double linear = fit.intercept + fit.self_coefficient * x[i][k];
      for (std::size_t a = 0; a < fit.regulators.size(); ++a)
        linear += fit.regulator_coefficient[a] * x[i][fit.regulators[a]];
      for (std::size_t a = 0; a < fit.pairs.size(); ++a)
        linear += fit.pair_coefficient[a] * received_signal(x, i, fit.pairs[a]);
      worst = std::max(worst, std::fabs(f[i][k] - linear));
    }
  return worst;
}

double pairing(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b,
               double* scale = nullptr) {
  double sum = 0.0, size = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      sum += a[i][k] * b[i][k];
      size += std::fabs(a[i][k] * b[i][k]);
    }
  if (scale) *scale = size;
  return sum;
}

std::string input_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error was raised";
  return "";
}

std::string scratch_path(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_BINARY_DIR) / "test_sigmoid";
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

// `model`'s model.h5 at scratch_path(name); returns the path.
std::string written(const SigmoidModel& model, const std::string& name) {
  const std::string path = scratch_path(name);
  h5::File file = h5::File::create(path);
  model.write(file);
  file.close();
  return path;
}

using TensorEdit = std::function<void(const std::string& tensor, std::vector<double>& values,
                                      std::vector<std::int64_t>& shape)>;
using IndexEdit = std::function<void(const std::string& column, std::vector<std::int32_t>& values)>;

// model.h5 of `model` written by hand, with the edges' index columns and the tensors passed through `edit`s.
void write_edited_model(const std::string& path, const SigmoidModel& model, const TensorEdit& tensor_edit,
                        const IndexEdit& index_edit) {
  h5::File file = h5::File::create(path);
  const ModelParameters& p = model.parameters();
  h5::write_text_attribute(file.get(), "format", "tessera-model");
  h5::write_int_attribute(file.get(), "version", 1);
  h5::write_text_attribute(file.get(), "family", "sigmoid");
  {
    h5::Handle settings = h5::create_group(file.get(), "sigmoid");
    h5::write_text_attribute(settings.get(), "prior", "edges");
  }
  h5::write_strings(file.get(), "genes", p.genes());
  h5::write_strings(file.get(), "cell_types", p.cell_types());
  auto write_ints = [](hid_t group, const std::string& name, std::vector<std::int32_t> v) {
    const std::int64_t n = static_cast<std::int64_t>(v.size());
    h5::write_rows(group, name, v.data(), h5::Rows{0, n, n});
  };
  {
    h5::Handle edges = h5::create_group(file.get(), "edges");
    std::vector<std::int32_t> type, source, target;
    for (int e = 0; e < model.candidates().n_edges(); ++e) {
      type.push_back(model.candidates().type(e));
      source.push_back(model.candidates().source(e));
      target.push_back(model.candidates().target(e));
    }
    index_edit("type", type);
    index_edit("source", source);
    index_edit("target", target);
    write_ints(edges.get(), "type", type);
    write_ints(edges.get(), "source", source);
    write_ints(edges.get(), "target", target);
    h5::Handle pairs = h5::create_group(file.get(), "pairs");
    std::vector<std::int32_t> ligand, receptor;
    for (const LigandReceptorPair& q : model.pairs()) {
      ligand.push_back(q.ligand);
      receptor.push_back(q.receptor);
    }
    write_ints(pairs.get(), "ligand", ligand);
    write_ints(pairs.get(), "receptor", receptor);
  }
  h5::Handle params = h5::create_group(file.get(), "params");
  h5::Handle group = h5::create_group(params.get(), "all");
  for (const TensorSpec& t : p.layout().tensors()) {
    std::vector<double> values = p.tensor(0, t.name);
    std::vector<std::int64_t> shape = t.shape;
    tensor_edit(t.name, values, shape);
    const h5::Rows rows{0, shape[0], shape[0]};
    if (shape.size() == 1)
      h5::write_rows(group.get(), t.name, values.data(), rows);
    else
      h5::write_rows(group.get(), t.name, values.data(), rows, shape[1]);
  }
  group.reset(); // h5::File::close() refuses while groups are open
  params.reset();
  file.close();
}

} // namespace

TEST(SigmoidModel, RhsEqualsTheFormulaWrittenOut) {
  // random_state has a few negative values: log inputs see them as 0.
  for (const SigmoidInputs& inputs : both_inputs)
    for (const bool dense : {false, true})
      for (const bool signaling : {false, true}) {
        const Problem p(dense, signaling, 3, inputs);
        const auto x = random_state(5);
        const auto got = rhs(p, x), want = rhs_by_hand(p, x, signaling);
        for (int i = 0; i < n_cells; ++i)
          for (int k = 0; k < n_genes; ++k)
            EXPECT_NEAR(got[i][k], want[i][k], 1e-14)
                << "cell " << i << " gene " << k; // rounding of O(1) sums
      }
}

TEST(SigmoidModel, VjpsEqualCentralDifferences) {
  // <lambda, f(x, theta)> differenced in every entry of x and of theta, step 1e-6: the model is smooth, so
  // the truncation error is ~1e-12 relative and rounding ~1e-16 |terms| / h = 1e-10 of the terms' size: the
  // VJP must agree to 1e-6 relative plus that floor. A wrong term is off by O(1).
  // With log inputs the negative states of random_state sit where u is flat (slope 0 on both sides of the
  // difference); none lies within h of the kink at 0.
  int checked = 0;
  for (const SigmoidInputs& inputs : both_inputs)
    for (const bool dense : {false, true})
      for (const bool signaling : {false, true}) {
        Problem p(dense, signaling, 7, inputs);
        const auto x = random_state(11);
        const auto lambda = random_state(12);
        GeneState x_bar("x_bar", n_cells, n_genes);
        ParameterGradient theta_bar("theta_bar", 1, p.parameters.size());
        Kokkos::deep_copy(theta_bar, 0.25); // accumulated: the VJP adds to what is there
        p.model->vjp(0.0, to_device(x), to_device(lambda), x_bar, theta_bar);
        const auto xb = to_host(x_bar);
        const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);
        const double h = 1e-6;
        auto compare = [&](double expected, const std::function<double(double, double*)>& loss_at,
                           const std::string& what) {
          double scale = 0.0;
          loss_at(0.0, &scale);
          const double fd = (loss_at(h, nullptr) - loss_at(-h, nullptr)) / (2.0 * h);
          EXPECT_NEAR(expected, fd, 1e-6 * std::fabs(fd) + 1e-15 * scale / h + 1e-12) << what;
          ++checked;
        };
        for (int i = 0; i < n_cells; ++i)
          for (int k = 0; k < n_genes; ++k)
            compare(
                xb[i][k],
                [&](double step, double* scale) {
                  auto shifted = x;
                  shifted[i][k] += step;
                  return pairing(lambda, rhs(p, shifted), scale);
                },
                "x_bar cell " + std::to_string(i) + " gene " + std::to_string(k));
        auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.parameters.values());
        for (const TensorSpec& t : p.parameters.layout().tensors())
          for (std::size_t e = 0; e < t.size(); ++e)
            compare(
                tb(0, t.offset + e) - 0.25,
                [&](double step, double* scale) {
                  values(0, t.offset + e) += step;
                  Kokkos::deep_copy(p.parameters.values(), values); // the model shares the View
                  const double loss = pairing(lambda, rhs(p, x), scale);
                  values(0, t.offset + e) -= step;
                  Kokkos::deep_copy(p.parameters.values(), values);
                  return loss;
                },
                t.name + "[" + std::to_string(e) + "]");
        // The two halves alone equal the whole.
        GeneState x_bar_only("x_bar_only", n_cells, n_genes);
        ParameterGradient theta_bar_only("theta_bar_only", 1, p.parameters.size());
        Kokkos::deep_copy(theta_bar_only, 0.25);
        p.model->vjp_state(0.0, to_device(x), to_device(lambda), x_bar_only);
        p.model->vjp_params(0.0, to_device(x), to_device(lambda), theta_bar_only);
        const auto xo = to_host(x_bar_only);
        const auto to = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar_only);
        for (int i = 0; i < n_cells; ++i)
          for (int k = 0; k < n_genes; ++k)
            EXPECT_EQ(xo[i][k], xb[i][k]);
        for (std::size_t e = 0; e < to.size(); ++e)
          EXPECT_EQ(to.data()[e], tb.data()[e]);
      }
  EXPECT_GT(checked, 8 * n_cells * n_genes);
}

TEST(SigmoidModel, WithoutEdgesEachGeneRelaxesAsTheAnalyticSolution) {
  // W = 0, V = 0: dx_k/dt = beta sigma(b) - gamma x_k, so x_k(t) = x* + (x_k(0) - x*) exp(-gamma t) with
  // x* = beta sigma(b) / gamma, per type. rk4 at dt = 0.01 over t = 3: error ~ (gamma dt)^4 / 120 per unit
  // time ~ 1e-10; CVODE at rtol 1e-10.
  Problem p(true, true, 13);
  std::vector<double> zero_W(p.parameters.layout().tensor("W").size(), 0.0);
  std::vector<double> zero_V(p.parameters.layout().tensor("V").size(), 0.0);
  p.parameters.set_tensor(0, "W", zero_W);
  p.parameters.set_tensor(0, "V", zero_V);
  const auto x0 = random_state(17);
  const double t1 = 3.0;
  const std::vector<double> b = p.parameters.tensor(0, "b"), beta = p.parameters.tensor(0, "beta_rho"),
                            gamma = p.parameters.tensor(0, "gamma_rho");
  auto analytic = [&](int i, int k) {
    const int row = cell_types[i] * n_genes + k;
    const double g = softplus(gamma[row]);
    const double fixed = softplus(beta[row]) / (1.0 + std::exp(-b[row])) / g;
    return fixed + (x0[i][k] - fixed) * std::exp(-g * t1);
  };
  GeneState x = to_device(x0);
  Rk4Integrator(0.01).advance(*p.model, x, 0.0, t1);
  const auto rk4 = to_host(x);
  TimeParams params;
  params.method = CvodeMethod::bdf;
  params.rtol = 1e-10;
  params.atol = 1e-12;
  params.max_steps = 100000;
  GeneState y = to_device(x0);
  CvodeIntegrator(MPI_COMM_SELF, params).advance(*p.model, y, 0.0, t1);
  const auto cvode = to_host(y);
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      EXPECT_NEAR(rk4[i][k], analytic(i, k), 1e-9) << "cell " << i << " gene " << k;
      EXPECT_NEAR(cvode[i][k], analytic(i, k), 1e-7) << "cell " << i << " gene " << k;
    }
}

TEST(SigmoidModel, Rk4AdjointEqualsCentralDifferencesOfALoss) {
  // L = <c, x(t1)> through the rk4 integrator; the discrete adjoint is exact up to rounding, so it must agree
  // with central differences at step 1e-6 to 1e-7 relative (truncation 1e-12) plus the rounding floor. Log
  // inputs start from positive states, which the ODE keeps positive.
  for (const SigmoidInputs& inputs : both_inputs) {
    SCOPED_TRACE(to_string(inputs));
    Problem p(false, true, 19, inputs);
    const auto x0 = inputs.log ? positive_state(23) : random_state(23);
    const auto c = random_state(29);
    const double t1 = 1.5, dt = 0.2;
    auto loss = [&](const std::vector<std::vector<double>>& start, double* scale) {
      GeneState x = to_device(start);
      Rk4Integrator(dt).advance(*p.model, x, 0.0, t1);
      return pairing(c, to_host(x), scale);
    };
    Rk4Adjoint adjoint(dt);
    const auto [xb, tb] = adjoint_gradients(adjoint, p, x0, c, t1);
    const double h = 1e-6;
    for (int i = 0; i < n_cells; ++i)
      for (int k = 0; k < n_genes; ++k) {
        auto plus = x0, minus = x0;
        plus[i][k] += h;
        minus[i][k] -= h;
        double scale = 0.0;
        loss(x0, &scale);
        const double fd = (loss(plus, nullptr) - loss(minus, nullptr)) / (2 * h);
        EXPECT_NEAR(xb[i][k], fd, 1e-7 * std::fabs(fd) + 1e-15 * scale / h + 1e-12) << "x0 " << i << " " << k;
      }
    auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.parameters.values());
    for (const TensorSpec& t : p.parameters.layout().tensors())
      for (std::size_t e = 0; e < t.size(); ++e) {
        auto at = [&](double step, double* scale) {
          values(0, t.offset + e) += step;
          Kokkos::deep_copy(p.parameters.values(), values);
          const double l = loss(x0, scale);
          values(0, t.offset + e) -= step;
          Kokkos::deep_copy(p.parameters.values(), values);
          return l;
        };
        double scale = 0.0;
        at(0.0, &scale);
        const double fd = (at(h, nullptr) - at(-h, nullptr)) / (2 * h);
        EXPECT_NEAR(tb(0, t.offset + e), fd, 1e-7 * std::fabs(fd) + 1e-15 * scale / h + 1e-12)
            << t.name << "[" << e << "]";
      }
  }
}

TEST(SigmoidModel, CvodesAdjointEqualsCentralDifferencesThroughCvode) {
  // Directional derivatives of L = <c, x(t1)> along a random direction per tensor (and for x0): the CVODES
  // adjoint at rtol 1e-10 against central differences (h = 1e-4) of CVODE solves at rtol 1e-12. The RHS is
  // smooth: the differences' truncation error is ~h^2 L''' ~ 1e-8 of the terms' size, the solves' ~1e-10,
  // the adjoint's ~1e-9 (the decay model's measured agreement, test_cvodes_adjoint): 1e-6 of the size. Log
  // inputs start from positive states (u is smooth there; the ODE keeps them positive).
  for (const SigmoidInputs& inputs : both_inputs) {
    SCOPED_TRACE(to_string(inputs));
    Problem p(true, true, 31, inputs);
    const auto x0 = inputs.log ? positive_state(37) : random_state(37);
    const auto c = random_state(41);
    const double t1 = 1.0, h = 1e-4;
    auto tight = [](double rtol, double atol) {
      TimeParams params;
      params.method = CvodeMethod::bdf;
      params.rtol = rtol;
      params.atol = atol;
      params.max_steps = 100000;
      return params;
    };
    CvodesAdjoint adjoint(MPI_COMM_SELF, tight(1e-10, 1e-12));
    const auto [xb, tb] = adjoint_gradients(adjoint, p, x0, c, t1);
    auto loss = [&](const std::vector<std::vector<double>>& start) {
      GeneState y = to_device(start);
      CvodeIntegrator(MPI_COMM_SELF, tight(1e-12, 1e-14)).advance(*p.model, y, 0.0, t1);
      return pairing(c, to_host(y));
    };
    std::mt19937 rng(43);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    {
      auto v = random_state(47);
      double expected = 0.0, size = 0.0;
      for (int i = 0; i < n_cells; ++i)
        for (int k = 0; k < n_genes; ++k) {
          expected += xb[i][k] * v[i][k];
          size += std::fabs(xb[i][k] * v[i][k]);
        }
      auto shifted = [&](double step) {
        auto start = x0;
        for (int i = 0; i < n_cells; ++i)
          for (int k = 0; k < n_genes; ++k)
            start[i][k] += step * v[i][k];
        return loss(start);
      };
      EXPECT_NEAR(expected, (shifted(h) - shifted(-h)) / (2 * h), 1e-6 * size) << "x0";
    }
    auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.parameters.values());
    for (const TensorSpec& t : p.parameters.layout().tensors()) {
      std::vector<double> v(t.size());
      for (double& e : v)
        e = u(rng);
      double expected = 0.0, size = 0.0;
      for (std::size_t e = 0; e < v.size(); ++e) {
        expected += tb(0, t.offset + e) * v[e];
        size += std::fabs(tb(0, t.offset + e) * v[e]);
      }
      auto shifted = [&](double step) {
        for (std::size_t e = 0; e < v.size(); ++e)
          values(0, t.offset + e) += step * v[e];
        Kokkos::deep_copy(p.parameters.values(), values);
        const double l = loss(x0);
        for (std::size_t e = 0; e < v.size(); ++e)
          values(0, t.offset + e) -= step * v[e];
        Kokkos::deep_copy(p.parameters.values(), values);
        return l;
      };
      ASSERT_GT(size, 0.0) << t.name;
      EXPECT_NEAR(expected, (shifted(h) - shifted(-h)) / (2 * h), 1e-6 * size) << t.name;
    }
  }
}

TEST(SigmoidModel, SignedEdgeWeightsListEveryWAndV) {
  const Problem p(false, true, 53);
  const auto weights = p.model->signed_edge_weights();
  const std::vector<double> W = p.parameters.tensor(0, "W"), V = p.parameters.tensor(0, "V");
  const int P = static_cast<int>(small_pairs().size());
  ASSERT_EQ(weights.size(), W.size() + V.size());
  for (std::size_t e = 0; e < W.size(); ++e) {
    EXPECT_EQ(weights[e].pair, -1);
    EXPECT_EQ(p.candidates.find(weights[e].type, weights[e].source, weights[e].target), static_cast<int>(e));
    EXPECT_EQ(weights[e].weight, W[e]);
  }
  for (std::size_t a = 0; a < V.size(); ++a) {
    const SignedEdgeWeight& w = weights[W.size() + a];
    const int c = static_cast<int>(a) / P, q = static_cast<int>(a) % P;
    EXPECT_EQ(w.type, c);
    EXPECT_EQ(w.pair, q);
    EXPECT_EQ(w.source, small_pairs()[q].ligand);
    EXPECT_EQ(w.target, small_pairs()[q].receptor);
    EXPECT_EQ(w.weight, V[a]);
  }
}

TEST(SigmoidModel, WarmStartIsTheLinearFitThroughSigmasLinearisation) {
  // A linear fit with small coefficients: the warm-started model's derivative equals the fit's prediction up
  // to the cubic term of sigma around 0, beta |z|^3 / 48 (|z| < 0.1 here: < 3e-5).
  Problem p(false, true, 59);
  SigmoidConfig config;
  config.init = SigmoidConfig::Init::zero;
  config.production_init = 0.8;
  initialise_sigmoid(p.parameters, p.candidates, config);
  LinearDerivativeFits fits;
  fits.fit.assign(2, std::vector<LinearDerivativeFit>(n_genes));
  std::mt19937 rng(61);
  std::uniform_real_distribution<double> u(-0.005, 0.005);
  const auto pairs = small_pairs();
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      LinearDerivativeFit& f = fits.fit[c][k];
      f.fitted = true;
      f.intercept = 0.4 + u(rng); // beta / 2 + beta / 4 * b with b ~ 0
      for (int j = 0; j < n_genes; ++j)
        if (p.candidates.find(c, j, k) >= 0) {
          f.regulators.push_back(j);
          f.regulator_coefficient.push_back(u(rng));
        }
      f.self_coefficient = -0.3 - 0.1 * k;
      for (int q = 0; q < static_cast<int>(pairs.size()); ++q)
        if (pairs[q].receptor == k) {
          f.pairs.push_back(q);
          f.pair_coefficient.push_back(u(rng));
        }
    }
  ASSERT_TRUE(p.model->warm_start(fits));
  EXPECT_LE(worst_against_fit(p, fits, random_state(67)), 3e-5);
  const auto W = p.parameters.tensor(0, "W");
  const LinearDerivativeFit& fit = fits.fit[1][0];
  ASSERT_FALSE(fit.regulators.empty());
  // The edge weights are 4 c / beta exactly, beta = 2 intercept (b = 0).
  EXPECT_NEAR(W[p.candidates.find(1, fit.regulators[0], 0)],
              4.0 * fit.regulator_coefficient[0] / (2.0 * fit.intercept), 1e-14);
  EXPECT_NEAR(softplus(p.parameters.tensor(0, "beta_rho")[1 * n_genes + 0]), 2.0 * fit.intercept, 1e-14);
  EXPECT_NEAR(p.parameters.tensor(0, "b")[1 * n_genes + 0], 0.0, 1e-14);
}

TEST(SigmoidModel, WarmStartLinearisesAtTheRegressorsMeans) {
  // Data far from x = 0 (every gene near 2) and a fit with O(0.3) regulator coefficients: linearised at the
  // regressors' means the warm-started derivative equals the fit's prediction up to sigma's cubic term (|z| <
  // 0.1 here: beta |z|^3 / 48 < 2e-5); linearised at x = 0 (the same fit without its means) the drive sits
  // far from sigma's midpoint on these states and the derivative is off by O(0.1).
  const auto x = states_near_two(73);
  double worst_with_means = 0.0, worst_at_zero = 0.0;
  for (const bool with_means : {true, false}) {
    Problem p(false, true, 79);
    const LinearDerivativeFits fits = fit_around(p, x, 83, with_means);
    ASSERT_TRUE(p.model->warm_start(fits));
    (with_means ? worst_with_means : worst_at_zero) = worst_against_fit(p, fits, x);
    if (with_means) {
      // beta = 2 x 0.4 where the fit says the production is 0.4, sigma at its midpoint there.
      EXPECT_NEAR(softplus(p.parameters.tensor(0, "beta_rho")[0]), 0.8, 1e-12);
    }
  }
  EXPECT_LT(worst_with_means, 2e-5);
  EXPECT_GT(worst_at_zero, 1e-2)
      << "the data must lie where linearising at 0 is wrong, or the test shows nothing";
}

TEST(SigmoidModelFile, RoundTripsAndMatchesGenesAndTypesByName) {
  Problem p(false, true, 71);
  const std::string path = written(*p.model, "model.h5");
  const ModelParameters same =
      read_sigmoid_model(path, p.candidates, PriorGraph::edges, gene_names, type_names);
  EXPECT_EQ(same.flat(), p.parameters.flat());
  {
    h5::File file = h5::File::open_read(path);
    EXPECT_EQ(h5::read_text_attribute(file.get(), "family"), "sigmoid");
    EXPECT_EQ(h5::read_text_attribute(h5::open_group(file.get(), "sigmoid").get(), "prior"), "edges");
  }

  // A deck with its genes and types in another order: the model read for it computes the same RHS on the
  // same cells (genes permuted, types renamed by index).
  GeneNetwork permuted_net = small_network();
  const std::vector<int> perm{3, 0, 4, 1, 2}; // deck gene a is file gene perm[a]
  std::vector<std::string> permuted_genes;
  for (int a : perm)
    permuted_genes.push_back(gene_names[a]);
  std::vector<int> deck_of(n_genes);
  for (int a = 0; a < n_genes; ++a)
    deck_of[perm[a]] = a;
  permuted_net.genes = permuted_genes;
  const std::vector<std::string> permuted_types{"mes", "epi"};
  for (RegulatoryEdge& e : permuted_net.edges) {
    e.source = deck_of[e.source];
    e.target = deck_of[e.target];
    if (e.type >= 0) e.type = 1 - e.type;
  }
  auto permuted_pairs = small_pairs();
  for (LigandReceptorPair& q : permuted_pairs) {
    q.ligand = deck_of[q.ligand];
    q.receptor = deck_of[q.receptor];
  }
  CandidateEdges candidates(permuted_net, 2, false, permuted_pairs);
  const ModelParameters read =
      read_sigmoid_model(path, candidates, PriorGraph::edges, permuted_genes, permuted_types);
  SigmoidModel model(read, candidates, permuted_pairs, PriorGraph::edges);
  std::vector<int> types;
  for (int t : cell_types)
    types.push_back(1 - t);
  model.set_cell_types(device_copy("types", types));
  SignalingParams sp;
  sp.pairs = permuted_pairs;
  LigandExchange exchange(sp.ligand_genes());
  exchange.set_halo(nullptr, n_cells, 0);
  model.set_signaling(&p.graph, &exchange);
  const auto x = random_state(73);
  std::vector<std::vector<double>> xp(n_cells, std::vector<double>(n_genes));
  for (int i = 0; i < n_cells; ++i)
    for (int a = 0; a < n_genes; ++a)
      xp[i][a] = x[i][perm[a]];
  GeneState f("f", n_cells, n_genes);
  model.evaluate(0.0, to_device(xp), f);
  const auto got = to_host(f), want = rhs(p, x);
  for (int i = 0; i < n_cells; ++i)
    for (int a = 0; a < n_genes; ++a)
      EXPECT_NEAR(got[i][a], want[i][perm[a]], 1e-14) << "cell " << i << " deck gene " << a;
}

TEST(SigmoidModelFile, FilesOfAnotherModelAreInputErrorsNamingWhatDiffers) {
  Problem p(false, true, 79);
  const std::string path = written(*p.model, "good.h5");
  auto contains = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  // Another prior, another gene graph, another gene panel, a type the file lacks, other LR pairs.
  std::string m = input_error_of(
      [&] { read_sigmoid_model(path, p.candidates, PriorGraph::dense, gene_names, type_names); });
  EXPECT_TRUE(contains(m, path) && contains(m, "prior = edges but grn.sigmoid.prior = dense")) << m;
  // The deck-only check (before the data fix the candidates) sees the same header errors.
  check_sigmoid_model_file(path, PriorGraph::edges, gene_names, type_names);
  m = input_error_of([&] { check_sigmoid_model_file(path, PriorGraph::dense, gene_names, type_names); });
  EXPECT_TRUE(contains(m, "prior = edges but grn.sigmoid.prior = dense")) << m;
  m = input_error_of([&] { check_sigmoid_model_file(path, PriorGraph::edges, gene_names, {"neu"}); });
  EXPECT_TRUE(contains(m, "cell type 'neu' of the deck is not in /cell_types")) << m;
  {
    GeneNetwork more = small_network();
    more.edges.push_back({0, 4, 2, +1, 1, 0.5, 2});
    const CandidateEdges candidates(more, 2, false, small_pairs());
    m = input_error_of(
        [&] { read_sigmoid_model(path, candidates, PriorGraph::edges, gene_names, type_names); });
    EXPECT_TRUE(contains(m, "/edges: the deck's candidate edge E -> C of cell type 'epi' is not in the file"))
        << m;
    GeneNetwork fewer = small_network();
    fewer.edges.pop_back();
    const CandidateEdges smaller(fewer, 2, false, small_pairs());
    m = input_error_of([&] { read_sigmoid_model(path, smaller, PriorGraph::edges, gene_names, type_names); });
    EXPECT_TRUE(contains(m, "/edges: edge C -> E of cell type 'epi' is not a candidate edge of the deck"))
        << m;
  }
  {
    auto genes = gene_names;
    genes[4] = "F";
    m = input_error_of([&] { read_sigmoid_model(path, p.candidates, PriorGraph::edges, genes, type_names); });
    EXPECT_TRUE(contains(m, "gene 'F' of the deck is not in /genes")) << m;
    m = input_error_of([&] {
      read_sigmoid_model(path, p.candidates, PriorGraph::edges, gene_names, {"epi", "neu"});
    });
    EXPECT_TRUE(contains(m, "cell type 'neu' of the deck is not in /cell_types")) << m;
  }
  {
    auto pairs = small_pairs();
    pairs[2].receptor = 2;
    const CandidateEdges candidates(small_network(), 2, false, pairs);
    m = input_error_of(
        [&] { read_sigmoid_model(path, candidates, PriorGraph::edges, gene_names, type_names); });
    EXPECT_TRUE(contains(m, "/pairs: the deck's pair B -> C is not in the file")) << m;
  }
  // A graph_ode model file.
  {
    const std::string other = scratch_path("graph_ode.h5");
    GraphOdeArchitecture a;
    a.hidden = 2;
    a.mlp_width = 2;
    write_graph_ode_model(other, GraphOdeParameters(a, gene_names, type_names));
    m = input_error_of(
        [&] { read_sigmoid_model(other, p.candidates, PriorGraph::edges, gene_names, type_names); });
    EXPECT_TRUE(contains(m, "family = graph_ode but the deck's model is sigmoid")) << m;
  }
  // Damaged content: a wrong shape, a non-finite value, an index out of range.
  auto edited = [&](const std::string& name, const TensorEdit& tensor, const IndexEdit& index) {
    const std::string bad = scratch_path(name);
    write_edited_model(bad, *p.model, tensor, index);
    return input_error_of(
        [&] { read_sigmoid_model(bad, p.candidates, PriorGraph::edges, gene_names, type_names); });
  };
  const IndexEdit same_index = [](const std::string&, std::vector<std::int32_t>&) {};
  const TensorEdit same_tensor = [](const std::string&, std::vector<double>&, std::vector<std::int64_t>&) {};
  {
    const std::string plain = scratch_path("plain.h5");
    write_edited_model(plain, *p.model, same_tensor, same_index);
    EXPECT_EQ(read_sigmoid_model(plain, p.candidates, PriorGraph::edges, gene_names, type_names).flat(),
              p.parameters.flat())
        << "the hand writer writes what the model's writer does";
  }
  m = edited(
      "shape.h5",
      [](const std::string& t, std::vector<double>& v, std::vector<std::int64_t>& shape) {
        if (t != "b") return;
        v.resize(3);
        shape = {3};
      },
      same_index);
  EXPECT_TRUE(contains(m, "/params/all/b has shape [3]")) << m;
  m = edited(
      "nan.h5",
      [](const std::string& t, std::vector<double>& v, std::vector<std::int64_t>&) {
        if (t == "W") v[3] = NAN;
      },
      same_index);
  EXPECT_TRUE(contains(m, "/params/all/W holds a non-finite value")) << m;
  m = edited("index.h5", same_tensor, [](const std::string& column, std::vector<std::int32_t>& v) {
    if (column == "target") v[0] = 9;
  });
  EXPECT_TRUE(contains(m, "/edges/target holds index 9 outside [0, 5)")) << m;
}

namespace {

std::string deck_text(const std::string& sigmoid) {
  return R"(domain:
  lo: [0, 0]
  hi: [100 um, 100 um]
cells:
  types: [epi, mes]
  radius: [5, 6]
grn:
  genes: [A, B, C, D, E]
  edges:
    - {source: A, target: B}
    - {type: mes, source: E, target: A, sign: repression}
)" + sigmoid +
         R"(time:
  end: 10 min
)";
}

// A deck of the grn.sigmoid `keys` with model_file = `path`, and `overrides` (-s) on top.
Deck deck_with_model_file(const std::string& keys, const std::string& path,
                          const std::vector<std::string>& overrides = {}) {
  return Deck::parse(deck_text(keys + "    model_file: " + path + "\n"), "deck.yaml", overrides,
                     all_key_tables());
}

// `model`'s file (written to scratch_path(name)) read through grn.sigmoid.model_file of a deck with the
// grn.sigmoid `keys`: the same parameters. Returns the file's path.
std::string expect_read_back_through_deck(const std::string& keys, const GeneNetwork& net,
                                          const SigmoidModel& model, const std::string& name) {
  const std::string path = written(model, name);
  EXPECT_EQ(
      make_sigmoid_model(MPI_COMM_WORLD, deck_with_model_file(keys, path), net, SignalingParams{}, type_names)
          ->parameters()
          .flat(),
      model.parameters().flat());
  return path;
}

} // namespace

TEST(SigmoidConfig, DeckKeysBuildTheModelAndItsFileIsReadBack) {
  const Deck defaults = Deck::parse(deck_text(""), "deck.yaml", {}, all_key_tables());
  const SigmoidConfig d = read_sigmoid_config(defaults);
  EXPECT_EQ(d.prior, PriorGraph::edges);
  EXPECT_EQ(d.init, SigmoidConfig::Init::ridge);
  EXPECT_TRUE(d.model_file.empty());
  EXPECT_EQ(d.decay_init, 0.1);
  EXPECT_EQ(d.production_init, 1.0);

  const std::string keys =
      "  sigmoid:\n    prior: dense\n    init: random\n    init_seed: 4\n    decay_init: 0.3\n"
      "    production_init: 2\n";
  const Deck deck = Deck::parse(deck_text(keys), "deck.yaml", {}, all_key_tables());
  const GeneNetwork net = read_gene_network(deck, type_names);
  const auto model = make_sigmoid_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names);
  EXPECT_EQ(model->prior(), PriorGraph::dense);
  EXPECT_EQ(model->candidates().n_edges(), 2 * 5 * 4);
  EXPECT_EQ(model->parameters().family(), "sigmoid");
  EXPECT_EQ(model->parameters().n_sets(), 1);
  for (const double rho : model->parameters().tensor(0, "gamma_rho"))
    EXPECT_NEAR(softplus(rho), 0.3, 1e-15);
  for (const double rho : model->parameters().tensor(0, "beta_rho"))
    EXPECT_NEAR(softplus(rho), 2.0, 1e-15);
  // random: bounded by 1 / sqrt(in-degree + 1) = 1 / sqrt(5), not all zero, reproducible from the seed.
  const std::vector<double> W = model->parameters().tensor(0, "W");
  double largest = 0.0;
  for (const double w : W)
    largest = std::max(largest, std::fabs(w));
  EXPECT_GT(largest, 0.05);
  EXPECT_LE(largest, 1.0 / std::sqrt(5.0));
  EXPECT_EQ(make_sigmoid_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names)->parameters().flat(),
            model->parameters().flat());

  // Its model.h5 through grn.sigmoid.model_file, and a deck whose prior differs.
  const std::string path = expect_read_back_through_deck(keys, net, *model, "from_deck.h5");
  const Deck other = deck_with_model_file(keys, path, {"grn.sigmoid.prior=edges"});
  EXPECT_NE(input_error_of([&] {
              make_sigmoid_model(MPI_COMM_WORLD, other, net, SignalingParams{}, type_names);
            }).find("prior = dense but grn.sigmoid.prior = edges"),
            std::string::npos);
  // The factory's deck-only check of a model file (train, predict and run call it before reading data).
  const TrainableModelSpec spec = read_trainable_model_spec(other, "sigmoid");
  EXPECT_EQ(spec.family, "sigmoid");
  EXPECT_FALSE(spec.dense);
  EXPECT_NE(input_error_of([&] {
              spec.check(path, net.genes, type_names);
            }).find("prior = dense but grn.sigmoid.prior = edges"),
            std::string::npos);
  read_trainable_model_spec(deck_with_model_file(keys, path), "sigmoid").check(path, net.genes, type_names);
  for (const char* bad : {"grn.sigmoid.prior=all", "grn.sigmoid.init=glorot", "grn.sigmoid.decay_init=0",
                          "grn.sigmoid.production_init=-1", "grn.sigmoid.init_seed=-2"})
    EXPECT_NE(input_error_of([&] { Deck::parse(deck_text(""), "deck.yaml", {bad}, all_key_tables()); }), "")
        << bad;
}

TEST(SigmoidModel, WarmStartWithLogInputsLinearisesTheLogAtTheMeans) {
  // Log inputs: the drive is W u(x) with u(x) = log(x + 0.05), linearised at the regressors' means xbar: W =
  // 4 c / (beta u'(xbar)) exactly, and on states within 0.02 of xbar ~ 2 the warm-started derivative equals
  // the fit's prediction up to u's curvature, |W| u'' dx^2 / 2 <= 4 * 0.3 / 0.8 * (2.05 * 0.02)^2 / 2
  // / 2.05^2 = 3e-4 per regulator in z, times beta / 4 = 0.2 and at most 4 regulators: 2.4e-4 (sigma's cubic
  // term is 100x smaller). Ignoring u' (W = 4 c / beta, the linear inputs' mapping) gives W half their size
  // here and a worst error of 1.2e-3, 5x the bound. No signalling: the fit has no pair terms.
  const auto x = states_near_two(89);
  Problem p(false, false, 97, log_inputs());
  const LinearDerivativeFits fits = fit_around(p, x, 101, true);
  ASSERT_TRUE(p.model->warm_start(fits));
  EXPECT_LT(worst_against_fit(p, fits, x), 2.4e-4);
  const std::vector<double> W = p.parameters.tensor(0, "W");
  int compared = 0;
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < n_genes; ++k) {
      const LinearDerivativeFit& fit = fits.fit[c][k];
      const double beta = softplus(p.parameters.tensor(0, "beta_rho")[c * n_genes + k]);
      EXPECT_NEAR(beta, 0.8, 1e-12); // 2 x the production 0.4 at the means
      for (std::size_t a = 0; a < fit.regulators.size(); ++a) {
        const double want = 4.0 * fit.regulator_coefficient[a] * (fit.regulator_mean[a] + 0.05) / beta;
        EXPECT_NEAR(W[p.candidates.find(c, fit.regulators[a], k)], want, 1e-12 * std::fabs(want) + 1e-15);
        ++compared;
      }
    }
  EXPECT_GT(compared, 0);
}

TEST(SigmoidModelFile, LogInputsAreStoredAndAFileOfOtherInputsIsAnInputError) {
  Problem p(false, true, 103, log_inputs());
  const std::string path = written(*p.model, "log_inputs.h5");
  {
    h5::File file = h5::File::open_read(path);
    const h5::Handle settings = h5::open_group(file.get(), "sigmoid");
    EXPECT_EQ(h5::read_text_attribute(settings.get(), "inputs"), "log");
    EXPECT_EQ(h5::read_real_attribute(settings.get(), "log_offset"), 0.05);
  }
  EXPECT_EQ(
      read_sigmoid_model(path, p.candidates, PriorGraph::edges, gene_names, type_names, log_inputs()).flat(),
      p.parameters.flat());
  check_sigmoid_model_file(path, PriorGraph::edges, gene_names, type_names, log_inputs());
  // Read for a deck with linear inputs, or another offset: the weights would mean something else.
  std::string m = input_error_of([&] {
    read_sigmoid_model(path, p.candidates, PriorGraph::edges, gene_names, type_names, SigmoidInputs{});
  });
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("inputs = log but grn.sigmoid.inputs = linear"), std::string::npos) << m;
  SigmoidInputs other = log_inputs();
  other.offset = 0.1;
  m = input_error_of(
      [&] { check_sigmoid_model_file(path, PriorGraph::edges, gene_names, type_names, other); });
  EXPECT_NE(m.find("log_offset = 0.05 but grn.sigmoid.log_offset = 0.1"), std::string::npos) << m;
  // A linear model's file says so, and a log deck refuses it.
  Problem linear(false, true, 103);
  const std::string linear_path = written(*linear.model, "linear_inputs.h5");
  {
    h5::File file = h5::File::open_read(linear_path);
    const h5::Handle settings = h5::open_group(file.get(), "sigmoid");
    EXPECT_EQ(h5::read_text_attribute(settings.get(), "inputs"), "linear");
    EXPECT_FALSE(h5::has_attribute(settings.get(), "log_offset"));
  }
  m = input_error_of([&] {
    read_sigmoid_model(linear_path, linear.candidates, PriorGraph::edges, gene_names, type_names,
                       log_inputs());
  });
  EXPECT_NE(m.find("inputs = linear but grn.sigmoid.inputs = log"), std::string::npos) << m;
  // A file without the attribute (written before log inputs existed; write_edited_model writes none) has
  // linear inputs.
  const std::string old = scratch_path("no_inputs_attribute.h5");
  write_edited_model(
      old, *linear.model, [](const std::string&, std::vector<double>&, std::vector<std::int64_t>&) {},
      [](const std::string&, std::vector<std::int32_t>&) {});
  EXPECT_EQ(read_sigmoid_model(old, linear.candidates, PriorGraph::edges, gene_names, type_names).flat(),
            linear.parameters.flat());
  m = input_error_of([&] {
    read_sigmoid_model(old, linear.candidates, PriorGraph::edges, gene_names, type_names, log_inputs());
  });
  EXPECT_NE(m.find("inputs = linear but grn.sigmoid.inputs = log"), std::string::npos) << m;
}

TEST(SigmoidConfig, InputsKeysReachTheModelAndItsFile) {
  const SigmoidConfig d = read_sigmoid_config(Deck::parse(deck_text(""), "deck.yaml", {}, all_key_tables()));
  EXPECT_FALSE(d.inputs.log); // the classic model unless the deck asks
  EXPECT_EQ(d.inputs.offset, 0.05);
  const std::string keys = "  sigmoid:\n    inputs: log\n    log_offset: 0.2\n";
  const Deck deck = Deck::parse(deck_text(keys), "deck.yaml", {}, all_key_tables());
  const GeneNetwork net = read_gene_network(deck, type_names);
  const auto model = make_sigmoid_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names);
  EXPECT_TRUE(model->inputs().log);
  EXPECT_EQ(model->inputs().offset, 0.2);
  const std::string path = expect_read_back_through_deck(keys, net, *model, "log_from_deck.h5");
  const Deck linear = deck_with_model_file(keys, path, {"grn.sigmoid.inputs=linear"});
  EXPECT_NE(input_error_of([&] {
              read_trainable_model_spec(linear, "sigmoid").check(path, net.genes, type_names);
            }).find("inputs = log but grn.sigmoid.inputs = linear"),
            std::string::npos);
  for (const char* bad : {"grn.sigmoid.inputs=log2", "grn.sigmoid.log_offset=0", "grn.sigmoid.log_offset=-1"})
    EXPECT_NE(input_error_of([&] { Deck::parse(deck_text(""), "deck.yaml", {bad}, all_key_tables()); }), "")
        << bad;
}
