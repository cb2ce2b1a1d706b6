// The VJPs of the sigmoid model: one kernel per cell for the state (and the per-node values the parameters
// need), the received signal's adjoint and the reverse halo for the ligand path, one kernel per (type,
// target) row for the parameters. No atomics anywhere: the gradients do not depend on the thread count.
#include "tessera/grn/sigmoid.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"

namespace tessera {

void SigmoidModel::vjp(double /*t*/, ConstGeneState x, ConstGeneState lambda, GeneState x_bar,
                       ParameterGradient theta_bar) const {
  ScopedRegion region("tessera::grn::sigmoid::vjp");
  using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
  const int n_cells = static_cast<int>(x.extent(0));
  if (lambda.extent(0) != x.extent(0) || (x_bar.extent(0) && x_bar.extent(0) != x.extent(0)))
    throw runtime_error("sigmoid: vjp needs x, lambda and x_bar of the same number of cells");
  if (theta_bar.extent(0) && (theta_bar.extent(0) != parameters_.values().extent(0) ||
                              theta_bar.extent(1) != parameters_.values().extent(1)))
    throw runtime_error("sigmoid: theta_bar must have the shape of parameters().values()");
  const SigmoidGraph graph = graph_for(x); // collective
  // Every rank takes the same decision (the caller passes x_bar on all ranks or on none; a rank without
  // cells has x_bar of 0 x G), so the reverse halo below is entered by all or none.
  const bool state = x_bar.extent(1) > 0;
  const bool ligand_path = graph.signaling && state && !intracellular_vjp_;
  const bool want_parameters = theta_bar.extent(0) > 0;
  if (ligand_path) {
    const std::size_t rows = std::max({ligand_exchange_->n_rows(), received_.n_rows(), x.extent(0)});
    const std::size_t columns = static_cast<std::size_t>(ligand_exchange_->n_ligands());
    if (ligand_bar_.extent(0) < rows || ligand_bar_.extent(1) != columns)
      ligand_bar_ = Matrix("tessera::grn::sigmoid::ligand_bar", rows + rows / 4 + 8, columns);
    if (signal_bar_.extent(0) < x.extent(0) || signal_bar_.extent(1) != columns)
      signal_bar_ = Matrix("tessera::grn::sigmoid::signal_bar", x.extent(0) + x.extent(0) / 4 + 8, columns);
    Kokkos::deep_copy(ligand_bar_, 0.0);
  }
  if (n_cells > 0) {
    if (cell_type_.extent(0) < static_cast<std::size_t>(n_cells))
      throw runtime_error("sigmoid: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                          " cells, the state has " + std::to_string(n_cells));
    if (want_parameters &&
        (node_g_.extent(0) < x.extent(0) || node_g_.extent(1) != static_cast<std::size_t>(n_genes_))) {
      const std::size_t rows = x.extent(0) + x.extent(0) / 4 + 8;
      node_g_ = Matrix("tessera::grn::sigmoid::node_g", rows, n_genes_);
      node_sigma_ = Matrix("tessera::grn::sigmoid::node_sigma", rows, n_genes_);
    }
    const SigmoidTensors p = tensors();
    SigmoidVjpCellFunctor cell;
    cell.graph = graph;
    cell.p = p;
    cell.x = x;
    cell.lambda = lambda;
    if (state) cell.x_bar = x_bar;
    if (ligand_path) cell.signal_bar = signal_bar_;
    if (want_parameters) {
      cell.node_g = node_g_;
      cell.node_sigma = node_sigma_;
    }
    cell.n_genes = n_genes_;
    Kokkos::parallel_for("tessera::grn::sigmoid::vjp_cells",
                         range_for<execution_space>(0, n_cells, n_cells * n_genes_), cell);
    if (ligand_path) received_.adjoint(signal_bar_, ligand_bar_);
    if (want_parameters) {
      by_type_.update(cell_type_, n_cells, n_types_, "sigmoid");
      double* theta_bar_set = theta_bar.data();
      const double* theta = parameters_.values().data();
      const std::size_t rows = static_cast<std::size_t>(n_types_) * static_cast<std::size_t>(n_genes_);
      using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
      SigmoidVjpParameterFunctor parameter;
      parameter.graph = graph;
      parameter.type_offsets = by_type_.begin();
      parameter.type_cells = by_type_.order();
      parameter.x = x;
      parameter.lambda = lambda;
      parameter.node_g = node_g_;
      parameter.node_sigma = node_sigma_;
      parameter.beta_rho = Kokkos::View<const double*, Unmanaged>(theta + offset_beta_, rows);
      parameter.gamma_rho = Kokkos::View<const double*, Unmanaged>(theta + offset_gamma_, rows);
      parameter.W_bar = theta_bar_set + offset_W_;
      parameter.V_bar = theta_bar_set + offset_V_;
      parameter.b_bar = theta_bar_set + offset_b_;
      parameter.beta_rho_bar = theta_bar_set + offset_beta_;
      parameter.gamma_rho_bar = theta_bar_set + offset_gamma_;
      parameter.n_genes = n_genes_;
      parameter.n_pairs = candidates_.n_pairs();
      parameter.p = p;
      Kokkos::parallel_for("tessera::grn::sigmoid::vjp_parameters",
                           Kokkos::RangePolicy<execution_space>(0, static_cast<int>(rows)), parameter);
    }
  } else if (state && x_bar.extent(0)) {
    Kokkos::deep_copy(x_bar, 0.0);
  }
  // Collective: every rank sends its ghosts' ligand cotangents back, also one without cells.
  if (ligand_path) ligand_exchange_->scatter_ligand_cotangents(ligand_bar_, x_bar);
  Kokkos::fence();
}

} // namespace tessera
