"""`dlcore bench infer`: inference latency of one model on four engines, same weights.

For each model, at batch 1 and batch 32 and each thread count: dlcore's planned executor
(`dl.jit.trace`), dlcore eager (`model(x)` under no_grad), ONNX Runtime (all graph
optimizations, intra-op threads = ours) on a torch.onnx.export file of a torch twin of the
model carrying the same weights, and that torch model in eager mode.  Every side's output is
checked against dlcore eager first (max relative difference in `rel_err`; beyond RTOL the run
stops with MismatchError before any timing).  Ratios: `vs_ort`
= ort_ms / plan_ms and `vs_eager` = eager_ms / plan_ms (above 1: the plan is faster).

Two more rows measure the executor's own cost: a plan of 200 one-element Add steps (µs per
step) and a one-step plan (µs per call, including the Python wrapper and the output array).

Needs torch and onnxruntime for those sides (skipped when missing).  Noisy on a shared
machine: sides are interleaved at one thread; compare within a run.
"""
import contextlib
import os
import tempfile
import time
import warnings

import numpy as np

from . import format_table as _format_table
from . import assert_close, get_torch, row, sides_ms, threads as thread_scope
from .. import nn

__all__ = ["run", "format_table", "MODELS"]

MODELS = ("mlp", "lenet", "resnet18", "mobilenet_v2", "efficientnet_lite0", "transformer",
          "lstm", "gpt", "minilm")
COLUMNS = ("case", "threads", "plan_ms", "eager_ms", "ort_ms", "torch_ms", "vs_ort",
           "vs_eager", "steps", "rel_err")
# max |error| / max |eager output| allowed of the plan, the torch twin and ONNX Runtime: float32
# sums in another order differ by ~1e-6 of the largest output, a wrong kernel by far more
RTOL = 1e-3


def _model(name):
    """(dlcore model, torch twin kwargs, inputs(batch, rng), dynamic_axes, note)."""
    from ..models import mobilenet_v2, resnet18
    from ..models.efficientnet import efficientnet_lite0
    from ..models.gpt import GPT, GPTConfig
    from ..models.lenet import LeNet5

    def img(c, h):
        return lambda b, rng: [rng.standard_normal((b, c, h, h)).astype(np.float32)]
    if name == "mlp":
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
        return m, {}, lambda b, rng: [rng.standard_normal((b, 784)).astype(np.float32)], \
            None, "784-256-128-10"
    if name == "lenet":
        return LeNet5(), {}, img(1, 28), None, "28x28"
    if name == "resnet18":
        return resnet18(), {}, img(3, 224), None, "224x224"
    if name == "mobilenet_v2":
        return mobilenet_v2(), {}, img(3, 224), None, "224x224"
    if name == "efficientnet_lite0":
        try:
            return efficientnet_lite0(pretrained=True), {}, img(3, 224), None, "pretrained"
        except FileNotFoundError:
            return None, None, None, None, "package not installed"
    if name == "transformer":
        kw = dict(d=128, heads=4, ff=512, layers=2)
        m = nn.TransformerEncoder(nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0,
                                                             batch_first=True), 2)
        return m, kw, lambda b, rng: [rng.standard_normal((b, 32, 128)).astype(np.float32)], \
            None, "d128 seq32 2 layers"
    if name == "lstm":
        kw = dict(input=128, hidden=256, layers=2)
        return nn.LSTM(128, 256, 2), kw, \
            lambda b, rng: [rng.standard_normal((50, b, 128)).astype(np.float32)], \
            {1: "batch"}, "in128 h256 seq50 2 layers"
    if name == "gpt":
        cfg = GPTConfig(vocab_size=512, block_size=64, n_layer=4, n_head=4, n_embd=256)
        kw = dict(V=512, T=64, E=256, L=4, H=4)
        return GPT(cfg), kw, lambda b, rng: [rng.integers(0, 512, (b, 64)).astype(np.int64)], \
            None, "d256 4 layers seq64 vocab512"
    if name == "minilm":
        return _minilm()
    raise ValueError("bench infer: unknown model %r (known: %s)" % (name, ", ".join(MODELS)))


class _Encoder(nn.Module):
    """A BertModel's hidden states for (input_ids, token_type_ids), no padding mask."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids, types):
        return self.m(ids, None, types)[0]


def _minilm():
    from ..models.bert import BertModel
    from ..weights.packages import resolve_model_dir
    try:
        d = resolve_model_dir("all-minilm-l6-v2")
    except FileNotFoundError:
        return None, None, None, None, "package not installed"
    m = BertModel.from_pretrained(d, add_pooling_layer=False)
    c = m.config
    kw = dict(V=c.vocab_size, P=c.max_position_embeddings, Tv=c.type_vocab_size,
              C=c.hidden_size, H=c.num_attention_heads, I=c.intermediate_size,
              L=c.num_hidden_layers, eps=c.layer_norm_eps)

    def inputs(b, rng):
        return [rng.integers(1000, c.vocab_size, (b, 128)).astype(np.int64),
                np.zeros((b, 128), np.int64)]
    return _Encoder(m), kw, inputs, None, "all-MiniLM-L6-v2 seq128"


def _export(torch, tmodel, xs, dyn, path):
    names = ["x%d" % i for i in range(len(xs))]
    axes = {n: dict(dyn or {0: "batch"}) for n in names}
    args = tuple(torch.from_numpy(x) for x in xs)
    with warnings.catch_warnings(), open(os.devnull, "w") as devnull, \
            contextlib.redirect_stdout(devnull):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(tmodel, args, path, input_names=names, dynamic_axes=axes,
                              opset_version=17, dynamo=False)
        except Exception:
            torch.onnx.export(tmodel, args, path, input_names=names, dynamo=True)
    return names


def _ort_session(ort, path, nt):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = nt
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _first(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return np.asarray(getattr(out, "_data", out.detach().numpy() if hasattr(out, "detach")
                              else out))


def _rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(float(np.abs(b).max()), 1e-30))


def _repeats(fn, budget_s):
    t0 = time.perf_counter()
    fn()
    t = max(time.perf_counter() - t0, 1e-6)
    return int(min(max(budget_s / t, 3), 300))


def _overhead_rows(threads):
    """The executor's cost per step and per call, from plans of trivial steps."""
    from ..jit import Graph, build_plan
    rows = []
    for n_steps in (200, 1):
        g = Graph()
        v = g.add_input("x", (1,), np.float32)
        one = g.const(np.ones(1, np.float32))
        for _ in range(n_steps):
            v = g.add_node("Add", [v, one], {}, [((1,), np.float32)]).outputs[0]
        g.outputs = [v]
        p = build_plan(g, {}, optimize=False)
        x = np.zeros(1, np.float32)
        assert p.run([x])[0][0] == n_steps
        for nt in threads:
            with thread_scope(nt):
                ms = sides_ms([lambda: p.run([x])], 2000 if n_steps == 1 else 300, True)[0]
            case = "overhead: %d-step plan" % n_steps
            rows.append({"case": case, "threads": nt, "plan_ms": ms, "steps": n_steps,
                         "us_per_step": ms * 1e3 / n_steps})
    return rows


def run(threads=(1, 2), quick=False, models=None, batches=(1, 32)):
    from .. import jit, no_grad, Tensor
    torch = get_torch()
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    rng = np.random.default_rng(0)
    budget = 0.15 if quick else 1.0
    if models is None:
        models = MODELS[:2] + MODELS[5:6] if quick else MODELS
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError("bench infer: unknown model %r (known: %s)"
                         % (unknown[0], ", ".join(MODELS)))
    rows = _overhead_rows(threads)
    tmp = tempfile.mkdtemp(prefix="dlcore_infer_")
    for name in models:
        m, kw, make, dyn, note = _model(name)
        if m is None:
            rows.append({"case": "%s: skipped (%s)" % (name, note)})
            continue
        m.eval()
        traced = jit.trace(m, make(1, rng), dynamic_axes=dyn)
        tm = path = None
        if torch is not None:
            from ._infer_torch import twin
            torch.manual_seed(0)
            tm = twin(torch, name, m, **kw)
            if ort is not None:
                path = os.path.join(tmp, name + ".onnx")
                names = _export(torch, tm, make(2, rng), dyn, path)
        for b in batches:
            if quick and b > 1 and name not in ("mlp", "lenet"):
                continue
            xs = make(b, rng)
            plan = traced.plan(*xs)
            tx = [Tensor._wrap(x) for x in xs]
            with no_grad():
                want = _first(m(*tx))
            label = "infer %s b%d" % (name, b)
            got = plan.run(xs)[0]
            assert_close(label, "planned output", got, want, RTOL, ref="dlcore eager")
            err = _rel(got, want)

            def plan_fn(xs=xs, plan=plan):
                plan.run(xs)

            def eager_fn(tx=tx):
                with no_grad():
                    m(*tx)
            t_fn = None
            if tm is not None:
                targs = [torch.from_numpy(x) for x in xs]

                def t_fn(targs=targs):
                    with torch.no_grad():
                        tm(*targs)
                with torch.no_grad():
                    got = _first(tm(*targs))
                assert_close(label, "torch twin's output", got, want, RTOL, ref="dlcore eager")
                err = max(err, _rel(got, want))
            for nt in threads:
                o_fn = None
                if path is not None:
                    sess = _ort_session(ort, path, nt)
                    feed = dict(zip(names, xs))
                    got = sess.run(None, feed)[0]
                    assert_close(label, "ONNX Runtime's output", got, want, RTOL,
                                 ref="dlcore eager")
                    err = max(err, _rel(got, want))

                    def o_fn(sess=sess, feed=feed):
                        sess.run(None, feed)
                with thread_scope(nt):
                    reps = _repeats(plan_fn, budget)
                    p_ms, e_ms, o_ms, t_ms = sides_ms([plan_fn, eager_fn, o_fn, t_fn], reps,
                                                      interleave=nt == 1)
                r = row("%s b%d (%s)" % (name, b, note), nt, p_ms, None, t_ms, plan_ms=p_ms,
                        eager_ms=e_ms, ort_ms=o_ms, vs_ort=(o_ms / p_ms) if o_ms else None,
                        vs_eager=e_ms / p_ms, steps=len(plan.steps), rel_err=err)
                rows.append({k: r.get(k) for k in COLUMNS})
    return rows


def format_table(rows, columns=None):
    """The overhead rows, then the model rows, each with its own columns."""
    fmt = _format_table
    over = [r for r in rows if r.get("case", "").startswith("overhead")]
    rest = [r for r in rows if not r.get("case", "").startswith("overhead")]
    out = []
    if over:
        out.append(fmt(over, ("case", "threads", "plan_ms", "steps", "us_per_step")))
    if rest:
        out.append(fmt(rest, columns or COLUMNS))
    return "\n\n".join(out)


if __name__ == "__main__":
    print(format_table(run()))
