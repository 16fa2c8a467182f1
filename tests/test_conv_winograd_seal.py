"""The sealed-weight scheme behind the Winograd filter-transform cache (dlcore/autograd/
sealed.py, csrc/winograd_cache.c): an eager inference conv seals its weight (read-only, a
token) and the cache then trusts its transform without reading the weights.  Every test
here tries to change a sealed weight some way and checks that the next cached call gives
the output of the new weights (im2col, no cache, is the reference) -- a stale transform would
be a silently wrong result."""
import copy

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.autograd import sealed
from dlcore.ops.conv import conv_algorithm, winograd_cache_info


@pytest.fixture(autouse=True)
def _empty_cache():
    winograd_cache_info(clear=True)
    yield
    winograd_cache_info(clear=True)


def snapshot(t):
    """t's values now, read without breaking a seal."""
    return np.array(t._data, copy=True)


def reference(x, w, pad=1):
    with conv_algorithm("im2col"):
        return F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, pad).numpy()


def infer(conv, x, algo="winograd4x4"):
    with conv_algorithm(algo), dl.no_grad():
        return conv(dl.tensor(x)).numpy()


def trusted():
    return winograd_cache_info()["trusted"]


def check(conv, x, algo="winograd4x4"):
    got = infer(conv, x, algo)
    want = reference(x, snapshot(conv.weight))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def sealed_conv(rng, algo="winograd4x4", cin=6, cout=10):
    """A conv whose weight is sealed and whose transform the cache trusts."""
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    x = rng.standard_normal((1, cin, 9, 9)).astype(np.float32)
    before = trusted()
    infer(conv, x, algo)
    infer(conv, x, algo)
    assert trusted() == before + 1, "the second call should trust the sealed weight"
    assert not conv.weight._data.flags.writeable
    return conv, x


@pytest.mark.parametrize("algo", ["winograd2x2", "winograd4x4"])
def test_a_sealed_weight_is_trusted_and_right(algo, rng, isa):
    conv, x = sealed_conv(rng, algo)
    for _ in range(3):
        check(conv, x, algo)
    info = winograd_cache_info()
    assert info["misses"] == 1 and info["trusted"] == info["hits"] == 4, info


_INPLACE = {
    "mul_": lambda w: w.mul_(-1.5),
    "add_": lambda w: w.add_(0.25),
    "sub_": lambda w: w.sub_(dl.ones(w.shape)),
    "copy_": lambda w: w.copy_(dl.tensor(np.arange(w.numel(), dtype=np.float32)
                                         .reshape(w.shape) / 100)),
    "fill_": lambda w: w.fill_(0.5),
    "zero_": lambda w: w.zero_(),
    "clamp_": lambda w: w.clamp_(-0.05, 0.05),
    "setitem": lambda w: w.__setitem__((0, 1), 7.0),
    "iadd": lambda w: w.__iadd__(1.0),
    "view_zero_": lambda w: w[2].zero_(),
    "reshape_view_setitem": lambda w: w.view(-1).__setitem__(5, 3.0),
    "data_add_": lambda w: w.data.add_(2.0),
    "detach_mul_": lambda w: w.detach().mul_(3.0),
    "uniform_": lambda w: w.uniform_(-1, 1),
    "normal_": lambda w: w.normal_(),
    "masked_fill_": lambda w: w.masked_fill_(w > 0, 0.0),
}


@pytest.mark.parametrize("name", sorted(_INPLACE))
def test_inplace_ops_under_no_grad(name, rng):
    conv, x = sealed_conv(rng)
    old = snapshot(conv.weight)
    with dl.no_grad():
        _INPLACE[name](conv.weight)
    assert not np.array_equal(snapshot(conv.weight), old), "the op should change the weight"
    check(conv, x)
    check(conv, x)     # and sealed again, under a new token


def test_rebinding_data(rng):
    conv, x = sealed_conv(rng)
    conv.weight.data = dl.tensor(rng.standard_normal((10, 6, 3, 3)).astype(np.float32))
    check(conv, x)
    conv.weight.data = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    check(conv, x)


@pytest.mark.parametrize("opt", ["SGD", "SGDm", "Adam", "AdamW", "RMSprop", "Adagrad",
                                 "Adadelta", "LBFGS"])
def test_optimizer_steps(opt, rng):
    conv, x = sealed_conv(rng)
    p = conv.parameters()
    o = {"SGD": lambda: dl.optim.SGD(p, lr=0.1),
         "SGDm": lambda: dl.optim.SGD(p, lr=0.1, momentum=0.9),
         "Adam": lambda: dl.optim.Adam(p, lr=0.1),
         "AdamW": lambda: dl.optim.AdamW(p, lr=0.1),
         "RMSprop": lambda: dl.optim.RMSprop(p, lr=0.1),
         "Adagrad": lambda: dl.optim.Adagrad(p, lr=0.1),
         "Adadelta": lambda: dl.optim.Adadelta(p, lr=10.0),
         "LBFGS": lambda: dl.optim.LBFGS(p, lr=0.5, max_iter=2)}[opt]()

    def closure():
        o.zero_grad()
        loss = (conv(dl.tensor(x)) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(2):
        old = snapshot(conv.weight)
        o.step(closure) if opt == "LBFGS" else (closure(), o.step())
        assert not np.array_equal(snapshot(conv.weight), old)
        check(conv, x)
        check(conv, x)


@pytest.mark.parametrize("assign", [False, True])
def test_load_state_dict(assign, rng):
    conv, x = sealed_conv(rng)
    new = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    conv.load_state_dict({"weight": dl.tensor(new)}, assign=assign)
    np.testing.assert_array_equal(snapshot(conv.weight), new)
    check(conv, x)


def test_load_state_dict_writes_into_the_same_memory(rng):
    """Unsealing keeps aliasing: a tensor sharing the weight's array sees the load."""
    conv, x = sealed_conv(rng)
    alias = conv.weight.detach()
    new = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    conv.load_state_dict({"weight": dl.tensor(new)})
    np.testing.assert_array_equal(snapshot(alias), new)
    check(conv, x)


@pytest.mark.parametrize("init", ["uniform_", "normal_", "trunc_normal_", "constant_",
                                  "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
                                  "kaiming_uniform_", "kaiming_normal_", "orthogonal_"])
def test_nn_init(init, rng):
    conv, x = sealed_conv(rng)
    fn = getattr(nn.init, init)
    fn(conv.weight, 0.3) if init == "constant_" else fn(conv.weight)
    check(conv, x)


def test_writes_through_numpy_and_asarray(rng):
    conv, x = sealed_conv(rng)
    conv.weight.numpy()[0, 0, 0, 0] += 5.0            # a temporary handed-out array
    check(conv, x)
    check(conv, x)                                     # sealed again...
    np.asarray(conv.weight)[1, 1, 1, 1] -= 5.0         # ...and handed out again
    check(conv, x)
    held = conv.weight.numpy()                         # a held one: no seal while it lives
    check(conv, x)
    held[2, 2, 2, 2] = 9.0
    check(conv, x)
    held[...] *= -1
    check(conv, x)
    assert held.flags.writeable


def test_a_handed_out_array_is_writeable(rng):
    conv, x = sealed_conv(rng)
    assert conv.weight.numpy().flags.writeable
    conv2, _ = sealed_conv(rng)
    assert np.asarray(conv2.weight).flags.writeable


def test_raw_private_writes_are_refused_not_lost(rng):
    """`t._data` is the engine's own field: a write through it on a sealed weight raises
    NumPy's read-only error instead of leaving a stale transform behind."""
    conv, x = sealed_conv(rng)
    with pytest.raises(ValueError, match="read-only"):
        conv.weight._data[0, 0, 0, 0] = 1.0
    check(conv, x)


def test_storage_shared_with_a_user_array_is_never_sealed(rng):
    a = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    w = dl.from_numpy(a)
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    with conv_algorithm("winograd4x4"), dl.no_grad():
        for i in range(3):
            a[i, 0, 0, 0] += 1.0                       # the user's own array, written
            got = F.conv2d(dl.tensor(x), w, None, 1, 1).numpy()
            np.testing.assert_allclose(got, reference(x, a.copy()), rtol=1e-4, atol=1e-4)
    assert a.flags.writeable
    assert winograd_cache_info()["trusted"] == 0


def test_a_view_weight_is_never_sealed(rng):
    big = dl.tensor(rng.standard_normal((20, 6, 3, 3)).astype(np.float32))
    w = big[:10]
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    with conv_algorithm("winograd4x4"), dl.no_grad():
        F.conv2d(dl.tensor(x), w, None, 1, 1)
        big.mul_(2.0)
        got = F.conv2d(dl.tensor(x), w, None, 1, 1).numpy()
    np.testing.assert_allclose(got, reference(x, snapshot(w)), rtol=1e-4, atol=1e-4)
    assert winograd_cache_info()["trusted"] == 0


def test_an_earlier_view_blocks_the_seal(rng):
    """A writeable view made before the seal would bypass it: the weight is not sealed
    while one lives."""
    conv = nn.Conv2d(6, 10, 3, padding=1, bias=False)
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    v = conv.weight._data[3]
    for i in range(3):
        infer(conv, x)
        v[...] += 1.0
        check(conv, x)
    assert winograd_cache_info()["trusted"] == 0


def test_state_dict_tensors_and_aliases(rng):
    conv, x = sealed_conv(rng)
    sd = conv.state_dict()
    with dl.no_grad():
        sd["weight"].mul_(0.5)
    check(conv, x)
    sd["weight"].copy_(dl.zeros((10, 6, 3, 3)))
    check(conv, x)
    del sd
    check(conv, x)


def test_dtype_round_trips_and_copies(rng):
    conv, x = sealed_conv(rng)
    conv.double()
    with dl.no_grad():
        conv.weight.mul_(2.0)
    conv.float()
    check(conv, x)
    clone = copy.deepcopy(conv)
    assert clone.weight._data.flags.writeable
    with dl.no_grad():
        clone.weight.add_(1.0)
    check(clone, x)
    check(conv, x)


def test_vector_to_parameters(rng):
    conv, x = sealed_conv(rng)
    vec = nn.utils.parameters_to_vector(conv.parameters())
    nn.utils.vector_to_parameters(vec * 3.0, conv.parameters())
    check(conv, x)


def test_a_freed_weight_leaves_nothing_a_new_one_could_hit(rng):
    """A new weight at the address of a freed sealed one gets a new token."""
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    for _ in range(4):
        conv, _ = sealed_conv(rng)
        del conv
        conv = nn.Conv2d(6, 10, 3, padding=1, bias=False)
        check(conv, x)
        check(conv, x)


def test_conv_transpose2d_sealed_weight(rng):
    w = dl.tensor(rng.standard_normal((6, 8, 3, 3)).astype(np.float32))
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)

    def run(algo):
        with conv_algorithm(algo), dl.no_grad():
            return F.conv_transpose2d(dl.tensor(x), w, None, 1, 1).numpy()

    run("winograd4x4")
    run("winograd4x4")
    assert winograd_cache_info()["trusted"] == 1
    with dl.no_grad():
        w[0].mul_(-2.0)
    np.testing.assert_allclose(run("winograd4x4"), run("im2col"), rtol=1e-4, atol=1e-4)


def test_training_calls_do_not_seal(rng):
    conv = nn.Conv2d(6, 10, 3, padding=1, bias=False)
    x = dl.tensor(rng.standard_normal((1, 6, 9, 9)).astype(np.float32))
    with conv_algorithm("winograd4x4"):
        conv(x).sum().backward()
    assert conv.weight._data.flags.writeable


def test_writable_leaves_other_read_only_arrays_alone():
    a = np.zeros(4, np.float32)
    a.flags.writeable = False
    assert not sealed.writable(a) and not a.flags.writeable
    b = np.broadcast_to(np.zeros(1, np.float32), (4,))
    assert not sealed.writable(b)
    t = dl.tensor(np.zeros((2, 3), np.float32))
    assert sealed.token(t) > 0
    e = np.broadcast_to(t._data[:1], (2, 3))
    assert not sealed.writable(e)          # a broadcast view stays read-only
    assert t._data.flags.writeable         # (the root was unsealed by the attempt)
