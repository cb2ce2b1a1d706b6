// Vector-Jacobian products of the `graph_ode` RHS (SPEC §3.3): the reverse sweep through the decay, the
// MLP (BLAS products with transposes), the first layer (through the forward's piecewise-linear table) and
// the attention of every node, tile by tile.
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include "tessera/grn/graph_ode.hpp"

#include <cblas.h>

#include <algorithm>
#include <tuple>
#include <type_traits>

namespace tessera {

namespace {

using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
using RawMatrix = Kokkos::View<double**, Kokkos::LayoutRight, GraphOdeModel::memory_space, Unmanaged>;
// The hidden layers' values: double, or float for the mixed precision (GraphOdeOptions::precision).
template <class Real>
using RawValues = Kokkos::View<Real**, Kokkos::LayoutRight, GraphOdeModel::memory_space, Unmanaged>;
template <class Real>
using Values = Kokkos::View<Real**, Kokkos::LayoutRight>;
using execution_space = GraphOdeModel::execution_space;

constexpr bool blas_reaches_memory =
    Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, GraphOdeModel::memory_space>::accessible;

// Asks the host's cache for the line at p ahead of its use; nothing where the compiler has no such hint or
// in device code.
KOKKOS_INLINE_FUNCTION void prefetch(const void* p) {
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

// The derivatives of the activations, with the forward's conventions at 0: ReLU(v) = v only for v > 0, so
// ReLU'(0) = 0; LeakyReLU(v) = max(v, 0.2 v) = v only for v > 0, so LeakyReLU'(0) = 0.2.
KOKKOS_INLINE_FUNCTION double leaky_relu_slope(double v) {
  return v > 0.2 * v ? 1.0 : 0.2;
}

// The output and the decay: the cotangent of W_L y + b_L is lambda(i, k); -gamma_k x_ik gives x_bar and the
// per-row term of rho_bar_k (d softplus / d rho = sigmoid(rho)).
struct GraphOdeVjpOutputFunctor {
  ConstGeneState x, lambda;
  GeneState x_bar; // may be empty
  GraphOdeTile tile;
  RawMatrix cotangent; // rows x 1
  Kokkos::View<double*> rho_partial;
  const double* gamma = nullptr;
  const double* rho = nullptr;
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int cell = tile.cell(r);
    const int k = r % tile.n_genes;
    const double g = lambda(cell, k);
    cotangent(r, 0) = g;
    if (x_bar.extent(0)) x_bar(cell, k) -= g * gamma[k];
    rho_partial(r) = -g * x(cell, k) / (1.0 + math::exp(-rho[k]));
  }
};

// rho_bar_k += sum over the tile's rows of gene k, in row order (deterministic).
struct GraphOdeVjpDecayFunctor {
  Kokkos::View<const double*> rho_partial;
  int rows = 0, n_genes = 0;
  double* rho_bar = nullptr;
  KOKKOS_INLINE_FUNCTION void operator()(const int k) const {
    double sum = 0.0;
    for (int r = k; r < rows; r += n_genes)
      sum += rho_partial(r);
    rho_bar[k] += sum;
  }
};

// out[c] += sum_r weight[r] a(r, c): bias gradients (weights 1), the last layer's weights and per-row
// parameter partials, one thread per column (summed in double also when Real is float).
template <class Real = double>
struct GraphOdeVjpColumnSumFunctor {
  RawValues<Real> a;
  const double* weight = nullptr;
  double* out = nullptr;
  bool accumulate = true;
  KOKKOS_INLINE_FUNCTION void operator()(const int c) const {
    double sum = 0.0;
    for (int r = 0; r < static_cast<int>(a.extent(0)); ++r)
      sum += weight[r] * a(r, c);
    out[c] = (accumulate ? out[c] : 0.0) + sum;
  }
};

// out = a^T weight (+ out when accumulating): one dgemv where BLAS reaches the memory (the column-per-thread
// kernel strides through the whole matrix once per column). `weight` is a vector of ones for plain sums. A
// float matrix (the mixed precision's hidden values) takes the kernel, which sums in double.
template <class Real>
void column_sums(const GraphOdeTileKernels<execution_space>& kernels, bool blas, const RawValues<Real>& a,
                 double* out, bool accumulate, const double* weight) {
  const int rows = static_cast<int>(a.extent(0)), cols = static_cast<int>(a.extent(1));
  if constexpr (blas_reaches_memory && std::is_same_v<Real, double>) {
    if (blas) {
      kernels.fence();
      cblas_dgemv(CblasRowMajor, CblasTrans, rows, cols, 1.0, a.data(), cols, weight, 1,
                  accumulate ? 1.0 : 0.0, out, 1);
      return;
    }
  }
  kernels.range("tessera::grn::graph_ode::vjp_column_sums", cols,
                GraphOdeVjpColumnSumFunctor<Real>{a, weight, out, accumulate});
}

// The last layer (one output per node) backward in one pass over the rows instead of an outer-product GEMM
// and a mask pass: y_{L-1} = ReLU(q + b_{L-1}) from the recomputed product q (L >= 3; written back, W_L_bar
// needs it; or read from the activation tape), and its cotangent lambda_r W_L, masked by ReLU' where this
// kernel applies the ReLU (for L = 2, layer 1's mask is the first layer's kernel's). Real: the type of y and
// y_bar (float for the mixed precision; each value computed in double and rounded once).
template <class Real = double>
struct GraphOdeVjpLastLayerFunctor {
  Values<Real> y;                 // rows x M: q on entry when `bias`, y_{L-1} on return
  const double* bias = nullptr;   // b_{L-1} (L >= 3)
  const double* weight = nullptr; // W_L
  RawMatrix lambda;               // rows x 1
  RawValues<Real> y_bar;          // rows x M
  // Host: one thread takes every row in order and also accumulates W_L_bar += lambda_r y_{L-1}(r),
  // b_L_bar += lambda_r and (L >= 3) b_{L-1}_bar += y_bar(r), saving three passes over the tile.
  bool whole_tile = false;
  double* weight_bar = nullptr;
  double* output_bias_bar = nullptr;
  double* bias_bar = nullptr;
  // y already holds y_{L-1} = ReLU(q + b_{L-1}) (from the activation tape; `bias` null): its cotangent is
  // masked by y > 0, which holds exactly when q + b_{L-1} > 0.
  bool activated = false;

  KOKKOS_INLINE_FUNCTION void row(const int r) const {
    const int width = static_cast<int>(y.extent(1));
    const double g = lambda(r, 0);
    // Restrict-qualified copies: without them the stores to the row could alias the weights, and the
    // compiler would not vectorise the loop.
    Real* KOKKOS_RESTRICT out = &y_bar(r, 0);
    Real* KOKKOS_RESTRICT row = &y(r, 0);
    const double* KOKKOS_RESTRICT w = weight;
    // The masks are selects between the stored product and 0 (vectorised): written as `mask ? g * w[j] : 0`,
    // the compiler keeps the multiplication under a branch on y's sign, which is random.
    for (int j = 0; j < width; ++j)
      out[j] = static_cast<Real>(g * w[j]);
    if (bias) {
      const double* KOKKOS_RESTRICT b = bias;
      for (int j = 0; j < width; ++j) {
        // Rounded as the forward rounds it (GraphOdeOutputFunctor), so the mask is the forward's.
        const Real v = static_cast<Real>(row[j] + b[j]);
        row[j] = v > Real(0) ? v : Real(0);
        out[j] = v > Real(0) ? out[j] : Real(0);
      }
    } else if (activated) {
      for (int j = 0; j < width; ++j)
        out[j] = row[j] > Real(0) ? out[j] : Real(0);
    }
    if (!weight_bar) return;
    double* KOKKOS_RESTRICT w_bar = weight_bar;
    for (int j = 0; j < width; ++j)
      w_bar[j] += g * row[j];
    output_bias_bar[0] += g;
    if (bias_bar) {
      double* KOKKOS_RESTRICT b_bar = bias_bar;
      for (int j = 0; j < width; ++j)
        b_bar[j] += out[j];
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    if (!whole_tile) {
      row(i);
      return;
    }
    // Replaying a tape, y is read from memory (the tape of a whole stage does not fit the cache) with little
    // work per row, so the loads stall: fetching 6 rows ahead took this kernel from 10-12 % of a training
    // iteration to 8 %.
    const int rows = static_cast<int>(y.extent(0)), width = static_cast<int>(y.extent(1));
    for (int r = 0; r < rows; ++r) {
      if (r + 6 < rows)
        for (int j = 0; j < width; j += static_cast<int>(64 / sizeof(Real))) // one 64-byte cache line
          prefetch(&y(r + 6, j));
      row(r);
    }
  }
};

// In place cotangent(r, j) *= ReLU'(u(r, j)), with y = ReLU(u) > 0 exactly when u > 0.
template <class Real = double>
struct GraphOdeVjpMaskFunctor {
  RawValues<Real> cotangent;
  Kokkos::View<const Real**, Kokkos::LayoutRight> y;
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    // A select, not a store under a branch on y's sign (random: mispredicted half the time).
    for (int j = 0; j < static_cast<int>(cotangent.extent(1)); ++j)
      cotangent(r, j) = y(r, j) > Real(0) ? cotangent(r, j) : Real(0);
  }
};

// Portable products of the backward pass, where BLAS cannot reach the memory (sums in double).
// weight_bar(o, j) += sum_r cotangent(r, o) a(r, j)
template <class Real = double>
struct GraphOdeVjpWeightFunctor {
  RawValues<Real> cotangent, a;
  double* weight_bar = nullptr;
  KOKKOS_INLINE_FUNCTION void operator()(const int o, const int j) const {
    double sum = 0.0;
    for (int r = 0; r < static_cast<int>(a.extent(0)); ++r)
      sum += cotangent(r, o) * a(r, j);
    weight_bar[o * a.extent(1) + j] += sum;
  }
};
// a_bar(r, j) = sum_o cotangent(r, o) W(o, j)
template <class Real = double>
struct GraphOdeVjpInputFunctor {
  RawValues<Real> cotangent, a_bar;
  const double* weight = nullptr;
  KOKKOS_INLINE_FUNCTION void operator()(const int r, const int j) const {
    double sum = 0.0;
    for (int o = 0; o < static_cast<int>(cotangent.extent(1)); ++o)
      sum += cotangent(r, o) * weight[o * a_bar.extent(1) + j];
    a_bar(r, j) = static_cast<Real>(sum);
  }
};

// The first layer's backward per row. The cotangent of layer 1's output is masked by ReLU' in place (when
// layer 1 is hidden), and per head m_bar^h = sum_o cotangent(r, o) slope(h, i_h, o): the table's slope in
// the row's interval is sum over the active units d of W_1(o, d) w_d, i.e. exactly d(W_1 z)/d m^h, so
// neither z nor z_bar = cotangent W_1 (a K*H x width product per row) is ever formed. Real: the type of y_1
// and its cotangent (float for the mixed precision); m_bar is summed in double.
template <class Real = double>
struct GraphOdeVjpLayerOneFunctor {
  RawValues<Real> cotangent;                         // rows x width
  Kokkos::View<const Real**, Kokkos::LayoutRight> y; // layer 1's output, for the mask
  bool mask = true;                                  // layer 1 is hidden (L >= 2)
  GraphOdeLayerOne layer_one;
  int set = 0, heads = 1;
  Kokkos::View<const int**, Kokkos::LayoutRight> interval;
  Matrix m_bar; // rows x K
  KOKKOS_INLINE_FUNCTION void operator()(const int r) const {
    const int width = static_cast<int>(cotangent.extent(1));
    Real* KOKKOS_RESTRICT c = &cotangent(r, 0);
    if (mask)
      for (int o = 0; o < width; ++o)
        c[o] = y(r, o) > Real(0) ? c[o] : Real(0);
    for (int h = 0; h < heads; ++h) {
      const double* KOKKOS_RESTRICT slope = &layer_one.slope(set, h, interval(r, h), 0);
      // Four partial sums: one running sum would make every term wait for the previous addition.
      double sum[4] = {0.0, 0.0, 0.0, 0.0};
      int o = 0;
      for (; o + 4 <= width; o += 4)
        for (int q = 0; q < 4; ++q)
          sum[q] += c[o + q] * slope[o + q];
      for (; o < width; ++o)
        sum[0] += c[o] * slope[o];
      m_bar(r, h) = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    }
  }
};

// Sums of the first layer's cotangent over the rows whose m^h lies in each interval i of head h's table,
// plain and times m^h, accumulated into above(h, i, o) and above_m(h, i, o) tile after tile over all the
// rows of a parameter set (GraphOdeVjpIntervalPrefixFunctor then turns them into running sums). Within an
// interval every unit of z is either off or z_d = w_d m + b0_d, so these (O(K width) per row) are all the
// first layer's parameter gradients need (GraphOdeVjpLayerOneParameterFunctor) instead of W_1_bar +=
// cotangent^T z (K*H x width per row). Rows in order, so the sums are deterministic. Each thread owns
// `columns` outputs o: all of them on the host (one contiguous pass over the rows), one on a device (width
// threads, no atomics).
// With `fused` (one thread owns every column), the thread also runs the first layer's row kernel on each row
// just before summing it, so the cotangent is read once while it is in cache.
template <class Real = double>
struct GraphOdeVjpIntervalSumFunctor {
  RawValues<Real> cotangent; // rows x width, masked (or masked here, when fused)
  Kokkos::View<const double**, Kokkos::LayoutRight> m;
  Kokkos::View<const int**, Kokkos::LayoutRight> interval;
  GraphOdeIntervalSums sums;
  int columns = 1;
  bool fused = false;
  GraphOdeVjpLayerOneFunctor<Real> layer_one; // the row kernel, when fused
  KOKKOS_INLINE_FUNCTION void operator()(const int block) const {
    const int width = static_cast<int>(cotangent.extent(1)), rows = static_cast<int>(cotangent.extent(0));
    const int heads = static_cast<int>(sums.above.extent(0));
    const int first = block * columns, last = first + columns < width ? first + columns : width;
    for (int r = 0; r < rows; ++r) {
      if (fused) layer_one(r);
      const Real* KOKKOS_RESTRICT c = &cotangent(r, 0);
      for (int h = 0; h < heads; ++h) {
        const double mh = m(r, h);
        double* KOKKOS_RESTRICT s = &sums.above(h, interval(r, h), 0);
        double* KOKKOS_RESTRICT sm = &sums.above_m(h, interval(r, h), 0);
        for (int o = first; o < last; ++o) {
          s[o] += c[o];
          sm[o] += c[o] * mh;
        }
      }
    }
  }
};

// Once a set's tiles are summed: `above` holds the sum of each interval i; this forms the running sums from
// below, below(h, i, o) over the intervals < i, and in place those from above, over the intervals >= i
// (i = 0 .. H+1). One thread per output o.
struct GraphOdeVjpIntervalPrefixFunctor {
  GraphOdeIntervalSums sums;
  KOKKOS_INLINE_FUNCTION void operator()(const int o) const {
    const int heads = static_cast<int>(sums.above.extent(0)), bounds = static_cast<int>(sums.above.extent(1));
    for (int h = 0; h < heads; ++h) {
      sums.below(h, 0, o) = 0.0;
      sums.below_m(h, 0, o) = 0.0;
      for (int i = 0; i + 1 < bounds; ++i) {
        sums.below(h, i + 1, o) = sums.below(h, i, o) + sums.above(h, i, o);
        sums.below_m(h, i + 1, o) = sums.below_m(h, i, o) + sums.above_m(h, i, o);
      }
      for (int i = bounds - 2; i >= 0; --i) {
        sums.above(h, i, o) += sums.above(h, i + 1, o);
        sums.above_m(h, i, o) += sums.above_m(h, i + 1, o);
      }
    }
  }
};

// The first layer's parameter gradients, one thread per unit u = (h, d). The rows where unit d is on are the
// intervals above its breakpoint (w_d > 0: the table's interval counts the breakpoints below m), those up to
// it (w_d < 0), or every row (w_d = 0 and b0_d > 0: z_d = b0_d); on them z_d = w_d m + b0_d. With P1 and P0
// the interval sums of cotangent x m and of cotangent over those rows:
//   W_1_bar(o, u) += w_d P1(o) + b0_d P0(o),
//   w_bar_u += sum_o W_1(o, u) P1(o),  b0_bar_u += sum_o W_1(o, u) P0(o),
// and b_1_bar (thread 0) is the total of the cotangent.
struct GraphOdeVjpLayerOneParameterFunctor {
  GraphOdeIntervalSums sums;
  GraphOdeLayerOne layer_one;
  int set = 0, heads = 1, hidden = 1;
  const double* theta = nullptr; // this set's parameters
  double* theta_bar = nullptr;
  int w = 0, b0 = 0, weight = 0, bias = 0; // offsets of w, b0, W_1 and b_1
  KOKKOS_INLINE_FUNCTION void operator()(const int u) const {
    const int h = u / hidden, d = u % hidden, in = heads * hidden;
    const int width = static_cast<int>(sums.above.extent(2));
    const double wd = theta[w + u], bd = theta[b0 + u];
    const double* p1 = nullptr;
    const double* p0 = nullptr;
    if (wd == 0.0) {
      if (bd > 0.0) {
        p1 = &sums.above_m(h, 0, 0);
        p0 = &sums.above(h, 0, 0);
      }
    } else {
      int j = 0; // the unit's position among the sorted breakpoints (every unit with w_d != 0 has one)
      while (j < hidden && layer_one.unit(set, h, j) != d)
        ++j;
      if (j < hidden) {
        p1 = wd > 0.0 ? &sums.above_m(h, j + 1, 0) : &sums.below_m(h, j + 1, 0);
        p0 = wd > 0.0 ? &sums.above(h, j + 1, 0) : &sums.below(h, j + 1, 0);
      }
    }
    if (p1) {
      double w_bar = 0.0, b0_bar = 0.0;
      for (int o = 0; o < width; ++o) {
        const double W = theta[weight + o * in + u];
        theta_bar[weight + o * in + u] += wd * p1[o] + bd * p0[o];
        w_bar += W * p1[o];
        b0_bar += W * p0[o];
      }
      theta_bar[w + u] += w_bar;
      theta_bar[b0 + u] += b0_bar;
    }
    if (u == 0)
      for (int o = 0; o < width; ++o)
        theta_bar[bias + o] += sums.above(0, 0, o);
  }
};

// The attention of one cell's nodes (one thread per cell, so the cotangents of the cell's own genes need no
// atomics; those of neighbours' ligands go to the cell's own signalling edges, summed per ligand row after by
// GraphOdeVjpLigandGatherFunctor), from m_bar and the forward's softmax statistics. Per row it
// leaves the partials of the attention parameters in `partial`: GAT: [0, K) d/d(a_dst.w), [K, 2K)
// d/d(a_src.w); GATv2: [0, KH) a, [KH, 2KH) v_src, [2KH, 3KH) v_dst. (Real: that of the forward's y, unused
// here.)
template <AttentionVariant Variant, class Real = double>
struct GraphOdeVjpAttentionFunctor {
  GraphOdeAttentionFunctor<Variant, Real> attention; // the edges, the per-set values, the tile, the record
  Kokkos::View<const double**, Kokkos::LayoutRight> m_bar;
  Matrix partial;
  GeneState x_bar;        // may be empty
  Matrix edge_ligand_bar; // signalling edges x ligand columns
  // Per-edge terms: per tile cell and prior edge of its type (CSR position minus the type's first), the
  // partials of s_u and of the logit bias summed over heads; empty when the term is off.
  Matrix weight_partial, bias_partial;
  // Gene embeddings: per tile cell, the partials of the source terms q^h . e_j, [K][G]; empty when off.
  Matrix source_partial;

  // Calls visit(h_u, w_u, bias_u, kind, a, b, gene) for every in-edge of node (cell, k), in the forward's
  // order: the self loop (kind 0), prior edges (kind 1, a = source gene, b = CSR position; w_u = s_u, 1 when
  // off), ligands (kind 2, a = signalling edge, b = column); bias_u is what the forward adds to head h's
  // logit (the edge's bias and the embedding's source term, 0 when off), gene the source gene.
  template <class Visit>
  KOKKOS_INLINE_FUNCTION void for_each_edge(int cell, int k, double x_k, int h, Visit&& visit) const {
    const GraphOdeEdges& edges = attention.edges;
    const int G = attention.tile.n_genes;
    const double* term = attention.source_logit ? attention.source_logit + h * G : nullptr;
    visit(x_k, 1.0, term ? term[k] : 0.0, 0, k, 0, k);
    const int row = attention.cell_type(cell) * G + k;
    for (int e = edges.prior_offsets(row); e < edges.prior_offsets(row + 1); ++e) {
      const int j = edges.prior_source(e);
      visit(attention.x(cell, j), attention.edge_weight ? attention.edge_weight[edges.weight_index(e)] : 1.0,
            (term ? term[j] : 0.0) + (attention.edge_bias ? attention.edge_bias[edges.bias_index(e)] : 0.0),
            1, j, e, j);
    }
    if (edges.signaling)
      for (int q = edges.receptor_offsets(k); q < edges.receptor_offsets(k + 1); ++q) {
        const int column = edges.receptor_column(q), ligand_gene = edges.receptor_ligand(q);
        for (int n = edges.neighbour_offsets(cell); n < edges.neighbour_offsets(cell + 1); ++n) {
          const int source = edges.neighbour_source(n);
          visit(edges.ligand(source, column),
                edges.neighbour_weight.extent(0) ? edges.neighbour_weight(n) : 1.0,
                term ? term[ligand_gene] : 0.0, 2, n, column, ligand_gene);
        }
      }
  }

  // GAT: e = LeakyReLU(s_dst x_k + s_src h); GATv2: e = sum_d a_d LeakyReLU(v_dst_d x_k + v_src_d h).
  KOKKOS_INLINE_FUNCTION double logit(int h, double x_k, double hu) const {
    if constexpr (Variant == AttentionVariant::gat) {
      return GatLogit{x_k * attention.gat_scores[h], attention.gat_scores[attention.heads + h]}(hu);
    } else {
      const int head = h * attention.hidden;
      return Gatv2Logit{attention.a + head, attention.v_src + head, attention.v_dst + head, x_k,
                        attention.hidden}(hu);
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(const int c) const {
    const int G = attention.tile.n_genes;
    const int heads = attention.heads, hidden = attention.hidden, KH = heads * hidden;
    const GraphOdeAttentionRecord& record = attention.record;
    // The first CSR position of this cell's type: prior edge e is column e - first of the per-edge partials.
    const int type_row = attention.cell_type(attention.tile.cell(c * G)) * G;
    const int first = attention.edges.prior_offsets(type_row);
    const bool edge_terms = weight_partial.extent(0) || bias_partial.extent(0);
    if (edge_terms)
      for (int e = 0; e < attention.edges.prior_offsets(type_row + G) - first; ++e) {
        if (weight_partial.extent(0)) weight_partial(c, e) = 0.0;
        if (bias_partial.extent(0)) bias_partial(c, e) = 0.0;
      }
    const bool source_terms = source_partial.extent(0) > 0;
    if (source_terms)
      for (int j = 0; j < heads * G; ++j)
        source_partial(c, j) = 0.0;
    // d m / d s_u = alpha_u h_u and d m / d bias_u = d m / d e_u (so for the source term of head h's logit),
    // all times m_bar.
    const auto edge_partials = [&](int h, int kind, int e, int gene, double alpha_m_bar_h, double e_bar) {
      if (source_terms) source_partial(c, h * G + gene) += e_bar;
      if (!edge_terms || kind != 1) return;
      if (weight_partial.extent(0)) weight_partial(c, e - first) += alpha_m_bar_h;
      if (bias_partial.extent(0)) bias_partial(c, e - first) += e_bar;
    };
    for (int k = 0; k < G; ++k) {
      const int r = c * G + k;
      const int cell = attention.tile.cell(r);
      const double x_k = attention.x(cell, k);
      const int width = static_cast<int>(partial.extent(1));
      for (int j = 0; j < width; ++j)
        partial(r, j) = 0.0;
      double x_k_bar = 0.0;
      for (int h = 0; h < heads; ++h) {
        const double mh_bar = m_bar(r, h);
        if (mh_bar == 0.0) continue;
        // m = sum_u alpha_u c_u, c_u = w_u h_u, alpha = softmax(e) with the forward's largest logit and
        // denominator: d m / d e_u = alpha_u (c_u - m) and d m / d h_u = alpha_u w_u.
        const double top = record.softmax_max(r, h), mh = record.m(r, h);
        // alpha_u m_bar = exp(e_u - top) scale: one multiplication per edge instead of a division.
        const double scale = mh_bar / record.softmax_denominator(r, h);
        // h_u's cotangent goes to the node itself, a gene of the same cell, or a neighbour's ligand.
        const auto send = [&](int kind, int a, int b, double hu_bar) {
          if (!x_bar.extent(0)) return;
          if (kind == 0)
            x_k_bar += hu_bar;
          else if (kind == 1)
            x_bar(cell, a) += hu_bar;
          else
            edge_ligand_bar(a, b) += hu_bar;
        };
        if constexpr (Variant == AttentionVariant::gat) {
          // e_u = LeakyReLU(pre_u), pre_u = x_k s_dst + h_u s_src as GatLogit forms it; the partials of
          // s_dst and s_src are summed over the edges in registers.
          const double s_dst = attention.gat_scores[h], s_src = attention.gat_scores[heads + h];
          const double destination = x_k * s_dst;
          double s_dst_bar = 0.0, s_src_bar = 0.0;
          for_each_edge(
              cell, k, x_k, h, [&](double hu, double wu, double bias, int kind, int a, int b, int gene) {
                const double pre = destination + s_src * hu;
                const double weight = math::exp(leaky_relu(pre) + bias - top) * scale; // alpha_u m_bar
                const double e_bar = weight * (wu * hu - mh);
                const double pre_bar = e_bar * leaky_relu_slope(pre);
                edge_partials(h, kind, b, gene, weight * hu, e_bar);
                x_k_bar += pre_bar * s_dst;
                s_dst_bar += pre_bar * x_k;
                s_src_bar += pre_bar * hu;
                send(kind, a, b, weight * wu + pre_bar * s_src);
              });
          partial(r, h) += s_dst_bar;
          partial(r, heads + h) += s_src_bar;
        } else {
          for_each_edge(
              cell, k, x_k, h, [&](double hu, double wu, double bias, int kind, int a, int b, int gene) {
                const double weight = math::exp(logit(h, x_k, hu) + bias - top) * scale; // alpha_u m_bar
                const double e_bar = weight * (wu * hu - mh);
                edge_partials(h, kind, b, gene, weight * hu, e_bar);
                double hu_bar = weight * wu;
                for (int d = 0; d < hidden; ++d) {
                  const int u = h * hidden + d;
                  const double pre = attention.v_dst[u] * x_k + attention.v_src[u] * hu;
                  const double pre_bar = e_bar * attention.a[u] * leaky_relu_slope(pre);
                  partial(r, u) += e_bar * leaky_relu(pre);
                  partial(r, KH + u) += pre_bar * hu;
                  partial(r, 2 * KH + u) += pre_bar * x_k;
                  x_k_bar += pre_bar * attention.v_dst[u];
                  hu_bar += pre_bar * attention.v_src[u];
                }
                send(kind, a, b, hu_bar);
              });
        }
      }
      if (x_bar.extent(0)) x_bar(cell, k) += x_k_bar;
    }
  }
};

// The attention parameters' gradients from the column sums of the partials (one thread per unit (h, d)):
// GAT's scores s_dst = a_dst . w and s_src = a_src . w spread back onto a_dst, a_src and w.
// ligand_bar(n, c) = the sum of the per-edge cotangents of the edges leaving ligand row n, receivers
// ascending: one thread per row, so no two threads write one value and the order of the sum is fixed (the
// gradients do not depend on the thread count).
struct GraphOdeVjpLigandGatherFunctor {
  Kokkos::View<const int*> offsets, edge; // the transposed signalling graph
  Kokkos::View<const double**, Kokkos::LayoutRight> edge_ligand_bar;
  Matrix ligand_bar;
  KOKKOS_INLINE_FUNCTION void operator()(const int n) const {
    for (std::size_t c = 0; c < ligand_bar.extent(1); ++c) {
      double sum = 0.0;
      for (int e = offsets(n); e < offsets(n + 1); ++e)
        sum += edge_ligand_bar(edge(e), c);
      ligand_bar(n, c) = sum;
    }
  }
};

struct GraphOdeVjpHeadFunctor {
  const double* sum = nullptr; // column sums of the partials
  const double* theta = nullptr;
  double* theta_bar = nullptr;
  bool gat = true;
  int heads = 1, hidden = 1;
  int w = 0, a_src = 0, a_dst = 0, a = 0, v_src = 0, v_dst = 0; // offsets
  KOKKOS_INLINE_FUNCTION void operator()(const int u) const {
    const int KH = heads * hidden, h = u / hidden;
    if (gat) {
      const double s_dst_bar = sum[h], s_src_bar = sum[heads + h];
      theta_bar[w + u] += s_dst_bar * theta[a_dst + u] + s_src_bar * theta[a_src + u];
      theta_bar[a_dst + u] += s_dst_bar * theta[w + u];
      theta_bar[a_src + u] += s_src_bar * theta[w + u];
    } else {
      theta_bar[a + u] += sum[u];
      theta_bar[v_src + u] += sum[KH + u];
      theta_bar[v_dst + u] += sum[2 * KH + u];
    }
  }
};

// The gradient of one per-edge entry p over a tile: the partials of its CSR positions (one per type under
// per_type, one per type having the edge under shared), each summed over the tile's cells of that type, in
// order (deterministic, no atomics: one thread per entry).
struct GraphOdeVjpEdgeTermFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> partial; // tile cells x edges of a type
  Kokkos::View<const int*> offsets, position, position_type, prior_offsets, cell_type;
  GraphOdeTile tile;
  int cells = 0;
  double* theta_bar = nullptr; // the tensor's first entry
  KOKKOS_INLINE_FUNCTION void operator()(const int p) const {
    const int G = tile.n_genes;
    double sum = 0.0;
    for (int q = offsets(p); q < offsets(p + 1); ++q) {
      const int e = position(q), type = position_type(e);
      const int column = e - prior_offsets(type * G);
      for (int c = 0; c < cells; ++c)
        if (cell_type(tile.cell(c * G)) == type) sum += partial(c, column);
    }
    theta_bar[p] += sum;
  }
};

// Gene embeddings, layer 1: per (gene k, output o) the sum of the masked cotangent over the tile's rows of
// gene k, in row order: the cotangent of the constant W1_embedding e_k.
template <class Real = double>
struct GraphOdeVjpGeneCotangentFunctor {
  RawValues<Real> cotangent; // rows x width, masked
  Matrix gene_cotangent;     // G x width
  KOKKOS_INLINE_FUNCTION void operator()(const int index) const {
    const int G = static_cast<int>(gene_cotangent.extent(0)),
              width = static_cast<int>(gene_cotangent.extent(1));
    const int k = index / width, o = index % width;
    double sum = 0.0;
    for (int r = k; r < static_cast<int>(cotangent.extent(0)); r += G)
      sum += cotangent(r, o);
    gene_cotangent(k, o) = sum;
  }
};

// Gene embeddings' parameter gradients from the tile's sums, one thread per embedding dimension d (each
// writes only column d of every tensor): with C(k, o) the cotangent of W1_embedding e_k and T(h, j) that of
// q^h . e_j,
//   W1_embedding_bar(o, d) += sum_k C(k, o) e_k(d),  attention_embedding_bar(h, d) += sum_j T(h, j) e_j(d),
//   embedding_bar(k, d) += sum_o W1_embedding(o, d) C(k, o) + sum_h q^h(d) T(h, k).
struct GraphOdeVjpEmbeddingFunctor {
  Kokkos::View<const double**, Kokkos::LayoutRight> gene_cotangent; // G x width
  const double* source_sum = nullptr;                               // [K][G]
  const double* theta = nullptr;
  double* theta_bar = nullptr;
  int heads = 1, dimension = 1;
  int embedding = 0, attention = 0, weight = 0; // offsets
  KOKKOS_INLINE_FUNCTION void operator()(const int d) const {
    const int G = static_cast<int>(gene_cotangent.extent(0)),
              width = static_cast<int>(gene_cotangent.extent(1));
    const int D = dimension;
    for (int o = 0; o < width; ++o) {
      double sum = 0.0;
      for (int k = 0; k < G; ++k)
        sum += gene_cotangent(k, o) * theta[embedding + k * D + d];
      theta_bar[weight + o * D + d] += sum;
    }
    for (int h = 0; h < heads; ++h) {
      double sum = 0.0;
      for (int j = 0; j < G; ++j)
        sum += source_sum[h * G + j] * theta[embedding + j * D + d];
      theta_bar[attention + h * D + d] += sum;
    }
    for (int k = 0; k < G; ++k) {
      double sum = 0.0;
      for (int o = 0; o < width; ++o)
        sum += theta[weight + o * D + d] * gene_cotangent(k, o);
      for (int h = 0; h < heads; ++h)
        sum += theta[attention + h * D + d] * source_sum[h * G + k];
      theta_bar[embedding + k * D + d] += sum;
    }
  }
};

// A set's parameter gradients and first-layer interval sums from the partials of its chunks of tiles (host
// builds), one thread per entry j, the chunks in order: theta_bar[j] += their sum for the layout's entries
// (j < stride), the interval sums (above, then above_m) = their sum for the rest. Each partial is cleared as
// it is read, ready for the next VJP: a line in cache now, where clearing it before the chunk's tiles would
// first fetch it from memory (1 % of a training iteration's samples on one thread). A template so that device
// builds, which never use it (tiles_on_threads is false there), do not compile an unused function (nvcc
// warned #177-D).
template <class Partial>
struct GraphOdeVjpChunkSumFunctor {
  Partial partial; // chunks x (stride + interval sums)
  int first = 0, count = 0, stride = 0;
  double* theta_bar = nullptr;     // this set's
  double* interval_sums = nullptr; // above, above_m
  KOKKOS_INLINE_FUNCTION void operator()(const int j) const {
    double sum = 0.0;
    for (int c = first; c < first + count; ++c) {
      sum += partial(c, j);
      partial(c, j) = 0.0;
    }
    if (j < stride)
      theta_bar[j] += sum;
    else
      interval_sums[j - stride] = sum;
  }
};

} // namespace

void GraphOdeModel::allocate_vjp_buffers() const {
  if (vjp_ready_) return;
  const GraphOdeArchitecture& a = parameters_.architecture();
  const std::size_t rows = static_cast<std::size_t>(tile_cells_) * static_cast<std::size_t>(n_genes_);
  const int width_one = a.mlp_layers == 1 ? 1 : a.mlp_width;
  using Sums = Kokkos::View<double***, Kokkos::LayoutRight>;
  const std::size_t K = static_cast<std::size_t>(a.heads), bounds = static_cast<std::size_t>(a.hidden) + 2,
                    size = K * bounds * static_cast<std::size_t>(width_one);
  vjp_interval_storage_ = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_interval_sums", 4 * size);
  std::size_t next = 0;
  for (Sums* sums : {&vjp_interval_sums_.above, &vjp_interval_sums_.above_m, &vjp_interval_sums_.below,
                     &vjp_interval_sums_.below_m}) {
    *sums = Sums(vjp_interval_storage_.data() + next, K, bounds, width_one);
    next += size;
  }
  vjp_ones_ = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_ones", rows);
  Kokkos::deep_copy(vjp_ones_, 1.0);
  vjp_ready_ = true;
}

template <AttentionVariant Variant, class Real>
void GraphOdeModel::vjp_tile(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set,
                             ConstGeneState x, ConstGeneState lambda, const GraphOdeEdges& edges,
                             GeneState x_bar, double* theta_bar_set,
                             const GraphOdeIntervalSums& interval_sums,
                             const GraphOdeTileWorkspace& work) const {
  const ParameterLayout& layout = parameters_.layout();
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const int L = arch.mlp_layers, M = arch.mlp_width, K = arch.heads, H = arch.hidden, KH = K * H;
  const int G = n_genes_;
  const int width_one = L == 1 ? 1 : M;
  const std::size_t stride = parameters_.values().extent(1);
  const double* theta = parameters_.values().data() + set * stride;
  // Without theta_bar (a state-only VJP) the parameter products and sums are skipped.
  const bool want_parameters = theta_bar_set != nullptr;
  const auto offset = [&](const std::string& name) { return static_cast<int>(layout.tensor(name).offset); };
  const auto tile_rows = std::make_pair(0, rows);
  const bool blas = options_.dense == GraphOdeOptions::DenseProducts::automatic;

  // ---- Forward, recomputed for this tile with the forward's own kernel: y_1 .. y_{L-1}, and the record
  // (m, softmax statistics, table intervals) that replaces z.
  // Real: the hidden layers' values (float when mixed(): y_1 .. y_{L-1} and their cotangents).
  const auto& activation_buffers = work.hidden_activation<Real>();
  const Kokkos::View<Real*>* hidden_cotangent = work.hidden_cotangent<Real>();
  GraphOdeAttentionFunctor<Variant, Real> attention;
  attention.x = x;
  attention.cell_type = cell_type_;
  attention.tile = tile;
  attention.edges = edges;
  attention.layer_one = layer_one_;
  attention.set = set;
  attention.heads = K;
  attention.hidden = H;
  if constexpr (Variant == AttentionVariant::gatv2) {
    attention.a = theta + offset("a");
    attention.v_src = theta + offset("v_src");
    attention.v_dst = theta + offset("v_dst");
  }
  attention.gat_scores = gat_scores_.data() + set * gat_scores_.extent(1);
  if (layout.has("edge_weight")) attention.edge_weight = theta + offset("edge_weight");
  if (layout.has("edge_bias")) attention.edge_bias = theta + offset("edge_bias");
  if (arch.embedding > 0) {
    attention.gene_offset =
        embedding_offset_.data() + set * embedding_offset_.extent(1) * embedding_offset_.extent(2);
    attention.source_logit =
        embedding_logit_.data() + set * embedding_logit_.extent(1) * embedding_logit_.extent(2);
  }
  attention.activate = L >= 2;
  attention.y = Kokkos::subview(activation_buffers[1], tile_rows, Kokkos::ALL);
  // Replaying a tape: the recording forward kept the attention record and the hidden layers (in tile order:
  // see evaluate()), so only y_1 is rebuilt, from the record; else the attention runs again.
  const bool replay = tape_replay_ && L >= 3;
  const std::size_t nodes = x.extent(0) * static_cast<std::size_t>(G);
  if (replay) {
    attention.record =
        tape_record(tape_replay_->data(), nodes, static_cast<std::size_t>(tile.first) * G, rows);
    GraphOdeLayerOneRecordFunctor<Real> layer_one;
    layer_one.tile = tile;
    layer_one.layer_one = layer_one_;
    layer_one.set = set;
    layer_one.heads = K;
    layer_one.activate = attention.activate;
    layer_one.gene_offset = attention.gene_offset;
    layer_one.record = attention.record;
    layer_one.y = attention.y;
    kernels.range("tessera::grn::graph_ode::vjp_layer_one_record", rows, layer_one);
  } else {
    attention.record.m = Kokkos::subview(work.record.m, tile_rows, Kokkos::ALL);
    attention.record.softmax_max = Kokkos::subview(work.record.softmax_max, tile_rows, Kokkos::ALL);
    attention.record.softmax_denominator =
        Kokkos::subview(work.record.softmax_denominator, tile_rows, Kokkos::ALL);
    attention.record.interval = Kokkos::subview(work.record.interval, tile_rows, Kokkos::ALL);
    kernels.range("tessera::grn::graph_ode::vjp_forward", rows, attention);
  }
  // Layers 2 .. L-1: read from the tape when replaying one (activated), else recomputed here.
  std::vector<Values<Real>> activation(static_cast<std::size_t>(std::max(L, 2)));
  activation[1] = Kokkos::subview(activation_buffers[1], tile_rows, Kokkos::ALL);
  for (int l = 2; l < L; ++l) {
    if (replay) {
      activation[l] =
          tape_layer<Real>(tape_replay_->data(), nodes, l, static_cast<std::size_t>(tile.first) * G, rows);
      continue;
    }
    activation[l] = Kokkos::subview(activation_buffers[l], tile_rows, Kokkos::ALL);
    dense_product<Real>(kernels, rows, M, M, activation[l - 1].data(), hidden_weight_t<Real>(set, l),
                        activation[l].data());
    if (l < L - 1) // layer L-1's bias and ReLU are the last layer's backward kernel's
      kernels.range("tessera::grn::graph_ode::vjp_bias_relu", rows,
                    GraphOdeBiasReluFunctor<Real>{activation[l], theta + offset("b" + std::to_string(l))});
  }

  // ---- Backward: the output and decay, the last layer, then layers L-1 .. 2 (W_l_bar += cotangent^T input,
  // b_l_bar += column sums, input cotangent = cotangent W_l, masked by ReLU' of the input when it is a layer
  // >= 2).
  int current = 0;
  // The output's cotangent (rows x 1, double), then from layer L-1 down the hidden layers' (Real).
  const RawMatrix output_bar(work.cotangent[0].data(), rows, 1);
  RawValues<Real> cotangent;
  if constexpr (std::is_same_v<Real, double>)
    cotangent = output_bar; // L = 1: the first layer's cotangent (mixed() implies L >= 3)
  GraphOdeVjpOutputFunctor out{x,
                               lambda,
                               x_bar,
                               tile,
                               output_bar,
                               work.rho_partial,
                               gamma_.data() + set * gamma_.extent(1),
                               theta + offset("decay_rho")};
  kernels.range("tessera::grn::graph_ode::vjp_output", rows, out);
  if (want_parameters)
    kernels.range("tessera::grn::graph_ode::vjp_decay", G,
                  GraphOdeVjpDecayFunctor{work.rho_partial, rows, G, theta_bar_set + offset("decay_rho")});
  // On the host the last layer's kernel also sums its parameter gradients (and b_{L-1}'s) as it goes.
  const bool host = std::is_same_v<execution_space, Kokkos::DefaultHostExecutionSpace>;
  const bool sums_in_last_layer = host && want_parameters;
  if (L >= 2) {
    const Values<Real> input = activation[L - 1];
    RawValues<Real> input_bar(hidden_cotangent[1].data(), rows, M);
    GraphOdeVjpLastLayerFunctor<Real> last{
        input, L >= 3 && !replay ? theta + offset("b" + std::to_string(L - 1)) : nullptr,
        theta + offset("W" + std::to_string(L)), output_bar, input_bar};
    last.activated = replay;
    if (sums_in_last_layer) {
      last.whole_tile = true;
      last.weight_bar = theta_bar_set + offset("W" + std::to_string(L));
      last.output_bias_bar = theta_bar_set + offset("b" + std::to_string(L));
      if (L >= 3) last.bias_bar = theta_bar_set + offset("b" + std::to_string(L - 1));
    }
    kernels.range("tessera::grn::graph_ode::vjp_last_layer", last.whole_tile ? 1 : rows, last);
    if (want_parameters && !sums_in_last_layer) {
      column_sums<Real>(kernels, blas, RawValues<Real>(input.data(), rows, M),
                        theta_bar_set + offset("W" + std::to_string(L)), true, output_bar.data());
      column_sums<double>(kernels, blas, output_bar, theta_bar_set + offset("b" + std::to_string(L)), true,
                          vjp_ones_.data());
    }
    current = 1;
    cotangent = input_bar;
  }
  for (int l = L - 1; l >= 2; --l) {
    const int in = M, out_width = M;
    const Real* input = activation[l - 1].data();
    const double* weight = theta + offset("W" + std::to_string(l));
    double* weight_bar = want_parameters ? theta_bar_set + offset("W" + std::to_string(l)) : nullptr;
    if (want_parameters && !(sums_in_last_layer && l == L - 1))
      column_sums<Real>(kernels, blas, cotangent, theta_bar_set + offset("b" + std::to_string(l)), true,
                        vjp_ones_.data());
    RawValues<Real> input_bar(hidden_cotangent[1 - current].data(), rows, in);
    bool done = false;
    if constexpr (blas_reaches_memory) {
      if (blas) {
        kernels.fence(); // the kernels that wrote the operands must be done before BLAS reads them
        if constexpr (std::is_same_v<Real, float>) {
          // Cell by cell (the rows of one cell are the same whatever the ranks and tiles; see dense_product):
          // the weight gradient as a float product over the cell's G rows (M x M) added to the double sum,
          // so it depends on the decomposition only through the order of double additions, as in double
          // precision; the input cotangent with the float copy of W_l.
          if (want_parameters) {
            float* cell_bar = work.weight_bar_mixed.data();
            for (int first_row = 0; first_row < rows; first_row += G) {
              cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_width, in, G, 1.0f,
                          cotangent.data() + static_cast<std::size_t>(first_row) * out_width, out_width,
                          input + static_cast<std::size_t>(first_row) * in, in, 0.0f, cell_bar, in);
              for (int i = 0; i < out_width * in; ++i)
                weight_bar[i] += cell_bar[i];
            }
          }
          for (int first_row = 0; first_row < rows; first_row += G) // per cell, as dense_product
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, std::min(G, rows - first_row), in,
                        out_width, 1.0f, cotangent.data() + static_cast<std::size_t>(first_row) * out_width,
                        out_width, hidden_weight_mixed(set, l), in, 0.0f,
                        input_bar.data() + static_cast<std::size_t>(first_row) * in, in);
        } else {
          if (want_parameters)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_width, in, rows, 1.0, cotangent.data(),
                        out_width, input, in, 1.0, weight_bar, in);
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out_width, 1.0, cotangent.data(),
                      out_width, weight, in, 0.0, input_bar.data(), in);
        }
        done = true;
      }
    }
    if (!done) {
      const RawValues<Real> input_view(const_cast<Real*>(input), rows, in);
      if (want_parameters)
        kernels.range_2d("tessera::grn::graph_ode::vjp_weight", out_width, in,
                         GraphOdeVjpWeightFunctor<Real>{cotangent, input_view, weight_bar});
      kernels.range_2d("tessera::grn::graph_ode::vjp_input", rows, in,
                       GraphOdeVjpInputFunctor<Real>{cotangent, input_bar, weight});
    }
    if (l >= 3) // layer 1's mask is applied by the first layer's kernel below
      kernels.range("tessera::grn::graph_ode::vjp_mask", rows,
                    GraphOdeVjpMaskFunctor<Real>{input_bar, activation[l - 1]});
    current = 1 - current;
    cotangent = input_bar;
  }

  // ---- The first layer through its table: cotangent now holds y_1_bar (rows x width of layer 1).
  const auto m_bar = Kokkos::subview(work.m_bar, tile_rows, Kokkos::ALL);
  const GraphOdeVjpLayerOneFunctor<Real> layer_one_rows{
      cotangent,
      Kokkos::subview(activation_buffers[1], tile_rows, Kokkos::ALL),
      L >= 2,
      layer_one_,
      set,
      K,
      attention.record.interval,
      m_bar};
  // Host threads each take whole rows (contiguous; the row kernel fused in), device threads one output
  // column each after the row kernel.
  if (!(want_parameters && host))
    kernels.range("tessera::grn::graph_ode::vjp_layer_one", rows, layer_one_rows);
  if (want_parameters) {
    const int columns = host ? width_one : 1;
    GraphOdeVjpIntervalSumFunctor<Real> sums;
    sums.cotangent = cotangent;
    sums.m = attention.record.m;
    sums.interval = attention.record.interval;
    sums.sums = interval_sums;
    sums.columns = columns;
    sums.fused = host;
    sums.layer_one = layer_one_rows;
    kernels.range("tessera::grn::graph_ode::vjp_interval_sums", (width_one + columns - 1) / columns, sums);
    if (arch.embedding > 0) // the cotangent is masked now (by the row kernel, fused or not)
      kernels.range("tessera::grn::graph_ode::vjp_gene_cotangent", G * width_one,
                    GraphOdeVjpGeneCotangentFunctor<Real>{cotangent, work.gene_cotangent});
  }

  // ---- The attention: m_bar to the edges' sources and the attention parameters.
  GraphOdeVjpAttentionFunctor<Variant, Real> backward;
  backward.attention = attention;
  backward.m_bar = m_bar;
  backward.partial = Kokkos::subview(work.partial, tile_rows, Kokkos::ALL);
  backward.x_bar = x_bar;
  backward.edge_ligand_bar = vjp_edge_ligand_bar_;
  if (want_parameters) {
    backward.weight_partial = work.weight_partial;
    backward.bias_partial = work.bias_partial;
    backward.source_partial = work.source_partial;
  }
  kernels.range("tessera::grn::graph_ode::vjp_attention", rows / G, backward);
  if (!want_parameters) return;
  for (const auto& [term, partial, name] : {std::tuple{&weight_index_, &work.weight_partial, "edge_weight"},
                                            std::tuple{&bias_index_, &work.bias_partial, "edge_bias"}}) {
    if (!layout.has(name)) continue;
    GraphOdeVjpEdgeTermFunctor sum;
    sum.partial = *partial;
    sum.offsets = term->offsets;
    sum.position = term->position;
    sum.position_type = position_type_;
    sum.prior_offsets = prior_offsets_;
    sum.cell_type = cell_type_;
    sum.tile = tile;
    sum.cells = rows / G;
    sum.theta_bar = theta_bar_set + offset(name);
    kernels.range("tessera::grn::graph_ode::vjp_edge_terms", static_cast<int>(term->offsets.extent(0)) - 1,
                  sum);
  }
  if (arch.embedding > 0) {
    column_sums<double>(kernels, blas, RawMatrix(work.source_partial.data(), rows / G, K * G),
                        work.source_sum.data(), false, vjp_ones_.data());
    GraphOdeVjpEmbeddingFunctor embedding;
    embedding.gene_cotangent = work.gene_cotangent;
    embedding.source_sum = work.source_sum.data();
    embedding.theta = theta;
    embedding.theta_bar = theta_bar_set;
    embedding.heads = K;
    embedding.dimension = arch.embedding;
    embedding.embedding = offset("embedding");
    embedding.attention = offset("attention_embedding");
    embedding.weight = offset("W1_embedding");
    kernels.range("tessera::grn::graph_ode::vjp_embedding", arch.embedding, embedding);
  }
  const int partials = static_cast<int>(work.partial.extent(1));
  column_sums<double>(kernels, blas, RawMatrix(work.partial.data(), rows, partials), work.partial_sum.data(),
                      false, vjp_ones_.data());
  GraphOdeVjpHeadFunctor head;
  head.sum = work.partial_sum.data();
  head.theta = theta;
  head.theta_bar = theta_bar_set;
  head.gat = Variant == AttentionVariant::gat;
  head.heads = K;
  head.hidden = H;
  head.w = offset("w");
  if (head.gat) {
    head.a_src = offset("a_src");
    head.a_dst = offset("a_dst");
  } else {
    head.a = offset("a");
    head.v_src = offset("v_src");
    head.v_dst = offset("v_dst");
  }
  kernels.range("tessera::grn::graph_ode::vjp_heads", KH, head);
}

void GraphOdeModel::layer_one_gradient(int set, ParameterGradient theta_bar) const {
  const ParameterLayout& layout = parameters_.layout();
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const auto offset = [&](const std::string& name) { return static_cast<int>(layout.tensor(name).offset); };
  const std::size_t stride = parameters_.values().extent(1);
  Kokkos::parallel_for(
      "tessera::grn::graph_ode::vjp_interval_prefix",
      Kokkos::RangePolicy<execution_space>(space_, 0, static_cast<int>(vjp_interval_sums_.above.extent(2))),
      GraphOdeVjpIntervalPrefixFunctor{vjp_interval_sums_});
  GraphOdeVjpLayerOneParameterFunctor layer_one;
  layer_one.sums = vjp_interval_sums_;
  layer_one.layer_one = layer_one_;
  layer_one.set = set;
  layer_one.heads = arch.heads;
  layer_one.hidden = arch.hidden;
  layer_one.theta = parameters_.values().data() + set * stride;
  layer_one.theta_bar = theta_bar.data() + set * stride;
  layer_one.w = offset("w");
  layer_one.b0 = offset("b0");
  layer_one.weight = offset("W1");
  layer_one.bias = offset("b1");
  Kokkos::parallel_for("tessera::grn::graph_ode::vjp_layer_one_parameters",
                       Kokkos::RangePolicy<execution_space>(space_, 0, arch.heads * arch.hidden), layer_one);
}

void GraphOdeModel::vjp(double /*t*/, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
                        ParameterGradient theta_bar) const {
  ScopedRegion region("tessera::grn::graph_ode::vjp");
  const int n_cells = static_cast<int>(x.extent(0));
  const GraphOdeArchitecture& arch = parameters_.architecture();
  if (lambda.extent(0) != x.extent(0) || (x_bar.extent(0) && x_bar.extent(0) != x.extent(0)))
    throw runtime_error("graph_ode: vjp needs x, lambda and x_bar of the same number of cells");
  if (theta_bar.extent(0) && (theta_bar.extent(0) != parameters_.values().extent(0) ||
                              theta_bar.extent(1) != parameters_.values().extent(1)))
    throw runtime_error("graph_ode: theta_bar must have the shape of parameters().values()");
  const GraphOdeEdges edges = edges_for(x); // collective
  space_ =
      execution_for<execution_space>(static_cast<std::size_t>(n_cells) * static_cast<std::size_t>(n_genes_));
  if (x_bar.extent(0)) Kokkos::deep_copy(space_, x_bar, 0.0);
  const int ligand_rows = edges.signaling ? static_cast<int>(ligand_edge_offsets_.extent(0)) - 1 : 0;
  if (edges.signaling) {
    const std::size_t rows =
        std::max({ligand_exchange_->n_rows(), x.extent(0), static_cast<std::size_t>(ligand_rows)});
    const std::size_t columns = static_cast<std::size_t>(ligand_exchange_->n_ligands());
    if (vjp_ligand_bar_.extent(0) < rows || vjp_ligand_bar_.extent(1) != columns)
      vjp_ligand_bar_ = Matrix("tessera::grn::graph_ode::vjp_ligand_bar", rows + rows / 4 + 8, columns);
    Kokkos::deep_copy(space_, vjp_ligand_bar_, 0.0);
    const std::size_t n_edges = ligand_edge_.extent(0);
    if (vjp_edge_ligand_bar_.extent(0) < n_edges || vjp_edge_ligand_bar_.extent(1) != columns)
      vjp_edge_ligand_bar_ =
          Matrix("tessera::grn::graph_ode::vjp_edge_ligand_bar", n_edges + n_edges / 4 + 8, columns);
    Kokkos::deep_copy(space_, vjp_edge_ligand_bar_, 0.0);
  }
  if (n_cells > 0) {
    if (cell_type_.extent(0) < static_cast<std::size_t>(n_cells))
      throw runtime_error("graph_ode: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                          " cells, the state has " + std::to_string(n_cells));
    if (tape_replay_ && arch.mlp_layers >= 3 &&
        tape_replay_->extent(0) * sizeof(double) != tape_bytes(static_cast<std::size_t>(n_cells)))
      throw runtime_error(
          "graph_ode: the activation tape to replay was recorded for another number of cells");
    group_cells(n_cells);
    update_shared();
    allocate_vjp_buffers();
    const bool want_parameters = theta_bar.extent(0) > 0;
    const int stride = static_cast<int>(parameters_.values().extent(1));
    // Chunks of consecutive tiles of one set (its cells [first, end) in order_): on the host a fixed cut
    // (grn/graph_ode_tiles.hpp; one tile per chunk without parameter gradients, which need no partials), on
    // a device the whole set, its tiles one at a time.
    struct Chunk {
      int set, first, end;
    };
    std::vector<Chunk> chunks;
    std::vector<int> set_chunks{0}; // set s: chunks [set_chunks[s], set_chunks[s + 1])
    for (int set = 0; set < parameters_.n_sets(); ++set) {
      const int begin = set_begin_[set], end = set_begin_[set + 1];
      const int tiles = (end - begin + tile_cells_ - 1) / tile_cells_;
      const int per = !tiles_on_threads ? std::max(tiles, 1)
                      : want_parameters ? graph_ode_tiles_per_chunk(tiles)
                                        : 1;
      for (int first = begin; first < end; first += per * tile_cells_)
        chunks.push_back({set, first, std::min(end, first + per * tile_cells_)});
      set_chunks.push_back(static_cast<int>(chunks.size()));
    }
    const auto run_chunk = [&](const TileKernels& kernels, const Chunk& chunk, double* theta_bar_set,
                               const GraphOdeIntervalSums& sums, const GraphOdeTileWorkspace& work) {
      for (int first = chunk.first; first < chunk.end; first += tile_cells_) {
        const int rows = std::min(tile_cells_, chunk.end - first) * n_genes_;
        const GraphOdeTile tile{order_, parameters_.n_sets() > 1, first, n_genes_};
        const bool gat = arch.variant == AttentionVariant::gat;
        if (gat && mixed())
          vjp_tile<AttentionVariant::gat, float>(kernels, tile, rows, chunk.set, x, lambda, edges, x_bar,
                                                 theta_bar_set, sums, work);
        else if (gat)
          vjp_tile<AttentionVariant::gat, double>(kernels, tile, rows, chunk.set, x, lambda, edges, x_bar,
                                                  theta_bar_set, sums, work);
        else if (mixed())
          vjp_tile<AttentionVariant::gatv2, float>(kernels, tile, rows, chunk.set, x, lambda, edges, x_bar,
                                                   theta_bar_set, sums, work);
        else
          vjp_tile<AttentionVariant::gatv2, double>(kernels, tile, rows, chunk.set, x, lambda, edges, x_bar,
                                                    theta_bar_set, sums, work);
      }
    };
    const int n_chunks = static_cast<int>(chunks.size());
    if constexpr (tiles_on_threads) {
      // Each chunk sums its tiles, in order, into a partial gradient of its own (a set's layout, then the
      // first layer's interval sums; zeros on entry); the partials are added in chunk order below. Whichever
      // thread runs a chunk, the sums are the same.
      const auto host = execution_for<Kokkos::DefaultHostExecutionSpace>(static_cast<std::size_t>(n_cells) *
                                                                         static_cast<std::size_t>(n_genes_));
      allocate_workspaces(thread_workers(host), true);
      const GraphOdeIntervalSums& shape = vjp_interval_sums_;
      const int interval = static_cast<int>(shape.above.size());
      const int width = stride + 2 * interval;
      if (want_parameters && (vjp_chunk_partial_.extent(0) < static_cast<std::size_t>(n_chunks) ||
                              vjp_chunk_partial_.extent(1) != static_cast<std::size_t>(width)))
        vjp_chunk_partial_ = Matrix("tessera::grn::graph_ode::vjp_chunk_partial", n_chunks, width); // zeros
      space_.fence(); // update_shared()'s tables, the cleared cotangents
      for_each_on_threads(
          "tessera::grn::graph_ode::vjp_chunks", host, n_chunks, [&](const int c, const int worker) {
            double* partial = nullptr;
            GraphOdeIntervalSums sums;
            if (want_parameters) {
              partial = &vjp_chunk_partial_(c, 0); // zeros: cleared by the last VJP's sums
              using Sums = Kokkos::View<double***, Kokkos::LayoutRight>;
              sums.above =
                  Sums(partial + stride, shape.above.extent(0), shape.above.extent(1), shape.above.extent(2));
              sums.above_m = Sums(partial + stride + interval, shape.above.extent(0), shape.above.extent(1),
                                  shape.above.extent(2));
            }
            run_chunk(TileKernels{space_, true}, chunks[static_cast<std::size_t>(c)], partial, sums,
                      workspace_[static_cast<std::size_t>(worker)]);
          });
      if (want_parameters)
        for (int set = 0; set < parameters_.n_sets(); ++set) {
          const int first = set_chunks[static_cast<std::size_t>(set)],
                    count = set_chunks[static_cast<std::size_t>(set) + 1] - first;
          if (count == 0) continue;
          Kokkos::parallel_for("tessera::grn::graph_ode::vjp_chunk_sums",
                               Kokkos::RangePolicy<execution_space>(space_, 0, width),
                               GraphOdeVjpChunkSumFunctor<Matrix>{vjp_chunk_partial_, first, count, stride,
                                                                  theta_bar.data() + set * stride,
                                                                  vjp_interval_storage_.data()});
          layer_one_gradient(set, theta_bar);
        }
    } else {
      allocate_workspaces(1, true);
      for (const Chunk& chunk : chunks) {
        // The first layer's interval sums run over all the set's tiles; its parameter gradients follow once.
        if (want_parameters) {
          Kokkos::deep_copy(space_, vjp_interval_sums_.above, 0.0);
          Kokkos::deep_copy(space_, vjp_interval_sums_.above_m, 0.0);
        }
        run_chunk(TileKernels{space_, false}, chunk,
                  want_parameters ? theta_bar.data() + chunk.set * stride : nullptr, vjp_interval_sums_,
                  workspace_[0]);
        if (want_parameters) layer_one_gradient(chunk.set, theta_bar);
      }
    }
  }
  // Collective: every rank sends its ghosts' ligand cotangents back, also one without cells.
  if (edges.signaling && x_bar.extent(1) > 0) {
    Kokkos::parallel_for("tessera::grn::graph_ode::vjp_ligand_gather",
                         Kokkos::RangePolicy<execution_space>(space_, 0, ligand_rows),
                         GraphOdeVjpLigandGatherFunctor{ligand_edge_offsets_, ligand_edge_,
                                                        vjp_edge_ligand_bar_, vjp_ligand_bar_});
    ligand_exchange_->scatter_ligand_cotangents(vjp_ligand_bar_, x_bar);
  }
  space_.fence();
}

double GraphOdeModel::vjp_flops_per_node(double in_edges, bool replaying_tape) const {
  const GraphOdeArchitecture& a = parameters_.architecture();
  const double K = a.heads, H = a.hidden, M = a.mlp_width, L = a.mlp_layers;
  const double width_one = L == 1 ? 1.0 : M;
  const double logit = a.variant == AttentionVariant::gat ? 3.0 : 7.0 * H;
  // Recomputed forward: attention and layer 1 from the table (as in flops_per_node), layers 2 .. L-1 (read
  // from the tape instead when replaying one).
  const double forward = K * (in_edges * (logit + 5.0) + 1.0 + std::log2(H + 1.0) + 3.0 * width_one) +
                         (L >= 2 ? 2.0 * M : 0.0) +
                         (L >= 3 && !replaying_tape ? L - 2 : 0) * (2.0 * M * M + 2.0 * M);
  // Backward through layers L .. 2: W_bar += cotangent^T input and input_bar = cotangent W (2 x 2 in x out),
  // the bias's column sum and the ReLU mask of the input.
  double layers = 0.0;
  for (int l = 2; l <= a.mlp_layers; ++l) {
    const double out = l == a.mlp_layers ? 1.0 : M;
    layers += 4.0 * M * out + out + M;
  }
  // Layer 1 through its table: the mask, m_bar (a dot product per head) and the interval sums (add,
  // multiply-add per head and output); the per-unit work is per tile, not per node.
  const double layer_one = width_one + K * (2.0 * width_one + 3.0 * width_one);
  // Attention, per head and edge: the logit again, one exp with its subtraction and division, the
  // cotangents of e and h, and the logit's own backward (GAT: ~8, GATv2: ~12 per hidden unit).
  const double logit_backward = a.variant == AttentionVariant::gat ? 8.0 : 12.0 * H;
  const double attention = K * in_edges * (logit + 8.0 + logit_backward);
  return forward + layers + layer_one + attention + 6.0;
}

} // namespace tessera
