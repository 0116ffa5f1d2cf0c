#!/usr/bin/env bash
# CA benchmarks (run through scripts/bench ca):
#  1. Go benchmarks of IssueSigner and of OCSP responses, in process;
#  2. signer certificates issued per second, in process, with Badger SyncWrites on disk;
#  3. OCSP responses per second over loopback: Paraphe's responder, then `openssl ocsp` as a
#     responder over the same certificates (-multi = number of cores), each driven by the same
#     closed-loop load generator (C requests in flight, each with a nonce), and their ratio.
# Tunables: CA_BENCH_SECONDS (default 10), CA_BENCH_CONCURRENCY (default 4 × cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${CA_BENCH_SECONDS:-10}
cores=$(nproc)
conc=${CA_BENCH_CONCURRENCY:-$((4 * cores))}
tmp=$(mktemp -d)
pids=()
# stop PID: TERM to a server we started and to its own children (openssl -multi's parent only
# notices TERM when a child exits), then reap it.
stop() {
  kill "$1" $(pgrep -P "$1") 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  for p in "${pids[@]}"; do stop "$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/caload" ./scripts/benchtool/caload

echo "--- Go benchmarks (in process; go test -run '^\$' -bench 'IssueSigner|OCSP' -benchtime 2s ./ca/)"
go test -run '^$' -bench 'IssueSigner|OCSP' -benchtime 2s ./ca/ | grep -E '^Benchmark'

echo "--- signer certificates issued per second (in process, $conc goroutines, ${secs}s)"
"$tmp/caload" issue -dir "$tmp/issue" -c "$conc" -d "${secs}s"

echo "--- OCSP over loopback [::1] ($conc requests in flight, each with a nonce; ${secs}s after 2s warm-up; 1000 certificates, 100 revoked)"
"$tmp/caload" setup -dir "$tmp/ocsp" -certs 1000 -revoked 100 >/dev/null

"$tmp/caload" serve -dir "$tmp/ocsp" -listen "[::1]:0" &
pids=($!)
for _ in $(seq 100); do [ -s "$tmp/ocsp/addr" ] && break; sleep 0.1; done
ours=$("$tmp/caload" load -url "http://$(cat "$tmp/ocsp/addr")/ocsp" -dir "$tmp/ocsp" -c "$conc" -d "${secs}s")
echo "paraphe: $ours"
stop "${pids[0]}"; pids=()

# openssl 3.0's responder takes a port only and binds [::].
port=$("$tmp/caload" freeport)
cmd=(openssl ocsp -index "$tmp/ocsp/index.txt" -port "$port" -rsigner "$tmp/ocsp/ocsp.pem" -rkey "$tmp/ocsp/ocsp.key" -CA "$tmp/ocsp/issuing.pem" -nmin 60 -multi "$cores")
"${cmd[@]}" >"$tmp/openssl.log" 2>&1 &
pids=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/::1/$port") 2>/dev/null && break; sleep 0.1; done
theirs=$("$tmp/caload" load -url "http://[::1]:$port/" -dir "$tmp/ocsp" -c "$conc" -d "${secs}s")
echo "openssl: $theirs"
echo "         (${cmd[*]//$tmp/TMP})"
stop "${pids[0]}"; pids=()

a=${ours%% *}; b=${theirs%% *}
awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "ratio paraphe/openssl: %.2f\n", a / b }'
