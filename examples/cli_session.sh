#!/bin/sh
# A command-line session: the sshjobs commands a shell script would use, on sandbox nodes.
#   sh examples/cli_session.sh [OUTPUT_DIR]
# Starts 3 sandbox nodes behind a gateway, runs commands, pushes and pulls files, shows how a
# failing host is reported (exit status 1, its name in a file), and stops the sandbox even
# when a step fails. Set SSHJOBS to the sshjobs command to use (default: sshjobs in $PATH).
set -eu
sshjobs=${SSHJOBS:-sshjobs}
out=${1:-$(mktemp -d)}
mkdir -p "$out"
export SSHJOBS_SANDBOX_DIR="$out/sandbox"

"$sshjobs" sandbox up 3
trap '"$sshjobs" sandbox down' EXIT
# SSHJOBS_KEY, SSHJOBS_KNOWN_HOSTS (read by every sshjobs command) and SSHJOBS_SANDBOX_TARGETS
. "$SSHJOBS_SANDBOX_DIR/env"
nodes=$SSHJOBS_SANDBOX_TARGETS            # a file: one gateway->node a line

echo "== the targets"
"$sshjobs" targets -t "$nodes"

echo "== one command everywhere (through the gateway)"
"$sshjobs" run -t "$nodes" -- 'echo "$SSHJOBS_SANDBOX_NODE in $PWD"'

echo "== push a file, use it, pull the results back, one local file per node"
echo "threshold=42" > "$out/settings.conf"
"$sshjobs" push -t "$nodes" "$out/settings.conf" @:settings.conf
"$sshjobs" run -t "$nodes" -- '. ./settings.conf; echo "$SSHJOBS_SANDBOX_NODE $threshold" > report.txt'
mkdir -p "$out/reports"
"$sshjobs" pull -t "$nodes" @:report.txt "$out/reports/{name}.txt"
cat "$out"/reports/*.txt

echo "== a command that fails on one node: exit status 1, failing hosts listed in a file"
status=0
"$sshjobs" run -t "$nodes" --failed-to "$out/failed.txt" -- \
    'test "$SSHJOBS_SANDBOX_NODE" != node2 || { echo "node2 says no" >&2; exit 3; }' || status=$?
echo "exit status: $status; failed hosts: $(cat "$out/failed.txt")"
