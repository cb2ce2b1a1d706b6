#include "tessera/core/invocation.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace tessera {

namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

} // namespace

std::string shell_quote(const std::string& word) {
  if (word.empty()) return "''";
  bool plain = true;
  for (const char c : word) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string("_-+=.,:/@%^").find(c) != std::string::npos;
    plain = plain && safe;
  }
  if (plain) return word;
  std::string quoted = "'";
  for (const char c : word)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

Invocation current_invocation(const std::vector<std::string>& arguments) {
  Invocation invocation;
  for (const std::string& argument : arguments)
    invocation.command_line += (invocation.command_line.empty() ? "" : " ") + shell_quote(argument);
  invocation.host = host_name();
  invocation.slurm_job_id = environment("SLURM_JOB_ID");
  invocation.slurm_array_task_id = environment("SLURM_ARRAY_TASK_ID");
  return invocation;
}

std::string describe_where(const Invocation& invocation) {
  std::string where = "host " + invocation.host;
  if (!invocation.slurm_job_id.empty()) where += ", SLURM job " + invocation.slurm_job_id;
  if (!invocation.slurm_array_task_id.empty()) where += " array task " + invocation.slurm_array_task_id;
  return where;
}

} // namespace tessera
