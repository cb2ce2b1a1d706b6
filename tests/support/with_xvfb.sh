#!/bin/bash
# Usage: with_xvfb.sh COMMAND [ARG ...]
#
# Runs COMMAND with DISPLAY set to a private Xvfb server, and stops that server and waits for it to exit
# when COMMAND ends; exits with COMMAND's status (1 if the server cannot start).
#
# Why not xvfb-run: it uses one fixed display number (-a only moves on after a start has failed) and does not
# wait for its server to exit. A second run on the same display while the first one's server was still
# shutting down (a repeated test, or a suite in another build directory) got "Server is already active for
# display N", yet xvfb-run's readiness check had already passed and it ran the client, which then aborted with
# "bad X server connection". A server shutting down can also remove the socket of a new server that took its
# display number at once (seen with Xvfb's own choice, -displayfd alone, which always starts from :0). So each
# run takes a random display number from a wide range (retrying when it is taken), learns that its server is
# ready through -displayfd and a first client (xdpyinfo), and stops and waits for its server at the end.
# -noreset: by default an X server resets itself whenever its last client disconnects, and the reset drops
# every client that connected meanwhile and was not yet answered, whose XOpenDisplay then fails ("bad X server
# connection"). Every such disconnect opens that window: xdpyinfo's below, and VTK's, which opens and closes
# the display when a process goes from no render window to one. The window widens with load, which is why a
# ParaView check failed only in full parallel suites (about one in three). 4 concurrent loops of xdpyinfo
# against one server: 28 of 600 connections refused without -noreset, twice, and 0 with it
# (tests/support/check_xvfb_clients.sh; pyvista found the same, its pull request 9188). A failing command is
# still followed by the server's state and log.
set -u

if [ $# -eq 0 ]; then
  echo "usage: with_xvfb.sh COMMAND [ARG ...]" >&2
  exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xvfb.XXXXXX") || exit 1
pid=
stop_server() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap stop_server EXIT
trap 'exit 143' TERM INT

# No -auth: the server accepts local clients only (-nolisten tcp), which is what a test needs.
start_server() {
  : >"$dir/display"
  Xvfb ":$1" -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp -noreset 3>"$dir/display" 2>"$dir/xvfb.log" &
  pid=$!
  # Xvfb writes "N\n" to the descriptor once it accepts connections; wait up to 60 s (a loaded machine).
  for _ in $(seq 1 600); do
    if grep -q '^[0-9][0-9]*$' "$dir/display" 2>/dev/null; then
      # And a client can connect (when xdpyinfo is installed): the ParaView checks' only X failures were
      # clients refused by a server that had reported itself ready (see the end of this script).
      if ! command -v xdpyinfo >/dev/null || DISPLAY=":$1" xdpyinfo >/dev/null 2>>"$dir/xvfb.log"; then
        return 0
      fi
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
  return 1
}
display=
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((1000 + RANDOM % 30000))
  if [ ! -e "/tmp/.X$candidate-lock" ] && start_server "$candidate"; then
    display=$candidate
    break
  fi
done
if [ -z "$display" ]; then
  echo "with_xvfb.sh: Xvfb did not start; its output:" >&2
  cat "$dir/xvfb.log" >&2
  exit 1
fi

DISPLAY=":$display" "$@"
status=$?
if [ $status -ne 0 ]; then
  # What the server was doing when the command failed, for the failure report (a refused X connection
  # looks the same whether the server died, lost its socket or never listened).
  {
    echo "with_xvfb.sh: the command exited $status on DISPLAY=:$display; Xvfb (pid $pid):"
    if kill -0 "$pid" 2>/dev/null; then echo "  still running"; else echo "  no longer running"; fi
    ls -l "/tmp/.X11-unix/X$display" "/tmp/.X$display-lock" 2>&1 | sed 's/^/  /'
    sed 's/^/  log: /' "$dir/xvfb.log"
  } >&2
fi
exit $status
