#!/usr/bin/env bash
# Ceremony benchmarks (run through scripts/bench ceremony), in process over HTTP (httptest) with
# the real CA, TSA, PAdES engine and ledger (Trillian memory storage), ceremony state in Badger
# with SyncWrites on disk, emails and SMS to the outbox:
#  1. BenchmarkCeremony: complete ceremonies per second — create (one ten-page PDF), send, open
#     the link, read ten pages, fill a field, choose to sign, verify the code (certificate, B-T
#     signature, B-LT, B-LTA, completion) — 16 × GOMAXPROCS concurrent clients;
#  2. BenchmarkVerifyAndSign: p50 and p99 of the verify-code-and-sign-everything step for three
#     documents, one ceremony at a time.
# Tunables: CEREMONY_BENCH_N (ceremonies per benchmark, default 200).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${CEREMONY_BENCH_N:-200}
go test -run '^$' -bench 'Ceremony|VerifyAndSign' -benchtime "${n}x" ./web/signer/ | grep -E '^Benchmark|^ok'
