#!/usr/bin/env bash
# scripts/bench.d/ledger.sh — Trillian storage, side by side: Paraphe's Badger backend
# (ledger/badgerstore) vs Trillian's own PostgreSQL storage, through one harness
# (scripts/benchtool/ledgerbench) with the same group commit in front of both.
#
# Starts a private PostgreSQL (Debian postgresql, initdb/pg_ctl, loopback only, as the
# postgres user when run as root) in a temporary directory, loads Trillian's schema, runs every
# figure on a fresh store per run, prints the table and removes everything.
# Environment: PGBIN (default /usr/lib/postgresql/15/bin), LEDGERBENCH_QUICK=1 for a short
# smoke run (small sizes; not for recording), LEDGERBENCH_ONLY="a1 a64 seq20k seq200k lat200 receipt
# proof1m" to run some figures only, KEEP=1 to keep the results directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
for p in initdb pg_ctl psql; do
  [ -x "$PGBIN/$p" ] || { echo "ledger.sh: $PGBIN/$p not found (apt-get install postgresql, or set PGBIN)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/ledgerbench.XXXXXX)
chmod 755 "$work"
pgdata=$work/pg/data
port=$(( 20000 + RANDOM % 20000 ))
asuser=()
if [ "$(id -u)" = 0 ]; then asuser=(runuser -u postgres --); fi

cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then "${asuser[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; fi
  if [ "${KEEP:-}" = 1 ]; then echo "results kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

go build -o "$work/ledgerbench" ./scripts/benchtool/ledgerbench

mkdir -p "$work/pg"
[ ${#asuser[@]} -gt 0 ] && chown postgres "$work/pg"
"${asuser[@]}" "$PGBIN/initdb" -D "$pgdata" --auth=trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work/pg'
logging_collector = off
CONF
"${asuser[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -l "$work/pg/log" -w start >/dev/null
"$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "create database trillian"
schema=$(go list -m -f '{{.Dir}}' github.com/google/trillian)/storage/postgresql/schema/storage.sql
"$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d trillian -v ON_ERROR_STOP=1 -f "$schema" >/dev/null
pg="postgresql:///trillian?host=127.0.0.1&port=$port&user=postgres&sslmode=disable&pool_max_conns=80"

out=$work/results.jsonl
if [ "${LEDGERBENCH_QUICK:-}" = 1 ]; then dur=3s; seq_small=5000; seq_big=20000; tree=50000; lat=5s
else dur=10s; seq_small=20000; seq_big=200000; tree=1000000; lat=20s; fi

bench() { # LABEL ARGS… — one run per backend, alternating, each on a fresh store
  local label=$1; shift
  if [ -n "${LEDGERBENCH_ONLY:-}" ] && [[ " $LEDGERBENCH_ONLY " != *" $label "* ]]; then return; fi
  for b in badger pg; do
    local args=(-backend "$b" -label "$label" -max 12m "$@")
    if [ "$b" = badger ]; then args+=(-dir "$work/badger-$label"); else args+=(-pg "$pg" -pgdata "$pgdata"); fi
    echo "+ ledgerbench ${args[*]}" | sed "s#$work#\$TMP#g" >&2
    "$work/ledgerbench" "${args[@]}" >>"$out"
    rm -rf "$work/badger-$label"
    sync
  done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench a1 -mode append -writers 1 -dur "$dur"
bench a64 -mode append -writers 64 -dur "$dur"
bench seq20k -mode seq -n "$seq_small"
bench seq200k -mode seq -n "$seq_big"
bench lat200 -mode latency -rate 200 -dur "$lat"
bench proof1m -mode proof -n "$tree" -proofs 2000
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ ! -s "$out" ] || "$work/ledgerbench" -mode report -in "$out"
if [ -z "${LEDGERBENCH_ONLY:-}" ] || [[ " $LEDGERBENCH_ONLY " == *" receipt "* ]]; then
  # The harness stops at "integrated" for both backends; a receipt also needs a checkpoint
  # signed and timestamped and an inclusion proof, which only the appliance's ledger makes.
  n=4000; [ "${LEDGERBENCH_QUICK:-}" = 1 ] && n=1000
  echo
  echo "append→receipt at 200 events/s through the assembled appliance (Badger, in-process TSA):"
  echo "+ go test -run '^\$' -bench LedgerReceipt -benchtime ${n}x ./appliance/" >&2
  go test -run '^$' -bench LedgerReceipt -benchtime "${n}x" ./appliance/ | grep '^Benchmark' |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /-ms$/) m[$i] = $(i-1); printf "  %-46s p50 %7.2f ms  p99 %7.2f ms\n", $1, m["p50-ms"], m["p99-ms"] }'
fi
if [ "${KEEP:-}" = 1 ]; then cp "$out" "$work/../ledgerbench-results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"; fi
