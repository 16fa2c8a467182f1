"""Single-channel input with groups == 1 (a first layer on grey images) runs im2col + GEMM when
strided or with more than 8 filters, the depthwise kernel otherwise (csrc/conv_dw_impl.h,
SUF(depthwise)): forward, input and weight gradient against the NumPy reference on odd sizes,
both paths, every ISA path and thread count; float64 by gradcheck."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.autograd import gradcheck

from test_conv import ref_conv2d


def adjoint_grads(x, w, gy, stride, pad):
    """(gx, gw) of sum(gy * conv2d(x, w)) by the chain rule through the reference, in fp64:
    the reference is linear in each argument, so each gradient is the reference applied to
    unit directions (small sizes only)."""
    x, w, gy = (a.astype(np.float64) for a in (x, w, gy))
    gx = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        gx[idx] = np.sum(gy * ref_conv2d(e, w, None, stride, pad))
    gw = np.zeros_like(w)
    for idx in np.ndindex(*w.shape):
        e = np.zeros_like(w)
        e[idx] = 1.0
        gw[idx] = np.sum(gy * ref_conv2d(x, e, None, stride, pad))
    return gx, gw


CASES = [  # (N, H, W, K, kernel, stride, pad)
    (3, 9, 11, 5, 4, 2, 1),     # strided: im2col
    (2, 7, 7, 6, 5, 1, 2),      # stride 1, few filters: the depthwise kernel
    (1, 6, 5, 1, 3, 1, 1),
    (2, 8, 9, 3, 3, 2, 0),
    (2, 9, 8, 11, 3, 1, 1),     # stride 1, many filters: im2col
]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_single_channel_matches_reference(isa, threads, case, rng):
    N, H, W, K, k, s, p = case
    x = rng.standard_normal((N, 1, H, W)).astype(np.float32)
    w = rng.standard_normal((K, 1, k, k)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    xt, wt, bt = (dl.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, s, p)
    want = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                      (s, s), (p, p))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-5)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(gy))
    gx, gw = adjoint_grads(x, w, gy, (s, s), (p, p))
    np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bt.grad.numpy(), gy.sum((0, 2, 3)), rtol=1e-5, atol=1e-4)


def test_single_channel_gradcheck(rng):
    x = dl.tensor(rng.standard_normal((2, 1, 7, 6)), requires_grad=True)
    w = dl.tensor(rng.standard_normal((4, 1, 4, 4)), requires_grad=True)
    b = dl.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, 2, 1), (x, w, b))
