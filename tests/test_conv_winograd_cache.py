"""The Winograd filter-transform cache (csrc/winograd_cache.c): calls that record no gradient
reuse a layer's transformed filters while the weights are unchanged, and never serve a stale
transform however the weights changed (in-place ops, optimizer steps, load_state_dict, writes
through .numpy()); calls that record a gradient never touch it."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.ops.conv import conv_algorithm, winograd_cache_info

TILES = ("winograd2x2", "winograd4x4")


def reference(x, w, pad):
    with conv_algorithm("im2col"):
        return F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, pad).numpy()


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


@pytest.fixture(autouse=True)
def _empty_cache():
    winograd_cache_info(clear=True)
    yield
    winograd_cache_info(clear=True)


@pytest.mark.parametrize("algo", TILES)
def test_inference_reuses_the_transform(isa, threads, algo, rng):
    x = rng.standard_normal((2, 13, 11, 9)).astype(np.float32)
    w = dl.tensor(rng.standard_normal((17, 13, 3, 3)).astype(np.float32))
    want = reference(x, w.numpy(), 1)
    with conv_algorithm(algo), dl.no_grad():
        outs = [F.conv2d(dl.tensor(x), w, None, 1, 1).numpy() for _ in range(3)]
    info = winograd_cache_info()
    assert info["entries"] == 1 and info["hits"] == 2 and info["misses"] == 1, info
    assert info["bytes"] > w.numpy().nbytes
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[2], outs[0])
    assert rel_err(outs[0], want) < 1e-5


@pytest.mark.parametrize("algo", TILES)
def test_changed_weights_are_never_served_stale(algo, rng):
    """Writes that no version counter sees (through .numpy(), an optimizer step,
    load_state_dict's copy) still give the new weights' output."""
    x = rng.standard_normal((1, 8, 10, 10)).astype(np.float32)
    conv = nn.Conv2d(8, 12, 3, padding=1, bias=False)
    opt = dl.optim.SGD(conv.parameters(), lr=0.5)

    def infer():
        with conv_algorithm(algo), dl.no_grad():
            return conv(dl.tensor(x)).numpy()

    infer()
    conv.weight.numpy()[3, 2, 1, 1] += 1.0                      # a raw write
    assert rel_err(infer(), reference(x, conv.weight.numpy(), 1)) < 1e-5
    with conv_algorithm(algo):                                  # a training step
        conv(dl.tensor(x)).sum().backward()
    opt.step()
    assert rel_err(infer(), reference(x, conv.weight.numpy(), 1)) < 1e-5
    new = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    conv.load_state_dict({"weight": dl.tensor(new)})            # copied into the same array
    assert rel_err(infer(), reference(x, new, 1)) < 1e-5
    with dl.no_grad():
        conv.weight.mul_(-1.0)                                  # an in-place op
    assert rel_err(infer(), reference(x, -new, 1)) < 1e-5


def test_recorded_calls_do_not_use_the_cache(rng):
    x = dl.tensor(rng.standard_normal((2, 8, 9, 9)).astype(np.float32), requires_grad=True)
    w = dl.tensor(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), requires_grad=True)
    with conv_algorithm("winograd"):
        F.conv2d(x, w, None, 1, 1).sum().backward()
        F.conv2d(x, w, None, 1, 1).sum().backward()
    assert winograd_cache_info() == dict(entries=0, bytes=0, hits=0, misses=0, trusted=0)


def test_conv_transpose2d_inference_uses_it_too(rng):
    x = rng.standard_normal((2, 9, 8, 7)).astype(np.float32)
    w = dl.tensor(rng.standard_normal((9, 5, 3, 3)).astype(np.float32))
    with conv_algorithm("im2col"):
        want = F.conv_transpose2d(dl.tensor(x), w, None, 1, 1).numpy()
    with conv_algorithm("winograd"), dl.no_grad():
        a = F.conv_transpose2d(dl.tensor(x), w, None, 1, 1).numpy()
        b = F.conv_transpose2d(dl.tensor(x), w, None, 1, 1).numpy()
    assert winograd_cache_info()["hits"] == 1
    np.testing.assert_array_equal(a, b)
    assert rel_err(a, want) < 1e-5


def test_nonfinite_weights_are_not_cached(rng):
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    w[1, 2, 0, 0] = np.inf
    with conv_algorithm("winograd"), dl.no_grad():
        got = F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, 1).numpy()
    assert winograd_cache_info()["entries"] == 0
    np.testing.assert_array_equal(got, reference(x, w, 1))


def test_clear_empties_it(rng):
    w = dl.tensor(rng.standard_normal((6, 6, 3, 3)).astype(np.float32))
    with conv_algorithm("winograd"), dl.no_grad():
        F.conv2d(dl.tensor(rng.standard_normal((1, 6, 8, 8)).astype(np.float32)), w, None, 1, 1)
    assert winograd_cache_info()["entries"] == 1
    assert winograd_cache_info(clear=True) == dict(entries=0, bytes=0, hits=0, misses=0,
                                                   trusted=0)
