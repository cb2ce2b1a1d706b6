// The CVODES adjoint (SPEC §3.3): against the analytic gradient of a linear ODE, against central differences
// of the CVODE forward solve for every graph_ode architecture option, and against the exact discrete adjoint
// of rk4 at a small step; plus its bookkeeping (repeated and rebuilt solves, skipped quadrature, failures).
#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/integrate/cvode.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../grn/graph_ode_fixture.hpp"

using namespace tessera;

namespace {

// ---- A linear ODE with a closed-form solution: x_ik' = s_k - d_k x_ik, theta = [d_0..d_{G-1}, s_0..s_{G-1}]
// (one parameter set), so x_ik(T) = s_k / d_k (1 - E_k) + x_ik(0) E_k with E_k = exp(-d_k T).
class DecayModel : public GeneRhs, public AdjointGeneRhs {
public:
  explicit DecayModel(ParameterGradient theta) : theta_(theta) {}

  void evaluate(double, ConstGeneState x, GeneState dxdt) const override {
    const auto theta = theta_;
    const int genes = static_cast<int>(x.extent(1));
    Kokkos::parallel_for(
        "test::decay::rhs", cells(x), KOKKOS_LAMBDA(const int i, const int k) {
          dxdt(i, k) = theta(0, genes + k) - theta(0, k) * x(i, k);
        });
  }

  void vjp(double, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
           ParameterGradient theta_bar) const override {
    const auto theta = theta_;
    const int genes = static_cast<int>(x.extent(1)), rows = static_cast<int>(x.extent(0));
    if (x_bar.size() > 0)
      Kokkos::parallel_for(
          "test::decay::vjp_state", cells(x),
          KOKKOS_LAMBDA(const int i, const int k) { x_bar(i, k) = -theta(0, k) * lambda(i, k); });
    if (theta_bar.size() > 0)
      Kokkos::parallel_for(
          "test::decay::vjp_params", genes, KOKKOS_LAMBDA(const int k) {
            double d = 0.0, s = 0.0;
            for (int i = 0; i < rows; ++i) {
              d -= lambda(i, k) * x(i, k);
              s += lambda(i, k);
            }
            theta_bar(0, k) += d;
            theta_bar(0, genes + k) += s;
          });
  }

private:
  static Kokkos::MDRangePolicy<Kokkos::Rank<2>> cells(ConstGeneState x) {
    return Kokkos::MDRangePolicy<Kokkos::Rank<2>>(
        {0, 0}, {static_cast<long long>(x.extent(0)), static_cast<long long>(x.extent(1))});
  }
  ParameterGradient theta_;
};

TimeParams tight(CvodeMethod method, double rtol = 1e-10, double atol = 1e-12) {
  TimeParams p;
  p.method = method;
  p.rtol = rtol;
  p.atol = atol;
  p.max_steps = 100000;
  return p;
}

std::vector<double> flat(const Kokkos::View<double**, Kokkos::LayoutRight>& v) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.size());
}

double largest(const std::vector<double>& v) {
  double out = 0.0;
  for (double e : v)
    out = std::max(out, std::fabs(e));
  return out;
}

GeneState copy_of(ConstGeneState x) {
  GeneState out("copy", x.extent(0), x.extent(1));
  Kokkos::deep_copy(out, x);
  return out;
}

} // namespace

TEST(CvodesAdjoint, LinearDecayMatchesTheAnalyticGradient) {
  // Decay rates from 0.3 to 30 /min over T = 1.5 min: mildly stiff. Both passes run at rtol 1e-10, atol
  // 1e-12 (the backward atol scaled by max|w|, here 1): each carries a global error of a few hundred times
  // its local tolerance at most, so the gradients must agree with the closed form to 1e-7 relative to
  // their largest entry (the state to 1e-8).
  const int cells = 6, genes = 4;
  const double t1 = 1.5;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> d(genes), s(genes), x0(cells * genes), w(cells * genes);
  for (int k = 0; k < genes; ++k) {
    d[k] = 0.3 * std::pow(100.0, u(rng));
    s[k] = u(rng);
  }
  for (int e = 0; e < cells * genes; ++e) {
    x0[e] = 2.0 * u(rng);
    w[e] = -1.0 + 2.0 * u(rng);
  }
  ParameterGradient theta("theta", 1, 2 * genes);
  {
    auto h = Kokkos::create_mirror_view(theta);
    for (int k = 0; k < genes; ++k) {
      h(0, k) = d[k];
      h(0, genes + k) = s[k];
    }
    Kokkos::deep_copy(theta, h);
  }
  const DecayModel model(theta);

  // The closed form.
  std::vector<double> x1(cells * genes), x0_bar(cells * genes), theta_bar(2 * genes, 0.0);
  for (int i = 0; i < cells; ++i)
    for (int k = 0; k < genes; ++k) {
      const int e = i * genes + k;
      const double E = std::exp(-d[k] * t1);
      x1[e] = s[k] / d[k] * (1.0 - E) + x0[e] * E;
      x0_bar[e] = w[e] * E;
      theta_bar[k] += w[e] * (-s[k] / (d[k] * d[k]) * (1.0 - E) + s[k] / d[k] * t1 * E - x0[e] * t1 * E);
      theta_bar[genes + k] += w[e] * (1.0 - E) / d[k];
    }

  for (CvodeMethod method : {CvodeMethod::bdf, CvodeMethod::adams}) {
    const std::string name = method == CvodeMethod::bdf ? "bdf" : "adams";
    CvodesAdjoint adjoint(MPI_COMM_SELF, tight(method));
    GeneState x("x", cells, genes), x_bar("x_bar", cells, genes);
    auto hx = Kokkos::create_mirror_view(x);
    auto hw = Kokkos::create_mirror_view(x_bar);
    for (int e = 0; e < cells * genes; ++e) {
      hx.data()[e] = x0[e];
      hw.data()[e] = w[e];
    }
    Kokkos::deep_copy(x, hx);
    Kokkos::deep_copy(x_bar, hw);
    adjoint.forward(model, x, 0.0, t1);
    ParameterGradient gradient("gradient", 1, 2 * genes);
    Kokkos::deep_copy(gradient, 1.0); // reverse() adds to what is there
    adjoint.reverse(model, model, x_bar, gradient);

    const std::vector<double> got_x = flat(x), got_x0_bar = flat(x_bar), got_theta = flat(gradient);
    for (int e = 0; e < cells * genes; ++e) {
      EXPECT_NEAR(got_x[e], x1[e], 1e-8 * largest(x1)) << name << " x(t1)[" << e << "]";
      EXPECT_NEAR(got_x0_bar[e], x0_bar[e], 1e-7 * largest(x0_bar)) << name << " x0_bar[" << e << "]";
    }
    double worst = 0.0;
    for (int p = 0; p < 2 * genes; ++p) {
      EXPECT_NEAR(got_theta[p] - 1.0, theta_bar[p], 1e-7 * largest(theta_bar))
          << name << " theta_bar[" << p << "]";
      worst = std::max(worst, std::fabs(got_theta[p] - 1.0 - theta_bar[p]) / largest(theta_bar));
    }
    const CvodesAdjointStats& st = adjoint.stats();
    std::printf("[ info ] decay %s: worst theta_bar error %.2e relative; %ld forward steps, %ld checkpoints, "
                "%ld backward steps, %ld RHS, %ld state VJPs, %ld parameter VJPs\n",
                name.c_str(), worst, st.forward_steps, st.checkpoints, st.backward_steps, st.rhs_evaluations,
                st.state_vjps, st.parameter_vjps);
    EXPECT_GT(st.checkpoints, 0) << "the interval must span several checkpoints for the test to cover them";
  }
}

namespace {

// ---- graph_ode on the fixture's tissue (7 cells, 5 genes, 2 types, 3 LR pairs).

struct Case {
  AttentionVariant variant = AttentionVariant::gat;
  int heads = 1;
  ParameterSharing share = ParameterSharing::all;
  bool signaling = false;
  CvodeMethod method = CvodeMethod::bdf;
  std::string name() const {
    return to_string(variant) + " K=" + std::to_string(heads) + " share=" + to_string(share) +
           (signaling ? " signaling" : "") + (method == CvodeMethod::bdf ? " bdf" : " adams");
  }
};

// A model with its tissue: the graph and the exchange must outlive the model's evaluations.
struct Problem {
  GraphOdeParameters parameters;
  SignalingGraph graph;
  LigandExchange exchange;
  std::unique_ptr<GraphOdeModel> model;

  Problem(const Case& c, unsigned seed) : exchange(small_ligand_genes()) {
    GraphOdeArchitecture a;
    a.variant = c.variant;
    a.heads = c.heads;
    a.hidden = 3;
    a.mlp_width = 4;
    a.mlp_layers = 2;
    a.share = c.share;
    parameters = GraphOdeParameters(a, gene_names, type_names);
    randomize(parameters, seed, 0.6);
    model = std::make_unique<GraphOdeModel>(parameters, small_network(), small_pairs());
    model->set_cell_types(device_copy("types", cell_types));
    graph = device_graph(HostGraph{});
    exchange.set_halo(nullptr, n_cells, 0);
    if (c.signaling) model->set_signaling(&graph, &exchange);
  }
};

struct Gradient {
  std::vector<double> x_t1, x0_bar, theta_bar;
  CvodesAdjointStats stats;
};

Gradient cvodes_gradient(Problem& p, const TimeParams& params, const GeneState& x0, const GeneState& w,
                         double t1, CvodesAdjointOptions options = {}) {
  CvodesAdjoint adjoint(MPI_COMM_SELF, params, options);
  GeneState x = copy_of(x0), x_bar = copy_of(w);
  adjoint.forward(*p.model, x, 0.0, t1);
  ParameterGradient theta_bar("theta_bar", p.parameters.values().extent(0), p.parameters.values().extent(1));
  adjoint.reverse(*p.model, *p.model, x_bar, theta_bar);
  return {flat(x), flat(x_bar), flat(theta_bar), adjoint.stats()};
}

// L = <w, x(t1)> through a fresh CvodeIntegrator (the simulation's forward solver), so that no step size
// carries over from one evaluation to the next.
double loss_through_cvode(Problem& p, const TimeParams& params, const GeneState& x0, const GeneState& w,
                          double t1) {
  GeneState x = copy_of(x0);
  CvodeIntegrator(MPI_COMM_SELF, params).advance(*p.model, x, 0.0, t1);
  const std::vector<double> xs = flat(x), ws = flat(w);
  double sum = 0.0;
  for (std::size_t e = 0; e < xs.size(); ++e)
    sum += ws[e] * xs[e];
  return sum;
}

} // namespace

TEST(CvodesAdjoint, GraphOdeMatchesCentralDifferencesOfTheCvodeForward) {
  // Directional derivatives: for the initial state and for every parameter tensor of every set, a random
  // direction v (entries U(-1, 1)) against central differences of L along v through the CVODE forward solve
  // at rtol 1e-12, atol 1e-14; the adjoint runs at rtol 1e-10, atol 1e-12. On a smooth RHS both would agree
  // to ~1e-8 (the decay test above: 3e-11 .. 2e-9). graph_ode's ReLU / LeakyReLU units switch all along the
  // trajectory, which makes L only piecewise smooth in theta and the differences the weak side. Measured on
  // these cases (errors relative to the size of the terms, sum |v_e gradient_e|):
  // - the adjoint: rtol 1e-10 vs 1e-12 differ by 1e-9 .. 1e-6 (the larger figure for the attention tensors,
  //   whose gradients are 1e-4 .. 1e-8 of the others'); rk4's adjoint at dt = 1e-4 agrees to ~2e-5;
  // - the differences: where a unit is close to switching, L''' is large or L' has a kink near theta:
  //   D(h) = (L(h) - L(-h)) / 2h is off by up to 2e-3 at h = 1e-3 and 2e-5 at h = 1e-4, and the forward's
  //   error jumps by ~1e-10 when a perturbation changes the step sequence (1e-6 absolute at h = 1e-4).
  // So: Richardson's (4 D(h) - D(2h)) / 3 at h = 5e-4 (removes the smooth h^2 term; measured residual up to
  // 8e-5), compared to 2e-4 of the terms' size plus 1e-6 absolute; directions where D(h) and D(2h) differ by
  // more than 3e-4 of the size (a unit switches within the stencil) are counted, not checked, and must be
  // rare. A wrong gradient term is off by O(1) relative. (rk4's adjoint test, exact up to rounding: 1e-7.)
  const double t1 = 0.5, h = 5e-4;
  int skipped = 0;
  int cases = 0, checked = 0, nonzero = 0;
  double worst = 0.0;
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int heads : {1, 2})
      for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
        for (bool signaling : {false, true}) {
          Case c;
          c.variant = variant;
          c.heads = heads;
          c.share = share;
          c.signaling = signaling;
          c.method = cases % 2 ? CvodeMethod::adams : CvodeMethod::bdf; // both backward solvers
          const TimeParams params = tight(c.method), differenced = tight(c.method, 1e-12, 1e-14);
          Problem p(c, 300u + static_cast<unsigned>(cases));
          const GeneState x0 = to_device(random_state(40u + static_cast<unsigned>(cases)));
          std::mt19937 rng(70u + static_cast<unsigned>(cases));
          std::uniform_real_distribution<double> u(-1.0, 1.0);
          GeneState w("w", n_cells, n_genes);
          {
            auto hw = Kokkos::create_mirror_view(w);
            for (std::size_t e = 0; e < hw.size(); ++e)
              hw.data()[e] = u(rng);
            Kokkos::deep_copy(w, hw);
          }
          const Gradient g = cvodes_gradient(p, params, x0, w, t1);
          ++cases;

          auto compare = [&](double expected, const auto& loss_at, double size, const std::string& what) {
            const double near = (loss_at(h) - loss_at(-h)) / (2.0 * h);
            const double far = (loss_at(2.0 * h) - loss_at(-2.0 * h)) / (4.0 * h);
            const double fd = (4.0 * near - far) / 3.0;
            if (std::fabs(far - near) > 3e-4 * size + 1e-6) {
              ++skipped;
              return;
            }
            EXPECT_NEAR(expected, fd, 2e-4 * size + 1e-6) << c.name() << " " << what;
            worst = std::max(worst, std::fabs(expected - fd) / (2e-4 * size + 1e-6));
            ++checked;
            nonzero += std::fabs(fd) > 1e-3;
          };
          // The initial state.
          {
            std::vector<double> v(n_cells * n_genes);
            for (double& e : v)
              e = u(rng);
            auto shifted = [&](double step) {
              GeneState x = copy_of(x0);
              auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
              for (std::size_t e = 0; e < v.size(); ++e)
                hx.data()[e] += step * v[e];
              Kokkos::deep_copy(x, hx);
              return loss_through_cvode(p, differenced, x, w, t1);
            };
            double expected = 0.0, size = 0.0;
            for (std::size_t e = 0; e < v.size(); ++e) {
              expected += g.x0_bar[e] * v[e];
              size += std::fabs(g.x0_bar[e] * v[e]);
            }
            compare(expected, shifted, size, "x0");
          }
          // Every tensor of every set.
          auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.parameters.values());
          const std::size_t stride = p.parameters.layout().size();
          for (int s = 0; s < p.parameters.n_sets(); ++s)
            for (const TensorSpec& t : p.parameters.layout().tensors()) {
              std::vector<double> v(t.size());
              for (double& e : v)
                e = u(rng);
              auto shifted = [&](double step) {
                for (std::size_t e = 0; e < v.size(); ++e)
                  values.data()[s * stride + t.offset + e] += step * v[e];
                Kokkos::deep_copy(p.parameters.values(), values); // the model shares this View
                const double loss = loss_through_cvode(p, differenced, x0, w, t1);
                for (std::size_t e = 0; e < v.size(); ++e)
                  values.data()[s * stride + t.offset + e] -= step * v[e];
                Kokkos::deep_copy(p.parameters.values(), values);
                return loss;
              };
              double expected = 0.0, size = 0.0;
              for (std::size_t e = 0; e < v.size(); ++e) {
                expected += g.theta_bar[s * stride + t.offset + e] * v[e];
                size += std::fabs(g.theta_bar[s * stride + t.offset + e] * v[e]);
              }
              compare(expected, shifted, size, "set " + std::to_string(s) + " " + t.name);
            }
          if (cases == 1)
            std::printf(
                "[ info ] %s: %ld forward steps, %ld checkpoints, %ld backward steps, %ld RHS, %ld state "
                "VJPs, %ld parameter VJPs\n",
                c.name().c_str(), g.stats.forward_steps, g.stats.checkpoints, g.stats.backward_steps,
                g.stats.rhs_evaluations, g.stats.state_vjps, g.stats.parameter_vjps);
        }
  EXPECT_EQ(cases, 16);
  EXPECT_LE(skipped, checked / 10) << "too many directions with a kink inside the stencil";
  EXPECT_GT(nonzero, checked / 2) << "most derivatives must be far from zero for the test to mean anything";
  std::printf("[ info ] %d cases, %d directional derivatives (%d skipped at a kink), worst error "
              "%.2f of its tolerance\n",
              cases, checked, skipped, worst);
}

TEST(CvodesAdjoint, AgreesWithTheRk4AdjointAtASmallStep) {
  // Two different gradients of the same loss: rk4's is the exact derivative of its discrete map, CVODES's
  // the continuous adjoint solved to a tolerance. On a smooth RHS (the decay model) the discrete map's
  // derivative is within O(dt^4) of the ODE's (dt = 1/2000, d dt <= 0.015: ~1e-10 relative) and CVODES at
  // rtol 1e-10 within O(tol): 1e-8 relative to the largest entry.
  // On graph_ode, every rk4 step that straddles a ReLU / LeakyReLU kink samples df/dx on one side of it
  // only, so its derivative is off by O(dt |jump of df/dx|): first order, not fourth. Measured at dt = 1/500,
  // 1/1000, 1/4000: rk4's theta_bar moves by up to 3e-5 relative to the largest entry, while CVODES's at
  // rtol 1e-10 and 1e-12, Adams and BDF, agree to 1e-8. So 5e-5 relative to the largest entry at dt = 1/1000
  // (x(t1) to 1e-6, the solution itself being second order near a kink).
  {
    const int cells = 6, genes = 4;
    std::mt19937 rng(6);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    ParameterGradient theta("theta", 1, 2 * genes);
    auto ht = Kokkos::create_mirror_view(theta);
    for (int k = 0; k < genes; ++k) {
      ht(0, k) = 0.3 * std::pow(25.0, u(rng)); // 0.3 .. 7.5 /min
      ht(0, genes + k) = u(rng);
    }
    Kokkos::deep_copy(theta, ht);
    const DecayModel model(theta);
    GeneState x0("x0", cells, genes), w("w", cells, genes);
    auto hx = Kokkos::create_mirror_view(x0);
    auto hw = Kokkos::create_mirror_view(w);
    for (std::size_t e = 0; e < hx.size(); ++e) {
      hx.data()[e] = 2.0 * u(rng);
      hw.data()[e] = -1.0 + 2.0 * u(rng);
    }
    Kokkos::deep_copy(x0, hx);
    Kokkos::deep_copy(w, hw);
    CvodesAdjoint cvodes(MPI_COMM_SELF, tight(CvodeMethod::bdf));
    GeneState x = copy_of(x0), x_bar = copy_of(w);
    cvodes.forward(model, x, 0.0, 1.5);
    ParameterGradient theta_bar("theta_bar", 1, 2 * genes);
    cvodes.reverse(model, model, x_bar, theta_bar);
    Rk4Adjoint rk4(1.0 / 2000.0);
    GeneState y = copy_of(x0), y_bar = copy_of(w);
    rk4.forward(model, y, 0.0, 1.5);
    ParameterGradient rk_theta_bar("rk_theta_bar", 1, 2 * genes);
    rk4.reverse(model, model, y_bar, rk_theta_bar);
    const std::vector<double> a = flat(theta_bar), b = flat(rk_theta_bar), ax = flat(x_bar), bx = flat(y_bar);
    for (std::size_t e = 0; e < a.size(); ++e)
      EXPECT_NEAR(a[e], b[e], 1e-8 * largest(b)) << "decay theta_bar[" << e << "]";
    for (std::size_t e = 0; e < ax.size(); ++e)
      EXPECT_NEAR(ax[e], bx[e], 1e-8 * largest(bx)) << "decay x0_bar[" << e << "]";
  }
  int index = 0;
  for (const auto& [variant, share, method] :
       {std::tuple{AttentionVariant::gat, ParameterSharing::per_type, CvodeMethod::bdf},
        std::tuple{AttentionVariant::gatv2, ParameterSharing::all, CvodeMethod::adams}}) {
    Case c;
    c.variant = variant;
    c.heads = 2;
    c.share = share;
    c.signaling = true;
    c.method = method;
    Problem p(c, 500u + static_cast<unsigned>(index));
    const GeneState x0 = to_device(random_state(60u + static_cast<unsigned>(index)));
    const GeneState w = to_device(random_state(80u + static_cast<unsigned>(index)));
    ++index;
    const double t1 = 1.0;
    const Gradient g = cvodes_gradient(p, tight(method), x0, w, t1);

    Rk4Adjoint rk4(1.0 / 1000.0);
    GeneState x = copy_of(x0), x_bar = copy_of(w);
    rk4.forward(*p.model, x, 0.0, t1);
    ParameterGradient theta_bar("theta_bar", p.parameters.values().extent(0),
                                p.parameters.values().extent(1));
    rk4.reverse(*p.model, *p.model, x_bar, theta_bar);
    const std::vector<double> rk_x = flat(x), rk_x0_bar = flat(x_bar), rk_theta = flat(theta_bar);
    double worst = 0.0;
    for (std::size_t e = 0; e < rk_x.size(); ++e) {
      EXPECT_NEAR(g.x_t1[e], rk_x[e], 1e-6 * largest(rk_x)) << c.name() << " x(t1)[" << e << "]";
      EXPECT_NEAR(g.x0_bar[e], rk_x0_bar[e], 5e-5 * largest(rk_x0_bar)) << c.name() << " x0_bar[" << e << "]";
      worst = std::max(worst, std::fabs(g.x0_bar[e] - rk_x0_bar[e]) / largest(rk_x0_bar));
    }
    for (std::size_t e = 0; e < rk_theta.size(); ++e) {
      EXPECT_NEAR(g.theta_bar[e], rk_theta[e], 5e-5 * largest(rk_theta))
          << c.name() << " theta_bar[" << e << "]";
      worst = std::max(worst, std::fabs(g.theta_bar[e] - rk_theta[e]) / largest(rk_theta));
    }
    std::printf("[ info ] %s vs rk4: worst difference %.2e relative to the largest entry\n", c.name().c_str(),
                worst);
  }
}

TEST(CvodesAdjoint, ForwardTakesTheStepsOfCvodeIntegrator) {
  for (CvodeMethod method : {CvodeMethod::bdf, CvodeMethod::adams}) {
    Case c;
    c.signaling = true;
    c.method = method;
    Problem p(c, 7);
    const TimeParams params = tight(method, 1e-6, 1e-8);
    const GeneState x0 = to_device(random_state(3));
    GeneState a = copy_of(x0), b = copy_of(x0);
    CvodesAdjoint(MPI_COMM_SELF, params).forward(*p.model, a, 0.0, 2.0);
    CvodeIntegrator(MPI_COMM_SELF, params).advance(*p.model, b, 0.0, 2.0);
    const std::vector<double> fa = flat(a), fb = flat(b);
    for (std::size_t e = 0; e < fa.size(); ++e)
      EXPECT_EQ(fa[e], fb[e]) << c.name() << " entry " << e;
  }
}

TEST(CvodesAdjoint, RepeatsRebuildsAndSkipsTheQuadrature) {
  Case c;
  c.signaling = true;
  c.share = ParameterSharing::per_type;
  Problem p(c, 11);
  const TimeParams params = tight(CvodeMethod::bdf, 1e-8, 1e-10);
  const GeneState x0 = to_device(random_state(12)), w = to_device(random_state(13));
  const Gradient reference = cvodes_gradient(p, params, x0, w, 1.0);
  const std::size_t sets = p.parameters.values().extent(0), size = p.parameters.values().extent(1);

  CvodesAdjoint adjoint(MPI_COMM_SELF, params);
  // A first problem of another size (4 cells), so that the second forward() must rebuild.
  {
    GeneState small("small", 4, n_genes), small_bar("small_bar", 4, n_genes);
    Kokkos::deep_copy(small, 0.5);
    Kokkos::deep_copy(small_bar, 1.0);
    DecayModel decay([&] {
      ParameterGradient theta("theta", 1, 2 * n_genes);
      Kokkos::deep_copy(theta, 0.7);
      return theta;
    }());
    adjoint.forward(decay, small, 0.0, 0.5);
    ParameterGradient theta_bar("theta_bar", 1, 2 * n_genes);
    adjoint.reverse(decay, decay, small_bar, theta_bar);
  }
  GeneState x = copy_of(x0);
  adjoint.forward(*p.model, x, 0.0, 1.0);
  EXPECT_EQ(flat(x), reference.x_t1) << "forward() depends on its arguments only";

  // Without the quadrature first (an empty View), then with it: the backward problem is rebuilt with a
  // quadrature and the forward pass redone. The quadrature is excluded from error control, so it does not
  // change the backward steps: x0_bar is the same to the last bit.
  GeneState x_bar = copy_of(w);
  adjoint.reverse(*p.model, *p.model, x_bar, ParameterGradient());
  EXPECT_EQ(flat(x_bar), reference.x0_bar);
  for (int repeat = 0; repeat < 2; ++repeat) {
    x_bar = copy_of(w);
    ParameterGradient theta_bar("theta_bar", sets, size);
    adjoint.reverse(*p.model, *p.model, x_bar, theta_bar);
    const std::vector<double> x0_bar = flat(x_bar), theta = flat(theta_bar);
    // A second reverse() recomputes the last checkpoint interval that the first had from CVodeF: the same
    // steps up to the solver's setup decisions, so to O(tol) rather than bit for bit.
    for (std::size_t e = 0; e < x0_bar.size(); ++e)
      EXPECT_NEAR(x0_bar[e], reference.x0_bar[e], 1e-6 * largest(reference.x0_bar)) << repeat << " " << e;
    for (std::size_t e = 0; e < theta.size(); ++e)
      EXPECT_NEAR(theta[e], reference.theta_bar[e], 1e-6 * largest(reference.theta_bar))
          << repeat << " " << e;
  }
}

TEST(CvodesAdjoint, BackwardToleranceFactorTradesAccuracyForSteps) {
  // At the deck's default rtol 1e-6 the backward pass of graph_ode takes several times the forward's steps
  // (its RHS jumps where units switch); a looser backward tolerance takes fewer, and the gradient's error
  // stays of the order of the backward rtol (measured against rtol 1e-10 on both passes: 394 backward steps
  // for 63 forward ones and 4e-6 relative to the largest entry; with the factor 100, 77 steps and 6e-4).
  // Bounds: 50 x the backward rtol.
  Case c;
  c.variant = AttentionVariant::gatv2;
  c.heads = 2;
  c.share = ParameterSharing::per_type;
  c.signaling = true;
  Problem p(c, 21);
  const GeneState x0 = to_device(random_state(22)), w = to_device(random_state(23));
  const Gradient reference = cvodes_gradient(p, tight(CvodeMethod::bdf), x0, w, 1.0);
  const TimeParams deck = tight(CvodeMethod::bdf, 1e-6, 1e-8);
  CvodesAdjointOptions loose;
  loose.backward_tolerance_factor = 100.0;
  const Gradient same = cvodes_gradient(p, deck, x0, w, 1.0),
                 looser = cvodes_gradient(p, deck, x0, w, 1.0, loose);
  auto error = [&](const Gradient& g) {
    double worst = 0.0;
    for (std::size_t e = 0; e < g.theta_bar.size(); ++e)
      worst = std::max(worst, std::fabs(g.theta_bar[e] - reference.theta_bar[e]));
    return worst / largest(reference.theta_bar);
  };
  std::printf("[ info ] rtol 1e-6: forward %ld steps; backward %ld steps (error %.1e), x100: %ld steps "
              "(error %.1e)\n",
              same.stats.forward_steps, same.stats.backward_steps, error(same), looser.stats.backward_steps,
              error(looser));
  EXPECT_LT(looser.stats.backward_steps, same.stats.backward_steps);
  EXPECT_LT(error(same), 50 * 1e-6);
  EXPECT_LT(error(looser), 50 * 1e-4);
}

namespace {

class FailingModel : public GeneRhs, public AdjointGeneRhs {
public:
  void evaluate(double t, ConstGeneState, GeneState dxdt) const override {
    if (t > 0.25) throw runtime_error("the model cannot evaluate past t = 0.25");
    Kokkos::deep_copy(dxdt, 1.0);
  }
  void vjp(double, ConstGeneState, ConstGeneState, GeneState, ParameterGradient) const override {
    throw runtime_error("no VJP here");
  }
};

} // namespace

TEST(CvodesAdjoint, FailuresThrowWithTheReason) {
  const FailingModel model;
  CvodesAdjoint adjoint(MPI_COMM_SELF, tight(CvodeMethod::bdf, 1e-6, 1e-8));
  GeneState x("x", 3, 2), x_bar("x_bar", 3, 2);
  EXPECT_THROW(adjoint.reverse(model, model, x_bar, ParameterGradient()), Error);
  try {
    adjoint.forward(model, x, 0.0, 1.0);
    ADD_FAILURE() << "forward() must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CVodeF"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot evaluate past"), std::string::npos) << e.what();
  }
  adjoint.forward(model, x, 0.0, 0.2);
  Kokkos::deep_copy(x_bar, 1.0);
  try {
    adjoint.reverse(model, model, x_bar, ParameterGradient());
    ADD_FAILURE() << "reverse() must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CVodeB"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no VJP here"), std::string::npos) << e.what();
  }
}

TEST(CvodesAdjoint, LearnableHillMatchesCentralDifferencesOfTheCvodeForward) {
  // The learnable hill model on the fixture's tissue with signalling, learned and fixed n, both methods:
  // directional derivatives for x0 and every tensor against central differences through the CVODE forward
  // solve (rtol 1e-12, atol 1e-14), Richardson-extrapolated at h = 5e-4 as in the graph_ode test above. The
  // RHS is smooth while the states stay above 0 (x0 in [0.2, 1.6]), so nothing is skipped, and the tolerance
  // is that of the smooth decay test's accuracy (~1e-8 of the terms) with a margin: 1e-6 of the terms' size.
  const double t1 = 0.5, h = 5e-4;
  int cases = 0, checked = 0, nonzero = 0;
  double worst = 0.0;
  for (bool learn_n : {true, false})
    for (CvodeMethod method : {CvodeMethod::bdf, CvodeMethod::adams}) {
      const std::string what =
          std::string(learn_n ? "learned n" : "fixed n") + (method == CvodeMethod::bdf ? " bdf" : " adams");
      LearnableHillConfig config;
      config.learn_n = learn_n;
      GeneNetwork net = small_network();
      net.edges.erase(net.edges.begin() + 6); // D -> D: the learnable model has no self loops
      LearnableHillModel model(config, net, type_names, small_pairs());
      ModelParameters& parameters = model.parameters();
      std::mt19937 rng(90u + static_cast<unsigned>(cases));
      std::uniform_real_distribution<double> u(-1.0, 1.0);
      for (const TensorSpec& t : parameters.layout().tensors()) {
        std::vector<double> v(t.size());
        for (double& e : v)
          e = t.sparse ? 1.5 * u(rng) : u(rng);
        parameters.set_tensor(0, t.name, v);
      }
      const SignalingGraph graph = device_graph(HostGraph{});
      LigandExchange exchange(small_ligand_genes());
      exchange.set_halo(nullptr, n_cells, 0);
      model.set_cell_types(device_copy("types", cell_types));
      model.set_signaling(&graph, &exchange);
      const TimeParams params = tight(method), differenced = tight(method, 1e-12, 1e-14);
      std::vector<std::vector<double>> start(n_cells, std::vector<double>(n_genes));
      for (auto& row : start)
        for (double& v : row)
          v = 0.9 + 0.7 * u(rng);
      const GeneState x0 = to_device(start);
      GeneState w("w", n_cells, n_genes);
      {
        auto hw = Kokkos::create_mirror_view(w);
        for (std::size_t e = 0; e < hw.size(); ++e)
          hw.data()[e] = u(rng);
        Kokkos::deep_copy(w, hw);
      }
      CvodesAdjoint adjoint(MPI_COMM_SELF, params);
      GeneState x = copy_of(x0), x_bar = copy_of(w);
      adjoint.forward(model, x, 0.0, t1);
      ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
      adjoint.reverse(model, model, x_bar, theta_bar);
      const std::vector<double> x0_bar = flat(x_bar), theta = flat(theta_bar);
      ++cases;
      auto loss_of = [&](const GeneState& initial) {
        GeneState y = copy_of(initial);
        CvodeIntegrator(MPI_COMM_SELF, differenced).advance(model, y, 0.0, t1);
        const std::vector<double> ys = flat(y), ws = flat(w);
        double sum = 0.0;
        for (std::size_t e = 0; e < ys.size(); ++e)
          sum += ws[e] * ys[e];
        return sum;
      };
      auto compare = [&](double expected, const auto& loss_at, double size, const std::string& entry) {
        const double near = (loss_at(h) - loss_at(-h)) / (2.0 * h);
        const double far = (loss_at(2.0 * h) - loss_at(-2.0 * h)) / (4.0 * h);
        const double fd = (4.0 * near - far) / 3.0;
        EXPECT_NEAR(expected, fd, 1e-6 * size + 1e-9) << what << " " << entry;
        worst = std::max(worst, std::fabs(expected - fd) / (1e-6 * size + 1e-9));
        ++checked;
        nonzero += std::fabs(fd) > 1e-3;
      };
      {
        std::vector<double> v(n_cells * n_genes);
        for (double& e : v)
          e = u(rng);
        auto shifted = [&](double step) {
          GeneState y = copy_of(x0);
          auto hy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
          for (std::size_t e = 0; e < v.size(); ++e)
            hy.data()[e] += step * v[e];
          Kokkos::deep_copy(y, hy);
          return loss_of(y);
        };
        double expected = 0.0, size = 0.0;
        for (std::size_t e = 0; e < v.size(); ++e) {
          expected += x0_bar[e] * v[e];
          size += std::fabs(x0_bar[e] * v[e]);
        }
        compare(expected, shifted, size, "x0");
      }
      auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
      for (const TensorSpec& t : parameters.layout().tensors()) {
        std::vector<double> v(t.size());
        for (double& e : v)
          e = u(rng);
        auto shifted = [&](double step) {
          for (std::size_t e = 0; e < v.size(); ++e)
            values.data()[t.offset + e] += step * v[e];
          Kokkos::deep_copy(parameters.values(), values);
          const double loss = loss_of(x0);
          for (std::size_t e = 0; e < v.size(); ++e)
            values.data()[t.offset + e] -= step * v[e];
          Kokkos::deep_copy(parameters.values(), values);
          return loss;
        };
        double expected = 0.0, size = 0.0;
        for (std::size_t e = 0; e < v.size(); ++e) {
          expected += theta[t.offset + e] * v[e];
          size += std::fabs(theta[t.offset + e] * v[e]);
        }
        compare(expected, shifted, size, t.name);
      }
    }
  EXPECT_EQ(cases, 4);
  EXPECT_GT(nonzero, checked / 2) << "most derivatives must be far from zero for the test to mean anything";
  std::printf(
      "[ info ] learnable hill: %d cases, %d directional derivatives, worst error %.2f of its tolerance\n",
      cases, checked, worst);
}
