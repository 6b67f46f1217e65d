#!/usr/bin/env bash
# Sourced by the bench scripts (server_load.sh, soak.sh): starts `cutover sink` and `cutover-server` on loopback.
#
# start_sink_and_server reads BIN (the folder of the binaries), WORK (a temporary folder: the server's data and its
# log, server.log), PORT, SINK_PORT and TOKEN (the bootstrap admin token); sets SINK_PID and SERVER_PID; exports
# CUTOVER_SERVER and CUTOVER_TOKEN for the `cutover` client; waits until the server answers its health check, and
# stops the script with the server's log when it did not start.
start_sink_and_server() {
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
    if ! kill -0 "$SERVER_PID" 2>/dev/null || ! curl -fsS "$CUTOVER_SERVER/api/v1/healthz" >/dev/null 2>&1; then
        echo "the server did not start:" >&2
        cat "$WORK/server.log" >&2
        exit 1
    fi
}
