#!/usr/bin/env bash
# Ceremony benchmarks (run through scripts/bench ceremony), in process over HTTP (httptest) with
# the real CA, TSA and PAdES engine, the ledger as the appliance runs it (Trillian over
# ledger/badgerstore on disk, synchronous writes, checkpoints timestamped by the TSA), the
# ceremony state in Badger with the appliance's options (synchronous writes), emails and SMS to
# the outbox:
#  1. BenchmarkCeremony: complete ceremonies per second — create (one ten-page PDF), send, open
#     the link, read ten pages, fill a field, choose to sign, verify the code (certificate, B-T
#     signature, B-LT, B-LTA, completion) — 64 × GOMAXPROCS concurrent clients; and the CPU
#     time per ceremony;
#  2. BenchmarkVerifyAndSign: p50 and p99 of the verify-code-and-sign-everything step for three
#     documents, one ceremony at a time.
# There is no open-source peer that runs this ceremony (an e-signature workflow with a
# verifiable ledger), so no side-by-side figure: the script prints ours and the ratio to the
# goals of issue 6 (≥ 50 ceremonies/s, p99 < 500 ms), and the disk's synced-write latency
# measured just before, since every step waits for synced writes.
# Every step's answer waits for its ledger receipts, as the appliance's do (up to 1 s; the
# ledger publishes a checkpoint at most every 5 ms); PARAPHE_BENCH_NO_RECEIPTS=1 measures the
# answers without them.
# Tunables: CEREMONY_BENCH_N (ceremonies per benchmark, default 500: with 128 clients, fewer
# leave the ramp-up and the tail a large share of the run).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${CEREMONY_BENCH_N:-500}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
sync_ms=$(dd if=/dev/zero of="$probe/f" bs=4k count=100 oflag=dsync 2>&1 | awk '/copied/ {printf "%.2f", $(NF-3) * 1000 / 100}')
echo "disk: 4 KiB synced write (dd oflag=dsync, 100 writes): ${sync_ms} ms each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(go test -run '^$' -bench 'Ceremony|VerifyAndSign' -benchtime "${n}x" ./web/signer/)
echo "$out" | grep -E '^Benchmark|^ok'
echo "$out" | awk '
  /^BenchmarkCeremony/ { for (i = 1; i < NF; i++) { if ($(i+1) == "ceremonies/s") r = $i; if ($(i+1) == "cpu-ms/ceremony") c = $i } }
  /^BenchmarkVerifyAndSign/ { for (i = 1; i < NF; i++) { if ($(i+1) == "p50-ms") p50 = $i; if ($(i+1) == "p99-ms") p99 = $i } }
  END {
    printf "ceremonies/s: %.1f (goal ≥ 50: %.2f× the goal)\n", r, r / 50
    if (c > 0) printf "CPU per ceremony: %.1f ms (what %d cores to itself could do: %.0f/s)\n", c, '"$(nproc)"', '"$(nproc)"' * 1000 / c
    printf "verify code + sign 3 documents: p50 %.1f ms, p99 %.1f ms (goal p99 < 500 ms: %.2f× the budget)\n", p50, p99, p99 / 500
  }'
