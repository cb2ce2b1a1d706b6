#include "tessera/field/cell_coupling.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

CellFieldTerms cell_field_terms(const DiffusionFields& fields, const CellSnapshot& cells) {
  const FieldParams& params = fields.params();
  const auto n_substrates = static_cast<std::size_t>(fields.n_substrates());
  CellFieldTerms terms;
  if (params.couplings.empty()) return terms;
  terms.source.assign(fields.n_owned_voxels() * n_substrates, 0.0);
  terms.uptake.assign(terms.source.size(), 0.0);
  const double voxel = fields.voxel_volume();
  const double pi = std::acos(-1.0);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    double position[3] = {0, 0, 0};
    for (int a = 0; a < cells.dim; ++a)
      position[a] = cells.position[i * static_cast<std::size_t>(cells.dim) + static_cast<std::size_t>(a)];
    const std::size_t v = fields.owned_voxel_of(position);
    const double r = cells.radius[i];
    const double cell_volume = cells.dim == 2 ? pi * r * r : 4.0 / 3.0 * pi * r * r * r;
    for (const FieldCoupling& c : params.couplings) {
      if (c.type != cells.type[i]) continue;
      const std::size_t at = v * n_substrates + static_cast<std::size_t>(c.substrate);
      double secretion = c.secretion;
      // A gene level below 0 (an integrator's overshoot) secretes nothing rather than taking up.
      if (c.secretion_gene >= 0)
        secretion *= std::max(0.0, cells.genes[i * static_cast<std::size_t>(cells.n_genes) +
                                               static_cast<std::size_t>(c.secretion_gene)]);
      terms.source[at] += secretion / voxel;
      terms.uptake[at] += c.uptake * cell_volume / voxel;
      // PhysiCell's saturation: secretion (1 - c / saturation) = secretion - (secretion / saturation) c,
      // whose c term joins the implicit uptake, so c tends to the saturation density without passing it.
      if (std::isfinite(c.saturation)) terms.uptake[at] += secretion / (c.saturation * voxel);
    }
  }
  return terms;
}

} // namespace tessera
