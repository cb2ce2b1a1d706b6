// The MPI adapter: return codes become tessera::Error naming the call; communicators are RAII handles; and
// errors are agreed across ranks so that a failure on one rank never leaves the others waiting.
#pragma once

#include "tessera/core/error.hpp"

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::mpi {

// Throws runtime_error("<call> failed: <MPI's text>") when rc is not MPI_SUCCESS.
void check(int rc, const char* call);

// An owned duplicate of a communicator (MPI_Comm_dup), freed on destruction. Library code communicates on
// its own duplicate so its messages never match a user's or another module's.
class Communicator {
public:
  Communicator() = default;
  explicit Communicator(MPI_Comm parent); // Collective on parent.
  // Collective on parent: the ranks with the same `color` form one communicator, ordered by `key`
  // (MPI_Comm_split).
  static Communicator split(MPI_Comm parent, int color, int key);
  ~Communicator();
  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

int rank(MPI_Comm comm);
int size(MPI_Comm comm);

// Collective. Runs `body` on every rank; if it throws on any rank, every rank throws the same Error: the
// message and exit code of the lowest failing rank, marked agreed. Wrap each phase that can fail on some
// ranks only (file I/O, a solver) so the other ranks do not go on into a collective call the failing rank
// will never make.
template <class Body>
void agree(MPI_Comm comm, Body&& body);

// Collective. Exchange the outcome of a phase: `local` is empty on success.
void agree_on(MPI_Comm comm, const Error* local);

// Collective. Rank `root`'s string on every rank.
std::string broadcast(MPI_Comm comm, const std::string& text, int root = 0);

// Collective. Reads a whole text file on rank 0 and broadcasts it; a missing or unreadable file, a directory,
// a device or pipe (/dev/zero never ends) and a file of more than `max_bytes` are input errors (exit 2) on
// every rank, found before anything is read.
std::string read_text_file(MPI_Comm comm, const std::string& path, std::uintmax_t max_bytes);

// Whether this MPI library can send from and receive into GPU (CUDA) memory, asked at run time: Open MPI's
// MPIX_Query_cuda_support() where <mpi-ext.h> says the library was built with CUDA support; false where it
// was not, or where the library has no way to say. Not collective.
bool accepts_device_memory();

// Collective sums and prefix sums used by output offsets and statistics.
std::int64_t sum(MPI_Comm comm, std::int64_t value);
std::int64_t exclusive_prefix_sum(MPI_Comm comm, std::int64_t value);
double max(MPI_Comm comm, double value);
int max(MPI_Comm comm, int value);
// Collective. Each of values[0..count) replaced by its largest over the ranks: one MPI_Allreduce.
void max_each(MPI_Comm comm, std::int64_t* values, int count);

template <class Body>
void agree(MPI_Comm comm, Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    agree_on(comm, &e);
    return; // not reached: agree_on throws
  } catch (const std::bad_alloc&) {
    const Error e = runtime_error("out of memory");
    agree_on(comm, &e);
    return;
  } catch (const std::exception& e) {
    const Error err = runtime_error(e.what());
    agree_on(comm, &err);
    return;
  }
  agree_on(comm, nullptr);
}

} // namespace tessera::mpi
