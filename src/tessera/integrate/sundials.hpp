// The SUNDIALS adapter: return codes become tessera::Error naming the call, and every SUNDIALS object is an
// RAII handle. Version guards for the SUNDIALS API live here and nowhere else.
//
// tessera links CVODES only, never CVODE as well: CVODES holds all of CVODE's API (same names, same
// semantics for a forward solve) plus the adjoint, and with both libraries every CVode* symbol would have
// two definitions, the dynamic linker picking one per symbol (a CVODE-made memory in a CVODES function).
#pragma once

#include "tessera/core/error.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <cvode/cvode.h>
#include <mpi.h>
#include <nvector/nvector_parallel.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_nonlinearsolver.h>

#include <string>

namespace tessera::sundials {

// Throws runtime_error("<call> failed: <flag name>") when flag < 0.
void check(int flag, const char* call);
// Throws runtime_error("<call> returned NULL") when ptr is null.
template <class T>
T* check_ptr(T* ptr, const char* call) {
  if (!ptr) throw runtime_error(std::string(call) + " returned NULL (out of memory or bad arguments)");
  return ptr;
}
std::string cvode_flag_name(int flag);
std::string version(); // "6.4.1"

// SUNDIALS' MPI N_Vector, the only one tessera uses, holds host memory, and CVODE/CVODES work on the gene
// View's memory in place: they need genes the host can address (Kokkos Serial, OpenMP, Threads). A CUDA or
// HIP build keeps genes in device memory, where `rk4` (Kokkos kernels only) runs instead.
inline constexpr bool vector_reaches_genes =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, GeneState::memory_space>::accessible;
// Throws input_error naming `key` (the deck key that chose `cvode`) and the alternative, `rk4`, when
// !vector_reaches_genes; returns otherwise.
void require_host_genes(const std::string& key);

class Context {
public:
  explicit Context(MPI_Comm comm); // the communicator must outlive the context
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SUNContext get() const { return ctx_; }

private:
  MPI_Comm comm_;
  SUNContext ctx_ = nullptr;
};

// Move-only owner of one SUNDIALS object, released by `Free` (N_VDestroy, SUNLinSolFree, ...).
template <class T, class Free>
class Handle {
public:
  Handle() = default;
  explicit Handle(T handle) : handle_(handle) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = other.handle_;
      other.handle_ = nullptr;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  T get() const { return handle_; }
  void reset() {
    if (handle_) Free{}(handle_);
    handle_ = nullptr;
  }

private:
  T handle_ = nullptr;
};

struct FreeVector {
  void operator()(N_Vector v) const { N_VDestroy(v); }
};
struct FreeLinearSolver {
  void operator()(SUNLinearSolver s) const { SUNLinSolFree(s); }
};
struct FreeNonlinearSolver {
  void operator()(SUNNonlinearSolver s) const { SUNNonlinSolFree(s); }
};
struct FreeCvodeMemory {
  void operator()(void* mem) const { CVodeFree(&mem); }
};

// An N_Vector made with N_VMake_* does not own its data: the data belongs to a Kokkos View.
using Vector = Handle<N_Vector, FreeVector>;
using LinearSolver = Handle<SUNLinearSolver, FreeLinearSolver>;
using NonlinearSolver = Handle<SUNNonlinearSolver, FreeNonlinearSolver>;
using CvodeMemory = Handle<void*, FreeCvodeMemory>;

} // namespace tessera::sundials
