#!/usr/bin/env bash
# PAdES benchmark (run through scripts/bench pades): Paraphe's pades.Sign against
# github.com/digitorus/pdfsign (scripts/benchtool/pdfsignpeer, its own module) on the same
# prepared 1-, 100- and 1000-page PDFs, the same ECDSA P-256 key and the same loopback RFC 3161
# TSA (one HTTP timestamp request each). For each size it prints the median signing time of
# PADES_BENCH_ROUNDS runs (the signing call only, measured in-process) and the peak RSS
# (VmHWM) of the signing process, and checks that every output has the input's page count and
# a signature whose digest and value verify (pades.Verify).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${PADES_BENCH_ROUNDS:-5}
sizes=${PADES_BENCH_PAGES:-"1 100 1000"}
tmp=$(mktemp -d)
tsapid=""
cleanup() { [ -n "$tsapid" ] && kill "$tsapid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/padesbench" ./scripts/benchtool/padesbench
(cd scripts/benchtool/pdfsignpeer && go build -o "$tmp/pdfsignpeer" .)
"$tmp/padesbench" keys -dir "$tmp"
"$tmp/padesbench" tsa -dir "$tmp" -urlfile "$tmp/tsa.url" &
tsapid=$!
for _ in $(seq 100); do [ -s "$tmp/tsa.url" ] && break; sleep 0.05; done
tsa=$(cat "$tmp/tsa.url")

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -E "s/.*$1=([0-9.]+).*/\1/"; }

printf '%-6s %10s | %10s %10s | %10s %10s | %8s %8s\n' pages input_KB paraphe_s paraphe_MB pdfsign_s pdfsign_MB time_x rss_x
for n in $sizes; do
  in="$tmp/in-$n.pdf"
  "$tmp/padesbench" gen -pages "$n" -out "$in"
  : > "$tmp/p.t"; : > "$tmp/p.m"; : > "$tmp/s.t"; : > "$tmp/s.m"
  for r in $(seq "$rounds"); do
    # Alternate which tool runs first.
    for tool in $( [ $((r % 2)) = 1 ] && echo "p s" || echo "s p"); do
      if [ "$tool" = p ]; then
        line=$("$tmp/padesbench" sign -dir "$tmp" -tsa "$tsa" -in "$in" -out "$tmp/out-p.pdf")
        "$tmp/padesbench" check -dir "$tmp" -pages "$n" "$tmp/out-p.pdf"
      else
        line=$("$tmp/pdfsignpeer" -in "$in" -out "$tmp/out-s.pdf" -key "$tmp/signer.key" -cert "$tmp/signer.pem" -tsa "$tsa" 2>/dev/null)
        "$tmp/padesbench" check -dir "$tmp" -pages "$n" "$tmp/out-s.pdf"
      fi
      field seconds <<<"$line" >> "$tmp/$tool.t"
      field vmhwm_kb <<<"$line" >> "$tmp/$tool.m"
    done
  done
  pt=$(median < "$tmp/p.t"); pm=$(median < "$tmp/p.m"); st=$(median < "$tmp/s.t"); sm=$(median < "$tmp/s.m")
  awk -v n="$n" -v kb="$(( $(stat -c %s "$in") / 1024 ))" -v pt="$pt" -v pm="$pm" -v st="$st" -v sm="$sm" \
    'BEGIN { printf "%-6s %10s | %10.4f %10.1f | %10.4f %10.1f | %8.2f %8.2f\n", n, kb, pt, pm/1024, st, sm/1024, st/pt, sm/pm }'
done
echo "time_x and rss_x are pdfsign / paraphe (above 1: Paraphe is faster / smaller). Median of $rounds runs."
