#include "tessera/tissue/domain.hpp"

#include "tessera/io/deck.hpp"

namespace tessera {

const KeyTable& domain_keys() {
  static const KeyTable table = [] {
    KeyTable t("domain", "The simulation box `[lo, hi]^dim` (SPEC §1.2).");
    t.add("dim", KeyType::integer).def("2").between(2, 3).describe("Spatial dimension, 2 or 3.");
    t.add("lo", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .require()
        .describe("Lower corner, one value per axis.");
    t.add("hi", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .require()
        .describe("Upper corner, one value per axis; hi > lo on every axis.");
    t.add_choice("boundary", {"reflecting", "periodic"})
        .def("reflecting")
        .describe("Boundary of every axis: `reflecting` mirrors a cell crossing a wall back inside, "
                  "`periodic` wraps it.");
    return t;
  }();
  return table;
}

double Domain::volume() const {
  double v = 1.0;
  for (int a = 0; a < dim; ++a)
    v *= extent(a);
  return v;
}

Domain read_domain(const Deck& deck) {
  const DeckView s = deck.section("domain");
  Domain d;
  d.dim = static_cast<int>(s.integer("dim"));
  const auto lo = s.reals("lo");
  const auto hi = s.reals("hi");
  for (int a = 0; a < d.dim; ++a) {
    d.lo[a] = lo[a];
    d.hi[a] = hi[a];
    if (!(hi[a] > lo[a]))
      s.fail("hi", "hi must exceed lo on every axis (axis " + std::to_string(a) +
                       ": lo = " + format_number(lo[a]) + " um, hi = " + format_number(hi[a]) + " um)");
    d.periodic[a] = s.text("boundary") == "periodic";
  }
  return d;
}

} // namespace tessera
