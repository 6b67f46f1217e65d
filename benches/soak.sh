#!/usr/bin/env bash
# A bounded soak of the release `cutover-server` on SQLite: RUNBOOKS runbooks, each created, started and run to
# completion through the REST API by CLIENTS parallel clients, in one server process, against `cutover sink` on
# loopback. Reads the server's memory (VmRSS in /proc/PID/status, and /proc/PID/smaps_rollup) after the first FIRST
# runbooks completed and when the last one completed, prints both and their ratio, and exits 1 when the ratio is over
# MAX_RATIO (issue 13: 10,000 runbooks, at most 1.3 times the memory after the first 1,000).
#
# Each runbook has five tasks of one integration (`Sink`) and one event integration, so that fires, actions logs,
# events (the durable log, the broadcast, an SSE listener) and event deliveries all happen for every runbook:
#   manual ──────────────┐        `manual` is started by the client (`POST .../tasks/manual/start`); the others start
#   a ──┬── b (sync) ────┼── d    on their own (`auto_start`), `b` reads the sink's answer (`success_when`, `map`);
#       └── c ───────────┘        every action is fire-and-forget but `b`; `runbook.finished` is delivered to the sink.
#
# Not part of the test command (a release build is slow here). Usage:
#   bash benches/soak.sh                               # RUNBOOKS=10000 FIRST=1000 CLIENTS=16 MAX_RATIO=1.3
#   RUNBOOKS=2000 FIRST=200 bash benches/soak.sh       # a quick look
# The server and the sink listen on free loopback ports (PORT, SINK_PORT to choose them).
# Server settings can be passed through the environment (CUTOVER_MAX_CACHED_RUNBOOKS, MALLOC_ARENA_MAX, …).
# MALLOC_PROBE=1 (needs gdb) also asks glibc, at both points, for its heap in use (`malloc_stats`) and the RSS after
# `malloc_trim(0)`: memory in use that grows is the program's, RSS that grows while it does not is the allocator's.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNBOOKS=${RUNBOOKS:-10000}
FIRST=${FIRST:-1000}
CLIENTS=${CLIENTS:-16}
MAX_RATIO=${MAX_RATIO:-1.3}
MALLOC_PROBE=${MALLOC_PROBE:-0}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
SINK_PORT=${SINK_PORT:-$(free_port)}
TOKEN=soak-test-admin-token-0123456789

cargo build --release -q -p cutover-server -p cutover
BIN=$PWD/target/release

WORK=$(mktemp -d)
cleanup() {
    kill "${SSE_PID:-}" "${SERVER_PID:-}" "${SINK_PID:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    cp "$WORK/server.log" "${TMPDIR:-/tmp}/soak_server.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=benches/start_server.sh
source benches/start_server.sh
start_sink_and_server

cat >"$WORK/integration.yaml" <<EOF
kind: integration
name: Sink
custom_fields:
  - {name: Soak Answer, type: text, restrict_to: [Check]}
actions:
  - name: Post
    settings: {finish_task_on_success: true}
    request:
      method: POST
      url: http://127.0.0.1:$SINK_PORT/manual
      headers: {Content-Type: application/json}
      payload: {runbook: "{{Runbook.id}}", task: "{{Task.name}}"}
      execution_mode: fire_and_forget
  - name: Auto
    settings: {auto_start: true, finish_task_on_success: true}
    request:
      method: POST
      url: http://127.0.0.1:$SINK_PORT/auto
      headers: {Content-Type: application/json}
      payload: {runbook: "{{Runbook.id}}", task: "{{Task.name}}"}
      execution_mode: fire_and_forget
  - name: Check
    settings: {auto_start: true, finish_task_on_success: true}
    request:
      method: POST
      url: http://127.0.0.1:$SINK_PORT/check
      headers: {Content-Type: application/json}
      payload: {runbook: "{{Runbook.id}}", task: "{{Task.name}}"}
      execution_mode: sync
    response:
      success_when: [{path: $.ok, equals: true}]
      map: {Soak Answer: $.ok}
EOF
cat >"$WORK/events.yaml" <<EOF
kind: event_integration
name: Soak audit
events: [runbook.finished]
request:
  method: POST
  url: http://127.0.0.1:$SINK_PORT/events
  headers: {Content-Type: application/json}
EOF
"$BIN/cutover" apply "$WORK/integration.yaml" "$WORK/events.yaml" >/dev/null

# A listener on the event stream for the whole run, as a console or a dashboard would be.
curl -fsS -N -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/events" >/dev/null 2>&1 &
SSE_PID=$!

echo "soak: $RUNBOOKS runbooks of 5 tasks, $CLIENTS clients; memory after the first $FIRST and at the end" \
    "(load: $(cut -d' ' -f1-3 /proc/loadavg))"
status=0
ARGS=("$PORT" "$TOKEN" "$SERVER_PID" "$RUNBOOKS" "$FIRST" "$CLIENTS" "$MAX_RATIO" "$MALLOC_PROBE")
python3 - "${ARGS[@]}" <<'EOF' || status=$?
"""The soak's clients: create, start and finish runbooks through the REST API; sample the server's memory."""
import http.client
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

port, token, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
runbooks, first, clients, max_ratio = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
malloc_probe = sys.argv[8] == "1"
HEADERS = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
local = threading.local()


def call(method, path, body=None, expect=(200,)):
    """One request on this thread's keep-alive connection; the decoded JSON answer."""
    for attempt in range(2):
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            data = None if body is None else json.dumps(body).encode()
            local.connection.request(method, "/api/v1" + path, body=data, headers=HEADERS)
            answer = local.connection.getresponse()
            text = answer.read()
        except (http.client.HTTPException, ConnectionError):
            local.connection.close()
            local.connection = None
            if attempt == 1:
                raise
            continue
        if answer.status not in expect:
            raise RuntimeError(f"{method} {path}: {answer.status} {text[:300]!r}")
        return json.loads(text) if text else None


def memory():
    """The server's memory now, in KiB: VmRSS and VmHWM, and smaps_rollup's Rss, Anonymous and Private_Dirty."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Anonymous", "Private_Dirty"):
                values["smaps " + name] = int(rest.split()[0])
    return values


def show(values):
    return ", ".join(f"{name} {kib / 1024:.1f} MiB" for name, kib in values.items())


def probe():
    """glibc's statistics into the server's stderr, then its free memory handed back; the RSS after that."""
    gdb = ["gdb", "-batch", "-p", str(pid), "-ex", "call (void)malloc_stats()", "-ex", "call (int)malloc_trim(0)"]
    subprocess.run(gdb, capture_output=True, check=True)
    return memory()


def definition(n):
    task = lambda id, action, predecessors=(): {  # noqa: E731
        "id": id, "name": id.upper(), "action": f"Sink/{action}", "predecessors": list(predecessors)}
    return {"kind": "runbook", "name": f"Soak {n}", "tasks": [
        task("manual", "Post"), task("a", "Auto"), task("b", "Check", ["a"]), task("c", "Auto", ["a"]),
        task("d", "Auto", ["b", "c", "manual"])]}


lock = threading.Lock()
created = []
completed = 0
samples = {}
began = time.monotonic()


def run(n):
    global completed
    runbook = call("POST", "/runbooks", definition(n), expect=(201,))["id"]
    with lock:
        created.append(runbook)
    call("POST", f"/runbooks/{runbook}/start", {"mode": "live"})
    call("POST", f"/runbooks/{runbook}/tasks/manual/start", {})
    wait, deadline = 0.02, time.monotonic() + 120
    while True:
        view = call("GET", f"/runbooks/{runbook}")
        if view["stage"] == "complete":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"runbook {runbook} not complete after 120 s: {json.dumps(view)[:600]}")
        time.sleep(wait)
        wait = min(wait * 1.5, 0.25)
    with lock:
        completed += 1
        if completed == first or completed % max(first, 1) == 0 or completed == runbooks:
            values = memory()
            samples[completed] = values
            rate = completed / (time.monotonic() - began)
            print(f"{completed:>6} complete, {rate:.0f} runbooks/s: {show(values)}", flush=True)
            if malloc_probe and completed in (first, runbooks):
                print(f"        after malloc_trim(0): {show(probe())}", flush=True)


with ThreadPoolExecutor(clients) as pool:
    for future in [pool.submit(run, n) for n in range(runbooks)]:
        future.result()
elapsed = time.monotonic() - began
after_first, at_end = samples[first]["VmRSS"], samples[runbooks]["VmRSS"]
ratio = at_end / after_first
rollup_ratio = samples[runbooks]["smaps Rss"] / samples[first]["smaps Rss"]
print(f"{runbooks} runbooks complete in {elapsed:.0f} s ({runbooks / elapsed:.0f} runbooks/s)")
print(f"VmRSS after the first {first}: {after_first / 1024:.1f} MiB; at the end: {at_end / 1024:.1f} MiB; "
      f"ratio {ratio:.3f} (smaps_rollup Rss ratio {rollup_ratio:.3f}); limit {max_ratio}")


def check(runbook):
    """The first and the last runbook did what the soak is for: a sync answer mapped, an event delivered, a log."""
    answer = call("GET", f"/runbooks/{runbook}/tasks/b")["custom_fields"].get("Soak Answer")
    log = call("GET", f"/runbooks/{runbook}/tasks/manual/actions-log")["fires"]
    deadline = time.monotonic() + 30
    while True:
        deliveries = call("GET", f"/runbooks/{runbook}/event-deliveries")["deliveries"]
        outcomes = [(d["event_type"], d["outcome"]) for d in deliveries]
        if outcomes == [("runbook.finished", "delivered")] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    problems = []
    if answer != "true":
        problems.append(f"task b's Soak Answer is {answer!r}, not the sink's answer 'true'")
    if not log or not log[0]["entries"]:
        problems.append("task manual has no actions log")
    if outcomes != [("runbook.finished", "delivered")]:
        problems.append(f"event deliveries {outcomes}, not one runbook.finished delivered")
    return problems


for runbook in (created[0], created[-1]):
    problems = check(runbook)
    print(f"runbook {runbook}: " + ("; ".join(problems) if problems else
          "sync answer mapped, actions log written, runbook.finished delivered"))
    if problems:
        sys.exit(1)
time.sleep(2)
print(f"two seconds later, idle: {show(memory())}")
sys.exit(0 if ratio <= max_ratio else 1)
EOF
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$MALLOC_PROBE" = 1 ]; then
    echo "glibc heap (malloc_stats totals) after the first $FIRST, then at the end:"
    grep -A2 "^Total (incl. mmap)" "$WORK/server.log" | grep -E "bytes" || true
fi
curl -fsS -H "Authorization: Bearer $TOKEN" "$CUTOVER_SERVER/api/v1/metrics" | grep -E "^cutover_fires_total"
exit $status
