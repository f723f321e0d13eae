#!/usr/bin/python3
"""Side by side: RobotRuntime.Tensors against PyTorch 1.13 (Debian python3-torch, CPU eager,
OpenBLAS) on the same shapes, at 1 and 2 threads, one process per engine and thread count.

    /usr/bin/python3 benchmarks/tensors_vs_pytorch.py [ROUNDS]  (from the repository root; default 3)

Needs: python3-torch, libopenblas0-pthread (loaded with LD_PRELOAD for fair timings, see
/work/shared/NATIVE-NOTES.md), and a Release build of benchmarks/RobotRuntime.Benchmarks.
Prints medians in ms and the ratio PyTorch time / engine time (> 1: the engine is faster); each
round runs PyTorch twice, with OMP_WAIT_POLICY=PASSIVE and =ACTIVE, and compares with the faster
of the two per measurement. Rows "matmul_*" multiply into a preallocated output on both sides
(torch.mm(x, w.t(), out=y) against Ops.LinearInto): the GEMM alone; rows "linear_*" allocate the
output each call (F.linear against Ops.Linear outside a tape). The
row "mlp_forward vs ORT" compares instead with ONNX Runtime running the engine's exported MLP
(batch 512, three 512-wide Linear-LayerNorm-Mish layers) in the engine's process. The
machine is shared, so each thread count runs ROUNDS alternating engine/PyTorch processes and
reports, per measurement, the median over rounds of each side and the median of the per-round
ratios.
The world-model step is defined identically in Tensors/WorldModelStep.cs.
"""
import os
import subprocess
import sys
import time

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"
SHAPES = ["512x512x512", "256x135x512", "512x135x512"]
WARM_UP_STEPS = 100  # as TensorComparison.WarmUpSteps: the engine's JIT needs ~80 steps to settle
here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)


def median(fn, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def torch_side(threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    out = {}
    for shape in SHAPES:
        m, k, n = map(int, shape.split("x"))
        x, w = torch.randn(m, k), torch.randn(n, k)
        y, wt = torch.empty(m, n), w.t()
        for _ in range(10):
            torch.mm(x, wt, out=y)
        t = median(lambda: torch.mm(x, wt, out=y), 60)
        out["matmul_" + shape] = (t, f"gflops={2 * m * n * k / t / 1e9:.1f}")
        for _ in range(10):
            F.linear(x, w)
        t = median(lambda: F.linear(x, w), 60)
        out["linear_" + shape] = (t, f"gflops={2 * m * n * k / t / 1e9:.1f}")

    B, O, A, W, L, BINS = 256, 135, 6, 512, 512, 101

    def normed(i, o):
        return torch.nn.Sequential(torch.nn.Linear(i, o), torch.nn.LayerNorm(o), torch.nn.Mish())

    def simnorm(z):
        return F.softmax(z.reshape(z.shape[0], -1, 8), dim=-1).reshape(z.shape)

    encoder = torch.nn.Sequential(normed(O, W), torch.nn.Linear(W, L))
    dynamics = torch.nn.Sequential(normed(L + A, W), normed(W, W), torch.nn.Linear(W, L))
    reward = torch.nn.Sequential(normed(L + A, W), normed(W, W), torch.nn.Linear(W, BINS))
    params = list(encoder.parameters()) + list(dynamics.parameters()) + list(reward.parameters())
    adam = torch.optim.Adam(params, lr=3e-4)
    obs, act = torch.randn(B, O), torch.rand(B, A) * 2 - 1
    next_latent = simnorm(torch.randn(B, L))
    two_hot = torch.zeros(B, BINS)
    bins = torch.randint(0, BINS - 1, (B,))
    wgt = torch.rand(B)
    two_hot[torch.arange(B), bins] = 1 - wgt
    two_hot[torch.arange(B), bins + 1] = wgt

    def step():
        adam.zero_grad()
        z = simnorm(encoder(obs))
        za = torch.cat([z, act], dim=-1)
        nxt = simnorm(dynamics(za))
        r = reward(za)
        loss = 20 * F.mse_loss(nxt, next_latent) + 0.1 * (-(F.log_softmax(r, -1) * two_hot).sum(-1).mean())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 20)
        adam.step()
        return float(loss)

    for _ in range(WARM_UP_STEPS):
        step()
    out["training_step"] = (median(step, 30), f"parameters={sum(p.numel() for p in params)}")
    return out


def run_torch(threads, policy):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY=policy, LD_PRELOAD=OPENBLAS if os.path.exists(OPENBLAS) else "")
    text = subprocess.run([sys.executable, __file__, "--torch", str(threads)], env=env, check=True,
                          capture_output=True, text=True).stdout
    return parse(text)


def run_engine(threads):
    dll = os.path.join(here, "RobotRuntime.Benchmarks", "bin", "Release", "net10.0", "RobotRuntime.Benchmarks.dll")
    if not os.path.exists(dll):
        subprocess.run(["dotnet", "build", os.path.join(here, "RobotRuntime.Benchmarks"), "-c", "Release", "--nologo", "-v", "q"], check=True)
    text = subprocess.run(["dotnet", dll, "tensors-compare", "--threads", str(threads)], check=True,
                          capture_output=True, text=True).stdout
    return parse(text)


def parse(text):
    out = {}
    for line in text.strip().splitlines():
        name, ms, *extra = line.split()
        out[name] = (float(ms) / 1e3, " ".join(extra))
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":
        for name, (t, extra) in torch_side(int(sys.argv[2])).items():
            print(f"{name} {t * 1e3:.4f} {extra}")
        return
    import torch
    print(f"PyTorch {torch.__version__} (OpenBLAS via LD_PRELOAD: {os.path.exists(OPENBLAS)}); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"{rounds} alternating rounds per thread count; load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'measurement':<26}{'threads':>8}{'engine ms':>12}{'torch ms':>12}{'torch/engine':>14}  notes")
    for threads in (1, 2):
        engines, references = [], []
        for _ in range(rounds):
            engines.append(run_engine(threads))
            # PyTorch's OpenMP threads either sleep at once (PASSIVE) or poll (ACTIVE); each
            # measurement is compared with the faster of the two in the same round.
            passive, active = run_torch(threads, "PASSIVE"), run_torch(threads, "ACTIVE")
            references.append({name: min(passive[name], active[name], key=lambda v: v[0]) + (
                "ACTIVE" if active[name][0] < passive[name][0] else "PASSIVE",) for name in passive})
        peak = [e["fma_peak_1core"] for e in engines]
        gflops = sorted(float(p[1].split("=")[1]) for p in peak)
        print(f"{'fma_peak_1core':<26}{threads:>8}{sorted(p[0] for p in peak)[len(peak) // 2] * 1e3:>12.3f}"
              f"{'':>12}{'':>14}  gflops={gflops[len(gflops) // 2]:.1f}")
        for name in references[0]:
            t_eng = sorted(e[name][0] for e in engines)[rounds // 2]
            t_ref = sorted(r[name][0] for r in references)[rounds // 2]
            ratio = sorted(r[name][0] / e[name][0] for e, r in zip(engines, references))[rounds // 2]
            extra = engines[0][name][1]
            if name.startswith(("linear_", "matmul_")):
                m, k, n = map(int, name.split("_")[1].split("x"))
                extra = f"engine gflops={2 * m * n * k / t_eng / 1e9:.1f}; torch gflops={2 * m * n * k / t_ref / 1e9:.1f}"
            policies = sorted(r[name][2] for r in references)
            extra += f"; torch OMP_WAIT_POLICY {'/'.join(policies)}"
            print(f"{name:<26}{threads:>8}{t_eng * 1e3:>12.3f}{t_ref * 1e3:>12.3f}{ratio:>14.2f}  {extra}")
        if "mlp_forward_engine" in engines[0]:
            # Engine against ONNX Runtime on the engine's exported MLP, both in the engine's process.
            t_eng = sorted(e["mlp_forward_engine"][0] for e in engines)[rounds // 2]
            ort = sorted(float(e["mlp_forward_engine"][1].split()[0].split("=")[1]) / 1e3 for e in engines)[rounds // 2]
            print(f"{'mlp_forward vs ORT':<26}{threads:>8}{t_eng * 1e3:>12.3f}{ort * 1e3:>12.3f}{ort / t_eng:>14.2f}  "
                  f"peer column is ONNX Runtime 1.30 (same process, exported model), not PyTorch")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
