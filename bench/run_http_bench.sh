#!/usr/bin/env bash
# The HTTP benchmarks of the server issue, all in one run on one machine:
#   1. 64 connections of single-query JSON searches, dynamic batching on
#      (the defaults) vs off (--batch-max-queries 1);
#   2. batches of 64 queries per request, JSON (search/batch) vs binary
#      (search/raw), 4 connections;
#   3. the same searches in-process (vesta_batching_bench, no HTTP), the
#      ceiling the binary endpoint is compared with.
# Server and load generator share the machine; compare ratios, not absolutes.
# The points are loaded through binary import jobs (vesta bench --upload
# import), so a million rows take seconds rather than minutes.
#   bench/run_http_bench.sh [ROWS (30000)] [SECONDS (10)]
# IN_PROCESS=0 skips step 3 (it builds the rows inside the benchmark process,
# which takes minutes at a million rows).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VESTA_BIN:-build}"
rows="${1:-30000}"
seconds="${2:-10}"
dim=768
# A search waiting for its batch holds a handler thread: both servers get
# one per connection (64, the default).
handler_threads="${HANDLER_THREADS:-64}"
out="${OUT:-build/http-bench}"
mkdir -p "$out"

serve() {  # serve LOG ARGS... -> prints the URL; the PID is in $out/LOG.pid
  local log="$out/$1"; shift
  # Searches are measured: the collections need not outlive the run.
  "$bin/app/vesta" serve --port 0 --access-log off --storage memory "$@" > /dev/null 2> "$log" &
  echo $! > "$log.pid"
  for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$log" | sed 's/listening on //' || true)
    [[ -n "$url" ]] && { echo "$url"; return; }
    sleep 0.1
  done
  echo "server did not start: $(cat "$log")" >&2; exit 1
}
stop() { kill -TERM "$(cat "$out/$1.pid")"; while kill -0 "$(cat "$out/$1.pid")" 2>/dev/null; do sleep 0.1; done; }
bench() { "$bin/app/vesta" bench --collection b --distance Dot --duration "${seconds}s" "$@"; }
qps() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(round(r['queries_per_s']), round(r['latency_ms']['p99'],2))" "$1"; }

echo "== rows $rows, dim $dim, ${seconds}s per run, $(nproc) cores"
url=$(serve batching.log --handler-threads "$handler_threads")
bench --url "$url" --create --upload import --dim $dim --points "$rows" --concurrency 64 --batch 1 \
  --mode json --report "$out/json64_batching.json" > "$out/json64_batching.txt"
bench --url "$url" --concurrency 4 --batch 64 --mode json --report "$out/json_b64.json" > /dev/null
bench --url "$url" --concurrency 4 --batch 64 --mode binary --report "$out/binary_b64.json" > /dev/null
stop batching.log
url=$(serve nobatching.log --handler-threads "$handler_threads" --batch-max-queries 1)
bench --url "$url" --create --upload import --dim $dim --points "$rows" --concurrency 64 --batch 1 \
  --mode json --report "$out/json64_nobatching.json" > "$out/json64_nobatching.txt"
stop nobatching.log
if [[ "${IN_PROCESS:-1}" == 1 ]]; then
  "$bin/bench/vesta_batching_bench" --rows "$rows" --dim $dim --clients 4 --batch 64 \
    --seconds "$seconds" --configs 256:1000 > "$out/inprocess_b64.txt"
  inproc=$(awk -F'|' '/^\| 256/ {gsub(/ /,"",$4); print $4}' "$out/inprocess_b64.txt")
else
  inproc=nan  # IN_PROCESS=0: skipped
fi

read -r a a99 < <(qps "$out/json64_batching.json")
read -r b b99 < <(qps "$out/json64_nobatching.json")
read -r j j99 < <(qps "$out/json_b64.json")
read -r r r99 < <(qps "$out/binary_b64.json")
echo "| run | queries/s | p99 ms |"
echo "|---|---|---|"
echo "| 64 connections x 1 query, JSON, batching on | $a | $a99 |"
echo "| 64 connections x 1 query, JSON, batching off | $b | $b99 |"
echo "| 4 connections x 64 queries, JSON search/batch | $j | $j99 |"
echo "| 4 connections x 64 queries, binary search/raw | $r | $r99 |"
echo "| 4 clients x 64 queries, in-process | $inproc | |"
python3 - "$a" "$b" "$j" "$r" "$inproc" <<'PY'
import sys
a, b, j, r, inproc = map(float, sys.argv[1:])
print(f"batching on / off: {a / b:.2f}x; binary / JSON: {r / j:.2f}x; binary / in-process: {r / inproc:.2f}")
PY
