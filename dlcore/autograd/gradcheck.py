"""Finite-difference checks of gradients (gradcheck) and of gradients of gradients
(gradgradcheck), in float64."""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import engine
from .grad_mode import enable_grad, no_grad
from ..dtypes import is_floating


def _outputs_of(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              _numeric_with_grad=False):
    """Compare fn's analytic gradients with central finite differences, in float64.

    `inputs` is a tuple of Tensors; those with requires_grad are checked.  fn may return a
    Tensor of any shape (or several): each is reduced against a fixed random projection so every
    output element is exercised.  An output that does not require grad counts as constant in
    the analytic gradient, so a gradient silently lost (a zero where finite differences see a
    slope) fails the check.
    """
    if isinstance(inputs, TensorBase):
        inputs = (inputs,)
    for i, t in enumerate(inputs):
        if isinstance(t, TensorBase) and t.requires_grad and t.dtype != np.float64:
            raise TypeError("gradcheck: input %d must be float64 for finite differences, got %s"
                            % (i, t.dtype))
    rng = np.random.default_rng(0)
    with enable_grad():
        outs = _outputs_of(fn(*inputs))
    if not any(isinstance(o, TensorBase) and is_floating(o.dtype) for o in outs):
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    weights = [rng.standard_normal(o.shape) if isinstance(o, TensorBase) and is_floating(o.dtype)
               else None for o in outs]

    def scalar():
        with (enable_grad() if _numeric_with_grad else no_grad()):
            res = _outputs_of(fn(*inputs))
        return sum(float((r._data.astype(np.float64) * w).sum())
                   for r, w in zip(res, weights) if w is not None)

    diff = [t for t in inputs if isinstance(t, TensorBase) and t.requires_grad]
    live = [(o, w) for o, w in zip(outs, weights) if w is not None and o.requires_grad]
    if live:
        grads = engine.run([o for o, _ in live], [wrap(w.astype(o.dtype)) for o, w in live],
                           False, False, inputs=diff, allow_unused=True)
    else:
        grads = (None,) * len(diff)
    for k, t in enumerate(diff):
        i = next(j for j, u in enumerate(inputs) if u is t)
        g = grads[k]
        analytic = np.zeros(t.shape) if g is None else g._data.astype(np.float64)
        numeric = np.zeros(t.shape)
        flat = t._data.reshape(-1)
        num_flat = numeric.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = scalar()
            flat[j] = old - eps
            fm = scalar()
            flat[j] = old
            num_flat[j] = (fp - fm) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if raise_exception:
                err = np.abs(analytic - numeric).max()
                raise AssertionError(
                    "gradcheck: input %d: analytic and numerical gradients differ (max abs "
                    "error %.3g)\nanalytic:\n%s\nnumerical:\n%s" % (i, err, analytic, numeric))
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """Check the gradients of fn's gradients: gradcheck of x -> grad(fn(x), x, v,
    create_graph=True) for fixed random output gradients v (or grad_outputs)."""
    if isinstance(inputs, TensorBase):
        inputs = (inputs,)
    with enable_grad():
        outs = _outputs_of(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [wrap(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]
    grad_outputs = list(_outputs_of(grad_outputs))
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, TensorBase) and t.requires_grad]

    def first_grads(*xs):
        with enable_grad():
            res = _outputs_of(fn(*xs))
            pairs = [(o, g) for o, g in zip(res, grad_outputs) if o.requires_grad]
            gs = engine.run([o for o, _ in pairs], [g for _, g in pairs], True, True,
                            inputs=[xs[i] for i in diff_idx], allow_unused=True)
        return tuple(g if g is not None else wrap(np.zeros(xs[i].shape))
                     for g, i in zip(gs, diff_idx))

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, _numeric_with_grad=True)
