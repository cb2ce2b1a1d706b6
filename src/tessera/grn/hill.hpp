// The `hill` gene model (SPEC §2.1), the mechanistic ground-truth generator:
//   dx_k/dt = beta_k [ b_k + sum_{j->k in E_c} K_jk H_s(x_j) + sum_{(l,k) in LR} K_lk H+(s_l) ] - lambda_k
//   x_k
// with s_l = sum over signalling neighbours n of w(d_in) x_nl, plus, for a receptor of a diffusible field
// (fields.receptors), K H+(c) with c the field at the cell's centre (set_field_values).
#pragma once

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/received_signal.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

// Edges grouped by (cell type, target gene) in CSR form: the in-edges of gene k in a cell of type c are
// [offsets(c*G+k), offsets(c*G+k+1)). Edges given for every type ("*") are copied into each type's rows.
struct HillEdges {
  Kokkos::View<int*> offsets;
  Kokkos::View<int*> source;
  Kokkos::View<int*> activates; // 1 activation, 0 repression
  Kokkos::View<double*> K;
  Kokkos::View<double*> n;
  Kokkos::View<int*> n_int;      // n when it is an integer in [1, 16] (then x^n is a few multiplies), else 0
  Kokkos::View<double*> h_pow_n; // h^n, precomputed
};

// x^n for x >= 0: by squaring when n is a small integer (the common case, and ~10x cheaper than pow).
KOKKOS_INLINE_FUNCTION double hill_power(double x, double n, int n_int) {
  if (n_int > 0) {
    double result = 1.0, base = x;
    for (int e = n_int; e > 0; e >>= 1) {
      if (e & 1) result *= base;
      base *= base;
    }
    return result;
  }
  return math::pow(x, n);
}

// Per-cell kernel body, separate from how cells are iterated (STYLE.md).
struct HillRhsFunctor {
  Kokkos::View<const int*> type;
  ConstGeneState x;
  GeneState dxdt;
  Kokkos::View<const int*> offsets;
  Kokkos::View<const int*> source;
  Kokkos::View<const int*> activates;
  Kokkos::View<const double*> K, n;
  Kokkos::View<const int*> n_int;
  Kokkos::View<const double*> h_pow_n;
  Kokkos::View<const double*> production, basal, decay;
  // Ligand->receptor terms: pairs with receptor k are [lr_offsets(k), lr_offsets(k+1)); `signal` holds the
  // received ligand sums per owned cell and ligand column.
  Kokkos::View<const int*> lr_offsets, lr_column, lr_n_int;
  Kokkos::View<const double*> lr_K, lr_n, lr_h_pow_n;
  Kokkos::View<const double**, Kokkos::LayoutRight> signal;
  int n_genes;
  bool signaling;
  // Field -> receptor terms: receptors of gene k are [fr_offsets(k), fr_offsets(k+1)); `field` holds the
  // fields' values per owned cell and substrate.
  Kokkos::View<const int*> fr_offsets, fr_column, fr_n_int;
  Kokkos::View<const double*> fr_K, fr_n, fr_h_pow_n;
  Kokkos::View<const double**, Kokkos::LayoutRight> field;
  bool fields = false;

  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const int row = type(i) * n_genes;
    for (int k = 0; k < n_genes; ++k) {
      double drive = basal(k);
      for (int e = offsets(row + k); e < offsets(row + k + 1); ++e) {
        // Expression below 0 can appear transiently inside an implicit solve; the Hill terms treat it as 0.
        const double xs = x(i, source(e)) > 0.0 ? x(i, source(e)) : 0.0;
        const double xn = hill_power(xs, n(e), n_int(e));
        const double denom = h_pow_n(e) + xn;
        drive += K(e) * (activates(e) ? xn : h_pow_n(e)) / denom;
      }
      if (signaling)
        for (int p = lr_offsets(k); p < lr_offsets(k + 1); ++p) {
          const double sp = signal(i, lr_column(p)) > 0.0 ? signal(i, lr_column(p)) : 0.0;
          const double sn = hill_power(sp, lr_n(p), lr_n_int(p));
          drive += lr_K(p) * sn / (lr_h_pow_n(p) + sn);
        }
      if (fields)
        for (int p = fr_offsets(k); p < fr_offsets(k + 1); ++p) {
          const double c = field(i, fr_column(p)) > 0.0 ? field(i, fr_column(p)) : 0.0;
          const double cn = hill_power(c, fr_n(p), fr_n_int(p));
          drive += fr_K(p) * cn / (fr_h_pow_n(p) + cn);
        }
      dxdt(i, k) = production(k) * drive - decay(k) * x(i, k);
    }
  }
};

class HillModel : public CellGeneModel {
public:
  HillModel(const GeneNetwork& network, int n_types, const SignalingParams& signaling = {});

  void set_cell_types(Kokkos::View<const int*> cell_type) override { cell_type_ = cell_type; }
  // This step's signalling graph and ligand exchange; nullptr switches intercellular terms off.
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override {
    graph_ = graph;
    exchange_ = exchange;
  }
  void set_field_values(Kokkos::View<const double**, Kokkos::LayoutRight> values) override {
    field_values_ = values;
  }
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override;

  int n_genes() const { return n_genes_; }
  const HillEdges& edges() const { return edges_; }

private:
  int n_genes_;
  HillEdges edges_;
  Kokkos::View<double*> production_, basal_, decay_;
  Kokkos::View<const int*> cell_type_;
  Kokkos::View<int*> lr_offsets_, lr_column_, lr_n_int_;
  Kokkos::View<double*> lr_K_, lr_n_, lr_h_pow_n_;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> signal_;
  const SignalingGraph* graph_ = nullptr;
  const LigandExchange* exchange_ = nullptr;
  bool has_pairs_ = false;
  Kokkos::View<int*> fr_offsets_, fr_column_, fr_n_int_;
  Kokkos::View<double*> fr_K_, fr_n_, fr_h_pow_n_;
  Kokkos::View<const double**, Kokkos::LayoutRight> field_values_;
  bool has_field_receptors_ = false;
};

} // namespace tessera
