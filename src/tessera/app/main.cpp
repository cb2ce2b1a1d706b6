#include "tessera/app/main.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"
#include <Kokkos_Core.hpp>
namespace tessera::app {
int main(int argc, char** argv) { MPI_Init(&argc, &argv); Kokkos::initialize(argc, argv); Kokkos::finalize(); MPI_Finalize(); return 0; }
}
