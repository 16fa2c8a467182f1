"""Tensor.register_post_accumulate_grad_hook: once per backward, after the leaf's last
gradient contribution, as torch's."""
import numpy as np
import pytest

import dlcore as dl


def _shared_weight_graph(lib, w_data, x_data):
    """w used three times (twice in one product, once more later), b once, u not at all."""
    w = lib.tensor(w_data, requires_grad=True)
    b = lib.tensor(np.ones(3), requires_grad=True)
    u = lib.tensor(np.ones(3), requires_grad=True)
    x = lib.tensor(x_data)
    h = (x * w) * w + b
    loss = ((h * w).sum() + (h ** 2).sum())
    return loss, {"w": w, "b": b, "u": u}


def _record(leaves, log):
    handles = []
    for name, t in leaves.items():
        handles.append(t.register_post_accumulate_grad_hook(
            lambda p, name=name: log.append((name, p.grad.numpy().copy()))))
    return handles


def test_runs_once_after_all_contributions_like_torch(torch):
    rng = np.random.default_rng(0)
    w_data, x_data = rng.standard_normal(3), rng.standard_normal(3)
    ours, theirs = [], []
    loss, leaves = _shared_weight_graph(dl, w_data, x_data)
    each = []
    leaves["w"].register_hook(lambda g: each.append(1))
    _record(leaves, ours)
    loss.backward()
    tloss, tleaves = _shared_weight_graph(torch, w_data, x_data)
    _record(tleaves, theirs)
    tloss.backward()
    assert len(each) == 3  # register_hook: after each of w's three contributions
    assert sorted(n for n, _ in ours) == sorted(n for n, _ in theirs) == ["b", "w"]
    for name, g in ours:
        # the gradient the hook saw is the whole one (torch's at its hook) and .grad's final
        want = dict(theirs)[name]
        np.testing.assert_allclose(g, want, rtol=1e-12)
        np.testing.assert_allclose(leaves[name].grad.numpy(), want, rtol=1e-12)


def test_accumulates_across_backwards_and_remove():
    w = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    for _ in range(2):
        ((w * w).sum() + w.sum()).backward()
    np.testing.assert_allclose(seen, [[3.0, 5.0], [6.0, 10.0]])
    h.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2
    np.testing.assert_allclose(w.grad.numpy(), [9.0, 13.0])


def test_leaf_as_output_and_backward_inputs():
    w = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    w.backward(dl.tensor(np.array([1.0, 1.0])))
    v = dl.tensor(np.array([5.0, 6.0]), requires_grad=True)
    (w * v).sum().backward(inputs=[w])
    np.testing.assert_allclose(seen, [[1.0, 1.0], [6.0, 7.0]])
    assert v.grad is None


class _DropSecond(dl.autograd.Function):
    """x + 0*y forward; backward sends nothing to y, so the nodes feeding y get no gradient."""

    @staticmethod
    def forward(ctx, x, y):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return g, None


def test_a_node_that_receives_no_gradient_still_counts_down():
    v = dl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = dl.tensor(np.array([3.0, 4.0]), requires_grad=True)
    seen = []
    for name, t in (("v", v), ("w", w)):
        t.register_post_accumulate_grad_hook(lambda p, name=name: seen.append(name))
    starved = v * w           # its node is in the graph but receives no gradient
    out = _DropSecond.apply(v * 2.0, starved)
    out.sum().backward()
    assert seen == ["v"]      # v's contribution through `starved` never comes; w got none
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 2.0])
    assert w.grad is None


def test_errors():
    with pytest.raises(RuntimeError, match="non-leaf"):
        (dl.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        dl.ones(2).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="callable"):
        dl.ones(2, requires_grad=True).register_post_accumulate_grad_hook(3)


def test_a_dropped_tensor_leaves_no_hook_behind():
    from dlcore.autograd import post_accumulate
    before = len(post_accumulate._registry)
    w = dl.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(print)
    assert len(post_accumulate._registry) == before + 1
    del w
    assert len(post_accumulate._registry) == before
