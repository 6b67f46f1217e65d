#!/usr/bin/env bash
# Server throughput and latency with a real load generator (wrk) against the release `cutover-server` on SQLite.
#
# What it measures, on this machine, in one run (issue 13's server targets):
#   1. creating a runbook of TASKS tasks from one JSON file (`POST /runbooks` with curl, until the answer): TASKS - MANUAL
#      integration tasks `t0…` whose action posts fire-and-forget to `cutover sink` on loopback and finishes the task
#      on success, and MANUAL manual tasks `m0…`;
#   2. the answer time of one task start, then of one task finish, in that runbook: wrk with LATENCY_CONNECTIONS
#      connections (default 1: one request at a time) starting the manual tasks for LATENCY_DURATION, then finishing
#      the ones it started (wrk's p50, p90, p99);
#   3. task starts that fire, per second: wrk with CONNECTIONS connections for DURATION on the integration tasks,
#      spread over RUNBOOKS runbooks (the big one, and RUNBOOKS - 1 more of EXTRA_TASKS integration tasks each; the
#      connections are dealt round-robin, so CONNECTIONS must be a multiple of RUNBOOKS); starts answered 2xx per
#      second, with wrk's latency percentiles (a start's answer is the commit that records it);
#   4. fires per second end to end: from the first start of step 3 until every started task's fire has ended (read
#      from `/metrics`, `cutover_fires_total`), and the tasks' integration statuses at the end.
# `uptime` is printed beside the numbers: the machine is shared, compare runs made at the same time.
# Not part of the test command (a release build is slow here). Usage:
#   bash benches/server_load.sh                  # TASKS=100000 CONNECTIONS=32 RUNBOOKS=1 DURATION=3s
#   TASKS=16000 CONNECTIONS=64 RUNBOOKS=4 DURATION=2s bash benches/server_load.sh
#   BIN=/tmp/baseline bash benches/server_load.sh    # binaries built elsewhere (a baseline), no build
#   PERF=1 bash benches/server_load.sh           # `perf record` (DWARF) on the server during step 3, to $PERF_DATA
# The runbook file goes to `POST /runbooks`, whose limit is the server's `--max-definition-bytes` (32 MiB by default).
set -euo pipefail
cd "$(dirname "$0")/.."

TASKS=${TASKS:-100000}
MANUAL=${MANUAL:-4000}
CONNECTIONS=${CONNECTIONS:-32}
RUNBOOKS=${RUNBOOKS:-1}
EXTRA_TASKS=${EXTRA_TASKS:-20000}
DURATION=${DURATION:-3s}
LATENCY_CONNECTIONS=${LATENCY_CONNECTIONS:-1}
LATENCY_DURATION=${LATENCY_DURATION:-2s}
PORT=${PORT:-18090}
SINK_PORT=${SINK_PORT:-18787}
TOKEN=load-test-admin-token-0123456789

if [ $((CONNECTIONS % RUNBOOKS)) -ne 0 ]; then
    echo "CONNECTIONS ($CONNECTIONS) must be a multiple of RUNBOOKS ($RUNBOOKS)" >&2
    exit 2
fi
if [ "$MANUAL" -ge "$TASKS" ]; then
    echo "MANUAL ($MANUAL) must be less than TASKS ($TASKS)" >&2
    exit 2
fi
if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian's package)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p cutover-server -p cutover
    BIN=$PWD/target/release
fi

WORK=$(mktemp -d)
cleanup() {
    kill "${SERVER_PID:-}" "${SINK_PID:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    cp "$WORK/server.log" "${TMPDIR:-/tmp}/server_load.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=benches/start_server.sh
source benches/start_server.sh
start_sink_and_server

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
# A runbook file of $2 integration tasks `t0…` and $3 manual tasks `m0…`, written to $1.
runbook_file() {
    python3 - "$@" <<'EOF'
import json, sys
path, fired, manual = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tasks = [{"id": f"t{i}", "name": f"T{i}", "action": "Sink/Post"} for i in range(fired)]
tasks += [{"id": f"m{i}", "name": f"M{i}"} for i in range(manual)]
with open(path, "w") as file:
    json.dump({"kind": "runbook", "name": path.rsplit("/", 1)[-1], "tasks": tasks}, file, separators=(",", ":"))
EOF
}
# Creates a runbook from file $1 (a new one every time) and prints its id; curl's time until the whole answer was
# received goes to $WORK/created.time (seconds). The server's answer time is what is measured: `cutover apply` would
# add its own validation of the file before sending it, and reading the id out of the answer is the client's work.
create_runbook() {
    curl -fsS -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data-binary "@$1" \
        -o "$WORK/created.json" -w '%{time_total}' "$CUTOVER_SERVER/api/v1/runbooks?file=$(basename "$1")" \
        >"$WORK/created.time"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/created.json"
}
"$BIN/cutover" apply "$WORK/integration.yaml" >/dev/null

runbook_file "$WORK/load.json" $((TASKS - MANUAL)) "$MANUAL"
echo "runbook file: $(wc -c <"$WORK/load.json") bytes, $TASKS tasks ($MANUAL manual)"
BIG=$(create_runbook "$WORK/load.json")
created_ms=$(python3 -c 'import sys; print(round(float(sys.argv[1]) * 1000))' "$(cat "$WORK/created.time")")
echo "create a runbook of $TASKS tasks (POST /runbooks, until the whole answer, $(wc -c <"$WORK/created.json") bytes): $created_ms ms   [$(uptime | sed 's/.*load/load/')]"
"$BIN/cutover" runbook start "$BIG" --mode live >/dev/null
RUNBOOK_IDS=("$BIG")
FIRED_LIMIT=$((TASKS - MANUAL))
if [ "$RUNBOOKS" -gt 1 ]; then
    [ "$EXTRA_TASKS" -lt "$FIRED_LIMIT" ] && FIRED_LIMIT=$EXTRA_TASKS
    runbook_file "$WORK/extra.json" "$EXTRA_TASKS" 0
    for _ in $(seq 2 "$RUNBOOKS"); do
        id=$(create_runbook "$WORK/extra.json")
        "$BIN/cutover" runbook start "$id" --mode live >/dev/null
        RUNBOOK_IDS+=("$id")
    done
fi

# A wrk script: thread k (one per connection) sends `POST /api/v1/runbooks/R/tasks/PREFIX<n>/VERB` for n = its first
# task number, then every `stride` after, below LIMIT, where R is the k-th runbook of $3 (round-robin) so no two
# threads share a task; a thread stops when its tasks run out (so no answer about a missing task counts). Writes it
# to $1; arguments: path, verb, runbook ids, task prefix, connections, limit.
wrk_script() {
    local path=$1 verb=$2 runbooks=$3 prefix=$4 connections=$5 limit=$6
    local count
    count=$(wc -w <<<"$runbooks")
    cat >"$path" <<EOF
local runbooks = {$(for id in $runbooks; do printf '"%s",' "$id"; done)}
local count = $count
local stride = math.floor($connections / count)
local threads = 0
function setup(thread)
    thread:set("runbook", runbooks[(threads % count) + 1])
    thread:set("first", math.floor(threads / count))
    threads = threads + 1
end
function init(args)
    step = 0
end
request = function()
    local n = first + step * stride
    step = step + 1
    return wrk.format("POST", "/api/v1/runbooks/" .. runbook .. "/tasks/$prefix" .. n .. "/$verb",
        {["Authorization"] = "Bearer ${TOKEN}", ["Content-Type"] = "application/json"}, "")
end
response = function(status, headers, body)
    if first + step * stride >= $limit then
        wrk.thread:stop()
    end
end
EOF
}
# Runs wrk with $2 connections for $3 on script $1; prints wrk's report and saves it as $1.txt.
run_wrk() {
    wrk -t "$2" -c "$2" -d "$3" --latency -s "$1" "$CUTOVER_SERVER" | tee "$1.txt"
}
# The 2xx answers of a wrk report.
answered_2xx() {
    local answered refused
    answered=$(awk '/requests in/ {print $1}' "$1")
    refused=$(awk '/Non-2xx/ {print $5}' "$1")
    if [ "${refused:-0}" -gt 0 ]; then
        echo "note: $refused answers were not 2xx (refused): see ${TMPDIR:-/tmp}/server_load.log" >&2
    fi
    echo $((answered - ${refused:-0}))
}
percentiles() {
    awk '/^ +50%/ {p50=$2} /^ +90%/ {p90=$2} /^ +99%/ {p99=$2} END {printf "p50 %s, p90 %s, p99 %s", p50, p90, p99}' "$1"
}

echo "== start and finish of manual tasks in the $TASKS-task runbook, $LATENCY_CONNECTIONS connection(s)"
wrk_script "$WORK/start_manual.lua" start "$BIG" m "$LATENCY_CONNECTIONS" "$MANUAL"
run_wrk "$WORK/start_manual.lua" "$LATENCY_CONNECTIONS" "$LATENCY_DURATION" >/dev/null
manual_started=$(answered_2xx "$WORK/start_manual.lua.txt")
echo "task start: $manual_started answered 2xx; $(percentiles "$WORK/start_manual.lua.txt")   [$(uptime | sed 's/.*load/load/')]"
wrk_script "$WORK/finish_manual.lua" finish "$BIG" m "$LATENCY_CONNECTIONS" "$manual_started"
run_wrk "$WORK/finish_manual.lua" "$LATENCY_CONNECTIONS" "$LATENCY_DURATION" >/dev/null
manual_finished=$(answered_2xx "$WORK/finish_manual.lua.txt")
echo "task finish: $manual_finished answered 2xx; $(percentiles "$WORK/finish_manual.lua.txt")   [$(uptime | sed 's/.*load/load/')]"

ended() {
    curl -fsS -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/metrics" |
        awk '/^cutover_fires_total/ {sum += $2} END {print sum + 0}'
}
echo "== task starts that fire: $CONNECTIONS connections over $RUNBOOKS runbook(s) for $DURATION"
wrk_script "$WORK/start.lua" start "${RUNBOOK_IDS[*]}" t "$CONNECTIONS" "$FIRED_LIMIT"
if [ -n "${PERF:-}" ]; then
    perf record -F 499 --call-graph "${PERF_CALL_GRAPH:-dwarf,16384}" -o "${PERF_DATA:-${TMPDIR:-/tmp}/server_load.perf.data}" -p "$SERVER_PID" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
    PERF_PID=$!
fi
load_started=$(date +%s%N)
run_wrk "$WORK/start.lua" "$CONNECTIONS" "$DURATION"
starts=$(answered_2xx "$WORK/start.lua.txt")
wrk_ended=$(date +%s%N)
[ -n "${PERF_PID:-}" ] && wait "$PERF_PID"

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
wrk_ms=$(((wrk_ended - load_started) / 1000000))
elapsed_ms=$(((load_ended - load_started) / 1000000))
echo "task starts answered 2xx: $starts in $wrk_ms ms: $((starts * 1000 / wrk_ms)) starts/s; $(percentiles "$WORK/start.lua.txt")"
echo "fires ended: $done_count after $elapsed_ms ms: $((done_count * 1000 / elapsed_ms)) fires/s end to end   [$(uptime | sed 's/.*load/load/')]"
echo "tasks by integration status:"
for id in "${RUNBOOK_IDS[@]}"; do
    "$BIN/cutover" task list "$id" --all --json | python3 -c '
import collections, json, sys
print(sys.argv[1], dict(collections.Counter(task["integration_status"] for task in json.load(sys.stdin)["items"])))' "$id"
done
grep -E "^cutover_fires_total" <(curl -fsS -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/metrics")
