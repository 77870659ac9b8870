"""The peer for vesta_gpu_bench: exact top-k with PyTorch on the same device.

What a PyTorch user would write: float16 rows resident on the GPU, float16
queries, torch.mm (float16 in, float32 accumulate, float16 out) and torch.topk,
over row chunks so the score matrix stays under 1 GiB, then a final topk over
the chunks' candidates. Same row counts, dim, k and batches as the C++ bench;
median of --reps runs after one warm-up.

    python3 bench/gpu_torch_peer.py [--rows 1000000,10000000] [--dim 768] [--k 10]
                                    [--batches 1,4,16,64,256,1024,4096] [--json FILE]
"""

import argparse
import json
import statistics
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batches", default="1,4,16,64,256,1024,4096")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("gpu_torch_peer: NOT RUN - PyTorch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("gpu_torch_peer: NOT RUN - no CUDA device")
        return 0
    device = torch.device("cuda")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    runs = []
    print("| rows | batch | ms/batch | queries/s |\n|---|---|---|---|")
    for rows in [int(x) for x in args.rows.split(",") if x]:
        gen = torch.Generator(device=device).manual_seed(7)
        data = (torch.rand((rows, args.dim), generator=gen, device=device) * 2 - 1).half()
        for batch in [int(x) for x in args.batches.split(",") if x]:
            queries = torch.randn((batch, args.dim), device="cpu") * 0.5
            chunk = max(1024, min(rows, (1 << 29) // max(batch, 1)))

            def run():
                q = queries.to(device, non_blocking=False).half()
                values, indices = [], []
                for start in range(0, rows, chunk):
                    scores = torch.mm(q, data[start:start + chunk].T)
                    v, i = scores.topk(min(args.k, scores.shape[1]), dim=1)
                    values.append(v)
                    indices.append(i + start)
                v = torch.cat(values, dim=1)
                i = torch.cat(indices, dim=1)
                best, where = v.topk(args.k, dim=1)
                result = torch.gather(i, 1, where).cpu()
                return best, result

            times = []
            for rep in range(args.reps + 1):
                torch.cuda.synchronize()
                start = time.perf_counter()
                run()
                torch.cuda.synchronize()
                if rep > 0:
                    times.append(time.perf_counter() - start)
            t = statistics.median(times)
            runs.append({"rows": rows, "batch": batch, "seconds": t})
            print(f"| {rows} | {batch} | {t * 1e3:.3f} | {batch / t:.0f} |", flush=True)
        del data
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peer": "torch.mm+topk fp16", "dim": args.dim, "k": args.k, "runs": runs}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
