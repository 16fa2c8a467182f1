"""Runs PyTorch's ModuleInfo inputs (common_modules.module_db) through dlcore's nn modules.

Used by tests/test_torch_moduleinfo.py; `python tests/moduleinfo_support.py -v` prints counts.

For each ModuleInfo whose class dlcore.nn has by name, each of torch's module inputs builds the
torch module and dlcore's from the same constructor arguments, copies torch's state_dict into
dlcore's (so initialisation does not matter), runs forward in training and eval mode, compares
outputs and the buffers forward updates (BatchNorm's running statistics), then backward with the
same random output gradients and compares the input and parameter gradients.  Where torch's
constructor or forward raises, dlcore's must raise too.
"""
import os
import sys

if __name__ == "__main__":  # run as a script: this checkout's dlcore, not an installed one
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
from torch.testing._internal.common_modules import module_db

import dlcore as dl
import dlcore.nn as nn

from opinfo_support import (DTYPES, Mismatch, ValueMismatch, _dl_backward, _flat,
                            _grad_outputs, _own_error, _tensors, compare, report_sweep, run_case,
                            subset, summary_fixture, to_dl, upcast)

# Known failures: (module name, predicate on (module_input, dtype, training)) -> reason
KNOWN_FAILURES = [
]

NOT_IN_MODULE_DB = ()


def _dl_function(fn):
    """torch's F.gelu (or torch.relu, ...) as dlcore's function of the same name."""
    name = getattr(fn, "__name__", "")
    dl_fn = getattr(dl.nn.functional, name, None)
    if dl_fn is None:
        raise Mismatch("constructor argument %r: dlcore has no F.%s" % (fn, name))
    return dl_fn


def _dl_encoder_layer(layer):
    """A torch TransformerEncoderLayer instance (TransformerEncoder's argument) rebuilt as
    dlcore's from the same hyperparameters; the weights come with the state_dict later."""
    attn = layer.self_attn
    return nn.TransformerEncoderLayer(
        attn.embed_dim, attn.num_heads, layer.linear1.out_features, layer.dropout.p,
        _dl_function(layer.activation), layer.norm1.eps, attn.batch_first, layer.norm_first,
        bias=layer.linear1.bias is not None)


def ctor_to_dl(obj):
    if isinstance(obj, torch.nn.TransformerEncoderLayer):
        return _dl_encoder_layer(obj)
    if isinstance(obj, torch.nn.Module):
        raise Mismatch("constructor argument %s: no conversion" % type(obj).__name__)
    if callable(obj) and not isinstance(obj, type) and (
            getattr(obj, "__module__", "") or "").startswith("torch"):
        return _dl_function(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(ctor_to_dl(o) for o in obj)
    if isinstance(obj, dict):
        return {k: ctor_to_dl(v) for k, v in obj.items()}
    return to_dl(obj, [])


def covered_modules():
    covered, missing = [], []
    for info in module_db:
        name = info.module_cls.__name__
        cls = getattr(nn, name, None)
        if name.startswith("Lazy"):
            # the harness copies torch's state_dict before the first call, which an
            # uninitialized parameter refuses; tests/test_lazy_modules.py covers them
            missing.append(name)
        elif isinstance(cls, type) and issubclass(cls, nn.Module):
            covered.append((info, cls))
        else:
            missing.append(name)
    return covered, sorted(set(missing))


def module_inputs(info, dtype, training):
    torch.manual_seed(0)
    return list(info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True,
                                        training=training))


def _torch_run(info, c_args, c_kwargs, f_args, f_kwargs, dtype, training, run_dtype):
    """torch's outputs, floating state after forward, and the gradients of the forward's
    tensors requiring grad and of the parameters (sorted by name), with the module in
    run_dtype."""
    torch.manual_seed(0)
    tm = info.module_cls(*c_args, **c_kwargs).to(dtype)
    tm.train(training)
    state = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    if run_dtype != dtype:
        tm.to(run_dtype)
        memo = {}
        f_args, f_kwargs = upcast(tuple(f_args), memo), upcast(dict(f_kwargs), memo)
    expected = tm(*f_args, **f_kwargs)
    after = {k: v for k, v in tm.state_dict().items() if v.dtype.is_floating_point}
    params = dict(tm.named_parameters())
    t_outs = [o for o in _flat(expected) if isinstance(o, torch.Tensor) and o.requires_grad]
    grads = []
    if t_outs:
        inputs = _leaves_of_args(f_args, f_kwargs) + [params[n] for n in sorted(params)]
        grads = torch.autograd.grad(t_outs, inputs, _grad_outputs(t_outs, dtype),
                                    allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(t) for g, t in zip(grads, inputs)]
    return tm, state, expected, after, sorted(params), grads


def _leaves_of_args(f_args, f_kwargs):
    found = []
    to_dl((tuple(f_args), dict(f_kwargs)), found)
    return [t for t, _ in found]


def run_module_input(info, cls, mi, dtype, training):
    c_args = mi.constructor_input.args
    c_kwargs = mi.constructor_input.kwargs
    f_args = mi.forward_input.args
    f_kwargs = mi.forward_input.kwargs
    dl_leaves = []
    dc_args = ctor_to_dl(tuple(c_args))
    dc_kwargs = ctor_to_dl(dict(c_kwargs))
    try:
        torch.manual_seed(0)
        info.module_cls(*c_args, **c_kwargs)
    except Exception as e:
        try:
            cls(*dc_args, **dc_kwargs)
        except Exception:
            return
        raise Mismatch("torch's constructor raises %s (%s) but dlcore's does not" % (
            type(e).__name__, str(e)[:80]))
    memo = {}
    d_args = to_dl(tuple(f_args), dl_leaves, memo)
    d_kwargs = to_dl(dict(f_kwargs), dl_leaves, memo)
    dm = cls(*dc_args, **dc_kwargs)
    dm.to(dl.float64 if dtype == torch.float64 else dl.float32)
    dm.train(training)
    try:
        ref = _torch_run(info, c_args, c_kwargs, f_args, f_kwargs, dtype, training, dtype)
    except Exception as e:
        try:
            dm(*d_args, **d_kwargs)
        except Exception:
            return
        raise Mismatch("torch's forward raises %s (%s) but dlcore's returns" % (
            type(e).__name__, str(e)[:80]))
    tm, state, expected, after, names, t_grads = ref
    dm.load_state_dict(state)
    actual = dm(*d_args, **d_kwargs)
    d_params = dict(dm.named_parameters())
    if sorted(d_params) != names:
        raise Mismatch("parameters: %s, torch %s" % (sorted(d_params), names))
    d_grads = []
    if t_grads:
        t_outs = [o for o in _flat(expected) if isinstance(o, torch.Tensor) and o.requires_grad]
        d_outs = [o for o in _flat(actual) if isinstance(o, dl.Tensor) and o.dtype.kind == "f"]
        if len(d_outs) != len(t_outs) or not all(o.requires_grad for o in d_outs):
            raise Mismatch("backward: dlcore's outputs do not all require grad")
        _dl_backward(d_outs, _grad_outputs(t_outs, dtype))
        d_inputs = [d for _, d in dl_leaves] + [d_params[n] for n in names]
        d_grads = [d.grad if d.grad is not None else dl.zeros(tuple(d.shape), dtype=d.dtype)
                   for d in d_inputs]
    labels = ["input %d" % i for i in range(len(dl_leaves))] + names
    d_state = dm.state_dict()

    def check(expected, after, t_grads, ref_dtype):
        compare(expected, actual, dtype, ref_dtype=ref_dtype)
        for k, v in after.items():
            if k in d_state:
                compare(v, d_state[k], dtype, "buffer %s after forward" % k, ref_dtype)
        for lab, tg, dg in zip(labels, t_grads, d_grads):
            compare(tg, dg, dtype, "grad of %s" % lab, ref_dtype)

    try:
        check(expected, after, t_grads, dtype)
    except ValueMismatch:
        if dtype != torch.float32:
            raise
        # the float32 rule of opinfo_support.check_float32_accuracy: within tolerance of the
        # float64 result plus torch's own float32 deviation from it, tensor by tensor
        _, _, exp64, after64, _, grads64 = _torch_run(
            info, c_args, c_kwargs, f_args, f_kwargs, dtype, training, torch.float64)
        d_outs = [t for t in _flat(actual) if isinstance(t, dl.Tensor)]
        for t32, t64, d in zip(_tensors(expected), _tensors(exp64), d_outs):
            compare(t64, d, dtype, "output", torch.float64, _own_error(t32, t64))
        for k, v in after64.items():
            if k in d_state:
                compare(v, d_state[k], dtype, "buffer %s after forward" % k, torch.float64,
                        _own_error(after[k], v))
        for lab, t32, t64, dg in zip(labels, t_grads, grads64, d_grads):
            compare(t64, dg, dtype, "grad of %s" % lab, torch.float64, _own_error(t32, t64))


def known_failure(info, mi, dtype, training):
    """(reason, strict) of the matching KNOWN_FAILURES entry, or (None, False)."""
    for name, pred, reason, *strict in KNOWN_FAILURES:
        if name == info.name and pred(mi, dtype, training):
            return reason, (strict[0] if strict else True)
    return None, False


def run_module(info, cls, dtype, tally=None, limit=None):
    failures = []
    if dtype not in info.supported_dtypes("cpu"):
        return failures
    modes = (True, False) if info.train_and_eval_differ else (True,)
    for training in modes:
        for i, mi in enumerate(subset(module_inputs(info, dtype, training), limit)):
            reason, strict = known_failure(info, mi, dtype, training)
            tag = "%s[%s %s %d %s]" % (info.name, str(dtype)[6:],
                                       "train" if training else "eval", i, mi.desc)
            run_case(tag, lambda: run_module_input(info, cls, mi, dtype, training), reason,
                     strict, failures, tally,
                     lambda: "ctor=%r %r" % (mi.constructor_input.args,
                                             mi.constructor_input.kwargs))
    return failures


def main(argv):
    import time
    covered, missing = covered_modules()
    tally, failures = {}, []
    t0 = time.time()
    for info, cls in covered:
        for dtype in DTYPES:
            failures += run_module(info, cls, dtype, tally)
    print("modules covered: %d; not exposed: %d" % (len(covered), len(missing)))
    print("module inputs run: %d in %.1fs" % (sum(tally.values()), time.time() - t0))
    return report_sweep(tally, failures, missing, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
