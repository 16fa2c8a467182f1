"""A leaf reached twice in one backward pass: its first gradient may be the very array another
node is still waiting on (an add hands the same gradient to both inputs), so the second one
must not be added into it in place.  Found by torch's poisson_nll_loss samples; gradients
compared with torch's."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

X0 = np.array([4.8270, 7.5824, 0.6047])
Y0 = np.array([7.2880, 0.3422, 6.5888])
G0 = np.array([1.0, -2.0, 0.5])


def shared_add_gradient(m, x, y):
    return x - y * (x + 1e-8).log() + y * 1.0


def leaf_three_times(m, x, y):
    return (x + y) + x * y + (x - 1.0).exp() * 0.0 + x


@pytest.mark.parametrize("f", [shared_add_gradient, leaf_three_times])
def test_gradients_match_torch_first_pass_and_accumulated(f):
    res = []
    for m in (dl, torch):
        x = m.tensor(X0.copy(), dtype=m.float64, requires_grad=True)
        y = m.tensor(Y0.copy(), dtype=m.float64, requires_grad=True)
        g = m.tensor(G0.copy(), dtype=m.float64)
        (f(m, x, y) * g).sum().backward()
        first = (x.grad.numpy().copy(), y.grad.numpy().copy())
        (f(m, x, y) * g).sum().backward()  # accumulated into the existing .grad
        res.append(first + (x.grad.numpy().copy(), y.grad.numpy().copy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12)
