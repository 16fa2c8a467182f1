"""A trace seals the float32 3x3 stride-1 conv weights whose Winograd filter transform eager
inference caches (dlcore/ops/conv.py's _seal_kwargs): the plan then holds the weight's array,
and an array held elsewhere cannot be sealed, so eager calls on a traced model compared the
cached transforms with the weights byte for byte on every call.  Checked: after a trace the
eager calls are trusted cache hits, agree with the plan, and still follow a weight that an
optimizer step or an in-place op changes."""
import numpy as np

import dlcore as dl
from dlcore import nn
from dlcore.autograd import sealed
from dlcore.ops.conv import conv_algorithm, winograd_cache_info
from test_conv import ref_conv2d

RNG = np.random.default_rng(11)


def _model():
    return nn.Sequential(nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(24, 8, 3, padding=1)).eval()


def _ref(m, x):
    h = ref_conv2d(x.astype(np.float64), m[0].weight.numpy().astype(np.float64),
                   m[0].bias.numpy().astype(np.float64), (1, 1), (1, 1))
    h = np.maximum(h, 0)
    return ref_conv2d(h, m[2].weight.numpy().astype(np.float64),
                      m[2].bias.numpy().astype(np.float64), (1, 1), (1, 1))


def test_eager_after_trace_trusts_the_cache():
    m = _model()
    x = RNG.standard_normal((1, 16, 13, 11)).astype(np.float32)
    with conv_algorithm("winograd"):
        plan = dl.jit.trace(m, [x]).plan(x)
        assert sealed.token(m[0].weight) and sealed.token(m[2].weight)
        winograd_cache_info(clear=True)
        with dl.no_grad():
            outs = [m(dl.tensor(x)).numpy() for _ in range(3)]
        info = winograd_cache_info()
    assert info["misses"] == 2 and info["hits"] == 4 and info["trusted"] == 4, info
    want = plan.run([x])[0]
    for y in outs:
        assert float(np.abs(y - want).max()) <= 1e-5 * float(np.abs(want).max())


def test_traced_weights_still_train_and_change():
    m = _model()
    x = RNG.standard_normal((1, 16, 9, 10)).astype(np.float32)
    xt = dl.tensor(x)
    with conv_algorithm("winograd"):
        dl.jit.trace(m, [x])

        def check():
            with dl.no_grad():
                got = m(xt).numpy()
            want = _ref(m, x)
            assert float(np.abs(got - want).max()) <= 1e-4 * float(np.abs(want).max())
        check()
        opt = dl.optim.SGD(m.parameters(), lr=0.1)
        m(xt).sum().backward()
        opt.step()              # the optimizer unseals the weights it writes
        check()
        with dl.no_grad():
            m[2].weight.mul_(-3.0)
        check()
