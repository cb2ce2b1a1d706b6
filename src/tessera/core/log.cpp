#include "tessera/core/log.hpp"

#include "tessera/core/console.hpp"

#include <cmath>
#include <cstdio>

namespace tessera {

void Log::open_file(const std::string& path) {
  if (rank_ != 0) return;
  file_ = std::make_unique<std::ofstream>(path, std::ios::app);
  if (!*file_) file_.reset();
}

void Log::info(const std::string& line) {
  if (rank_ != 0) return;
  if (!quiet_) console_write(ConsoleStream::out, line + "\n");
  if (file_) *file_ << line << std::endl;
}

void Log::always(const std::string& line) {
  if (rank_ != 0) return;
  console_write(ConsoleStream::out, line + "\n");
  if (file_) *file_ << line << std::endl;
}

void Log::warn(const std::string& line) {
  if (rank_ != 0) return;
  console_write(ConsoleStream::err, "tessera: warning: " + line + "\n");
  if (file_) *file_ << "warning: " << line << std::endl;
}

void Log::record(const std::string& line) {
  if (rank_ != 0) return;
  if (file_) *file_ << line << std::endl;
}

void Log::error(const std::string& line, int from_rank) {
  const int who = from_rank >= 0 ? from_rank : rank_;
  std::string prefix =
      n_ranks_ > 1 ? "tessera [rank " + std::to_string(who) + "]: error: " : "tessera: error: ";
  console_write(ConsoleStream::err, prefix + line + "\n");
  if (file_) *file_ << "error: " << line << std::endl;
}

std::string human_seconds(double s) {
  char buf[64];
  if (!std::isfinite(s)) return "?";
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s / 3600),
                  (static_cast<int>(s) / 60) % 60);
  return buf;
}

std::string progress_line(long long step, long long steps, double time_min, long long cells, double wall_s) {
  const double eta = step > 0 ? wall_s / static_cast<double>(step) * static_cast<double>(steps - step) : NAN;
  char buf[256];
  std::snprintf(buf, sizeof buf, "  step %lld/%lld  t = %.4g min  cells = %lld  wall %s  ETA %s", step, steps,
                time_min, cells, human_seconds(wall_s).c_str(), human_seconds(eta).c_str());
  return buf;
}

} // namespace tessera
