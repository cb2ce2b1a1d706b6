// The console (stdout, stderr) of a long command: a line never holds up a command that is stopping, and a
// reader that went away is not a death by SIGPIPE. The log file, not the console, is the complete record.
#pragma once

#include <string_view>

namespace tessera {

enum class ConsoleStream { out, err };

// Not collective. Writes `text` whole to stdout or stderr, as a blocking write would while nothing asks the
// process to stop: a console that is not read (a full pipe or terminal) holds the command up, as it always
// has. Once a stop signal has arrived (local_stop_signal(), core/stop_request.hpp), what the console cannot
// take at once is dropped instead, and a write already waiting gives up when the signal comes.
//
// Why: mpirun (Open MPI 4.1) that is sent SIGTERM stops reading its ranks' output, sleeps
// odls_base_sigkill_timeout seconds, SIGTERMs the ranks, sleeps as long again and SIGKILLs them. A rank that
// prints a line per step fills its pseudo-terminal within that first sleep and blocks in write(); with
// SA_RESTART (which HDF5 and MPI need) the SIGTERM does not end that write, so the rank was killed there
// without its checkpoint. Here a write waits in poll(), which every signal interrupts.
//
// How: a pipe, FIFO or terminal is written through a description of this process's own, opened
// non-blocking (/proc/self/fd/N): O_NONBLOCK set on fd 1 itself would reach every process sharing it (the
// shell of an interactive terminal). Where that cannot be opened, a poll() for room comes before each
// blocking write. Files and /dev/null are written as they are. SIGPIPE is blocked around each write, so a
// closed pipe (EPIPE) or a hung-up terminal (EIO) ends the console's output, not the process.
void console_write(ConsoleStream stream, std::string_view text);

// Not collective. Lines (calls of console_write) of this process dropped, in part or whole, because a
// stopping command would otherwise have waited for its console.
long long console_dropped_lines();

} // namespace tessera
