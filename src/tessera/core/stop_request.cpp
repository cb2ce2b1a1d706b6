#include "tessera/core/stop_request.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <limits>
#include <vector>

namespace tessera {

namespace {

// The one thing a handler touches: a word holding the iteration or step in progress (the low 56 bits, set by
// StopPoll) and a flag for each stop signal received (bits 56 and 57). One atomic object, so that the poll
// reads the flags and moves on to the next iteration in one indivisible step, and the handler's flag freezes
// the iteration it arrived in (StopPoll::poll no longer advances a word with a flag set). Only lock-free
// atomics may be used in a signal handler (C++17 [support.signal]). The handler may run on any thread of the
// process (MPI's and OpenMP's included): an atomic is shared between threads safely, a volatile sig_atomic_t
// only between a handler and the thread it interrupted.
using StopWord = std::uint64_t;
static_assert(std::atomic<StopWord>::is_always_lock_free,
              "the stop-signal handler needs a lock-free 64-bit atomic (C++17 [support.signal])");
std::atomic<StopWord> stop_word{0};

constexpr StopWord sigusr1_flag = StopWord{1} << 56;
constexpr StopWord sigterm_flag = StopWord{1} << 57;
constexpr StopWord signal_flags = sigusr1_flag | sigterm_flag;
constexpr StopWord position_mask = (StopWord{1} << 56) - 1;

extern "C" void record_stop_signal(int signal_number) {
  // fetch_or on a lock-free atomic: async-signal-safe, and errno is not touched.
  if (signal_number == SIGTERM) stop_word.fetch_or(sigterm_flag);
  if (signal_number == SIGUSR1) stop_word.fetch_or(sigusr1_flag);
}

// What the last poll agreed on; read by app::main for the run's last log line.
StopReason last_agreed = StopReason::none;

using Clock = std::chrono::steady_clock;

Clock::time_point& start_time() {
  static Clock::time_point start = Clock::now();
  return start;
}

// SIGTERM outranks SIGUSR1 when both came (StopReason's order).
StopReason reason_of(StopWord word) {
  if ((word & sigterm_flag) != 0) return StopReason::sigterm;
  if ((word & sigusr1_flag) != 0) return StopReason::sigusr1;
  return StopReason::none;
}

// Sets the iteration in progress, keeping the flags (a signal that came before the loop began counts as
// received during its first iteration: the first poll sees it).
void publish_position(long long position) {
  StopWord word = stop_word.load();
  while (!stop_word.compare_exchange_weak(word, (word & signal_flags) |
                                                    (static_cast<StopWord>(position) & position_mask))) {
  }
}

// Reads the word and, when no flag is set, moves on to the next iteration in the same compare-and-swap.
// Returns the word as read: its flags, and the iteration in progress when it was read (frozen at the
// signal's arrival when a flag is set).
StopWord read_and_advance() {
  StopWord word = stop_word.load();
  while ((word & signal_flags) == 0 && !stop_word.compare_exchange_weak(word, word + 1)) {
  }
  return word;
}

// "12", "05": digits only, as a Slurm time field; -1 when not.
long long digits(const std::string& field) {
  if (field.empty() || field.size() > 12) return -1;
  for (const char c : field)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  return std::stoll(field);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  for (const char c : text) {
    if (c == separator)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

// Slurm's --time forms: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S". NaN when `text` is none of them.
double slurm_time_seconds(const std::string& text) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  long long days = 0;
  std::string clock = text;
  const auto dash = text.find('-');
  const bool has_days = dash != std::string::npos;
  if (has_days) {
    days = digits(text.substr(0, dash));
    if (days < 0) return nan;
    clock = text.substr(dash + 1);
  }
  const std::vector<std::string> fields = split(clock, ':');
  std::vector<long long> v;
  for (const std::string& f : fields) {
    v.push_back(digits(f));
    if (v.back() < 0) return nan;
  }
  double seconds = 86400.0 * static_cast<double>(days);
  if (has_days) {
    // D-H, D-H:M, D-H:M:S
    if (v.size() > 3) return nan;
    const double scale[3] = {3600.0, 60.0, 1.0};
    for (size_t i = 0; i < v.size(); ++i)
      seconds += scale[i] * static_cast<double>(v[i]);
    return seconds;
  }
  if (v.size() == 2) return 60.0 * static_cast<double>(v[0]) + static_cast<double>(v[1]); // M:S
  if (v.size() == 3)
    return 3600.0 * static_cast<double>(v[0]) + 60.0 * static_cast<double>(v[1]) + static_cast<double>(v[2]);
  return nan;
}

} // namespace

std::string describe(StopReason reason) {
  switch (reason) {
  case StopReason::sigterm:
    return "SIGTERM";
  case StopReason::sigusr1:
    return "SIGUSR1";
  case StopReason::walltime:
    return "the wall-clock limit";
  case StopReason::none:
    break;
  }
  return "nothing";
}

std::string describe(const StopReceipt& receipt, const std::string& unit) {
  return describe(receipt.signal) + " received by rank " + std::to_string(receipt.rank) + " during " + unit +
         " " + std::to_string(receipt.during);
}

void start_wall_clock() {
  start_time() = Clock::now();
}

void install_stop_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a read or write the signal interrupts resumes instead of failing with EINTR inside HDF5 or
  // MPI.
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

StopReason local_stop_signal() {
  return reason_of(stop_word.load());
}

void forget_stop_signal() {
  stop_word.fetch_and(position_mask);
  last_agreed = StopReason::none;
}

StopReason agreed_stop() {
  return last_agreed;
}

double seconds_since_start() {
  return std::chrono::duration<double>(Clock::now() - start_time()).count();
}

double parse_walltime(const std::string& text_in) {
  std::string text;
  for (const char c : text_in)
    if (!std::isspace(static_cast<unsigned char>(c)) || !text.empty()) text += c;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.pop_back();
  const std::string forms = "(Slurm's forms 55, 55:00, 00:55:00, 1-00:00:00, or a time with a unit: 3300 s, "
                            "55 min, 1 h)";
  if (text.empty()) throw input_error("empty wall-clock limit " + forms);
  double seconds = 0.0;
  if (text.find(':') != std::string::npos || (text.find('-') != std::string::npos && text[0] != '-')) {
    seconds = slurm_time_seconds(text);
    if (std::isnan(seconds)) throw input_error("'" + text + "' is not a wall-clock limit " + forms);
  } else {
    // A bare number is minutes, as for Slurm's --time and every time key of a deck.
    const ParsedQuantity q = parse_quantity(text, Dimension::time);
    if (!q.ok) throw input_error(q.problem + " " + forms);
    seconds = q.value * 60.0;
  }
  if (!(seconds > 0.0) || std::isinf(seconds))
    throw input_error("the wall-clock limit '" + text + "' must be a positive, finite time " + forms);
  return seconds;
}

double read_walltime(const Deck& deck) {
  const DeckView s = deck.section("parallel");
  if (!s.has("walltime")) return std::numeric_limits<double>::infinity();
  try {
    return parse_walltime(s.text("walltime"));
  } catch (const Error& e) {
    s.fail("walltime", e.what());
  }
}

StopPoll::StopPoll(double walltime_s, long long first)
    : walltime_s_(walltime_s), last_poll_s_(seconds_since_start()) {
  publish_position(first);
  install_stop_handlers();
}

StopReason StopPoll::poll(MPI_Comm comm) {
  const double now = seconds_since_start();
  longest_interval_s_ = std::max(longest_interval_s_, now - last_poll_s_);
  last_poll_s_ = now;
  if (agreed_ != StopReason::none) return agreed_;
  const StopWord word = read_and_advance();
  const StopReason signalled = reason_of(word);
  StopReason mine = signalled;
  if (mine == StopReason::none && now + margin_s() >= walltime_s_) mine = StopReason::walltime;
  // One collective for both: [0] the largest reason; [1] the earliest receipt of a signal as the largest of
  // -((during * ranks + rank) * 4 + signal), i.e. the smallest iteration, then the smallest rank (the signal,
  // 2 or 3, rides along in the two low bits). Exact up to iterations of 2^61 / ranks.
  const auto ranks = static_cast<std::int64_t>(mpi::size(comm));
  std::int64_t gathered[2] = {static_cast<std::int64_t>(mine), std::numeric_limits<std::int64_t>::min()};
  if (signalled != StopReason::none)
    gathered[1] = -((static_cast<std::int64_t>(word & position_mask) * ranks + mpi::rank(comm)) * 4 +
                    static_cast<std::int64_t>(signalled));
  mpi::max_each(comm, gathered, 2);
  agreed_ = static_cast<StopReason>(gathered[0]);
  if (agreed_ != StopReason::none) last_agreed = agreed_;
  if (gathered[1] != std::numeric_limits<std::int64_t>::min()) {
    const std::int64_t key = -gathered[1];
    receipt_.signal = static_cast<StopReason>(key % 4);
    receipt_.rank = static_cast<int>((key / 4) % ranks);
    receipt_.during = (key / 4) / ranks;
  }
  return agreed_;
}

void StopPoll::checkpoint_took(double seconds) {
  longest_checkpoint_s_ = std::max(longest_checkpoint_s_, seconds);
}

double StopPoll::margin_s() const {
  const double reserve = std::isfinite(walltime_s_) ? std::min(60.0, 0.02 * walltime_s_) : 0.0;
  return 2.0 * longest_interval_s_ + 2.0 * longest_checkpoint_s_ + reserve;
}

} // namespace tessera
