// The `graph_ode` gene model (SPEC §2.2, the STAGED family) as a GeneRhs: attention over each gene's
// in-edges (prior gene graph, self loop, ligand->receptor edges from neighbours), an MLP, a learned decay.
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/graph_ode_parameters.hpp"
#include "tessera/grn/graph_ode_tiles.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/grn/trainable_model.hpp"
#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace tessera {

class Deck;

namespace graph_ode_detail {
#if KOKKOS_VERSION >= 30700
using Kokkos::log1p;
#else
using Kokkos::Experimental::log1p;
#endif
} // namespace graph_ode_detail

// LeakyReLU with slope 0.2, as max(v, 0.2 v): the same value, but compilers emit one max instruction instead
// of a branch that random signs mispredict half the time.
KOKKOS_INLINE_FUNCTION double leaky_relu(double v) {
  const double scaled = 0.2 * v;
  return v > scaled ? v : scaled;
}

// log(1 + exp(rho)) without overflow; the same formula as the host's softplus().
KOKKOS_INLINE_FUNCTION double softplus_kernel(double rho) {
  return rho > 0 ? rho + graph_ode_detail::log1p(math::exp(-rho)) : graph_ode_detail::log1p(math::exp(rho));
}

// A softmax-weighted sum in one pass over the edges: the running maximum is subtracted from every logit and
// the partial sums are rescaled when it grows, so exp never sees a positive argument and no logit is stored.
struct OnlineSoftmax {
  double max_logit, denominator, numerator;

  KOKKOS_INLINE_FUNCTION OnlineSoftmax(double logit, double value)
      : max_logit(logit), denominator(1.0), numerator(value) {}
  KOKKOS_INLINE_FUNCTION void add(double logit, double value) {
    if (logit > max_logit) {
      const double scale = math::exp(max_logit - logit);
      denominator = denominator * scale + 1.0;
      numerator = numerator * scale + value;
      max_logit = logit;
    } else {
      const double p = math::exp(logit - max_logit);
      denominator += p;
      numerator += p * value;
    }
  }
  KOKKOS_INLINE_FUNCTION double result() const { return numerator / denominator; }
};

// GAT logit of one head with scalar features: a_dst.(w x_k) + a_src.(w h) = x_k (a_dst.w) + h (a_src.w), so
// an edge costs one multiply-add once the two dot products are known per head.
struct GatLogit {
  double destination; // x_k (a_dst . w)
  double source;      // a_src . w
  KOKKOS_INLINE_FUNCTION double operator()(double h) const { return leaky_relu(destination + source * h); }
};

// GATv2 logit of one head: a . LeakyReLU(v_dst x_k + v_src h), H terms per edge.
struct Gatv2Logit {
  const double* a;
  const double* v_src;
  const double* v_dst;
  double x_k;
  int hidden;
  KOKKOS_INLINE_FUNCTION double operator()(double h) const {
    // Four partial sums: one running sum would make every term wait for the previous addition.
    double e[4] = {0.0, 0.0, 0.0, 0.0};
    int d = 0;
    for (; d + 4 <= hidden; d += 4)
      for (int j = 0; j < 4; ++j)
        e[j] += a[d + j] * leaky_relu(v_dst[d + j] * x_k + v_src[d + j] * h);
    for (; d < hidden; ++d)
      e[0] += a[d] * leaky_relu(v_dst[d] * x_k + v_src[d] * h);
    return (e[0] + e[1]) + (e[2] + e[3]);
  }
};

// The in-edges of every gene node besides its self loop.
struct GraphOdeEdges {
  Kokkos::View<const int*> prior_offsets; // CSR over (cell type, target gene): [type * G + k]
  Kokkos::View<const int*> prior_source;
  // The entry of edge_weight / edge_bias of each prior edge (CSR position); empty when the term is off.
  Kokkos::View<const int*> weight_index, bias_index;
  bool signaling = false;                    // the rest is unused when false
  Kokkos::View<const int*> receptor_offsets; // CSR over receptor gene k: its LR pairs
  Kokkos::View<const int*> receptor_column;  // the pair's ligand column in `ligand`
  Kokkos::View<const int*> receptor_ligand;  // the pair's ligand gene (for its embedding)
  Kokkos::View<const int*> neighbour_offsets;
  Kokkos::View<const int*> neighbour_source;
  Kokkos::View<const double*> neighbour_weight;
  Kokkos::View<const double**, Kokkos::LayoutRight> ligand; // LigandExchange::gather() of the state
};

// Which cells a tile covers: positions [first, first + rows / G) of `order` (cells grouped by parameter set),
// or those cells themselves when the cells need no regrouping (one shared set).
struct GraphOdeTile {
  Kokkos::View<const int*> order;
  bool permuted = false;
  int first = 0;
  int n_genes = 0;
  KOKKOS_INLINE_FUNCTION int cell(int row) const {
    const int position = first + row / n_genes;
    return permuted ? order(position) : position;
  }
};

// The first layer as a function of the attention outputs. z = ReLU(w^h m^h + b0^h) depends on the scalar m^h
// only, so W_1 z is piecewise linear in each m^h with kinks at the breakpoints m = -b0_d / w_d: with the
// breakpoints of head h sorted, W_1 z = sum_h slope(h, i_h) m^h + offset(h, i_h), where i_h is the number of
// breakpoints below m^h. This replaces the K*H x M product per node by K*M multiply-adds and a binary search.
struct GraphOdeLayerOne {
  // [set][head][j]: sorted breakpoints of the head's units with w_d != 0, then +inf; and the unit d of each.
  Kokkos::View<double***, Kokkos::LayoutRight> breakpoint;
  Kokkos::View<int***, Kokkos::LayoutRight> unit;
  // [set][head][interval 0..H][output unit of layer 1]
  Kokkos::View<double****, Kokkos::LayoutRight> slope;
  Kokkos::View<double****, Kokkos::LayoutRight> offset;

  // Number of breakpoints below m: the interval m lies in (either neighbour at a breakpoint: W_1 z is
  // continuous). NaN gives 0, and the NaN then propagates through the slope.
  KOKKOS_INLINE_FUNCTION int interval(int set, int head, double m) const {
    int lo = 0, hi = static_cast<int>(breakpoint.extent(2));
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (breakpoint(set, head, mid) < m)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }

  // Head h's term of one row of layer 1, slope * m + offset in m's interval i: written (`first`) or added
  // to `out`, then ReLU'd (`relu`, the last head of a hidden layer 1). One pass over the row per head.
  // `out` is double, or float for the mixed precision (GraphOdeOptions::precision): the terms are computed in
  // double and each written value rounded once.
  template <class Real>
  KOKKOS_INLINE_FUNCTION void add_head(Real* KOKKOS_RESTRICT out, int width, int set, int head, int i,
                                       double m, bool first, bool relu) const {
    const double* KOKKOS_RESTRICT s = &slope(set, head, i, 0);
    const double* KOKKOS_RESTRICT c = &offset(set, head, i, 0); // b_1 is in head 0's offset
    if (first && relu) {
      for (int o = 0; o < width; ++o) {
        const double v = s[o] * m + c[o];
        out[o] = v > 0.0 ? v : 0.0;
      }
    } else if (first) {
      for (int o = 0; o < width; ++o)
        out[o] = s[o] * m + c[o];
    } else if (relu) {
      for (int o = 0; o < width; ++o) {
        const double v = out[o] + s[o] * m + c[o];
        out[o] = v > 0.0 ? v : 0.0;
      }
    } else {
      for (int o = 0; o < width; ++o)
        out[o] += s[o] * m + c[o];
    }
  }
};

// What the VJP keeps of a tile's forward, per row and head (empty Views in a plain evaluate(); a recording
// one writes them into the activation tape, for the VJP to read instead of recomputing the attention): the
// attention output m^h, its softmax's largest logit and denominator (so that the backward visits the edges
// once, with one exp each), and the interval of m^h in the first layer's table (the ReLU pattern of z).
struct GraphOdeAttentionRecord {
  Kokkos::View<double**, Kokkos::LayoutRight> m, softmax_max, softmax_denominator;
  Kokkos::View<int**, Kokkos::LayoutRight> interval;
};

// The VJP's sums of the first layer's cotangent over a parameter set's rows by interval of the table,
// [head][i][o]: over the intervals below i and those from i up, plain and times m^h (graph_ode_adjoint.cpp).
struct GraphOdeIntervalSums {
  Kokkos::View<double***, Kokkos::LayoutRight> above, above_m, below, below_m;
};

// Attention and the first layer: row r of the tile (node (cell, k)) gets y_1 = ReLU(W_1 z + b_1) (L >= 2;
// for L = 1 the output W_1 z + b_1 itself), z = ReLU(concat_h(w^h m^h + b0^h)),
// m^h = sum_u softmax_u(e_u) w_u s_u h_u (s_u: the edge's weight, 1 when off; its bias adds to e_u).
// Real: the type of y (float for the mixed precision, GraphOdeOptions::precision; everything else double).
template <AttentionVariant Variant, class Real = double>
struct GraphOdeAttentionFunctor {
  ConstGeneState x;
  Kokkos::View<const int*> cell_type;
  GraphOdeTile tile;
  GraphOdeEdges edges;
  GraphOdeLayerOne layer_one;
  int set = 0;
  int heads = 1, hidden = 1;
  // GATv2: this set's attention vectors (raw pointers into the parameter View, which outlives every launch).
  const double* a = nullptr;
  const double* v_src = nullptr;
  const double* v_dst = nullptr;
  const double* gat_scores = nullptr;  // GAT: [a_dst^h . w^h]_h then [a_src^h . w^h]_h
  const double* edge_weight = nullptr; // this set's s_u, indexed by edges.weight_index; or null
  const double* edge_bias = nullptr;   // this set's logit biases, by edges.bias_index; or null
  // Gene embeddings (null when off): this set's W1_embedding e_k [G][width of layer 1], added to layer 1's
  // pre-activation, and q^h . e_j [K][G], added to the logit of every edge from gene j.
  const double* gene_offset = nullptr;
  const double* source_logit = nullptr;

  // The source-gene term of a logit: none (STAGED: the logit as it is) or the head's q^h . e_j.
  struct NoSourceTerm {
    KOKKOS_INLINE_FUNCTION double operator()(double logit, int) const { return logit; }
  };
  struct SourceTerm {
    const double* term; // [G] of one head
    KOKKOS_INLINE_FUNCTION double operator()(double logit, int gene) const { return logit + term[gene]; }
  };
  bool activate = true;                        // ReLU: layer 1 is hidden (L >= 2)
  Kokkos::View<Real**, Kokkos::LayoutRight> y; // tile rows x width of layer 1
  GraphOdeAttentionRecord record; // filled only when record.m is not empty (the VJP, a recording forward)

  template <class Logit, class Term>
  KOKKOS_INLINE_FUNCTION OnlineSoftmax attend_with(int cell, int k, double x_k, const Logit& logit,
                                                   const Term& term) const {
    const int G = tile.n_genes;
    OnlineSoftmax sum(term(logit(x_k), k), x_k); // the self loop, weight 1
    const int row = cell_type(cell) * G + k;
    if (edge_weight || edge_bias) {
      for (int e = edges.prior_offsets(row); e < edges.prior_offsets(row + 1); ++e) {
        const int j = edges.prior_source(e);
        const double h = x(cell, j);
        const double bias = edge_bias ? edge_bias[edges.bias_index(e)] : 0.0;
        sum.add(term(logit(h), j) + bias, edge_weight ? edge_weight[edges.weight_index(e)] * h : h);
      }
    } else { // STAGED: the loop as it was, not a branch per edge
      for (int e = edges.prior_offsets(row); e < edges.prior_offsets(row + 1); ++e) {
        const int j = edges.prior_source(e);
        const double h = x(cell, j);
        sum.add(term(logit(h), j), h);
      }
    }
    if (edges.signaling) {
      for (int q = edges.receptor_offsets(k); q < edges.receptor_offsets(k + 1); ++q) {
        const int column = edges.receptor_column(q), ligand_gene = edges.receptor_ligand(q);
        for (int n = edges.neighbour_offsets(cell); n < edges.neighbour_offsets(cell + 1); ++n) {
          const double h = edges.ligand(edges.neighbour_source(n), column);
          sum.add(term(logit(h), ligand_gene),
                  (edges.neighbour_weight.extent(0) ? edges.neighbour_weight(n) : 1.0) * h);
        }
      }
    }
    return sum;
  }

  template <class Logit>
  KOKKOS_INLINE_FUNCTION OnlineSoftmax attend(int cell, int k, double x_k, int head,
                                              const Logit& logit) const {
    if (source_logit) return attend_with(cell, k, x_k, logit, SourceTerm{source_logit + head * tile.n_genes});
    return attend_with(cell, k, x_k, logit, NoSourceTerm{});
  }

  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int cell = tile.cell(r);
    const int k = r % tile.n_genes;
    const double x_k = x(cell, k);
    const int width = static_cast<int>(y.extent(1));
    Real* KOKKOS_RESTRICT out = &y(r, 0);
    // With embeddings the row starts from the gene's W1_embedding e_k and every head accumulates onto it.
    if (gene_offset)
      for (int o = 0; o < width; ++o)
        out[o] = gene_offset[k * width + o];
    const bool overwrite = !gene_offset;
    for (int h = 0; h < heads; ++h) {
      OnlineSoftmax softmax = [&] {
        if constexpr (Variant == AttentionVariant::gat) {
          return attend(cell, k, x_k, h, GatLogit{x_k * gat_scores[h], gat_scores[heads + h]});
        } else {
          const int head = h * hidden;
          return attend(cell, k, x_k, h, Gatv2Logit{a + head, v_src + head, v_dst + head, x_k, hidden});
        }
      }();
      const double m = softmax.result();
      const int i = layer_one.interval(set, h, m);
      if (record.m.extent(0)) {
        record.m(r, h) = m;
        record.softmax_max(r, h) = softmax.max_logit;
        record.softmax_denominator(r, h) = softmax.denominator;
        record.interval(r, h) = i;
      }
      layer_one.add_head(out, width, set, h, i, m, h == 0 && overwrite, activate && h == heads - 1);
    }
  }
};

// Layer 1 of GraphOdeAttentionFunctor rebuilt from a record of its attention outputs m^h and their table
// intervals (the activation tape): the VJP replaying a tape needs y_1 but not the attention again. The same
// operations in the same order, so the same values.
template <class Real = double>
struct GraphOdeLayerOneRecordFunctor {
  GraphOdeTile tile;
  GraphOdeLayerOne layer_one;
  int set = 0, heads = 1;
  bool activate = true;
  const double* gene_offset = nullptr; // as GraphOdeAttentionFunctor's
  GraphOdeAttentionRecord record;
  Kokkos::View<Real**, Kokkos::LayoutRight> y;
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int k = r % tile.n_genes;
    const int width = static_cast<int>(y.extent(1));
    Real* KOKKOS_RESTRICT out = &y(r, 0);
    if (gene_offset)
      for (int o = 0; o < width; ++o)
        out[o] = gene_offset[k * width + o];
    for (int h = 0; h < heads; ++h)
      layer_one.add_head(out, width, set, h, record.interval(r, h), record.m(r, h), h == 0 && !gene_offset,
                         activate && h == heads - 1);
  }
};

// In place y(r, j) = ReLU(y(r, j) + b(j)): the activation of a hidden layer whose product is in y. With Real
// = float (the mixed precision) the sum is rounded to float before the ReLU, as everywhere a hidden
// activation is formed, so that every kernel that applies ReLU or its mask to it decides on the same float
// value.
template <class Real = double>
struct GraphOdeBiasReluFunctor {
  Kokkos::View<Real**, Kokkos::LayoutRight> y;
  const double* bias;
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int width = static_cast<int>(y.extent(1));
    for (int j = 0; j < width; ++j) {
      const Real v = static_cast<Real>(y(r, j) + bias[j]);
      y(r, j) = v > Real(0) ? v : Real(0);
    }
  }
};

// c(r, o) = sum_j a(r, j) W^T(j, o): the portable dense product where BLAS cannot reach the memory (summed in
// double also when Real is float).
template <class Real = double>
struct GraphOdeDenseFunctor {
  Kokkos::View<const Real**, Kokkos::LayoutRight> a;
  const Real* weight_t; // W^T: in x out, row-major
  Kokkos::View<Real**, Kokkos::LayoutRight> c;
  KOKKOS_INLINE_FUNCTION void operator()(const int r, const int o) const {
    const int in = static_cast<int>(a.extent(1)), out = static_cast<int>(c.extent(1));
    double sum = 0.0;
    for (int j = 0; j < in; ++j)
      sum += a(r, j) * weight_t[j * out + o];
    c(r, o) = sum;
  }
};

// W^T of every hidden layer's weights W_l (l = 2 .. L-1), [set][(l - 2) M^2 + j M + o] = W_l(o, j): the
// forward's products C = A W^T then read W^T without a transpose (BLAS's no-transpose small-matrix kernels).
// The mixed precision keeps float copies: W_l^T for the forward and (`transpose` false) W_l itself for the
// VJP's input cotangent, each rounded once per evaluation.
template <class Real = double>
struct GraphOdeTransposeFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  Kokkos::View<Real**, Kokkos::LayoutRight> weight_t;
  Kokkos::View<const int*> offset; // [l - 2]: W_l's offset in theta
  int width = 1;                   // M
  bool transpose = true;
  KOKKOS_INLINE_FUNCTION void operator()(const int set, const int index) const {
    const int M2 = width * width, layer = index / M2, j = (index % M2) / width, o = index % width;
    weight_t(set, index) = static_cast<Real>(transpose ? theta(set, offset(layer) + o * width + j)
                                                       : theta(set, offset(layer) + index % M2));
  }
};

// The last layer and the decay, dx_k/dt = W_L y_{L-1} + b_L - gamma_k x_k, from what the previous kernel
// left: L = 1: the output itself; L = 2: y_1; L >= 3: the product q of layer L-1, y_{L-1} = ReLU(q +
// b_{L-1}). With `store_activation` (a recording forward: y is the tape) it also writes y_{L-1} back over q,
// the same operations as GraphOdeBiasReluFunctor's, so the tape needs no pass of its own. Real: the type of
// the hidden activations (float for the mixed precision); the sums are double.
template <class Real = double>
struct GraphOdeOutputFunctor {
  ConstGeneState x;
  GeneState dxdt;
  GraphOdeTile tile;
  Kokkos::View<Real**, Kokkos::LayoutRight> y;
  const double* hidden_bias = nullptr; // b_{L-1} when L >= 3
  bool store_activation = false;       // with hidden_bias: y(r, j) = ReLU(q + b_{L-1})
  const double* weight = nullptr;      // W_L when L >= 2
  const double* bias = nullptr;        // b_L when L >= 2
  const double* gamma = nullptr;       // this set's decay rates
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int cell = tile.cell(r);
    const int k = r % tile.n_genes;
    const int width = static_cast<int>(y.extent(1));
    double out;
    if (!weight) {
      out = y(r, 0);
    } else {
      // Four partial sums: one running sum would make every term wait for the previous addition.
      Real* KOKKOS_RESTRICT row = &y(r, 0);
      double sum[4] = {0.0, 0.0, 0.0, 0.0};
      int j = 0;
      if (hidden_bias && store_activation) {
        for (; j + 4 <= width; j += 4)
          for (int q = 0; q < 4; ++q) {
            const Real v = static_cast<Real>(row[j + q] + hidden_bias[j + q]);
            row[j + q] = v > Real(0) ? v : Real(0);
            sum[q] += weight[j + q] * row[j + q];
          }
        for (; j < width; ++j) {
          const Real v = static_cast<Real>(row[j] + hidden_bias[j]);
          row[j] = v > Real(0) ? v : Real(0);
          sum[0] += weight[j] * row[j];
        }
      } else if (hidden_bias) {
        for (; j + 4 <= width; j += 4)
          for (int q = 0; q < 4; ++q) {
            const Real v = static_cast<Real>(row[j + q] + hidden_bias[j + q]);
            sum[q] += weight[j + q] * (v > Real(0) ? v : Real(0));
          }
        for (; j < width; ++j) {
          const Real v = static_cast<Real>(row[j] + hidden_bias[j]);
          sum[0] += weight[j] * (v > Real(0) ? v : Real(0));
        }
      } else {
        for (; j + 4 <= width; j += 4)
          for (int q = 0; q < 4; ++q)
            sum[q] += weight[j + q] * row[j + q];
        for (; j < width; ++j)
          sum[0] += weight[j] * row[j];
      }
      out = bias[0] + ((sum[0] + sum[1]) + (sum[2] + sum[3]));
    }
    dxdt(cell, k) = out - gamma[k] * x(cell, k);
  }
};

// Per (parameter set, head), what every node shares: the GAT scores a_dst.w and a_src.w, the sorted
// breakpoints of the first layer, and (head 0) gamma = softplus(rho). Recomputed at every evaluation (a few
// thousand flops) so that parameters updated in place are never stale.
struct GraphOdeSharedFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  bool gat = true;
  int heads = 1, hidden = 1, n_genes = 0;
  int w = 0, b0 = 0, a_src = 0, a_dst = 0, decay_rho = 0;
  Kokkos::View<double**, Kokkos::LayoutRight> gat_scores; // sets x 2K
  Kokkos::View<double**, Kokkos::LayoutRight> gamma;      // sets x G
  GraphOdeLayerOne layer_one;
  KOKKOS_INLINE_FUNCTION void operator()(const int index) const {
    const int s = index / heads, h = index % heads;
    const int head = h * hidden;
    if (gat) {
      double destination = 0.0, source = 0.0;
      for (int d = 0; d < hidden; ++d) {
        destination += theta(s, a_dst + head + d) * theta(s, w + head + d);
        source += theta(s, a_src + head + d) * theta(s, w + head + d);
      }
      gat_scores(s, h) = destination;
      gat_scores(s, heads + h) = source;
    }
    // Insertion sort: H is small and this runs once per (set, head).
    int n = 0;
    for (int d = 0; d < hidden; ++d) {
      const double wd = theta(s, w + head + d);
      if (wd == 0.0) continue;
      const double t = -theta(s, b0 + head + d) / wd;
      int j = n++;
      for (; j > 0 && layer_one.breakpoint(s, h, j - 1) > t; --j) {
        layer_one.breakpoint(s, h, j) = layer_one.breakpoint(s, h, j - 1);
        layer_one.unit(s, h, j) = layer_one.unit(s, h, j - 1);
      }
      layer_one.breakpoint(s, h, j) = t;
      layer_one.unit(s, h, j) = d;
    }
    for (int j = n; j < hidden; ++j) {
      layer_one.breakpoint(s, h, j) = HUGE_VAL;
      layer_one.unit(s, h, j) = -1;
    }
    if (h == 0)
      for (int k = 0; k < n_genes; ++k)
        gamma(s, k) = softplus_kernel(theta(s, decay_rho + k));
  }
};

// Per (set, gene k): the gene embedding's constant terms, W1_embedding e_k (layer 1) and q^h . e_k (the
// logit of edges from k), recomputed at every evaluation like the other shared values.
struct GraphOdeEmbeddingFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  int heads = 1, width = 1, dimension = 1, n_genes = 0;
  int embedding = 0, attention = 0, weight = 0; // offsets of embedding, attention_embedding, W1_embedding
  Kokkos::View<double***, Kokkos::LayoutRight> offset; // sets x G x width
  Kokkos::View<double***, Kokkos::LayoutRight> logit;  // sets x K x G
  KOKKOS_INLINE_FUNCTION void operator()(const int index) const {
    const int s = index / n_genes, k = index % n_genes;
    const int e = embedding + k * dimension;
    for (int o = 0; o < width; ++o) {
      double sum = 0.0;
      for (int d = 0; d < dimension; ++d)
        sum += theta(s, weight + o * dimension + d) * theta(s, e + d);
      offset(s, k, o) = sum;
    }
    for (int h = 0; h < heads; ++h) {
      double sum = 0.0;
      for (int d = 0; d < dimension; ++d)
        sum += theta(s, attention + h * dimension + d) * theta(s, e + d);
      logit(s, h, k) = sum;
    }
  }
};

// slope and offset of the first layer for one (set, head, output unit o), every interval i. In interval i
// (between sorted breakpoints i-1 and i) unit d is active when w_d > 0 and its breakpoint is among the first
// i, or w_d < 0 and it is not; units with w_d = 0 contribute the constant ReLU(b0_d). Prefix sums over the
// first kind and suffix sums over the second only ever add terms, so no cancellation enters the table.
struct GraphOdeLayerOneFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> theta;
  int heads = 1, hidden = 1, width = 1; // width: outputs of layer 1 (M, or 1 when L = 1)
  int w = 0, b0 = 0, weight = 0;        // offsets of w, b0 and W_1
  int bias = 0;                         // offset of b_1, folded into head 0's offsets
  GraphOdeLayerOne layer_one;
  KOKKOS_INLINE_FUNCTION void operator()(const int index) const {
    const int o = index % width, h = (index / width) % heads, s = index / (width * heads);
    const int head = h * hidden;
    const int in = heads * hidden;
    auto W = [&](int d) { return theta(s, weight + o * in + head + d); };
    double constant = h == 0 ? theta(s, bias + o) : 0.0;
    for (int d = 0; d < hidden; ++d)
      if (theta(s, w + head + d) == 0.0 && theta(s, b0 + head + d) > 0.0)
        constant += W(d) * theta(s, b0 + head + d);
    // Suffix sums of the w_d < 0 units from the top interval down ...
    double slope = 0.0, offset = constant;
    layer_one.slope(s, h, hidden, o) = slope;
    layer_one.offset(s, h, hidden, o) = offset;
    for (int i = hidden - 1; i >= 0; --i) {
      const int d = layer_one.unit(s, h, i);
      if (d >= 0 && theta(s, w + head + d) < 0.0) {
        slope += W(d) * theta(s, w + head + d);
        offset += W(d) * theta(s, b0 + head + d);
      }
      layer_one.slope(s, h, i, o) = slope;
      layer_one.offset(s, h, i, o) = offset;
    }
    // ... plus prefix sums of the w_d > 0 units from the bottom up.
    slope = 0.0;
    offset = 0.0;
    for (int i = 1; i <= hidden; ++i) {
      const int d = layer_one.unit(s, h, i - 1);
      if (d >= 0 && theta(s, w + head + d) > 0.0) {
        slope += W(d) * theta(s, w + head + d);
        offset += W(d) * theta(s, b0 + head + d);
      }
      layer_one.slope(s, h, i, o) += slope;
      layer_one.offset(s, h, i, o) += offset;
    }
  }
};

// The work space of one tile's kernels: one per thread that runs tiles at the same time (host builds:
// grn/graph_ode_tiles.hpp), one on a device build. Rows: the tile's nodes.
struct GraphOdeTileWorkspace {
  using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
  // Forward: layer 1's output and the hidden layers' products (two, alternating).
  Matrix y[2];
  // VJP, allocated on its first use: per row what the forward leaves for the backward (the record), the
  // cotangents m_bar (K), the activations of layers 1 .. L-1, two cotangent buffers, the per-row partials of
  // the attention parameters and their column sums; per tile cell the partials of the per-edge terms and of
  // the embedding's source terms; per gene the embedding's layer-1 cotangent.
  bool vjp = false;
  GraphOdeAttentionRecord record;
  Matrix m_bar, partial;
  std::vector<Matrix> activation;
  Kokkos::View<double*> cotangent[2], rho_partial, partial_sum, source_sum;
  Matrix weight_partial, bias_partial, source_partial, gene_cotangent;
  // The mixed precision (GraphOdeOptions::precision) keeps the hidden layers' values in float instead: y,
  // activation and the hidden cotangents (cotangent[0] still takes the output's cotangent, rows x 1 in
  // double), and a tile's weight gradient (M x M) before it is added to the double gradient. Empty in double.
  using MatrixF = Kokkos::View<float**, Kokkos::LayoutRight>;
  MatrixF y_mixed[2];
  std::vector<MatrixF> activation_mixed;
  Kokkos::View<float*> cotangent_mixed[2];
  MatrixF weight_bar_mixed;

  // The buffers of the hidden values of type Real (double: the double precision's, float: the mixed one's).
  template <class Real>
  const Kokkos::View<Real**, Kokkos::LayoutRight>* hidden_y() const {
    if constexpr (std::is_same_v<Real, float>)
      return y_mixed;
    else
      return y;
  }
  template <class Real>
  const std::vector<Kokkos::View<Real**, Kokkos::LayoutRight>>& hidden_activation() const {
    if constexpr (std::is_same_v<Real, float>)
      return activation_mixed;
    else
      return activation;
  }
  template <class Real>
  const Kokkos::View<Real*>* hidden_cotangent() const {
    if constexpr (std::is_same_v<Real, float>)
      return cotangent_mixed;
    else
      return cotangent;
  }
};

struct GraphOdeOptions {
  // Nodes (cells x genes) per tile of the MLP, rounded down to whole cells (at least one): the work buffers
  // hold a few tile_nodes x M values whatever the number of cells. On the host 240: a tile's activations and
  // cotangents stay in the core's L1/L2 cache from one kernel to the next (240 x 64 doubles: 120 KiB), and
  // its M x M products (M N K <= 10^6 at M = 64) take OpenBLAS's small-matrix kernels, which neither pack the
  // operands nor clear C first: 1.4-1.7x the rate of the packed kernels at 4096 rows on the reference
  // machine (docs/performance.md, "Training"). The host's threads take whole tiles (grn/graph_ode_tiles.hpp).
  // Device builds keep large tiles (4096), one at a time, for parallelism inside the tile.
  int tile_nodes = Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace,
                                              Kokkos::DefaultExecutionSpace::memory_space>::accessible
                       ? 240
                       : 4096;
  // Dense products by cblas_dgemm (OpenBLAS) when the memory is host-accessible; `kokkos` forces the
  // portable kernel that device builds use, so that host tests cover it.
  enum class DenseProducts { automatic, kokkos } dense = DenseProducts::automatic;
  // `mixed` (deck key grn.graph_ode.precision): the hidden layers 2 .. L-1 in single precision from the
  // kernel that writes them to the one that reads them: layer 1's output y_1 (computed in double, stored in
  // float), the products y_l = W_l y_{l-1} (cblas_sgemm with float copies of W_l made once per evaluation),
  // the activations, the activation tape and the VJP's cotangents of y_1 .. y_{L-1}. The state, the
  // attention, the first layer's table, the output layer (its dot product summed in double), the decay and
  // every parameter gradient (a tile's float weight gradient is added to the double sum) stay double. L <= 2
  // has no hidden product: `mixed` computes what `double` does. docs/performance.md gives its speed and
  // accuracy.
  GraphOdePrecision precision = GraphOdePrecision::double_precision;
};

// The head-averaged attention of every in-edge of every owned node at one state (host copies; the learned GRN
// read-out, SPEC §2.2). Node (i, k) is row i * G + k; its edges are [offsets[row], offsets[row + 1]) in the
// order the RHS visits them: the self loop, the prior sources of k for the cell's type, then for each LR pair
// with receptor k (in the model's pair order) each signalling neighbour.
using GraphOdeAttention = EdgeAttention;

class GraphOdeModel : public TrainableGeneModel {
public:
  using execution_space = Kokkos::DefaultExecutionSpace;
  using memory_space = execution_space::memory_space;

  // `network` gives the gene graph of each cell type (or `dense`, per the architecture); `pairs` the LR
  // pairs whose receptors get intercellular edges once set_signaling() provides a graph. The model shares
  // `parameters.values()` (Views are handles), so whoever holds them sees the values the model uses.
  GraphOdeModel(GraphOdeParameters parameters, const GeneNetwork& network,
                std::vector<LigandReceptorPair> pairs, GraphOdeOptions options = {});

  // The local cells' type view (length >= number of cells evaluated). Call again whenever the types change
  // (every step): under `per_type` the cells are regrouped by parameter set at the next evaluation.
  void set_cell_types(Kokkos::View<const int*> cell_type) override;
  // Per step: who signals to whom and the exchange of ligand values (nullptr: no intercellular edges). Both
  // must outlive the evaluations that use them; the graph's owned rows are the cells evaluated. Call again
  // when the graph's content changes: the VJP's transposed graph is built here.
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override;

  // Collective when signalling is set (the ligand exchange runs inside). While recording (see the tape
  // below) it also keeps the hidden activations of every node; otherwise it writes no tape.
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override;

  // The activation tape (AdjointGeneRhs's hooks): a recording evaluate() keeps y_2 .. y_{L-1} (after the
  // ReLU; the mask is y > 0) of every node, (L-2) x nodes x M values laid out [layer][node in tile
  // order][unit], and a replaying vjp() reads them instead of recomputing the hidden products, so that the
  // VJP runs two M x M products per hidden layer instead of three. Both evaluate the same products with the
  // same BLAS calls on the same operands, so the gradient is bit for bit the one without the tape. L <= 2 has
  // no hidden product: nothing to keep (tape_bytes 0). The model holds only the pointers (`mutable`: set on
  // a const model by the integrator that owns the slots).
  std::size_t tape_bytes(std::size_t n_cells) const override;
  void record_activations(ActivationSlot* slot) const override { tape_record_ = slot; }
  void replay_activations(const ActivationSlot* slot) const override { tape_replay_ = slot; }

  // x_bar = lambda^T df/dx (owned cells x G, overwritten) and theta_bar += lambda^T df/dtheta (the layout of
  // parameters().values()); either may be an empty View. Activations are recomputed tile by tile, never
  // stored for all nodes. Subgradients at kinks follow the forward: ReLU'(0) = 0 and LeakyReLU'(0) = 0.2
  // (the forward takes ReLU(v) = v only for v > 0 and LeakyReLU(v) = v only for v > 0.2 v). Ligand
  // cotangents of ghost cells go back to their owners (reverse halo). Collective when signalling is set.
  // In graph_ode_adjoint.cpp.
  void vjp(double t, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
           ParameterGradient theta_bar) const override;

  // Collective when signalling is set (the ligand exchange runs inside). Needs set_cell_types() as for
  // evaluate(); computed on the host.
  GraphOdeAttention attention_weights(ConstGeneState x) const;
  bool edge_attention(ConstGeneState x, EdgeAttention& attention) const override {
    attention = attention_weights(x);
    return true;
  }
  const std::vector<LigandReceptorPair>& pairs() const override { return pairs_; }
  // With edge_weights on: s_u of every prior edge of every cell type (the set of its type); else empty.
  std::vector<SignedEdgeWeight> signed_edge_weights() const override;

  const GraphOdeParameters& parameters() const override { return parameters_; }
  const GraphOdeOptions& options() const { return options_; }
  // The optimizer updates parameters().values() in place; the next evaluation uses them.
  GraphOdeParameters& parameters() override { return parameters_; }
  // model.h5: write_graph_ode_model / read_graph_ode_model with this model's architecture and names.
  void write(h5::File& file) const override;
  void read(const std::string& path) override;
  int n_genes() const { return n_genes_; }

  // Bytes a model of this architecture holds whatever the cell count: its parameters and the tables of its
  // first layer (n_sets x K x (H + 1) x M slopes and offsets). For refusing, from the deck, a model that
  // cannot fit.
  static double resident_bytes(const GraphOdeArchitecture& architecture, int n_genes, int n_sets);

  // Floating-point operations per node and evaluation (exp counted as one) for a node with `in_edges`
  // in-edges, self loop included: a performance model for benchmarks.
  double flops_per_node(double in_edges) const;
  // The same for one vjp() (state and parameters; forward recomputation included, the hidden layers' products
  // only when the vjp does not replay a tape).
  double vjp_flops_per_node(double in_edges, bool replaying_tape = false) const;

private:
  struct EdgeTermIndex;
  EdgeTermIndex edge_term_index(EdgeTerms terms, const std::vector<GraphOdeEdge>& list,
                                const std::vector<int>& offsets, const std::vector<int>& sources) const;
  using TileKernels = GraphOdeTileKernels<execution_space>;
  // Whole tiles on the host's threads (grn/graph_ode_tiles.hpp); one tile at a time elsewhere.
  static constexpr bool tiles_on_threads = std::is_same_v<execution_space, Kokkos::DefaultHostExecutionSpace>;
  void group_cells(int n_cells) const;
  void update_shared() const;
  // At least `count` tile work spaces, with the VJP's buffers when `vjp` (never inside a parallel loop).
  void allocate_workspaces(int count, bool vjp) const;
  // The hidden layers run in float (GraphOdeOptions::precision mixed, L >= 3).
  bool mixed() const {
    return options_.precision == GraphOdePrecision::mixed && parameters_.architecture().mlp_layers >= 3;
  }
  // c (rows x out) = a (rows x in) W^T, given W^T (in x out, row-major: weight_t_): cblas_dgemm or, for
  // Real = float, cblas_sgemm (graph_ode.cpp instantiates both).
  template <class Real>
  void dense_product(const TileKernels& kernels, int rows, int out, int in, const Real* a,
                     const Real* weight_t, Real* c) const;
  // This set's W_l^T (l = 2 .. L-1) in weight_t_ (Real = double) or weight_t_mixed_ (float).
  template <class Real>
  const Real* hidden_weight_t(int set, int l) const;
  // This set's W_l (l = 2 .. L-1) in float (mixed precision only).
  const float* hidden_weight_mixed(int set, int l) const;
  template <AttentionVariant Variant, class Real>
  void attention(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set, ConstGeneState x,
                 const GraphOdeEdges& edges, const GraphOdeAttentionRecord& record,
                 const GraphOdeTileWorkspace& work) const;
  // The forward of one tile: dxdt of its nodes, and with `tape` their hidden activations and attention record
  // (the tape of `nodes` nodes). Real: the type of the hidden layers' values (float when mixed()).
  template <class Real>
  void forward_tile(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set, ConstGeneState x,
                    GeneState dxdt, const GraphOdeEdges& edges, double* tape, std::size_t nodes,
                    const GraphOdeTileWorkspace& work) const;
  // Doubles the tape's hidden activations take for `nodes` nodes: (L-2) x nodes x M values of the hidden
  // type (float when mixed(), two to a double, rounded up).
  std::size_t tape_hidden_doubles(std::size_t nodes) const;
  // Layer l's (2 .. L-1) rows [first_row, first_row + rows) in the tape, as values of the hidden type.
  template <class Real>
  Kokkos::View<Real**, Kokkos::LayoutRight> tape_layer(double* tape, std::size_t nodes, int l,
                                                       std::size_t first_row, int rows) const;
  // The attention record of rows [first_row, first_row + rows) in a tape of `nodes` nodes (after the hidden
  // activations: m, softmax maximum and denominator, nodes x K doubles each, then the intervals, nodes x K
  // ints).
  GraphOdeAttentionRecord tape_record(double* tape, std::size_t nodes, std::size_t first_row, int rows) const;
  GraphOdeEdges edges_for(ConstGeneState x) const; // collective when signalling is set
  // The VJP of one tile (graph_ode_adjoint.cpp): parameter gradients added to `theta_bar_set` (this set's
  // layout; null for a state-only VJP) and the first layer's interval sums to `sums`.
  template <AttentionVariant Variant, class Real>
  void vjp_tile(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set, ConstGeneState x,
                ConstGeneState lambda, const GraphOdeEdges& edges, GeneState x_bar, double* theta_bar_set,
                const GraphOdeIntervalSums& sums, const GraphOdeTileWorkspace& work) const;
  // The first layer's parameter gradients of one set from its interval sums over all its tiles.
  void layer_one_gradient(int set, ParameterGradient theta_bar) const;
  void allocate_vjp_buffers() const;

  GraphOdeParameters parameters_;
  GraphOdeOptions options_;
  int n_genes_ = 0;
  int n_types_ = 0;
  std::vector<LigandReceptorPair> pairs_;
  // The instance the kernels of one evaluation run on: one thread for a small state (execution_for), set by
  // evaluate() and vjp() from the number of nodes.
  mutable execution_space space_;

  Kokkos::View<int*> prior_offsets_, prior_source_;
  // Per-edge terms (empty when off): the tensor entry of each CSR position, and the inverse, entry p ->
  // positions [term_offsets(p), term_offsets(p + 1)) of term_position, for the VJP's per-entry sums.
  struct EdgeTermIndex {
    Kokkos::View<int*> index, offsets, position;
  };
  EdgeTermIndex weight_index_, bias_index_;
  Kokkos::View<int*> position_type_; // the cell type of each CSR position
  Kokkos::View<int*> receptor_offsets_, receptor_column_, receptor_ligand_;
  const SignalingGraph* signaling_graph_ = nullptr;
  const LigandExchange* ligand_exchange_ = nullptr;
  // The signalling graph transposed (per step, by set_signaling): the edges leaving each ligand row,
  // receivers ascending, over which the VJP sums the per-edge ligand cotangents in a fixed order (no
  // atomics).
  Kokkos::View<int*> ligand_edge_offsets_, ligand_edge_;

  Kokkos::View<const int*> cell_type_;
  // Cells grouped by parameter set (per_type only), rebuilt lazily when the types or the cell count change.
  mutable bool grouping_stale_ = true;
  mutable int grouped_cells_ = -1;
  mutable Kokkos::View<int*> order_;
  mutable std::vector<int> set_begin_;

  // Work spaces of the tiles (one per thread that runs tiles) and the per-set shared values; reused by every
  // evaluation.
  int tile_cells_ = 1;
  mutable std::vector<GraphOdeTileWorkspace> workspace_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> gat_scores_, gamma_;
  // The hidden layers' weights transposed (GraphOdeTransposeFunctor), refreshed with the shared values.
  mutable Kokkos::View<double**, Kokkos::LayoutRight> weight_t_;
  // The mixed precision's float copies instead: W_l^T and W_l, each [set][(l - 2) M^2 + ...].
  mutable Kokkos::View<float**, Kokkos::LayoutRight> weight_t_mixed_, weight_mixed_;
  Kokkos::View<int*> hidden_weight_offset_;
  // Gene embeddings' constant terms (GraphOdeEmbeddingFunctor); empty when off.
  mutable Kokkos::View<double***, Kokkos::LayoutRight> embedding_offset_, embedding_logit_;
  mutable GraphOdeLayerOne layer_one_;
  // The VJP's buffers beside the tiles' work spaces: the first layer's interval sums of a set (one View
  // holding above, above_m, below, below_m in turn), a vector of ones (column sums by dgemv), the ligand
  // cotangents per signalling edge (each written by its receiver's thread) and per owned and ghost ligand
  // row; on the host, per chunk of tiles its partial parameter gradient (a set's layout) followed by its
  // interval sums (above, above_m).
  mutable bool vjp_ready_ = false;
  mutable Kokkos::View<double*> vjp_interval_storage_, vjp_ones_;
  mutable GraphOdeIntervalSums vjp_interval_sums_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> vjp_ligand_bar_, vjp_edge_ligand_bar_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> vjp_chunk_partial_;
  // The tape slot being recorded into by evaluate() / read by vjp(); null when none (owned by the caller).
  mutable ActivationSlot* tape_record_ = nullptr;
  mutable const ActivationSlot* tape_replay_ = nullptr;
};

// Collective on comm. The model of the deck's `grn.graph_ode`: parameters from `model_file` (read on rank 0,
// errors agreed across ranks, values broadcast) or Glorot-initialised from `init_seed`.
// Collective, as below, from an already-read configuration.
std::unique_ptr<GraphOdeModel> make_graph_ode_model(MPI_Comm comm, const GraphOdeConfig& config,
                                                    const GeneNetwork& network,
                                                    const SignalingParams& signaling,
                                                    const std::vector<std::string>& type_names,
                                                    GraphOdeOptions options = {});
std::unique_ptr<GraphOdeModel> make_graph_ode_model(MPI_Comm comm, const Deck& deck,
                                                    const GeneNetwork& network,
                                                    const SignalingParams& signaling,
                                                    const std::vector<std::string>& type_names,
                                                    GraphOdeOptions options = {});

} // namespace tessera
