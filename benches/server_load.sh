#!/usr/bin/env bash
# Server throughput with a real load generator (wrk) against the release `cutover-server` on SQLite.
#
# What it measures, on this machine, in one run:
#   1. the time to create a runbook of TASKS independent integration tasks (`cutover apply`, one file);
#   2. task starts per second through `POST /api/v1/runbooks/{id}/tasks/{task}/start`, each start firing a
#      fire-and-forget request to `cutover sink` on loopback (wrk, CONNECTIONS connections, DURATION), with wrk's
#      latency percentiles (p50 is a task start's answer: the commit that records it);
#   3. fires per second end to end: from the first start until every started task's fire has ended (read from
#      `/metrics`, `cutover_fires_total`).
# Not part of the test command (a release build is slow here). Usage:
#   bash benches/server_load.sh            # TASKS=16000 CONNECTIONS=32 DURATION=3s
#   TASKS=8000 CONNECTIONS=64 DURATION=2s bash benches/server_load.sh
# The runbook file must fit the server's 1 MiB body limit: about 16,000 tasks at most.
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=${TASKS:-16000}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-3s}
PORT=${PORT:-18090}
SINK_PORT=${SINK_PORT:-18787}
TOKEN=load-test-admin-token-0123456789

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian's package)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
cargo build --release -q -p cutover-server -p cutover
BIN=$PWD/target/release

WORK=$(mktemp -d)
cleanup() {
    kill "${SERVER_PID:-}" "${SINK_PID:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    cp "$WORK/server.log" "${TMPDIR:-/tmp}/server_load.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/cutover" sink --listen "127.0.0.1:$SINK_PORT" >/dev/null &
SINK_PID=$!
CUTOVER_BOOTSTRAP_TOKEN=$TOKEN CUTOVER_OUTBOUND_ALLOW=127.0.0.1/32 RUST_LOG=${RUST_LOG:-warn} \
    "$BIN/cutover-server" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
export CUTOVER_SERVER=http://127.0.0.1:$PORT CUTOVER_TOKEN=$TOKEN
for _ in $(seq 1 100); do
    curl -fsS "$CUTOVER_SERVER/api/v1/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

cat >"$WORK/integration.yaml" <<EOF
kind: integration
name: Sink
actions:
  - name: Post
    settings: {finish_task_on_success: true}
    request:
      method: POST
      url: http://127.0.0.1:$SINK_PORT/messages
      headers: {Content-Type: application/json}
      payload: {task: "{{Task.name}}"}
      execution_mode: fire_and_forget
EOF
{
    printf '{"kind":"runbook","name":"Load","tasks":['
    for i in $(seq 0 $((TASKS - 1))); do
        [ "$i" -gt 0 ] && printf ','
        printf '{"id":"t%d","name":"T%d","action":"Sink/Post"}' "$i" "$i"
    done
    printf ']}\n'
} >"$WORK/runbook.json"
echo "runbook file: $(wc -c <"$WORK/runbook.json") bytes, $TASKS tasks"

"$BIN/cutover" apply "$WORK/integration.yaml" >/dev/null
started=$(date +%s%N)
"$BIN/cutover" apply "$WORK/runbook.json" >/dev/null
created=$(date +%s%N)
RUNBOOK=$("$BIN/cutover" runbook list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][-1]["id"])')
echo "create a runbook of $TASKS tasks: $(((created - started) / 1000000)) ms"
"$BIN/cutover" runbook start "$RUNBOOK" --mode live >/dev/null

cat >"$WORK/start.lua" <<EOF
local threads = {}
function setup(thread)
    thread:set("first", #threads)
    table.insert(threads, thread)
end
function init(args)
    step = 0
end
request = function()
    local n = first + step * ${CONNECTIONS}
    step = step + 1
    return wrk.format("POST", "/api/v1/runbooks/${RUNBOOK}/tasks/t" .. n .. "/start",
        {["Authorization"] = "Bearer ${TOKEN}", ["Content-Type"] = "application/json"}, "{}")
end
EOF
# One wrk thread per connection, so the task numbers of the threads never overlap.
load_started=$(date +%s%N)
wrk -t "$CONNECTIONS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$WORK/start.lua" "$CUTOVER_SERVER" | tee "$WORK/wrk.txt"
answered=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
refused=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
starts=$((answered - ${refused:-0}))
if [ "${refused:-0}" -gt 0 ]; then
    echo "note: $refused answers were not 2xx (tasks ran out, or refused): raise TASKS or shorten DURATION" >&2
fi

ended() {
    curl -fsS -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/metrics" |
        awk '/^cutover_fires_total/ {sum += $2} END {print sum + 0}'
}
# Wait for every started task's fire to end, at most WAIT seconds, saying how far it got each second.
WAIT=${WAIT:-120}
deadline=$(($(date +%s) + WAIT))
last_report=0
done_count=$(ended)
while [ "$done_count" -lt "$starts" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$(date +%s)" -gt "$last_report" ]; then
        echo "fires ended: $done_count of $starts" >&2
        last_report=$(date +%s)
    fi
    sleep 0.05
    done_count=$(ended)
done
load_ended=$(date +%s%N)
elapsed_ms=$(((load_ended - load_started) / 1000000))
echo "task starts answered 2xx: $starts; fires ended: $done_count after $elapsed_ms ms"
echo "fires per second end to end: $((done_count * 1000 / elapsed_ms))"
echo "tasks by integration status:"
"$BIN/cutover" task list "$RUNBOOK" --all --json | python3 -c '
import collections, json, sys
print(dict(collections.Counter(task["integration_status"] for task in json.load(sys.stdin)["items"])))'
grep -E "cutover_fires_total" <(curl -fsS -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/metrics")
