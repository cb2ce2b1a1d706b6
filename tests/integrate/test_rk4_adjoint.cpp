// The discrete adjoint of `rk4` (SPEC §3.3) against central finite differences of a scalar loss through
// Rk4Integrator::advance, for the graph_ode model and the learnable hill model (HillModel itself has no VJP)
// with intra- and intercellular edges.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/integrate/rk4.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

using namespace tessera;

namespace {

constexpr int n_cells = 6;
constexpr int n_genes = 4;

GeneNetwork network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = {"A", "B", "C", "D"};
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2},
               {-1, 1, 2, -1, 1, 0.5, 2},
               {0, 2, 0, +1, 1, 0.5, 2},
               {1, 3, 0, -1, 1, 0.5, 2}};
  return net;
}

std::vector<LigandReceptorPair> pairs() {
  LigandReceptorPair a, b;
  a.ligand = 0;
  a.receptor = 3;
  b.ligand = 2;
  b.receptor = 3;
  return {a, b};
}

template <class T>
Kokkos::View<T*> device_copy(const std::string& label, const std::vector<T>& v) {
  Kokkos::View<T*> out(label, v.size());
  auto h = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < v.size(); ++i)
    h(i) = v[i];
  Kokkos::deep_copy(out, h);
  return out;
}

// The loss L = sum_ik c_ik x_ik(t1) + 0.5 x_ik(t1)^2 and the size of its terms (for the rounding floor).
struct Loss {
  std::vector<double> c;
  double operator()(const GeneState& x, double* scale = nullptr) const {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    double sum = 0.0, size = 0.0;
    for (std::size_t e = 0; e < h.size(); ++e) {
      const double term = c[e] * h.data()[e] + 0.5 * h.data()[e] * h.data()[e];
      sum += term;
      size += std::fabs(term);
    }
    if (scale) *scale = size;
    return sum;
  }
  GeneState gradient(const GeneState& x) const {
    GeneState out("x_bar", x.extent(0), x.extent(1));
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    auto o = Kokkos::create_mirror_view(out);
    for (std::size_t e = 0; e < h.size(); ++e)
      o.data()[e] = c[e] + h.data()[e];
    Kokkos::deep_copy(out, o);
    return out;
  }
};

} // namespace

TEST(Rk4Adjoint, MatchesCentralDifferencesOfALossThroughRk4) {
  // Step 1e-6 relative: truncation ~1e-12, rounding ~1e-16 |L| / h; the adjoint is exact up to rounding, so
  // it must agree to 1e-7 relative (plus that floor). Entries whose +-h straddles a ReLU kink somewhere in
  // the trajectory are skipped (the one-sided differences then disagree).
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2}) {
    GraphOdeArchitecture a;
    a.variant = variant;
    a.heads = 2;
    a.hidden = 4;
    a.mlp_width = 6;
    a.mlp_layers = 3;
    a.share = ParameterSharing::per_type;
    GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
    std::mt19937 rng(variant == AttentionVariant::gat ? 3 : 4);
    std::uniform_real_distribution<double> u(-0.6, 0.6);
    for (int s = 0; s < parameters.n_sets(); ++s)
      for (const TensorSpec& t : parameters.layout().tensors()) {
        std::vector<double> v(t.size());
        for (double& e : v)
          e = u(rng);
        parameters.set_tensor(s, t.name, v);
      }
    GraphOdeModel model(parameters, network(), pairs());
    model.set_cell_types(device_copy<int>("types", {0, 1, 1, 0, 1, 0}));
    SignalingGraph graph; // cell 1 hears itself (autocrine), cell 4 hears nobody
    graph.offsets = device_copy<int>("offsets", {0, 2, 4, 5, 7, 7, 9});
    graph.source = device_copy<int>("source", {1, 3, 1, 2, 0, 2, 5, 0, 4});
    graph.weight = device_copy<double>("weight", {0.8, 0.3, 1.0, 0.6, 0.45, 0.9, 0.7, 0.15, 0.5});
    graph.n_owned = n_cells;
    LigandExchange exchange({0, 2});
    exchange.set_halo(nullptr, n_cells, 0);
    model.set_signaling(&graph, &exchange);

    GeneState x0("x0", n_cells, n_genes);
    auto hx = Kokkos::create_mirror_view(x0);
    Loss loss;
    for (std::size_t e = 0; e < hx.size(); ++e) {
      hx.data()[e] = 0.2 + 1.2 * (u(rng) + 0.6);
      loss.c.push_back(u(rng));
    }
    Kokkos::deep_copy(x0, hx);
    const double t0 = 0.0, t1 = 2.0, dt = 0.3; // 7 substeps

    // The adjoint.
    Rk4Adjoint rk4_adjoint(dt);
    GeneState x("x", n_cells, n_genes);
    Kokkos::deep_copy(x, x0);
    rk4_adjoint.forward(model, x, t0, t1);
    EXPECT_EQ(rk4_adjoint.substeps(), 7);
    GeneState reference("reference", n_cells, n_genes);
    Kokkos::deep_copy(reference, x0);
    Rk4Integrator(dt).advance(model, reference, t0, t1);
    {
      const auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
      const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), reference);
      for (std::size_t e = 0; e < p.size(); ++e)
        ASSERT_EQ(p.data()[e], q.data()[e]) << "forward() must be Rk4Integrator::advance, bit for bit";
    }
    GeneState x_bar = loss.gradient(x);
    ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
    rk4_adjoint.reverse(model, model, x_bar, theta_bar);
    const auto x0_bar = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
    const auto theta_bar_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);

    // L as a function of one value (an entry of x0 or of the parameters, in a host mirror that `sync` copies
    // to where the model reads it), through the real integrator.
    GeneState trial("trial", n_cells, n_genes);
    Rk4Integrator integrator(dt);
    auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
    auto sync = [&] {
      Kokkos::deep_copy(x0, hx);
      Kokkos::deep_copy(parameters.values(), values); // the model shares this View
    };
    auto loss_at = [&](double* value, double v, double* scale) {
      const double saved = *value;
      *value = v;
      sync();
      Kokkos::deep_copy(trial, x0);
      integrator.advance(model, trial, t0, t1);
      *value = saved;
      sync();
      return loss(trial, scale);
    };
    int checked = 0, skipped = 0, nonzero = 0;
    // Central difference at step h and, to detect a kink inside the stencil, the second differences at h and
    // 2h: for a smooth loss D(2h) = 2 D(h) up to O(h^2).
    auto check = [&](double* value, double expected, const std::string& what) {
      const double v0 = *value, h = 1e-6 * std::max(1.0, std::fabs(v0));
      double scale = 0.0;
      const double l0 = loss_at(value, v0, &scale);
      const double lp = loss_at(value, v0 + h, nullptr), lm = loss_at(value, v0 - h, nullptr);
      const double lp2 = loss_at(value, v0 + 2 * h, nullptr), lm2 = loss_at(value, v0 - 2 * h, nullptr);
      const double noise = 1e-16 * scale / h;
      const double d1 = (lp - 2 * l0 + lm) / h, d2 = (lp2 - 2 * l0 + lm2) / (2 * h);
      if (std::fabs(d2 - 2 * d1) > 0.2 * std::fabs(d1) + 100 * noise) {
        ++skipped;
        return;
      }
      const double fd = (lp - lm) / (2 * h);
      EXPECT_NEAR(expected, fd, 1e-7 * std::fabs(fd) + 10 * noise + 1e-13)
          << to_string(variant) << " " << what;
      ++checked;
      nonzero += std::fabs(fd) > 1e-3;
    };
    for (std::size_t e = 0; e < hx.size(); ++e)
      check(hx.data() + e, x0_bar.data()[e], "x0[" + std::to_string(e) + "]");
    std::mt19937 pick(9);
    const std::size_t stride = parameters.layout().size();
    for (int s = 0; s < parameters.n_sets(); ++s)
      for (const TensorSpec& t : parameters.layout().tensors()) {
        std::vector<std::size_t> entries;
        for (std::size_t e = 0; e < t.size(); ++e)
          entries.push_back(e);
        if (t.size() > 8) {
          std::shuffle(entries.begin(), entries.end(), pick);
          entries.resize(6);
        }
        for (std::size_t e : entries) {
          const std::size_t flat = s * stride + t.offset + e;
          check(values.data() + flat, theta_bar_host.data()[flat],
                "set " + std::to_string(s) + " " + t.name + "[" + std::to_string(e) + "]");
        }
      }
    EXPECT_LT(skipped, checked / 20);
    EXPECT_GT(nonzero, checked / 3) << "many derivatives must be far from zero for the test to mean anything";
    std::printf("[ info ] %s: %d entries checked (%d with |derivative| > 1e-3), %d skipped at a kink\n",
                to_string(variant).c_str(), checked, nonzero, skipped);
  }
}

TEST(Rk4Adjoint, LearnableHillMatchesCentralDifferencesOfALossThroughRk4) {
  // The learnable hill RHS is smooth where the states stay above 0 (x0 in [0.2, 1.6]; a trajectory crossing
  // 0 would put a kink in the loss, and its entries would fail, not be skipped): every entry of x0 and of the
  // parameters is checked, at 1e-7 relative plus the rounding floor as above, for learned and fixed n, with
  // two LR pairs on one receptor.
  for (bool learn_n : {true, false}) {
    LearnableHillConfig config;
    config.learn_n = learn_n;
    LearnableHillModel model(config, network(), {"epi", "mes"}, pairs());
    ModelParameters& parameters = model.parameters();
    std::mt19937 rng(learn_n ? 13 : 14);
    std::uniform_real_distribution<double> u(-0.6, 0.6);
    for (const TensorSpec& t : parameters.layout().tensors()) {
      std::vector<double> v(t.size());
      for (double& e : v)
        e = t.sparse ? 2.0 * u(rng) : u(rng);
      parameters.set_tensor(0, t.name, v);
    }
    model.set_cell_types(device_copy<int>("types", {0, 1, 1, 0, 1, 0}));
    SignalingGraph graph; // cell 1 hears itself (autocrine), cell 4 hears nobody
    graph.offsets = device_copy<int>("offsets", {0, 2, 4, 5, 7, 7, 9});
    graph.source = device_copy<int>("source", {1, 3, 1, 2, 0, 2, 5, 0, 4});
    graph.weight = device_copy<double>("weight", {0.8, 0.3, 1.0, 0.6, 0.45, 0.9, 0.7, 0.15, 0.5});
    graph.n_owned = n_cells;
    LigandExchange exchange({0, 2});
    exchange.set_halo(nullptr, n_cells, 0);
    model.set_signaling(&graph, &exchange);

    GeneState x0("x0", n_cells, n_genes);
    auto hx = Kokkos::create_mirror_view(x0);
    Loss loss;
    for (std::size_t e = 0; e < hx.size(); ++e) {
      hx.data()[e] = 0.2 + 1.2 * (u(rng) + 0.6);
      loss.c.push_back(u(rng));
    }
    Kokkos::deep_copy(x0, hx);
    const double t0 = 0.0, t1 = 2.0, dt = 0.3;
    Rk4Adjoint rk4_adjoint(dt);
    GeneState x("x", n_cells, n_genes);
    Kokkos::deep_copy(x, x0);
    rk4_adjoint.forward(model, x, t0, t1);
    GeneState x_bar = loss.gradient(x);
    const auto& values = parameters.values();
    ParameterGradient theta_bar("theta_bar", values.extent(0), values.extent(1));
    rk4_adjoint.reverse(model, model, x_bar, theta_bar);
    const auto x0_bar = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
    const auto theta_bar_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);

    GeneState trial("trial", n_cells, n_genes);
    Rk4Integrator integrator(dt);
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    auto loss_at = [&](double* value, double v, double* scale) {
      const double saved = *value;
      *value = v;
      Kokkos::deep_copy(x0, hx);
      Kokkos::deep_copy(values, host);
      Kokkos::deep_copy(trial, x0);
      integrator.advance(model, trial, t0, t1);
      *value = saved;
      Kokkos::deep_copy(x0, hx);
      Kokkos::deep_copy(values, host);
      return loss(trial, scale);
    };
    int checked = 0, nonzero = 0;
    auto check = [&](double* value, double expected, const std::string& what) {
      const double v0 = *value, h = 1e-6 * std::max(1.0, std::fabs(v0));
      double scale = 0.0;
      loss_at(value, v0, &scale);
      const double fd = (loss_at(value, v0 + h, nullptr) - loss_at(value, v0 - h, nullptr)) / (2 * h);
      EXPECT_NEAR(expected, fd, 1e-7 * std::fabs(fd) + 10 * 1e-16 * scale / h + 1e-13)
          << (learn_n ? "learned n " : "fixed n ") << what;
      ++checked;
      nonzero += std::fabs(fd) > 1e-3;
    };
    for (std::size_t e = 0; e < hx.size(); ++e)
      check(hx.data() + e, x0_bar.data()[e], "x0[" + std::to_string(e) + "]");
    for (const TensorSpec& t : parameters.layout().tensors())
      for (std::size_t e = 0; e < t.size(); ++e)
        check(host.data() + t.offset + e, theta_bar_host.data()[t.offset + e],
              t.name + "[" + std::to_string(e) + "]");
    EXPECT_GT(nonzero, checked / 2) << "most derivatives must be far from zero for the test to mean anything";
    std::printf("[ info ] learnable hill, %s n: %d entries checked (%d with |derivative| > 1e-3)\n",
                learn_n ? "learned" : "fixed", checked, nonzero);
  }
}
