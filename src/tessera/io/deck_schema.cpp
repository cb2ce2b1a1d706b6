#include "tessera/io/deck_schema.hpp"

#include "tessera/core/random_params.hpp"
#include "tessera/field/field_params.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/integrate/time_params.hpp"
#include "tessera/io/output_params.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/learn/train_params.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/tissue/cell_types.hpp"
#include "tessera/tissue/domain.hpp"
#include "tessera/tissue/lifecycle.hpp"
#include "tessera/tissue/mechanics.hpp"

namespace tessera {

std::vector<const KeyTable*> all_key_tables() {
  return {&domain_keys(), &cells_keys(),     &division_keys(), &death_keys(),  &mechanics_keys(),
          &grn_keys(),    &signaling_keys(), &time_keys(),     &fields_keys(), &output_keys(),
          &random_keys(), &parallel_keys(),  &train_keys(),    &predict_keys()};
}

} // namespace tessera
