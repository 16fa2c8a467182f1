"""Gradients of gradients (create_graph=True): gradgradcheck in float64 for every op family
that has a double backward, first-order gradients unchanged by create_graph, PyTorch parity
for a WGAN-GP gradient-penalty step and a Hessian-vector product, and a clear error (never a
silent zero) where an op has no double backward."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.autograd import gradgradcheck
from dlcore.ops.glu import swiglu
from dlcore.ops.layernorm import rms_norm
from dlcore.ops.rotary import rotary_embedding

torch = pytest.importorskip("torch")


def _t(*shape, seed=0, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return dl.tensor(a, dtype=dl.float64, requires_grad=True)


T = dl.tensor([1, 0, 4, 2])
Q = dl.tensor(np.random.default_rng(5).random((4, 5))).to(dl.float64).softmax(-1)
TB = dl.tensor(np.random.default_rng(6).random((4, 5)), dtype=dl.float64)
CW = dl.tensor(np.random.default_rng(7).random(5) + 0.5, dtype=dl.float64)
IDX = dl.tensor([[0, 1], [2, 2], [3, 0]])
EI = dl.tensor([[0, 1, 3], [3, 3, 2]])
RM = dl.tensor([0.3, -0.2, 0.1], dtype=dl.float64)
RV = dl.tensor([1.5, 0.7, 1.1], dtype=dl.float64)
AM = dl.tensor(np.random.default_rng(8).standard_normal((3, 5)), dtype=dl.float64)

# name -> (function of the inputs, input shapes, positive inputs?)
FAMILIES = {
    # elementwise math
    "mul_div": (lambda a, b: a * b / (b * b + 1), [(3, 4), (3, 4)], False),
    "pow_tensor": (lambda a, b: a ** b, [(3, 4), (3, 4)], True),
    "pow_scalar": (lambda a: a ** 3 + 2 ** a, [(3, 4)], False),
    "exp_log_sqrt": (lambda a: a.exp() + a.log() * a.sqrt() + a.log1p(), [(3, 4)], True),
    "sin_cos_abs": (lambda a: a.sin() * a.cos() + a.abs() * a, [(3, 4)], False),
    "clamp_max_min": (lambda a, b: a.clamp(-0.5, 0.5) * a.maximum(b) * a.minimum(b),
                      [(3, 4), (3, 4)], False),
    "where_broadcast": (lambda a, b: dl.where(a > 0, a * b, b) + a * b[0], [(3, 4), (3, 4)],
                        False),
    # shape ops
    "shape": (lambda a, b: (dl.cat([a * b, a], 1).T.reshape(2, -1) ** 2).flip(0)[:, 1:7]
              .repeat(2, 1), [(3, 4), (3, 4)], False),
    "index_gather_pad": (lambda a: (a[[0, 0, 2]] ** 2).sum() + (a.gather(1, IDX) ** 2).sum()
                         + (F.pad(a, (1, 2), value=3.0) ** 2).sum() + (a.tril() * a).sum(),
                         [(3, 4)], False),
    # reductions
    "reductions": (lambda a: a.sum(1) * a.mean(0).sum() + a.var(1) + a.std(0).sum()
                   + a.amax(0).sum() * a.logsumexp(1), [(3, 4)], False),
    "max_dim_cumsum_norm": (lambda a: a.max(1).values * a.cumsum(1)[:, 2] ** 2 + (a ** 2).norm(),
                            [(3, 4)], False),
    # matmul / linear
    "matmul": (lambda a, b: (a @ b.T) ** 2, [(3, 4), (3, 4)], False),
    "matmul_batched": (lambda a, b: (a @ b) ** 2, [(2, 3, 4), (4, 2)], False),
    "linear": (lambda x, w, b: F.linear(x, w, b) ** 2, [(2, 3, 4), (5, 4), (5,)], False),
    # activations
    "activations": (lambda a: F.relu(a) * a + F.sigmoid(a) + F.tanh(a) + F.gelu(a)
                    + F.gelu(a, approximate="tanh") + F.silu(a) + F.elu(a) + F.selu(a)
                    + F.softplus(a, beta=2.0) + F.mish(a) + F.leaky_relu(a) * a
                    + F.hardswish(a) + F.logsigmoid(a), [(3, 4)], False),
    "softmax": (lambda a: F.softmax(a, -1) * a + F.log_softmax(a, 0) ** 2, [(3, 4)], False),
    # losses
    "cross_entropy": (lambda x: F.cross_entropy(x, T) + F.cross_entropy(
        x, T, weight=CW, ignore_index=0, label_smoothing=0.2) + F.cross_entropy(
        x, T, reduction="none").sum() + F.cross_entropy(x, Q, label_smoothing=0.1),
        [(4, 5)], False),
    "nll": (lambda x: F.nll_loss(F.log_softmax(x, 1), T, weight=CW), [(4, 5)], False),
    "regression_losses": (lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y) * 0
                          + F.smooth_l1_loss(x, y, beta=0.5)
                          + F.huber_loss(x, y, delta=0.5, reduction="sum"), [(4, 5), (4, 5)],
                          False),
    "bce": (lambda x: F.binary_cross_entropy_with_logits(x, TB, pos_weight=CW)
            + F.binary_cross_entropy(x.sigmoid(), TB)
            + F.kl_div(F.log_softmax(x, 1), TB, reduction="batchmean"), [(4, 5)], False),
    # convolution and pooling
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1), [(2, 3, 6, 5),
                                                                             (4, 3, 3, 2), (4,)],
               False),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
                         [(2, 3, 4, 3), (3, 2, 3, 3)], False),
    "pooling": (lambda x: (F.max_pool2d(x, 2) ** 2).sum() + (F.avg_pool2d(x, 3, 1, 1) ** 2).sum()
                + (F.adaptive_avg_pool2d(x, 3) ** 2).sum() + (F.adaptive_max_pool2d(x, 2) ** 2
                                                                 ).sum(), [(2, 3, 6, 5)], False),
    "einsum": (lambda a, b: dl.einsum("bij,jk->bk", a, b) ** 2, [(2, 3, 4), (4, 5)], False),
    "embedding": (lambda w: (F.embedding(EI, w, padding_idx=1) ** 3).sum(), [(4, 3)], False),
    "rotary": (lambda x, c, s: rotary_embedding(x, c, s) ** 2
               + rotary_embedding(x, c, s, interleaved=False) ** 3, [(3, 2, 4), (3, 1, 2),
                                                                    (3, 1, 2)], False),
    "swiglu": (lambda x: swiglu(x) ** 2, [(3, 6)], False),
    # normalization and attention (through their forward as differentiable ops)
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (2, 4), w, b) ** 2, [(3, 2, 4), (2, 4),
                                                                        (2, 4)], False),
    "rms_norm": (lambda x, w: rms_norm(x, (4,), w) ** 2, [(3, 2, 4), (4,)], False),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 2,
                         [(4, 3, 2, 2), (3,), (3,)], False),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x, RM, RV, w, b) ** 2,
                        [(4, 3, 2, 2), (3,), (3,)], False),
    "attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=AM)
                  + F.scaled_dot_product_attention(q, k[:, :3], v[:, :3], is_causal=True),
                  [(2, 3, 4), (2, 5, 4), (2, 5, 3)], False),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_gradgradcheck(name):
    fn, shapes, positive = FAMILIES[name]
    inputs = tuple(_t(*s, seed=i, positive=positive) for i, s in enumerate(shapes))
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_create_graph_keeps_first_order_gradients(name):
    fn, shapes, positive = FAMILIES[name]
    inputs = tuple(_t(*s, seed=i, positive=positive) for i, s in enumerate(shapes))
    out = fn(*inputs)
    v = dl.tensor(np.random.default_rng(9).standard_normal(out.shape))
    plain = dl.autograd.grad(out, inputs, v, retain_graph=True)
    graph = dl.autograd.grad(out, inputs, v, create_graph=True)
    for p, g in zip(plain, graph):
        np.testing.assert_allclose(g.numpy(), p.numpy(), rtol=1e-10, atol=1e-12)
        assert not p.requires_grad
    assert any(g.requires_grad for g in graph)


def _critic(lib, params, x):
    w1, b1, w2, b2, wc = params
    F_ = lib.nn.functional
    h = F_.conv2d(x, wc, padding=1)
    h = F_.leaky_relu(F_.max_pool2d(h, 2), 0.2).reshape(x.shape[0], -1)
    h = F_.tanh(F_.linear(h, w1, b1))
    return F_.linear(h, w2, b2)


def test_wgan_gp_penalty_step_matches_torch():
    rng = np.random.default_rng(3)
    shapes = [(16, 32), (16,), (1, 16), (1,), (2, 1, 3, 3)]
    init = [rng.standard_normal(s) * 0.3 for s in shapes]
    real = rng.standard_normal((4, 1, 8, 8))
    fake = rng.standard_normal((4, 1, 8, 8))
    eps = rng.random((4, 1, 1, 1))
    results = []
    for lib in (dl, torch):
        params = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in init]
        r = lib.tensor(real, dtype=lib.float64)
        f = lib.tensor(fake, dtype=lib.float64)
        e = lib.tensor(eps, dtype=lib.float64)
        x_hat = (e * r + (1 - e) * f).requires_grad_(True)
        d_hat = _critic(lib, params, x_hat)
        (g,) = lib.autograd.grad(d_hat, x_hat, grad_outputs=lib.ones_like(d_hat),
                                 create_graph=True, retain_graph=True)
        penalty = ((g.reshape(4, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = _critic(lib, params, f).mean() - _critic(lib, params, r).mean() + 10 * penalty
        loss.backward()
        results.append([float(penalty.item())] + [p.grad.numpy().copy() for p in params])
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    for a, b in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_hessian_vector_product_matches_torch():
    rng = np.random.default_rng(4)
    x0, w0, v0 = (rng.standard_normal(s) for s in ((5, 3), (4, 3), (4, 3)))
    y = np.array([0, 3, 1, 1, 2])
    out = []
    for lib in (dl, torch):
        w = lib.tensor(w0.copy(), dtype=lib.float64, requires_grad=True)
        x = lib.tensor(x0, dtype=lib.float64)
        loss = lib.nn.functional.cross_entropy(lib.nn.functional.softplus(x @ w.T), lib.tensor(y))
        (g,) = lib.autograd.grad(loss, w, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v0)).sum(), w)
        out.append(hv.numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-12)


def test_backward_create_graph_accumulates_differentiable_grad():
    for lib in (dl, torch):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        g.sum().backward()
        np.testing.assert_allclose(x.grad.detach().numpy(), 6 * np.array([0.5, -1.0, 2.0]))


def test_third_order_through_linear_and_elementwise():
    x = dl.tensor([0.3, -0.7], dtype=dl.float64, requires_grad=True)
    y = (x.sin() * x).sum()
    (g1,) = dl.autograd.grad(y, x, create_graph=True)
    (g2,) = dl.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = dl.autograd.grad(g2.sum(), x)
    a = np.array([0.3, -0.7])
    # d3/dx3 (x sin x) = -3 sin x - x cos x
    np.testing.assert_allclose(g3.numpy(), -3 * np.sin(a) - a * np.cos(a), rtol=1e-12)


def test_op_without_double_backward_raises_never_zero():
    x = _t(3, 4)
    y = x.prod()  # prod has a first-order backward only
    (g,) = dl.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), dl.autograd.grad(x.prod(), x)[0].numpy())
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="double backward .* not supported for Prod"):
        g.sum().backward()


def test_linear_ops_second_derivative_is_zero_not_missing():
    x = _t(3, 4)
    (g,) = dl.autograd.grad((x.reshape(12)[2:] * 3).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy().ravel()[2:], 3.0)
    assert not g.requires_grad  # constant: nothing to differentiate, as in torch
