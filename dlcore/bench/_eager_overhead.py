"""Per-op eager overhead: what one op costs on a one-element tensor, where the arithmetic is
nothing and everything is the framework's own path (argument checks, the autograd entry, the
output Tensor).  Part of the mlp family (`dlcore bench mlp`).

Cases, each on dlcore and torch with the same values:
  a + b, a * b, relu(a), a.sum()          inputs that do not require grad
  the same with requires_grad=True        the call is recorded for backward
  backward of a 4-op chain                (a * b + a).relu().sum() then .backward(): the
                                          forward ops and the whole backward pass, per op
Before timing, each case's dlcore result (and the chain's gradients) is compared with torch's.
Timing: CPU time of the process (immune to time slices lost on a shared machine) over blocks
of `calls` calls, the sides alternating block by block; the best block.  Reported in
microseconds per op (us_per_op columns); the ms columns hold the same time per call.
"""
import time

import numpy as np

from . import MismatchError

__all__ = ["rows", "CASES"]

CASES = ("a + b", "a * b", "relu(a)", "a.sum()")
CHAIN_OPS = 4


def _ops(lib, relu):
    return {"a + b": lambda a, b: a + b, "a * b": lambda a, b: a * b,
            "relu(a)": lambda a, b: relu(a), "a.sum()": lambda a, b: a.sum()}


def _sides(torch):
    """{side: (module, relu, tensor maker)} for dlcore and (when installed) torch."""
    import dlcore as dl
    sides = {"dlcore": (dl, dl.nn.functional.relu)}
    if torch is not None:
        sides["torch"] = (torch, torch.relu)
    return sides


def _case_fns(name, sides, grad):
    """{side: no-argument callable} doing one `name` op, and its results for the check."""
    fns, results = {}, {}
    for side, (lib, relu) in sides.items():
        a = lib.tensor([1.5], requires_grad=grad)
        b = lib.tensor([-2.5], requires_grad=grad)
        op = _ops(lib, relu)[name]
        fns[side] = (lambda op=op, a=a, b=b: op(a, b))
        results[side] = np.asarray(fns[side]().detach().numpy(), dtype=np.float64)
    return fns, results


def _chain_fns(sides):
    fns, grads = {}, {}
    for side, (lib, relu) in sides.items():
        a = lib.tensor([1.5], requires_grad=True)
        b = lib.tensor([-0.5], requires_grad=True)

        def step(a=a, b=b):
            a.grad = b.grad = None
            (a * b + a).relu().sum().backward()
        step()
        grads[side] = [float(a.grad.numpy()[0]), float(b.grad.numpy()[0])]
        fns[side] = step
    return fns, grads


def _check(case, results):
    if "torch" not in results:
        return
    got, want = np.asarray(results["dlcore"]), np.asarray(results["torch"])
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=0):
        raise MismatchError("eager overhead %s: dlcore gives %s, torch %s"
                            % (case, got.tolist(), want.tolist()))


def _best_us(fns, calls, blocks):
    """{side: best CPU microseconds per call} over `blocks` alternating blocks of calls."""
    best = {k: float("inf") for k in fns}
    order = list(fns)
    for i in range(blocks + 1):
        for side in (order if i % 2 == 0 else order[::-1]):
            fn = fns[side]
            t0 = time.process_time()
            for _ in range(calls):
                fn()
            dt = (time.process_time() - t0) / calls * 1e6
            if i:  # the first round warms up
                best[side] = min(best[side], dt)
    return best


def rows(torch, threads, quick=False):
    """The overhead rows (bench row dicts) at the current thread setting."""
    from . import row
    calls, blocks = (300, 3) if quick else (2000, 7)
    sides = _sides(torch)
    out = []

    def add(case, us, ops=1):
        t = us.get("torch")
        out.append(row("1-elem " + case, threads, us["dlcore"] / 1e3, None,
                       None if t is None else t / 1e3,
                       dlcore_us_per_op=us["dlcore"] / ops,
                       torch_us_per_op=None if t is None else t / ops))

    for grad in (False, True):
        for name in CASES:
            fns, results = _case_fns(name, sides, grad)
            case = name + (" (requires_grad)" if grad else "")
            _check(case, results)
            add(case, _best_us(fns, calls, blocks))
    fns, grads = _chain_fns(sides)
    _check("chain gradients", grads)
    add("4-op chain + backward", _best_us(fns, max(calls // 4, 50), blocks), CHAIN_OPS)
    return out
