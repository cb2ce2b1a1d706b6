// How this process was started — the command line, the host and the batch job — recorded in every output
// and log so a result can be traced to the exact command that made it and rerun.
#pragma once

#include <string>
#include <vector>

namespace tessera {

struct Invocation {
  std::string command_line;        // the arguments as a shell would take them back, each quoted when needed
  std::string host;                // the host name
  std::string slurm_job_id;        // $SLURM_JOB_ID; empty outside SLURM
  std::string slurm_array_task_id; // $SLURM_ARRAY_TASK_ID; empty outside a job array
};

// Not collective: this process's arguments, host and environment. Ranks differ in host, so outputs record
// rank 0's (app/ broadcasts it).
Invocation current_invocation(const std::vector<std::string>& arguments);

// `word` quoted for a POSIX shell when it holds anything but letters, digits and `_-+=.,:/@%^`:
// within single quotes, each ' written as '\''.
std::string shell_quote(const std::string& word);

// "host h1, SLURM job 123 task 4" — what the log's banner says about where it ran.
std::string describe_where(const Invocation& invocation);

} // namespace tessera
