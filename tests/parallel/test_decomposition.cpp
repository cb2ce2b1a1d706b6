// Cartesian decomposition (SPEC §4.1): the rank boxes tile the domain, every point has exactly one owner,
// including points exactly on box edges, and a fixed rank grid from the deck is honoured.
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/mpi.hpp"

#include "../support/box_domain.hpp"

#include <gtest/gtest.h>

using namespace tessera;
using test::box_domain;

TEST(CartesianDecomposition, EveryPointHasExactlyOneOwner) {
  for (int dim : {2, 3}) {
    CartesianDecomposition dec(MPI_COMM_WORLD, box_domain(dim), {0, 0, 0});
    // Points on a grid that includes every box edge (the edges are multiples of extent/dims).
    int wrong = 0;
    for (int i = 0; i <= 60; ++i)
      for (int j = 0; j <= 60; ++j)
        for (int k = 0; k <= (dim == 3 ? 12 : 0); ++k) {
          const double p[3] = {-10 + 100.0 * i / 60, 30.0 * j / 60, 5 + 20.0 * k / 12};
          int mine = dec.owns(p) ? 1 : 0, owners = 0;
          MPI_Allreduce(&mine, &owners, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
          wrong += owners != 1;
        }
    EXPECT_EQ(wrong, 0) << "dim " << dim;
  }
}

TEST(CartesianDecomposition, HonoursAFixedGridAndRejectsOneThatDoesNotFit) {
  const int n = mpi::size(MPI_COMM_WORLD);
  CartesianDecomposition dec(MPI_COMM_WORLD, box_domain(2), {1, 0, 0});
  EXPECT_EQ(dec.dims()[0], 1);
  EXPECT_EQ(dec.dims()[1], n);
  if (n > 1) {
    EXPECT_THROW(CartesianDecomposition(MPI_COMM_WORLD, box_domain(2), {n + 1, 0, 0}), Error);
  }
}
