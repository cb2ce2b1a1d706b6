#!/bin/bash
# Usage: with_xvfb.sh check_xvfb_clients.sh [LOOPS] [CONNECTIONS]
#
# Clients that connect while others disconnect are all served by with_xvfb.sh's server: LOOPS (default 4)
# concurrent loops each open and close CONNECTIONS (default 60) connections with xdpyinfo; exits 1 when any
# was refused, with the count. An X server that resets when its last client disconnects drops the clients
# that arrived meanwhile (about 5 % of them on the development machine: the chance that all 240 default
# connections pass is about 1e-5), which is how the ParaView checks failed in full suites; with_xvfb.sh starts
# Xvfb with -noreset.
set -u
loops=${1:-4}
connections=${2:-60}
: "${DISPLAY:?run under tests/support/with_xvfb.sh}"
command -v xdpyinfo >/dev/null || { echo "xdpyinfo not found (Debian's x11-utils)" >&2; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xclients.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
for loop in $(seq "$loops"); do
  (
    refused=0
    for _ in $(seq "$connections"); do
      xdpyinfo >/dev/null 2>>"$dir/errors" || refused=$((refused + 1))
    done
    echo "$refused" >"$dir/refused.$loop"
  ) &
done
wait
total=0
for loop in $(seq "$loops"); do
  total=$((total + $(cat "$dir/refused.$loop")))
done
echo "$total of $((loops * connections)) connections to DISPLAY=$DISPLAY refused"
if [ "$total" -ne 0 ]; then
  sort "$dir/errors" | uniq -c | head -5 >&2
  exit 1
fi
