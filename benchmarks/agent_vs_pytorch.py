#!/usr/bin/python3
"""Side by side: the agent's latent MPPI plan step and TD-MPC2 update in RobotRuntime (engine +
span planner) against the same computations written here in PyTorch 1.13 CPU eager (Debian
python3-torch, OpenBLAS), same shapes, at 1 and 2 threads, one process per side and thread count.

    /usr/bin/python3 benchmarks/agent_vs_pytorch.py [ROUNDS]   (repository root; default 3)

Needs python3-torch, libopenblas0-pthread (preloaded), and a Release build of
benchmarks/RobotRuntime.Benchmarks (verb agent-compare). Prints medians in ms and the ratio
PyTorch time / engine time (> 1: RobotRuntime is faster); per thread count it alternates ROUNDS
engine/PyTorch processes and reports medians over rounds and the median of per-round ratios.

Shapes (TD-MPC2): 5m = latent 512, mlp 512, 5 Qs; rt-small = latent 128, mlp 384, 2 Qs; 101 bins;
action dim 4; horizon 3; 24 policy trajectories; 512 samples / 64 elites / 6 iterations and
128 samples / 16 elites / 3 iterations. The plan step starts from an encoded latent (encoder
excluded) as RobotRuntime's LatentPlanner.Plan does. The update takes a batch of 256 sub-
trajectories of a 3 x 384-d embedding stack + 12 proprioception floats (encoder head 2 layers, 256
wide), as TdMpc2Learner.Update: TD targets, consistency/reward/value losses, clip, Adam, policy
loss, Adam, Polyak step.
"""
import os
import subprocess
import sys
import time

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"
here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
SIZES = {"5m": (512, 512, 5), "rt-small": (128, 384, 2)}
A, H, BINS = 4, 3, 101


def median_time(fn, repetitions):
    fn(); fn()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def torch_side(threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    def simnorm(x):
        shape = x.shape
        return F.softmax(x.view(*shape[:-1], -1, 8), dim=-1).view(shape)

    class NormedLinear(nn.Module):
        def __init__(self, i, o, act="mish"):
            super().__init__()
            self.linear, self.ln, self.act = nn.Linear(i, o), nn.LayerNorm(o), act

        def forward(self, x):
            x = self.ln(self.linear(x))
            return F.mish(x) if self.act == "mish" else simnorm(x)

    def mlp(i, m, o, last="linear"):
        layers = [NormedLinear(i, m), NormedLinear(m, m)]
        layers.append(NormedLinear(m, o, "simnorm") if last == "simnorm" else nn.Linear(m, o))
        return nn.Sequential(*layers)

    bins = torch.linspace(-10, 10, BINS)

    def decode(logits):
        x = (F.softmax(logits, -1) * bins).sum(-1, keepdim=True)
        return torch.sign(x) * (torch.exp(x.abs()) - 1)

    def symlog(x):
        return torch.sign(x) * torch.log(1 + x.abs())

    def two_hot(x):
        x = torch.clamp(symlog(x), -10, 10).squeeze(-1)
        idx = torch.floor((x + 10) / 0.2).long().clamp(0, BINS - 1)
        off = ((x + 10) / 0.2 - idx).unsqueeze(-1)
        t = torch.zeros(x.shape[0], BINS)
        t.scatter_(1, idx.unsqueeze(1), 1 - off)
        t.scatter_(1, (idx.unsqueeze(1) + 1) % BINS, off)
        return t

    out = {}
    for size, (L, M, NQ) in SIZES.items():
        dyn, rew = mlp(L + A, M, L, "simnorm"), mlp(L + A, M, BINS)
        qs = nn.ModuleList([mlp(L + A, M, BINS) for _ in range(NQ)])
        target_qs = nn.ModuleList([mlp(L + A, M, BINS) for _ in range(NQ)])
        pi = mlp(L, M, 2 * A)
        enc = nn.Sequential(NormedLinear(3 * 384 + 12, 256), NormedLinear(256, L, "simnorm"))

        def policy(z):
            mu, log_std = pi(z).chunk(2, -1)
            log_std = -10 + 0.5 * 12 * (torch.tanh(log_std) + 1)
            eps = torch.randn_like(mu)
            u = mu + eps * log_std.exp()
            a = torch.tanh(u)
            log_prob = (-0.5 * eps.pow(2) - log_std).sum(-1, keepdim=True) - 0.5 * A * torch.log(torch.tensor(2 * torch.pi))
            log_prob = log_prob - torch.log(F.relu(1 - a.pow(2)) + 1e-6).sum(-1, keepdim=True)
            return a, log_prob

        @torch.no_grad()
        def plan(z, samples, iterations, elites, prev_mean):
            p = 24
            pi_actions = torch.empty(H, p, A)
            _z = z.repeat(p, 1)
            for t in range(H - 1):
                pi_actions[t] = policy(_z)[0]
                _z = dyn(torch.cat([_z, pi_actions[t]], -1))
            pi_actions[-1] = policy(_z)[0]
            z = z.repeat(samples, 1)
            mean = torch.zeros(H, A)
            std = torch.full((H, A), 2.0)
            mean[:-1] = prev_mean[1:]
            actions = torch.empty(H, samples, A)
            actions[:, :p] = pi_actions
            for _ in range(iterations):
                actions[:, p:] = (mean.unsqueeze(1) + std.unsqueeze(1) * torch.randn(H, samples - p, A)).clamp(-1, 1)
                G, disc, _z = 0, 1, z
                for t in range(H):
                    za = torch.cat([_z, actions[t]], -1)
                    G = G + disc * decode(rew(za))
                    _z = dyn(za)
                    disc *= 0.99
                za = torch.cat([_z, policy(_z)[0]], -1)
                i1, i2 = torch.randperm(NQ)[:2]
                value = G + disc * (decode(qs[i1](za)) + decode(qs[i2](za))) / 2
                value = torch.nan_to_num(value)
                elite_idxs = torch.topk(value.squeeze(1), elites, dim=0).indices
                elite_value, elite_actions = value[elite_idxs], actions[:, elite_idxs]
                score = torch.exp(0.5 * (elite_value - elite_value.max()))
                score /= score.sum(0)
                mean = (score.unsqueeze(0) * elite_actions).sum(1) / (score.sum(0) + 1e-9)
                std = ((score.unsqueeze(0) * (elite_actions - mean.unsqueeze(1)) ** 2).sum(1) / (score.sum(0) + 1e-9)).sqrt().clamp(0.05, 2)
            idx = torch.multinomial(score.squeeze(1), 1)
            return elite_actions[0, idx].squeeze(0).clamp(-1, 1), mean

        z0 = simnorm(torch.randn(1, L))
        prev = torch.zeros(H, A)
        for samples, iterations, elites in ((512, 6, 64), (128, 3, 16)):
            t = median_time(lambda: plan(z0, samples, iterations, elites, prev), 30 if samples == 512 else 100)
            out[f"plan_{size}_{samples}x{iterations}"] = t

        model_params = list(enc.parameters()) + list(dyn.parameters()) + list(rew.parameters()) + list(qs.parameters())
        optim = torch.optim.Adam([{"params": enc.parameters(), "lr": 3e-4 * 0.3},
                                  {"params": list(dyn.parameters()) + list(rew.parameters()) + list(qs.parameters())}], lr=3e-4)
        pi_optim = torch.optim.Adam(pi.parameters(), lr=3e-4, eps=1e-5)
        B = 256
        obs = torch.rand(H + 1, B, 3 * 384 + 12)
        action = torch.rand(H, B, A) * 2 - 1
        reward = torch.rand(H, B, 1)

        def update():
            with torch.no_grad():
                next_z = enc(obs[1:])
                a, _ = policy(next_z)
                za = torch.cat([next_z, a], -1)
                i1, i2 = torch.randperm(NQ)[:2]
                td = reward + 0.95 * torch.min(decode(target_qs[i1](za)), decode(target_qs[i2](za)))
            z = enc(obs[0])
            zs = [z]
            consistency, reward_loss, value_loss = 0, 0, 0
            for t in range(H):
                za = torch.cat([z, action[t]], -1)
                w = 0.5 ** t
                reward_loss = reward_loss - w * (two_hot(reward[t]) * F.log_softmax(rew(za), -1)).sum(-1).mean()
                for q in qs:
                    value_loss = value_loss - w * (two_hot(td[t]) * F.log_softmax(q(F.dropout(za, 0.0)), -1)).sum(-1).mean()
                z = dyn(za)
                zs.append(z)
                consistency = consistency + w * F.mse_loss(z, next_z[t])
            total = 20 * consistency / H + 0.1 * reward_loss / H + 0.1 * value_loss / (H * NQ)
            optim.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model_params, 20)
            optim.step()
            zs_d = torch.stack(zs).detach()
            for p_ in qs.parameters():
                p_.requires_grad_(False)
            a, log_prob = policy(zs_d)
            za = torch.cat([zs_d, a], -1)
            i1, i2 = torch.randperm(NQ)[:2]
            q = (decode(qs[i1](za)) + decode(qs[i2](za))) / 2
            rho = (0.5 ** torch.arange(H + 1)).view(-1, 1, 1)
            pi_loss = ((1e-4 * log_prob - q) * rho).mean()
            pi_optim.zero_grad(set_to_none=True)
            pi_loss.backward()
            torch.nn.utils.clip_grad_norm_(pi.parameters(), 20)
            pi_optim.step()
            for p_ in qs.parameters():
                p_.requires_grad_(True)
            with torch.no_grad():
                for p_, tp in zip(qs.parameters(), target_qs.parameters()):
                    tp.lerp_(p_, 0.01)

        out[f"update_{size}_b256"] = median_time(update, 5 if size == "5m" else 9)
    return out


def engine_side(threads):
    exe = os.path.join(repo, "benchmarks", "RobotRuntime.Benchmarks", "bin", "Release", "net10.0", "RobotRuntime.Benchmarks")
    text = subprocess.run([exe, "agent-compare", "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return {name: float(value) for name, value in (line.split()[:2] for line in text.splitlines() if line.strip())}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch":
        for k, v in torch_side(int(sys.argv[2])).items():
            print(k, v)
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"load average at start: {os.getloadavg()}")
    for threads in (1, 2):
        engine, torch_runs = [], []
        for _ in range(rounds):
            engine.append(engine_side(threads))
            env = dict(os.environ, LD_PRELOAD=OPENBLAS, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
            text = subprocess.run([sys.executable, __file__, "--torch", str(threads)], check=True, capture_output=True, text=True, env=env).stdout
            torch_runs.append({k: float(v) for k, v in (l.split() for l in text.splitlines() if l.strip())})
        print(f"\nthreads={threads}  (median of {rounds} rounds; ratio = PyTorch / RobotRuntime)")
        print(f"{'measurement':28} {'RobotRuntime ms':>16} {'PyTorch ms':>12} {'ratio':>7}")
        for key in engine[0]:
            e = sorted(r[key] for r in engine)[rounds // 2]
            t = sorted(r[key] for r in torch_runs)[rounds // 2]
            ratio = sorted(tr[key] / er[key] for er, tr in zip(engine, torch_runs))[rounds // 2]
            print(f"{key:28} {e * 1e3:16.2f} {t * 1e3:12.2f} {ratio:7.2f}")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
