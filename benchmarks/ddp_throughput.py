"""Data-parallel training throughput: dlcore's DDP on MPI against torch's DDP on gloo.

    python benchmarks/ddp_throughput.py --compare            # the table in docs/scaling.md
    python benchmarks/ddp_throughput.py --compare --model gpt --impls dlcore

--compare launches `mpirun -np R` runs of this file (R ranks x T kernel threads each) in
interleaved rounds, so every configuration sees the same machine load, and prints medians.
One run (under mpirun) times `--steps` training steps at `--batch` samples per rank, twice:
with gradient synchronisation and inside no_sync() (the same work without allreduce); the
difference is the communication that backward did not hide.  Throughput counts the samples of
all ranks.  The chapter-4 CNN runs with BatchNorm2d in both libraries (torch's SyncBatchNorm is
CUDA-only), dlcore's also with SyncBatchNorm (--sync-bn).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---- one run, on every rank ------------------------------------------------------------------
def _rank_world():
    for r, w in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")):
        if r in os.environ:
            return int(os.environ[r]), int(os.environ[w])
    return 0, 1


def _digits(batch, rank):
    from dlcore.data import load_digits
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    rng = np.random.default_rng(rank)
    return lambda: (lambda i: (X[i], y[i]))(rng.integers(0, len(X), batch))


def _tokens(batch, rank, vocab=65, block=64):
    rng = np.random.default_rng(rank)

    def draw():
        x = rng.integers(0, vocab, (batch, block + 1))
        return x[:, :-1], x[:, 1:]
    return draw


def _timed_loop(step, steps, warmup, barrier):
    """(wall seconds, this process's CPU seconds) of `steps` steps after `warmup`."""
    for _ in range(warmup):
        step()
    barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    c1 = time.process_time()
    barrier()
    return time.perf_counter() - t0, c1 - c0


def run_dlcore(args, rank, world):
    import dlcore as dl
    import dlcore.distributed as dist
    import dlcore.nn as nn
    import dlcore.nn.functional as F
    from dlcore.nn.parallel import DistributedDataParallel
    dl.set_num_threads(args.threads)
    dist.init_process_group("mpi")
    dl.manual_seed(0)
    if args.model == "cnn":
        sys.path.insert(0, os.path.join(ROOT, "python"))
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "cnn_digits", os.path.join(ROOT, "python", "04_cnn_digits.py"))
        ch4 = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ch4)
        model = ch4.DigitsCNN()
        if args.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        draw = _digits(args.batch, rank)

        def loss_of(m, x, y):
            return F.cross_entropy(m(dl.tensor(x)), dl.tensor(y))
    else:
        from dlcore.models import GPT, GPTConfig
        cfg = GPTConfig(65, block_size=64, n_layer=2, n_head=4, n_embd=96)
        model = GPT(cfg)
        draw = _tokens(args.batch, rank)

        def loss_of(m, x, y):
            logits = m(dl.tensor(x))
            return F.cross_entropy(logits.reshape(-1, 65), dl.tensor(y.reshape(-1)))
    ddp = DistributedDataParallel(model)
    opt = dl.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    batches = [draw() for _ in range(8)]
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad()
        loss_of(ddp, x, y).backward()
        opt.step()

    def local_step():
        with ddp.no_sync():
            step()
    barrier = dist.barrier
    for _ in range(args.warmup):
        step()
    waits = ddp.reducer.stats["wait_seconds"]
    synced = _timed_loop(step, args.steps, 0, barrier)
    waits_in_timed = ddp.reducer.stats["wait_seconds"] - waits
    unsynced = _timed_loop(local_step, args.steps, 2, barrier)
    nparams = sum(p.numel() for p in model.parameters())
    dist.destroy_process_group()
    return synced, unsynced, nparams, waits_in_timed


def run_torch(args, rank, world):
    import torch
    import torch.distributed as tdist
    import torch.nn as tnn
    import torch.nn.functional as TF
    torch.set_num_threads(args.threads)
    tdist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % args.port, rank=rank,
                             world_size=world)
    torch.manual_seed(0)
    if args.model != "cnn":
        raise SystemExit("--impls torch runs the CNN only")
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(),
        tnn.Conv2d(32, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Dropout(0.25), tnn.Linear(64 * 2 * 2, 10))
    ddp = tnn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    draw = _digits(args.batch, rank)
    batches = [tuple(torch.from_numpy(np.asarray(a)) for a in draw()) for _ in range(8)]
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad()
        TF.cross_entropy(ddp(x), y).backward()
        opt.step()

    def local_step():
        with ddp.no_sync():
            step()
    synced = _timed_loop(step, args.steps, args.warmup, tdist.barrier)
    unsynced = _timed_loop(local_step, args.steps, 2, tdist.barrier)
    nparams = sum(p.numel() for p in model.parameters())
    tdist.destroy_process_group()
    return synced, unsynced, nparams, None


def run_allreduce(args):
    """Median seconds of dist.all_reduce(AVG) on float32 buffers of several sizes."""
    import dlcore.distributed as dist
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    for nbytes in (4 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20):
        buf = np.ones(nbytes // 4, np.float32)
        reps = max(5, min(200, (64 << 20) // nbytes))
        times = []
        for _ in range(reps):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(buf, op=dist.ReduceOp.AVG)
            times.append(time.perf_counter() - t0)
        if rank == 0:
            print(json.dumps({"bytes": nbytes, "ranks": dist.get_world_size(),
                              "median_s": float(np.median(times)),
                              "min_s": float(np.min(times))}), flush=True)
    dist.destroy_process_group()


def run_overhead(args):
    """DDP's own cost in one process (a world of one: the reduction is a copy): the same
    steps with and without the wrapper, in alternating blocks."""
    import dlcore as dl
    import dlcore.distributed as dist
    import dlcore.nn.functional as F
    from dlcore.nn.parallel import DistributedDataParallel
    dl.set_num_threads(args.threads)
    dist.init_process_group("mpi")
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "cnn_digits", os.path.join(ROOT, "python", "04_cnn_digits.py"))
    ch4 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ch4)
    plain, twin = ch4.DigitsCNN(), ch4.DigitsCNN()
    twin.load_state_dict(plain.state_dict())
    ddp = DistributedDataParallel(twin)
    opts = {"plain": dl.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9),
            "ddp": dl.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)}
    x, y = _digits(args.batch, 0)()
    x, y = dl.tensor(x), dl.tensor(y)

    def step(name, m):
        opts[name].zero_grad()
        F.cross_entropy(m(x), y).backward()
        opts[name].step()
    times = {"plain": [], "ddp": []}
    for _ in range(args.rounds * 4):
        for name, m in (("plain", plain), ("ddp", ddp)):
            for _ in range(3):
                step(name, m)
            t0 = time.process_time()
            for _ in range(args.steps):
                step(name, m)
            times[name].append((time.process_time() - t0) / args.steps)
    plain, wrapped = (float(np.median(times[k])) for k in ("plain", "ddp"))
    print(json.dumps({"plain_cpu_ms": 1e3 * plain, "ddp_cpu_ms": 1e3 * wrapped,
                      "overhead_ms": 1e3 * (wrapped - plain)}))
    dist.destroy_process_group()


def one_run(args):
    if args.allreduce:
        return run_allreduce(args)
    if args.overhead:
        return run_overhead(args)
    rank, world = _rank_world()
    fn = run_dlcore if args.impl == "dlcore" else run_torch
    (synced, cpu), (unsynced, cpu_local), nparams, waits = fn(args, rank, world)
    if rank == 0:
        print(json.dumps({
            "impl": args.impl, "model": args.model, "sync_bn": bool(args.sync_bn),
            "ranks": world, "threads": args.threads, "batch_per_rank": args.batch,
            "steps": args.steps, "params": int(nparams),
            "step_ms": 1e3 * synced / args.steps, "no_sync_step_ms": 1e3 * unsynced / args.steps,
            "samples_per_s": world * args.batch * args.steps / synced,
            "cpu_step_ms": 1e3 * cpu / args.steps, "no_sync_cpu_step_ms": 1e3 * cpu_local /
            args.steps,
            "end_of_backward_wait_ms": None if waits is None else 1e3 * waits / args.steps}),
            flush=True)


# ---- the comparison ------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(impl, ranks, threads, args):
    cmd = [shutil.which("mpirun") or "mpirun", "-np", str(ranks), "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if args.tcp:
        cmd += ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"]
    cmd += [sys.executable, os.path.abspath(__file__), "--impl", impl, "--model", args.model,
            "--threads", str(threads), "--batch", str(args.batch), "--steps", str(args.steps),
            "--warmup", str(args.warmup), "--port", str(_free_port())]
    if args.sync_bn and impl == "dlcore":
        cmd.append("--sync-bn")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS=str(threads),
        DLCORE_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=900)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), out.stdout[-3000:]))
    return json.loads(lines[-1])


def compare(args):
    shapes = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    if (1, 1) not in shapes:
        shapes.insert(0, (1, 1))  # every ratio is against one rank x one thread
    configs = [(impl, r, t) for impl in args.impls.split(",") for r, t in shapes]
    rows = {c: [] for c in configs}
    for rnd in range(args.rounds):
        for c in configs:  # interleaved: each round sees every configuration once
            rows[c].append(launch(c[0], c[1], c[2], args))
            print("round %d %s x%d ranks x%d threads: %.0f samples/s" % (
                rnd + 1, c[0], c[1], c[2], rows[c][-1]["samples_per_s"]), file=sys.stderr)
    keys = ("samples_per_s", "step_ms", "no_sync_step_ms", "cpu_step_ms", "no_sync_cpu_step_ms")
    med = {c: {k: float(np.median([r[k] for r in v])) for k in keys} for c, v in rows.items()}
    print("model %s, batch %d per rank, %d steps, median of %d interleaved rounds%s"
          % (args.model, args.batch, args.steps, args.rounds,
             ", SyncBatchNorm" if args.sync_bn else ""))
    print("wall: step and no_sync step ms; cpu: rank 0's CPU ms per step (synced / no_sync)")
    print("%-7s %5s %7s %10s %8s %8s %8s %8s %8s" % ("impl", "ranks", "threads", "samples/s",
                                                   "vs 1x1", "step", "no_sync", "cpu", "cpu ns"))
    for c in configs:
        base = med[(c[0], 1, 1)]["samples_per_s"]
        m = med[c]
        print("%-7s %5d %7d %10.0f %7.2fx %8.2f %8.2f %8.2f %8.2f" % (
            c[0], c[1], c[2], m["samples_per_s"], m["samples_per_s"] / base, m["step_ms"],
            m["no_sync_step_ms"], m["cpu_step_ms"], m["no_sync_cpu_step_ms"]))
    for impl in args.impls.split(","):
        if (impl, 2, 1) not in rows:
            continue
        ratios = [a["samples_per_s"] / b["samples_per_s"]
                  for a, b in zip(rows[(impl, 2, 1)], rows[(impl, 1, 1)])]
        print("%s: 2 ranks x 1 thread / 1 rank x 1 thread per round: %s" % (
            impl, " ".join("%.2f" % r for r in ratios)))
        # with a core per rank a step costs what it costs a rank in CPU time: the load-free
        # estimate of the same ratio is 2 x (1x1 CPU per step) / (2x1 CPU per step)
        print("%s: the same from rank 0's CPU time per step: 2 x %.2f / %.2f = %.2fx" % (
            impl, med[(impl, 1, 1)]["cpu_step_ms"], med[(impl, 2, 1)]["cpu_step_ms"],
            2 * med[(impl, 1, 1)]["cpu_step_ms"] / med[(impl, 2, 1)]["cpu_step_ms"]))
    print(json.dumps({"%s_%dx%d" % c: v for c, v in rows.items()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--overhead", action="store_true",
                    help="DDP's own CPU cost per step in one process (python, not mpirun)")
    ap.add_argument("--allreduce", action="store_true",
                    help="time dist.all_reduce alone on buffers of 4 KB to 16 MB")
    ap.add_argument("--impl", default="dlcore", choices=["dlcore", "torch"])
    ap.add_argument("--impls", default="dlcore,torch")
    ap.add_argument("--model", default="cnn", choices=["cnn", "gpt"])
    ap.add_argument("--sync-bn", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--configs", default="1x1,2x1,1x2",
                    help="ranks x threads per configuration, comma-separated")
    ap.add_argument("--tcp", action="store_true", help="MPI over TCP loopback, not shared memory")
    ap.add_argument("--port", type=int, default=29500)
    args = ap.parse_args()
    if args.compare:
        compare(args)
    else:
        one_run(args)


if __name__ == "__main__":
    main()
