#include "tessera/learn/petsc.hpp"

#include <petscsys.h>

#include <cstring>

namespace tessera::petsc {

void check(int code, const char* call) {
  if (code == 0) return;
  const char* text = nullptr;
  char* specific = nullptr;
  PetscErrorMessage(static_cast<PetscErrorCode>(code), &text, &specific);
  std::string message =
      std::string(call) + " failed: " + (text ? text : "PETSc error " + std::to_string(code));
  if (specific && std::strlen(specific) > 0) message += " (" + std::string(specific) + ")";
  throw runtime_error(message);
}

std::string version() {
  char text[256] = {0};
  check(PetscGetVersion(text, sizeof text), "PetscGetVersion");
  // "Petsc Release Version 3.18.5, Feb 27, 2023 " -> "3.18.5"
  std::string s = text;
  const std::string marker = "Version ";
  const auto at = s.find(marker);
  if (at != std::string::npos) s = s.substr(at + marker.size());
  if (const auto comma = s.find(','); comma != std::string::npos) s.resize(comma);
  return s;
}

Session::Session(MPI_Comm comm) {
  PetscBool initialized = PETSC_FALSE;
  check(PetscInitialized(&initialized), "PetscInitialized");
  if (initialized) return;
  PETSC_COMM_WORLD = comm;
  check(PetscInitializeNoArguments(), "PetscInitializeNoArguments");
  check(PetscPopSignalHandler(), "PetscPopSignalHandler");
  owns_ = true;
}

Session::~Session() {
  if (owns_) PetscFinalize();
}

} // namespace tessera::petsc
