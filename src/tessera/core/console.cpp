#include "tessera/core/console.hpp"

#include "tessera/core/stop_request.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace tessera {

namespace {

// How long one wait for room lasts before the stop request is looked at again. A signal interrupts poll()
// at once; the timeout only covers one that lands between the look and the poll().
constexpr int wait_slice_ms = 100;

struct Console {
  int fd = -1;
  bool may_block = false; // a pipe, FIFO, terminal or socket: a reader decides when a write can finish
  bool own = false;       // `fd` is this process's own non-blocking description of the stream
  bool gone = false;      // EPIPE or EIO: nobody reads it any more
};

// The description a stream is written through; see console.hpp for why a pipe or terminal gets its own.
Console open_console(int stream_fd) {
  Console console{stream_fd, false, false, false};
  struct stat st {};
  if (fstat(stream_fd, &st) != 0) return console;
  console.may_block = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
  if (!console.may_block) return console;
  const std::string path = "/proc/self/fd/" + std::to_string(stream_fd);
  // O_NOCTTY: opening a terminal must not make it this process's controlling terminal.
  const int own = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (own >= 0) {
    console.fd = own;
    console.own = true;
  }
  return console;
}

// SIGPIPE blocked for the lifetime of the object; one raised by a write in between is taken off the
// pending set before the mask is restored, so it is never delivered.
class SigpipeHeld {
public:
  SigpipeHeld() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeHeld() {
    if (raised_ && !was_pending_) {
      const timespec now{0, 0};
      sigtimedwait(&pipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeHeld(const SigpipeHeld&) = delete;
  SigpipeHeld& operator=(const SigpipeHeld&) = delete;
  void raised() { raised_ = true; }

private:
  sigset_t pipe_{};
  sigset_t previous_{};
  bool was_pending_ = false;
  bool raised_ = false;
};

bool stopping() {
  return local_stop_signal() != StopReason::none;
}

// Waits until `fd` can take more, a signal comes, or a slice has passed. False when the command is stopping
// and the console still has no room.
bool wait_for_room(int fd) {
  while (true) {
    if (stopping()) {
      pollfd ready{fd, POLLOUT, 0};
      return ::poll(&ready, 1, 0) > 0;
    }
    pollfd ready{fd, POLLOUT, 0};
    if (::poll(&ready, 1, wait_slice_ms) > 0) return true;
  }
}

// False when some of `text` was dropped.
bool write_whole(Console& console, const char* data, std::size_t size) {
  SigpipeHeld held;
  while (size > 0) {
    if (console.gone) return false;
    // A description of the stream's own never blocks in write(); the shared one may, so it is written only
    // when poll() has seen room.
    if (console.may_block && !console.own && !wait_for_room(console.fd)) return false;
    const ssize_t n = ::write(console.fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (stopping() || !wait_for_room(console.fd)) return false;
      continue;
    }
    if (n < 0 && errno == EPIPE) held.raised();
    console.gone = true;
  }
  return true;
}

std::mutex console_mutex;
long long dropped = 0;

} // namespace

void console_write(ConsoleStream stream, std::string_view text) {
  const std::lock_guard<std::mutex> lock(console_mutex);
  static Console out = open_console(STDOUT_FILENO);
  static Console err = open_console(STDERR_FILENO);
  // Anything the C or C++ streams hold (a library's message, CLI11's help) goes first, in order.
  std::fflush(stream == ConsoleStream::out ? stdout : stderr);
  if (!write_whole(stream == ConsoleStream::out ? out : err, text.data(), text.size())) ++dropped;
}

long long console_dropped_lines() {
  const std::lock_guard<std::mutex> lock(console_mutex);
  return dropped;
}

} // namespace tessera
