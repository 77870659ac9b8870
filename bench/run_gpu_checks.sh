#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA device, in parts that one
# device call each can run (a call may last 10 minutes; all parts together
# take longer):
#   tests      the GPU test cases (and the selection's host tests)
#   sanitizer  compute-sanitizer memcheck, racecheck, synccheck on small cases
#   serve      a `vesta serve --device gpu` smoke test over HTTP
#   bench      vesta_gpu_bench (1M and 10M rows, batches 1-4096, 4 at once)
#   variants   the options not on by default, each against the default in the
#              same run: block selection; CUDA graphs, the fused scan and both
#              (small batches); GEMMs on fewer SMs (large batches)
#   torch      the PyTorch peer (torch.mm + topk)
# Binaries come from ${VESTA_BIN:-build} (tests/, bench/, app/ as the build
# lays them out, or all in one folder; scripts/device-bundle.sh packs them
# with their libraries into .devrun/ for a bare machine); results go to
# ${OUT:-gpu-results}.
#   bench/run_gpu_checks.sh [--quick] [--parts tests,sanitizer,...]
#   (--quick: 1M rows only, fewer batches; default: every part)
set -uo pipefail
cd "$(dirname "$0")/.." || exit
bin="${VESTA_BIN:-build}"
out="${OUT:-gpu-results}"
mkdir -p "$out"
find_bin() { for p in "$bin/$1" "$bin/tests/$1" "$bin/bench/$1" "$bin/app/$1"; do
  [[ -x "$p" ]] && { echo "$p"; return; }; done; echo "missing-$1"; }
# cuBLAS comes from the machine's CUDA installation; other libraries from
# $bin/lib where scripts/device-bundle.sh packed them.
[[ -d "$bin/lib" ]] && export LD_LIBRARY_PATH="$PWD/$bin/lib:${LD_LIBRARY_PATH:-}"
if ! ldconfig -p | grep -q libcublas.so.13; then
  lib=$(find / -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -1)
  if [[ -n "$lib" ]]; then
    LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
    export LD_LIBRARY_PATH
  fi
fi
rows="1000000,10000000"; batches="1,4,16,64,256,1024,4096"
parts="tests,sanitizer,serve,bench,variants,torch"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) rows="1000000"; batches="1,16,256,4096" ;;
    --parts) parts="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--parts tests,sanitizer,serve,bench,variants,torch]" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$parts," == *",$1,"* ]]; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/device.txt"
"$(find_bin vesta)" --version | tee -a "$out/device.txt"
gpu_bench="$(find_bin vesta_gpu_bench)"

status=0
if want tests; then
  echo "== GPU selection and fused layout on the host, GPU tests =="
  "$(find_bin kernels_tests)" --gtest_filter='GpuSelect*:FusedLayout*' --gtest_brief=1 2>&1 | tail -3 || status=1
  timeout 300 "$(find_bin index_tests)" --gtest_filter='Gpu*:Device*:Placement*' 2>&1 | tee "$out/gpu_tests.log" | \
    grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED|gpu) ' | sort | uniq -c | sort -rn | head -40
  grep -q "FAILED" "$out/gpu_tests.log" && status=1
  grep -q "PASSED" "$out/gpu_tests.log" || { echo "GPU tests did not finish"; status=1; }
  grep -q "no CUDA device can be used here" "$out/gpu_tests.log" &&
    { echo "no usable CUDA device: the GPU tests skipped"; status=1; }
fi

if want sanitizer; then
  echo "== compute-sanitizer (memcheck, racecheck, synccheck) on the small GPU cases =="
  if command -v compute-sanitizer > /dev/null; then
    for tool in memcheck racecheck synccheck; do
      # racecheck is too slow for the 50,000-row concurrency case.
      filter='GpuSearcher.Rejects*:GpuSearcher.Concurrent*:Placement.With*:DeviceFlatIndex.SearchesReplayed*'
      [[ $tool == racecheck ]] && filter='GpuSearcher.Rejects*:Placement.With*'
      timeout 120 compute-sanitizer --tool $tool --error-exitcode 3 "$(find_bin index_tests)" \
        --gtest_filter="$filter" \
        > "$out/sanitizer_$tool.log" 2>&1
      rc=$?; echo "compute-sanitizer $tool: exit $rc"; tail -3 "$out/sanitizer_$tool.log"
      [[ $rc == 0 ]] || status=1
    done
  else
    echo "compute-sanitizer not found"
  fi
fi

if want serve; then
  echo "== vesta serve --device gpu =="
  "$(find_bin vesta)" serve --device gpu --storage memory --port 16333 > "$out/serve.log" 2>&1 &
  pid=$!
  sleep 2
  python3 - <<'PY' || status=1
import json, urllib.request
def call(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:16333" + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
call("PUT", "/collections/smoke", {"vectors": {"size": 4, "distance": "Euclid"}})
call("PUT", "/collections/smoke/points?wait=true", {"points": [
    {"id": i, "vector": [i, 0, 0, 1], "payload": {"i": i}} for i in range(100)]})
res = call("POST", "/collections/smoke/points/search", {"vector": [41.2, 0, 0, 1], "limit": 3})
ids = [p["id"] for p in res["result"]]
print("smoke search ids", ids, [round(p["score"], 3) for p in res["result"]])
assert ids == [41, 42, 40], ids
PY
  kill -TERM $pid; wait $pid
  head -5 "$out/serve.log"
  grep -q "search on gpu" "$out/serve.log" || { echo "serve did not use the GPU"; status=1; }
fi

if want bench; then
  echo "== vesta_gpu_bench =="
  timeout 300 "$gpu_bench" --rows "$rows" --batches "$batches" --append-rows 1000000 \
    --concurrent 4 --json "$out/gpu_bench.json" \
    2>&1 | tee "$out/gpu_bench.txt"
fi

if want variants; then
  echo "== block selection instead of warp queues (1M rows) =="
  timeout 60 "$gpu_bench" --rows 1000000 --batches "$batches" --block-select \
    2>&1 | grep '^|' | tee "$out/gpu_bench_block_select.txt"
  echo "== small batches: plain, CUDA graphs, fused scan, both, in the same run (1M and 10M rows) =="
  for mode in plain graphs fused fused+graphs; do
    flags=()
    [[ $mode == *graphs* ]] && flags+=(--graphs)
    [[ $mode == fused* ]] && flags+=(--fused)
    timeout 90 "$gpu_bench" --rows "$rows" --batches 1,4,16 --reps 9 "${flags[@]}" \
      2>&1 | grep -E '^\||^searches' | sed "s/^/$mode /" | tee -a "$out/gpu_bench_small.txt"
  done
  echo "== large batches: GEMMs aimed at fewer SMs so the selection runs beside them =="
  for sms in 0 124 116 100; do
    timeout 90 "$gpu_bench" --rows "$rows" --batches 1024,4096 --reps 5 --gemm-sms $sms \
      2>&1 | grep -E '^\|' | sed "s/^/gemm-sms=$sms /" | tee -a "$out/gpu_bench_gemm_sms.txt"
  done
fi

if want torch; then
  echo "== PyTorch peer =="
  PYTHONUNBUFFERED=1 timeout 150 python3 bench/gpu_torch_peer.py --rows "$rows" --batches "$batches" \
    --json "$out/torch_peer.json" 2>&1 | tee "$out/torch_peer.txt"
fi
echo "gpu checks ($parts): exit $status"
exit $status
