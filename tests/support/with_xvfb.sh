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
# ready through -displayfd, and stops and waits for its server at the end; the ParaView tests also share a
# RESOURCE_LOCK so that one ctest never runs two at once.
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
  Xvfb ":$1" -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$dir/display" 2>"$dir/xvfb.log" &
  pid=$!
  # Xvfb writes "N\n" to the descriptor once it accepts connections; wait up to 60 s (a loaded machine).
  for _ in $(seq 1 600); do
    if grep -q '^[0-9][0-9]*$' "$dir/display" 2>/dev/null; then
      return 0
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
exit $status
