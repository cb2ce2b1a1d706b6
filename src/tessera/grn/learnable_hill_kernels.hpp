// The kernels of LearnableHillModel (learnable_hill.hpp): what the forward and the VJPs of the trainable
// `hill` RHS compute per cell or per (cell type, target gene), separate from how they are launched.
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/hill.hpp"
#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

// H+(x; h, n) = x^n / (h^n + x^n) at x = max(value, 0) (expression below 0 appears transiently inside
// implicit solves; HillModel reads it as 0 too), and H (1 - H) = x^n h^n / (h^n + x^n)^2, formed without the
// cancellation of 1 - H: every derivative of H is a multiple of it.
struct HillTerm {
  double x = 0.0; // max(value, 0)
  double h_pow_n = 0.0;
  double H = 0.0;
  double spread = 0.0; // H (1 - H)

  KOKKOS_INLINE_FUNCTION HillTerm(double value, double n, int n_int, double h_n) : h_pow_n(h_n) {
    x = value > 0.0 ? value : 0.0;
    const double x_n = hill_power(x, n, n_int);
    const double denominator = h_n + x_n;
    H = x_n / denominator;
    spread = H * (h_n / denominator);
  }
  // dH/dx = n H (1 - H) / x for x > 0; 0 at x <= 0 (the subgradient of max(x, 0) taken there).
  KOKKOS_INLINE_FUNCTION double d_x(double n) const { return x > 0.0 ? n * spread / x : 0.0; }
  // dH/dh = -n H (1 - H) / h.
  KOKKOS_INLINE_FUNCTION double d_h(double n, double h) const { return -n * spread / h; }
  // dH/dn = H (1 - H) (log x - log h); 0 at x = 0, where H = 0 for every n.
  KOKKOS_INLINE_FUNCTION double d_n(double h) const {
    return x > 0.0 ? spread * (math::log(x) - math::log(h)) : 0.0;
  }
};

// Where the tensors of the parameter set start (learnable_hill_layout) and the sizes that index them.
struct LearnableHillOffsets {
  int K = 0, h_rho = 0, n_rho = -1, lr_K = 0, lr_h_rho = 0, lr_n_rho = -1, beta_rho = 0, b_rho = 0,
      lambda_rho = 0;
  int n_edges = 0, n_types = 0, n_genes = 0, n_pairs = 0;
};

// The values every cell shares, from the parameters (one thread per edge, per (type, pair), per (type,
// gene)): softplus of each *_rho and its derivative sigmoid(rho), and h^n.
struct LearnableHillSharedFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  LearnableHillOffsets at;
  double fixed_n = 2.0;
  int fixed_n_int = 0;
  Kokkos::View<double*> edge_n, edge_h, edge_h_pow_n, edge_dh, edge_dn;
  Kokkos::View<double*> lr_n, lr_h, lr_h_pow_n, lr_dh, lr_dn;
  Kokkos::View<double*> beta, basal, decay, dbeta, dbasal, ddecay;

  KOKKOS_INLINE_FUNCTION static double sigmoid(double rho) {
    return rho >= 0 ? 1.0 / (1.0 + math::exp(-rho)) : math::exp(rho) / (1.0 + math::exp(rho));
  }
  KOKKOS_INLINE_FUNCTION void positive(int offset, double& value, double& derivative) const {
    value = softplus_kernel(theta(0, offset));
    derivative = sigmoid(theta(0, offset));
  }
  KOKKOS_INLINE_FUNCTION void operator()(const int index) const {
    const int lr_first = at.n_edges, gene_first = at.n_edges + at.n_types * at.n_pairs;
    if (index < lr_first) {
      const int e = index;
      positive(at.h_rho + e, edge_h(e), edge_dh(e));
      if (at.n_rho >= 0)
        positive(at.n_rho + e, edge_n(e), edge_dn(e));
      else
        edge_n(e) = fixed_n;
      edge_h_pow_n(e) = hill_power(edge_h(e), edge_n(e), at.n_rho >= 0 ? 0 : fixed_n_int);
    } else if (index < gene_first) {
      const int q = index - lr_first;
      positive(at.lr_h_rho + q, lr_h(q), lr_dh(q));
      if (at.lr_n_rho >= 0)
        positive(at.lr_n_rho + q, lr_n(q), lr_dn(q));
      else
        lr_n(q) = fixed_n;
      lr_h_pow_n(q) = hill_power(lr_h(q), lr_n(q), at.lr_n_rho >= 0 ? 0 : fixed_n_int);
    } else {
      const int row = index - gene_first;
      positive(at.beta_rho + row, beta(row), dbeta(row));
      positive(at.b_rho + row, basal(row), dbasal(row));
      positive(at.lambda_rho + row, decay(row), ddecay(row));
    }
  }
};

// The edges of every (type, target) row and the LR pairs of every receptor, with the shared values.
struct LearnableHillTerms {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  LearnableHillOffsets at;
  int n_int = 0; // n when it is fixed and a small integer (hill_power by squaring), else 0
  Kokkos::View<const int*> offsets, source;
  Kokkos::View<const double*> edge_n, edge_h, edge_h_pow_n, edge_dh, edge_dn;
  Kokkos::View<const double*> lr_n, lr_h, lr_h_pow_n, lr_dh, lr_dn;
  Kokkos::View<const double*> beta, basal, decay, dbeta, dbasal, ddecay;
  bool signaling = false; // the rest is unused when false
  Kokkos::View<const int*> receptor_offsets, receptor_pair, receptor_column;
  Kokkos::View<const double**, Kokkos::LayoutRight> signal; // received ligand sums, owned cells x columns

  // The bracket b + sum K H + sum K_LR H of node (cell, k) in a cell of type c.
  KOKKOS_INLINE_FUNCTION double drive(ConstGeneState x, int cell, int c, int k) const {
    const int row = c * at.n_genes + k;
    double sum = basal(row);
    for (int e = offsets(row); e < offsets(row + 1); ++e)
      sum += theta(0, at.K + e) * HillTerm(x(cell, source(e)), edge_n(e), n_int, edge_h_pow_n(e)).H;
    if (signaling)
      for (int q = receptor_offsets(k); q < receptor_offsets(k + 1); ++q) {
        const int cp = c * at.n_pairs + receptor_pair(q);
        sum += theta(0, at.lr_K + cp) *
               HillTerm(signal(cell, receptor_column(q)), lr_n(cp), n_int, lr_h_pow_n(cp)).H;
      }
    return sum;
  }
};

// dx/dt of every gene of one cell.
struct LearnableHillRhsFunctor {
  LearnableHillTerms terms;
  Kokkos::View<const int*> type;
  ConstGeneState x;
  GeneState dxdt;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int c = type(i), G = terms.at.n_genes;
    for (int k = 0; k < G; ++k) {
      const int row = c * G + k;
      dxdt(i, k) = terms.beta(row) * terms.drive(x, i, c, k) - terms.decay(row) * x(i, k);
    }
  }
};

// x_bar(i, :) = lambda(i, :)^T df_i/dx_i and the cotangents of the signal cell i receives (ReceivedSignal's
// adjoint takes them to the senders), one thread per cell: each output row belongs to one thread.
struct LearnableHillStateVjpFunctor {
  LearnableHillTerms terms;
  Kokkos::View<const int*> type;
  ConstGeneState x, lambda;
  GeneState x_bar;
  Kokkos::View<double**, Kokkos::LayoutRight> signal_bar; // owned cells x columns (when signalling)
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int c = type(i), G = terms.at.n_genes;
    for (int k = 0; k < G; ++k)
      x_bar(i, k) = 0.0;
    if (terms.signaling)
      for (std::size_t column = 0; column < signal_bar.extent(1); ++column)
        signal_bar(i, column) = 0.0;
    for (int k = 0; k < G; ++k) {
      const int row = c * G + k;
      const double weight = terms.beta(row) * lambda(i, k);
      x_bar(i, k) -= terms.decay(row) * lambda(i, k);
      if (weight == 0.0) continue;
      for (int e = terms.offsets(row); e < terms.offsets(row + 1); ++e) {
        const int j = terms.source(e);
        const HillTerm term(x(i, j), terms.edge_n(e), terms.n_int, terms.edge_h_pow_n(e));
        x_bar(i, j) += weight * terms.theta(0, terms.at.K + e) * term.d_x(terms.edge_n(e));
      }
      if (terms.signaling)
        for (int q = terms.receptor_offsets(k); q < terms.receptor_offsets(k + 1); ++q) {
          const int cp = c * terms.at.n_pairs + terms.receptor_pair(q), column = terms.receptor_column(q);
          const HillTerm term(terms.signal(i, column), terms.lr_n(cp), terms.n_int, terms.lr_h_pow_n(cp));
          signal_bar(i, column) += weight * terms.theta(0, terms.at.lr_K + cp) * term.d_x(terms.lr_n(cp));
        }
    }
  }
};

// theta_bar += lambda^T df/dtheta for the parameters of one (type c, target gene k): its edges' K, h, n, the
// LR pairs with receptor k as received by type c, and beta, b, lambda of (c, k); one thread per (c, k) over
// the cells of type c in ascending row order, so every parameter has one thread and one summation order.
struct LearnableHillParameterVjpFunctor {
  LearnableHillTerms terms;
  ConstGeneState x, lambda;
  Kokkos::View<const int*> order, type_begin; // cells grouped by type
  ParameterGradient theta_bar;
  KOKKOS_INLINE_FUNCTION void operator()(const int row) const {
    const LearnableHillOffsets& at = terms.at;
    const int c = row / at.n_genes, k = row % at.n_genes;
    const double beta = terms.beta(row);
    double beta_bar = 0.0, basal_bar = 0.0, decay_bar = 0.0;
    for (int position = type_begin(c); position < type_begin(c + 1); ++position) {
      const int i = order(position);
      const double l = lambda(i, k);
      if (l == 0.0) continue;
      const double weight = beta * l;
      double drive = terms.basal(row);
      for (int e = terms.offsets(row); e < terms.offsets(row + 1); ++e) {
        const HillTerm term(x(i, terms.source(e)), terms.edge_n(e), terms.n_int, terms.edge_h_pow_n(e));
        const double K = terms.theta(0, at.K + e);
        drive += K * term.H;
        theta_bar(0, at.K + e) += weight * term.H;
        theta_bar(0, at.h_rho + e) +=
            weight * K * term.d_h(terms.edge_n(e), terms.edge_h(e)) * terms.edge_dh(e);
        if (at.n_rho >= 0)
          theta_bar(0, at.n_rho + e) += weight * K * term.d_n(terms.edge_h(e)) * terms.edge_dn(e);
      }
      if (terms.signaling)
        for (int q = terms.receptor_offsets(k); q < terms.receptor_offsets(k + 1); ++q) {
          const int cp = c * at.n_pairs + terms.receptor_pair(q);
          const HillTerm term(terms.signal(i, terms.receptor_column(q)), terms.lr_n(cp), terms.n_int,
                              terms.lr_h_pow_n(cp));
          const double K = terms.theta(0, at.lr_K + cp);
          drive += K * term.H;
          theta_bar(0, at.lr_K + cp) += weight * term.H;
          theta_bar(0, at.lr_h_rho + cp) +=
              weight * K * term.d_h(terms.lr_n(cp), terms.lr_h(cp)) * terms.lr_dh(cp);
          if (at.lr_n_rho >= 0)
            theta_bar(0, at.lr_n_rho + cp) += weight * K * term.d_n(terms.lr_h(cp)) * terms.lr_dn(cp);
        }
      beta_bar += l * drive;
      basal_bar += weight;
      decay_bar -= l * x(i, k);
    }
    theta_bar(0, at.beta_rho + row) += beta_bar * terms.dbeta(row);
    theta_bar(0, at.b_rho + row) += basal_bar * terms.dbasal(row);
    theta_bar(0, at.lambda_rho + row) += decay_bar * terms.ddecay(row);
  }
};

} // namespace tessera
