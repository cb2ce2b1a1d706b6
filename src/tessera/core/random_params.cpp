#include "tessera/core/random_params.hpp"

#include "tessera/io/deck.hpp"

namespace tessera {

const KeyTable& random_keys() {
  static const KeyTable table = [] {
    KeyTable t("random", "Counter-based random numbers (SPEC §4.3): the same seed gives the same tissue on "
                         "any number of ranks.");
    t.add("seed", KeyType::integer)
        .def("1")
        .non_negative()
        .describe("Seed of every random draw (Philox key).");
    return t;
  }();
  return table;
}

std::uint64_t read_seed(const Deck& deck) {
  return static_cast<std::uint64_t>(deck.section("random").integer("seed"));
}

} // namespace tessera
