#!/usr/bin/python3
"""PyTorch 1.13 (Debian) latency of the same PVR architectures RobotRuntime's encoder runs.

    pytorch_latency.py <model-id> <size> <threads> <iterations>
Builds the model with models/export/export_pvr.py's builder (random weights: latency does not
depend on them), runs forward under torch.no_grad on a [1,3,size,size] input and prints median,
p99 and max in ms as JSON. Run one process per thread count (compare.sh does).
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "export"))
from export_pvr import build  # noqa: E402


def main():
    model_id, size, threads, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    module = build(model_id, random_weights=True).eval()
    x = torch.rand(1, 3, size, size)
    times = []
    with torch.no_grad():
        for _ in range(10):
            module(x)
        for _ in range(iterations):
            start = time.perf_counter()
            module(x)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    at = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(json.dumps({"model": model_id, "size": size, "threads": threads, "torch": torch.__version__,
                      "blas": os.environ.get("RR_BLAS", "default"),
                      "torch_ms": {"median": round(at(0.5), 4), "p99": round(at(0.99), 4), "max": round(times[-1], 4)}}))


if __name__ == "__main__":
    main()
