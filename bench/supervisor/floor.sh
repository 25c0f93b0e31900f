#!/usr/bin/env bash
# The floor for the start-up benchmark: what a plain shell script needs to start the same
# providers and see them all healthy. Starts `BUN run fixture.ts` once per port, each in its own
# process group as the gateway does (by job control, so no extra program such as setsid per
# provider), polls every /health in parallel over bash's /dev/tcp every 10 ms (no process per
# poll, nor per pause), and prints "ready" once all answered 200. Then waits to be killed; the
# caller ends the process groups listed on the first line ("pids ...").
# Usage: floor.sh BUN FIXTURE_DIR PORT...
set -u
# Job control: each background job gets its own process group.
set -m
bun="$1" dir="$2"
shift 2
pids=()
for port in "$@"; do
  (cd "$dir" && PORT="$port" exec "$bun" run ./fixture.ts >/dev/null 2>&1) &
  pids+=("$!")
done
echo "pids ${pids[*]}"
healthy() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  local status
  read -r _ status _ <&3
  exec 3<&-
  [ "$status" = 200 ]
}
pollers=()
for port in "$@"; do
  # Waits 10 ms between polls with `read -t` on a pipe nobody writes to: /usr/bin/sleep would
  # fork and exec 50 × 100 times a second, and those pollers alone would fill both cores
  # (measured: 2.2 CPU-seconds a second), slowing the very providers they wait for.
  (exec {nap}<> <(:); until healthy "$port" 2>/dev/null; do read -r -t 0.01 -u "$nap" _; done) &
  pollers+=("$!")
done
wait "${pollers[@]}"
echo ready
sleep 3600
