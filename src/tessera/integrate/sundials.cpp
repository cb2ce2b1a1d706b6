#include "tessera/integrate/sundials.hpp"

#include <sundials/sundials_version.h>

#include <cstdlib>

namespace tessera::sundials {

std::string cvode_flag_name(int flag) {
  char* name = CVodeGetReturnFlagName(flag);
  std::string out = name ? name : ("flag " + std::to_string(flag));
  std::free(name); // CVodeGetReturnFlagName returns malloc'd memory
  return out;
}

void check(int flag, const char* call) {
  if (flag >= 0) return;
  throw runtime_error(std::string(call) + " failed: " + cvode_flag_name(flag));
}

void require_host_genes(const std::string& key) {
  if constexpr (!vector_reaches_genes)
    throw input_error(key +
                      ": `cvode` needs gene memory the host can address (SUNDIALS' MPI N_Vector), but " +
                      "this build's Kokkos keeps genes in " + GeneState::memory_space::name() +
                      " memory: use `rk4` (it runs on the device)");
}

std::string version() {
  char buf[64] = {0};
  SUNDIALSGetVersion(buf, sizeof buf);
  return buf;
}

Context::Context(MPI_Comm comm) : comm_(comm) {
  // SUNDIALS 6 takes a pointer to the communicator (SUNDIALS 7 takes the communicator itself).
#if SUNDIALS_VERSION_MAJOR >= 7
  check(SUNContext_Create(comm_, &ctx_), "SUNContext_Create");
#else
  check(SUNContext_Create(static_cast<void*>(&comm_), &ctx_), "SUNContext_Create");
#endif
}

Context::~Context() {
  if (ctx_) SUNContext_Free(&ctx_);
}

} // namespace tessera::sundials
