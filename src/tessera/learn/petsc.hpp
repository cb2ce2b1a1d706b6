// The PETSc adapter: error codes become tessera::Error naming the call, and PETSc's own lifetime is an RAII
// guard. Training's TAO optimizers and (later) diffusion fields go through this header only.
#pragma once

#include "tessera/core/error.hpp"

#include <mpi.h>

#include <string>

namespace tessera::petsc {

// Throws runtime_error("<call> failed: <PETSc's message>") when code is non-zero.
void check(int code, const char* call);

// "3.18.5": the version of the PETSc library linked (not of the headers compiled against).
std::string version();

// Initialises PETSc on `comm` (collective) unless it already is, and finalises it on destruction if this
// guard initialised it. PETSc's signal handler is turned off: tessera reports its own errors.
class Session {
public:
  explicit Session(MPI_Comm comm);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

private:
  bool owns_ = false;
};

} // namespace tessera::petsc
