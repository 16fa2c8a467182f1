"""Reverse-mode automatic differentiation (dl.autograd, PyTorch's torch.autograd).

- function.py: Function, the node every op records, and Function.apply (the per-op hot path);
  ctx_function.py: the same class in PyTorch's user-facing shape (static forward(ctx, ...));
- engine.py: the backward pass (backward, grad, create_graph); double_backward.py: how each
  Function's backward is itself differentiated;
- grad_mode.py: no_grad / enable_grad / set_grad_enabled / inference_mode, per thread;
- version.py: version counters (in-place changes of saved tensors); inplace.py: in-place ops
  inside the graph;
- gradcheck.py, functional.py (jacobian, hessian, vjp, jvp, hvp, vhp), tensor_methods.py.

This package sits under the ops and above dlcore.tensor_base.
"""
import sys
import types

import numpy as _np

from ..tensor_base import wrap as _wrap

from . import function as _function
from .ctx_function import FunctionCtx  # noqa: F401
from .anomaly import (detect_anomaly, set_detect_anomaly, is_anomaly_enabled,  # noqa: F401
                      is_anomaly_check_nan_enabled)
from .double_backward import NoDoubleBackward, composite_backward  # noqa: F401
from .engine import (run as _run, backward_into as _backward_into, unbroadcast,  # noqa: F401
                     unbroadcast_tensor)
from .function import Function
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                        is_grad_enabled, is_inference_mode_enabled)
from .tensor_methods import AutogradMethods  # noqa: F401
from .variable import Variable  # noqa: F401
from . import functional  # noqa: F401
from . import profiler  # noqa: F401  (torch.autograd.profiler)
from . import ctx_function as _ctx_function, inplace as _inplace

_ctx_function.inplace_graph = _inplace  # (inplace imports what imports ctx_function)

__all__ = ["Function", "Variable", "backward", "grad", "gradcheck", "gradgradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "functional", "detect_anomaly", "set_detect_anomaly"]


def _as_list(x, name):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of `tensors` (weighted by grad_tensors) into the leaves' .grad."""
    outs = _as_list(tensors, "tensors")
    gs = _as_list(grad_tensors, "grad_tensors") or [None] * len(outs)
    if len(gs) != len(outs):
        raise RuntimeError("grad_tensors has %d elements but tensors has %d"
                           % (len(gs), len(outs)))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        _backward_into(outs, gs, retain_graph, create_graph, inputs)
        return
    _run(outs, gs, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs` (a tuple, one per input), without
    touching any .grad.  With create_graph=True they can be differentiated again."""
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    for i, t in enumerate(ins):
        if not hasattr(t, "_ctx"):
            raise TypeError("grad: inputs[%d] is a %s, expected a Tensor" % (i, type(t).__name__))
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    gs = _as_list(grad_outputs, "grad_outputs") or [None] * len(outs)
    if len(gs) != len(outs):
        raise RuntimeError("grad_outputs has %d elements but outputs has %d"
                           % (len(gs), len(outs)))
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    res = _run(outs, gs, retain_graph, create_graph, inputs=ins, allow_unused=allow_unused)
    if materialize_grads:
        res = tuple(r if r is not None else _wrap(_np.zeros(t.shape, t.dtype))
                    for r, t in zip(res, ins))
    return res


class _AutogradModule(types.ModuleType):
    """dlcore.jit sets `dlcore.autograd._tracer`; the hot path reads it in function.py."""

    @property
    def _tracer(self):
        return _function._tracer

    @_tracer.setter
    def _tracer(self, value):
        _function._tracer = value


sys.modules[__name__].__class__ = _AutogradModule
