#include "tessera/parallel/mpi.hpp"

#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h> // Open MPI's extensions: MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support
#endif

#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::mpi {

bool accepts_device_memory() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  // Built with CUDA support; whether it is usable now (a CUDA driver loaded) only the library knows.
  static const bool supported = MPIX_Query_cuda_support() == 1;
  return supported;
#else
  return false;
#endif
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw runtime_error(std::string(call) + " failed: " + std::string(text, static_cast<size_t>(len)));
}

Communicator::Communicator(MPI_Comm parent) {
  check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Communicator Communicator::split(MPI_Comm parent, int color, int key) {
  Communicator c;
  check(MPI_Comm_split(parent, color, key, &c.comm_), "MPI_Comm_split");
  MPI_Comm_rank(c.comm_, &c.rank_);
  MPI_Comm_size(c.comm_, &c.size_);
  return c;
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

Communicator::Communicator(Communicator&& other) noexcept
    : comm_(other.comm_), rank_(other.rank_), size_(other.size_) {
  other.comm_ = MPI_COMM_NULL;
}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    Communicator tmp(std::move(*this));
    comm_ = other.comm_;
    rank_ = other.rank_;
    size_ = other.size_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

int rank(MPI_Comm comm) {
  int r = 0;
  check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
  return r;
}

int size(MPI_Comm comm) {
  int s = 1;
  check(MPI_Comm_size(comm, &s), "MPI_Comm_size");
  return s;
}

void agree_on(MPI_Comm comm, const Error* local) {
  const int me = rank(comm);
  const int candidate = local ? me : INT_MAX;
  int origin = INT_MAX;
  check(MPI_Allreduce(&candidate, &origin, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (origin == INT_MAX) return;
  int code = local && me == origin ? static_cast<int>(local->code()) : 0;
  check(MPI_Bcast(&code, 1, MPI_INT, origin, comm), "MPI_Bcast");
  const std::string message =
      broadcast(comm, local && me == origin ? std::string(local->what()) : std::string(), origin);
  Error agreed(static_cast<ExitCode>(code), message);
  agreed.mark_agreed(origin);
  throw agreed;
}

std::string broadcast(MPI_Comm comm, const std::string& text, int root) {
  long long n = static_cast<long long>(text.size());
  check(MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm), "MPI_Bcast");
  std::string out = rank(comm) == root ? text : std::string(static_cast<size_t>(n), '\0');
  if (n > 0) check(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, comm), "MPI_Bcast");
  return out;
}

std::string read_text_file(MPI_Comm comm, const std::string& path, std::uintmax_t max_bytes) {
  std::string text;
  agree(comm, [&] {
    if (rank(comm) != 0) return;
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status)) throw input_error(path + ": is a directory, not a file");
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
      throw input_error(path + ": is not a regular file (a device, pipe or socket)");
    const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
    if (!ec && bytes > max_bytes)
      throw input_error(path + ": " + std::to_string(bytes) + " bytes, more than the " +
                        std::to_string(max_bytes) + " bytes accepted for this file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw input_error(path + ": read error");
    text = ss.str();
  });
  return broadcast(comm, text);
}

std::int64_t sum(MPI_Comm comm, std::int64_t value) {
  std::int64_t out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_SUM, comm), "MPI_Allreduce");
  return out;
}

std::int64_t exclusive_prefix_sum(MPI_Comm comm, std::int64_t value) {
  std::int64_t out = 0;
  check(MPI_Exscan(&value, &out, 1, MPI_INT64_T, MPI_SUM, comm), "MPI_Exscan");
  if (rank(comm) == 0) out = 0; // MPI_Exscan leaves rank 0's result undefined
  return out;
}

double max(MPI_Comm comm, double value) {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  return out;
}

int max(MPI_Comm comm, int value) {
  int out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  return out;
}

void max_each(MPI_Comm comm, std::int64_t* values, int count) {
  check(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT64_T, MPI_MAX, comm), "MPI_Allreduce");
}

} // namespace tessera::mpi
