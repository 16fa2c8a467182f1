"""dl.autograd.Variable behaves as torch.autograd.Variable does since 0.4: a detached leaf
sharing storage, requires_grad as asked, isinstance true for every tensor; checked against
torch where it is installed."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import Variable


def test_variable_is_a_detached_leaf_sharing_storage():
    t = dl.ones(3, requires_grad=True)
    v = Variable(t)
    assert isinstance(v, dl.Tensor) and not v.requires_grad and v.is_leaf and v is not t
    x = dl.zeros(2)
    Variable(x).add_(1)
    np.testing.assert_array_equal(x.numpy(), [1, 1])
    w = Variable(t * 2, requires_grad=True)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4, 4, 4])
    assert t.grad is None


def test_variable_isinstance_empty_and_errors():
    assert isinstance(dl.ones(1), Variable) and isinstance(dl.nn.Parameter(dl.ones(1)), Variable)
    assert not isinstance(np.ones(1), Variable) and not issubclass(dl.Tensor, Variable)
    e = Variable()
    assert tuple(e.shape) == (0,) and e.dtype == dl.float32
    with pytest.raises(TypeError, match="has to be a tensor, but got list"):
        Variable([1, 2])
    with pytest.raises(RuntimeError):
        Variable(dl.ones(2, dtype=dl.int64), requires_grad=True)
    with pytest.warns(UserWarning, match="volatile"):
        Variable(dl.ones(2), volatile=True)


def test_variable_matches_torch(torch):
    from torch.autograd import Variable as TV
    for rg in (False, True):
        a, b = Variable(dl.ones(2, requires_grad=True), rg), TV(torch.ones(2, requires_grad=True), rg)
        assert (a.requires_grad, a.is_leaf) == (b.requires_grad, b.is_leaf)
    with pytest.raises(RuntimeError):
        TV(torch.ones(2, dtype=torch.long), requires_grad=True)
