// The command line of tessera (SPEC §5): subcommands run, train, predict, check, convert, info.
#pragma once

namespace tessera::app {

// Initialises MPI and Kokkos, dispatches the subcommand, and turns every error into its exit code
// (0 success, 1 runtime failure, 2 usage or input error) without leaving any rank waiting.
int main(int argc, char** argv);

} // namespace tessera::app
