#!/usr/bin/env bash
# TSA benchmark (run through scripts/bench tsa): Paraphe's TSA against sigstore's
# timestamp-server v2.1.3, both with the same ECDSA P-256 file key and certificate chain, each
# pinned to one core (taskset, GOMAXPROCS=1) and driven in turn by the same closed-loop loopback
# load generator on the other core (C requests in flight, the same SHA-256 query with a nonce and
# certReq). For each it prints tokens/s and server CPU µs per token (utime+stime from
# /proc/PID/stat over the run), then the ratios and a bare ecdsa.Sign (CPU µs) measured in the
# same run. Rounds alternate the two servers; the summary is the median round.
#
# sigstore's server is installed with `go install …@v2.1.3` into a temporary directory (about a
# minute and a half, cold) unless TSA_BENCH_SIGSTORE names an existing binary. It binds its
# metrics on :2112 on every interface; when that port is taken and this runs as root, the
# measurement runs in a private network namespace (unshare -n) instead.
# Tunables: TSA_BENCH_REQUESTS (20000 per round), TSA_BENCH_CONCURRENCY (16), TSA_BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."

measure() {
  local tmp=$1 n=$2 conc=$3 rounds=$4
  local srvcpu=0 loadcpu=0 pin_srv=() pin_load=()
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_srv=(taskset -c "$srvcpu"); loadcpu=1; pin_load=(taskset -c "$loadcpu")
  fi
  local tck; tck=$(getconf CLK_TCK)
  local pid=""
  trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; true' EXIT
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

  # run_one NAME URL: warm up, then N requests; prints "tokens/s cpu_us loader-line".
  run_one() {
    local url=$2
    "${pin_load[@]}" env GOMAXPROCS=1 "$tmp/tsabench" load -url "$url" -query "$tmp/k/q.tsq" -n 2000 -c "$conc" -d 30s >/dev/null
    local t0 t1 out granted rps
    t0=$(cpu_ticks "$pid")
    out=$("${pin_load[@]}" env GOMAXPROCS=1 "$tmp/tsabench" load -url "$url" -query "$tmp/k/q.tsq" -n "$n" -c "$conc" -d 120s)
    t1=$(cpu_ticks "$pid")
    rps=${out%% *}
    granted=$(sed -E 's/.*granted=([0-9]+).*/\1/' <<<"$out")
    awk -v r="$rps" -v a="$t0" -v b="$t1" -v t="$tck" -v g="$granted" -v o="$out" \
      'BEGIN { printf "%s %.1f %s\n", r, (b - a) * 1e6 / t / g, o }'
  }

  start_paraphe() {
    rm -f "$tmp/k/addr"
    GOMAXPROCS=1 "${pin_srv[@]}" "$tmp/tsabench" serve -dir "$tmp/k" -listen 127.0.0.1:0 2>>"$tmp/paraphe.log" &
    pid=$!
    for _ in $(seq 200); do [ -s "$tmp/k/addr" ] && break; sleep 0.05; done
    url="http://$(cat "$tmp/k/addr")/tsa"
  }
  start_sigstore() {
    local port; port=$("$tmp/tsabench" freeport)
    GOMAXPROCS=1 "${pin_srv[@]}" "$sigstore" serve --host 127.0.0.1 --port "$port" --disable-ntp-monitoring \
      --log-type prod --timestamp-signer file --file-signer-key-path "$tmp/k/tsa.key" \
      --certificate-chain-path "$tmp/k/chain.pem" >>"$tmp/sigstore.log" 2>&1 &
    pid=$!
    wait_port "$port" || { echo "sigstore timestamp-server did not start:"; tail -5 "$tmp/sigstore.log"; exit 1; }
    url="http://127.0.0.1:$port/api/v1/timestamp"
  }
  stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
  check_openssl() { # the reply verifies with openssl against the shared chain
    curl -sf -H "Content-Type: application/timestamp-query" --data-binary "@$tmp/k/q.tsq" "$url" -o "$tmp/$1.tsr"
    openssl ts -verify -in "$tmp/$1.tsr" -queryfile "$tmp/k/q.tsq" -CAfile "$tmp/k/root.pem" -untrusted "$tmp/k/tsa.pem" 2>/dev/null |
      grep -q "Verification: OK" || { echo "$1: reply does not verify with openssl"; exit 1; }
  }

  echo "servers pinned to CPU $srvcpu (GOMAXPROCS=1), load generator on CPU $loadcpu; $n requests per round, $conc in flight"
  local url r
  for r in $(seq "$rounds"); do
    start_paraphe; [ "$r" = 1 ] && check_openssl paraphe
    echo "paraphe  $(run_one paraphe "$url")" | tee -a "$tmp/results"; stop_server
    start_sigstore; [ "$r" = 1 ] && check_openssl sigstore
    echo "sigstore $(run_one sigstore "$url")" | tee -a "$tmp/results"; stop_server
  done
  local sign; sign=$(GOMAXPROCS=1 "${pin_srv[@]}" "$tmp/tsabench" sign -dir "$tmp/k" -n 20000)
  echo "bare ecdsa.Sign P-256 (CPU µs, same core): $sign"
  median() { grep "^$1 " "$tmp/results" | awk -v f="$2" '{print $f}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  local prps pcpu srps scpu
  prps=$(median paraphe 2); pcpu=$(median paraphe 3); srps=$(median sigstore 2); scpu=$(median sigstore 3)
  echo "--- median of $rounds rounds"
  printf "%-30s %10s %18s\n" "" "tokens/s" "server CPU µs/token"
  printf "%-30s %10s %18s\n" "paraphe tsa (one core)" "$prps" "$pcpu" "sigstore timestamp-server" "$srps" "$scpu"
  awk -v a="$prps" -v b="$srps" -v c="$pcpu" -v d="$scpu" -v s="$sign" 'BEGIN {
    printf "ratio tokens/s paraphe/sigstore: %.2f (goal >= 2)\n", a / b
    printf "ratio CPU per token sigstore/paraphe: %.2f\n", d / c
    printf "paraphe CPU per token / bare ecdsa.Sign: %.2f (goal <= 3)\n", c / s }'
}

if [ "${1:-}" = "--measure" ]; then # re-entry inside a private network namespace
  ip link set lo up
  sigstore=$6
  measure "$2" "$3" "$4" "$5"
  exit
fi

n=${TSA_BENCH_REQUESTS:-20000}
conc=${TSA_BENCH_CONCURRENCY:-16}
rounds=${TSA_BENCH_ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/tsabench" ./scripts/benchtool/tsabench
"$tmp/tsabench" gen -dir "$tmp/k"
sigstore=${TSA_BENCH_SIGSTORE:-}
if [ -z "$sigstore" ]; then
  echo "installing sigstore timestamp-server v2.1.3 into a temporary directory…"
  (cd "$tmp" && GOFLAGS=-mod=mod GOBIN="$tmp/bin" go install github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@v2.1.3)
  sigstore=$tmp/bin/timestamp-server
fi

echo "--- Go benchmarks (in process; go test -run '^\$' -bench 'Respond|ECDSASign' -benchtime 2s -cpu 1 ./tsa/)"
go test -run '^$' -bench 'Respond|ECDSASign' -benchtime 2s -cpu 1 ./tsa/ | grep -E '^Benchmark'

echo "--- over loopback"
if [ -n "$(ss -Hltn 'sport = :2112' 2>/dev/null)" ]; then
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    echo "(port 2112 is taken here: measuring in a private network namespace)"
    unshare -n bash "$0" --measure "$tmp" "$n" "$conc" "$rounds" "$sigstore"
    exit
  fi
  echo "port 2112 is taken and sigstore's timestamp-server needs it: free it or run as root (unshare -n)" >&2
  exit 1
fi
( measure "$tmp" "$n" "$conc" "$rounds" )
