"""dl.autograd's API in PyTorch's shape, with PyTorch as the oracle: grad() and retain_graph,
user-defined Functions (ctx), autograd.functional, module backward hooks, gradient
checkpointing, inference_mode and grad modes (per thread)."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore.utils.checkpoint import checkpoint

torch = pytest.importorskip("torch")

A0 = np.random.default_rng(0).standard_normal((3, 4))
B0 = np.random.default_rng(1).standard_normal((4, 2))


def _leaves(lib):
    return (lib.tensor(A0.copy(), dtype=lib.float64, requires_grad=True),
            lib.tensor(B0.copy(), dtype=lib.float64, requires_grad=True))


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


# ---- grad() and retain_graph ---------------------------------------------------------------
def test_grad_matches_torch_and_leaves_grad_untouched():
    out = []
    for lib in (dl, torch):
        a, b = _leaves(lib)
        h = (a @ b).tanh()
        y = (h * h).sum() + a.sum()
        ga, gh = lib.autograd.grad(y, (a, h), retain_graph=True)
        two = lib.tensor(2.0, dtype=lib.float64)
        (gb,) = lib.autograd.grad([y, h.sum()], [b], grad_outputs=[two, None])
        assert a.grad is None and b.grad is None
        out.append([_np(ga), _np(gh), _np(gb)])
    for u, v in zip(*out):
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_grad_unused_input_as_torch():
    for lib in (dl, torch):
        a, b = _leaves(lib)
        y = (a * 2).sum()
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            lib.autograd.grad(y, [a, b], retain_graph=True)
        ga, gb = lib.autograd.grad(y, [a, b], allow_unused=True)
        assert gb is None and np.allclose(_np(ga), 2.0)


def test_second_backward_through_freed_graph_raises_as_torch():
    for lib in (dl, torch):
        a, b = _leaves(lib)
        y = (a @ b).exp().sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()
        a2, b2 = _leaves(lib)
        z = (a2 @ b2).exp().sum()
        lib.autograd.grad(z, a2)
        with pytest.raises(RuntimeError, match="second time"):
            lib.autograd.grad(z, b2)


def test_retain_graph_allows_a_second_backward():
    for lib in (dl, torch):
        a, b = _leaves(lib)
        y = (a @ b).sin().sum()
        y.backward(retain_graph=True)
        first = _np(a.grad).copy()
        y.backward()
        np.testing.assert_allclose(_np(a.grad), 2 * first)


def test_grad_of_non_scalar_needs_grad_outputs():
    for lib in (dl, torch):
        a, _ = _leaves(lib)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
            lib.autograd.grad(a * 2, a)


def test_hook_on_non_leaf_can_replace_gradient():
    res = []
    for lib in (dl, torch):
        a, b = _leaves(lib)
        h = a @ b
        seen = []
        h.register_hook(lambda g: seen.append(_np(g)) or g * 3)
        (h ** 2).sum().backward()
        res.append((_np(a.grad), seen[0]))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])


# ---- user-defined Functions ------------------------------------------------------------------
def _cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False)
            return 3 * x ** 2 * ctx.k * g, None
    return Cube


def test_ctx_function_matches_torch_with_double_backward():
    res = []
    for lib in (dl, torch):
        a, _ = _leaves(lib)
        y = _cube(lib).apply(a, 2.0).sum()
        (g,) = lib.autograd.grad(y, a, create_graph=True)
        g.sum().backward()
        res.append((_np(g), _np(a.grad)))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    x = dl.tensor(A0, dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: _cube(dl).apply(t, 0.5), (x,))
    assert dl.autograd.gradgradcheck(lambda t: _cube(dl).apply(t, 0.5), (x,))


def _sort_like(lib):
    class TwoOut(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(1)
            ctx.mark_non_differentiable(idx)
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is None  # not materialized
            return g * 2
    return TwoOut


def test_ctx_non_differentiable_and_materialize():
    for lib in (dl, torch):
        a, _ = _leaves(lib)
        y, idx = _sort_like(lib).apply(a)
        assert not idx.requires_grad and y.requires_grad
        y.sum().backward()
        np.testing.assert_allclose(_np(a.grad), 2.0)


def _inplace_double(lib):
    class Double_(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return Double_


def test_ctx_mark_dirty_as_torch():
    for lib in (dl, torch):
        a, _ = _leaves(lib)
        h = a * 1.0
        out = _inplace_double(lib).apply(h)
        assert out is h and h._version == 2  # the mul_ and the dirty mark, as torch counts
        (out * a).sum().backward()
        np.testing.assert_allclose(_np(a.grad), 4 * A0, rtol=1e-12)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            _inplace_double(lib).apply(_leaves(lib)[0])


def test_ctx_saved_tensor_modified_raises():
    for lib in (dl, torch):
        a, _ = _leaves(lib)
        h = a * 1.0
        y = _cube(lib).apply(h, 1.0)
        with lib.no_grad():
            h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_ctx_wrong_number_of_gradients():
    class Bad(dl.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g
    a, b = _leaves(dl)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, a).sum().backward()


# ---- autograd.functional --------------------------------------------------------------------
def _f(lib):
    return lambda x, y: ((x @ y).tanh() ** 2).sum(0)


def _scalar(lib):
    return lambda x, y: ((x @ y).sin() * (x @ y)).sum()


@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"])
def test_functional_matches_torch(name):
    res = []
    for lib in (dl, torch):
        a, b = (lib.tensor(A0, dtype=lib.float64), lib.tensor(B0, dtype=lib.float64))
        F = lib.autograd.functional
        if name == "jacobian":
            r = F.jacobian(_f(lib), (a, b))
        elif name == "hessian":
            r = F.hessian(_scalar(lib), (a, b))
        elif name == "vjp":
            r = F.vjp(_f(lib), (a, b), lib.ones(2, dtype=lib.float64) * 0.5)
        elif name == "jvp":
            r = F.jvp(_f(lib), (a, b), (a * 0.1, b * 0.2))
        else:
            r = getattr(F, name)(_scalar(lib), (a, b), (a * 0.1, b * 0.2))
        res.append(r)
    flat = []
    for r in res:
        out, stack = [], [r]
        while stack:
            x = stack.pop()
            if isinstance(x, (tuple, list)):
                stack.extend(reversed(x))
            else:
                out.append(_np(x))
        flat.append(out)
    assert len(flat[0]) == len(flat[1])
    for u, v in zip(*flat):
        assert u.shape == v.shape
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


# ---- module hooks and checkpointing ---------------------------------------------------------
def test_full_backward_hook_matches_torch():
    got = []
    for lib in (dl, torch):
        lib.manual_seed(0)
        lin = lib.nn.Linear(4, 3).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(A0))
            lin.bias.fill_(0.25)
        seen = []

        def hook(m, gi, go):
            seen.append((_np(gi[0]), _np(go[0])))
            return (gi[0] * 2,)
        pre = []
        lin.register_full_backward_pre_hook(lambda m, go: pre.append(_np(go[0])))
        lin.register_full_backward_hook(hook)
        x = lib.tensor(A0[:2], dtype=lib.float64, requires_grad=True)
        (lin(x) ** 2).sum().backward()
        got.append((seen[0][0], seen[0][1], pre[0], _np(x.grad), _np(lin.weight.grad)))
    for u, v in zip(*got):
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_checkpoint_gives_the_same_gradients_with_dropout():
    net = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.Tanh(), dl.nn.Dropout(0.4),
                           dl.nn.Linear(8, 3))
    x = dl.randn(5, 4, requires_grad=True)
    grads = []
    for use in (False, True):
        net.zero_grad()
        x.grad = None
        dl.manual_seed(7)
        y = checkpoint(net, x, use_reentrant=False) if use else net(x)
        (y ** 2).sum().backward()
        grads.append([p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
    # the segment keeps no graph of its own: one node holds the outputs
    dl.manual_seed(7)
    y = checkpoint(net, x)
    assert type(y.grad_fn).__name__ == "_Checkpoint"
    # input without grad: parameters still get gradients; and autograd.grad through it
    w = net[0].weight
    (gw,) = dl.autograd.grad((checkpoint(net, x.detach()) ** 2).sum(), w)
    assert gw.shape == w.shape and np.abs(gw.numpy()).sum() > 0


def test_checkpoint_double_backward():
    w = dl.tensor(B0, dtype=dl.float64, requires_grad=True)
    x = dl.tensor(A0, dtype=dl.float64, requires_grad=True)

    def seg(t):
        return (t @ w).tanh()
    for fn in (seg, lambda t: checkpoint(seg, t)):
        (g,) = dl.autograd.grad(fn(x).sum(), x, create_graph=True)
        (h,) = dl.autograd.grad((g ** 2).sum(), w)
        if fn is seg:
            ref = h.numpy()
    np.testing.assert_allclose(h.numpy(), ref, rtol=1e-12)


# ---- grad modes ----------------------------------------------------------------------------
def test_inference_mode_as_torch():
    for lib in (dl, torch):
        w = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            assert not lib.is_grad_enabled()
            t = w * 2
        assert not t.requires_grad and t.is_inference()
        with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
            (t * w).sum().backward()
        (t + w).sum().backward()  # add saves nothing: allowed, as in torch

        @lib.inference_mode()
        def f(x):
            return x * 3
        assert f(w).is_inference() and lib.is_grad_enabled()
        with lib.inference_mode(False):
            assert lib.is_grad_enabled()


def test_set_grad_enabled_forms():
    for lib in (dl, torch):
        x = lib.ones(2, requires_grad=True)
        with lib.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert (x * 2).requires_grad
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        with lib.no_grad():
            with lib.enable_grad():
                assert (x * 2).requires_grad


def test_no_grad_in_one_thread_leaves_another_recording():
    inside = threading.Event()
    release = threading.Event()

    def hold_no_grad():
        with dl.no_grad():
            inside.set()
            release.wait(10)
    th = threading.Thread(target=hold_no_grad)
    th.start()
    assert inside.wait(10)
    try:
        x = dl.ones(3, requires_grad=True)
        assert dl.is_grad_enabled()
        assert (x * 2).requires_grad
    finally:
        release.set()
        th.join()


def test_concurrent_training_steps_give_the_serial_results():
    def step(seed):
        rng = np.random.default_rng(seed)
        w = dl.tensor(rng.standard_normal((8, 5)), requires_grad=True)
        x = dl.tensor(rng.standard_normal((16, 8)))
        for _ in range(20):
            with dl.no_grad():  # what module construction / evaluation do
                _ = x @ w
            y = dl.nn.functional.log_softmax(x @ w, 1).sum() * -1.0
            y.backward()
            with dl.no_grad():
                w -= 0.01 * w.grad
            w.grad = None
        return w.numpy().copy()

    serial = [step(s) for s in range(4)]
    out = [None] * 4
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, step(i))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, out):
        np.testing.assert_array_equal(a, b)


def test_backward_inputs_accumulates_only_there():
    res = []
    for lib in (dl, torch):
        a, b = _leaves(lib)
        h = a @ b
        (h.tanh() ** 2).sum().backward(inputs=[b], retain_graph=True)
        assert a.grad is None
        lib.autograd.backward([(h * 2).sum()], inputs=[b])
        res.append(_np(b.grad))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12)


def test_factories_under_inference_mode_make_inference_tensors():
    for lib in (dl, torch):
        with lib.inference_mode():
            z = lib.zeros(3)
        assert z.is_inference()
        with pytest.raises(RuntimeError, match="inference tensor"):
            z.requires_grad_(True)
