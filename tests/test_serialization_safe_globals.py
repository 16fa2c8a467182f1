"""dl.serialization's allowlist: dl.load (weights_only=True) rebuilds a whole saved module only
when every class and function in the file is allowlisted, as torch.serialization does."""
import pickle

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.act = F.relu

    def forward(self, x):
        return self.act(self.fc(x))


@pytest.fixture
def saved(tmp_path):
    dl.manual_seed(0)
    m = Net()
    p = tmp_path / "m.pt"
    dl.save(m, p)
    return m, p


def test_default_refuses_naming_the_class(saved):
    _, p = saved
    with pytest.raises(pickle.UnpicklingError, match="Net.*safe_globals"):
        dl.load(p)


def test_context_manager_allows_exactly_the_listed(saved):
    m, p = saved
    with dl.serialization.safe_globals([Net, nn.Linear]):  # F.relu missing
        with pytest.raises(pickle.UnpicklingError, match="function .*relu"):
            dl.load(p)
    with dl.serialization.safe_globals([Net, nn.Linear, F.relu]):
        assert dl.serialization.get_unsafe_globals_in_checkpoint(p) == []
        m2 = dl.load(p)
    x = dl.randn(4, 3)
    np.testing.assert_array_equal(m2(x).numpy(), m(x).numpy())
    with pytest.raises(pickle.UnpicklingError):  # the block's list is gone after it
        dl.load(p)
    assert dl.serialization.get_unsafe_globals_in_checkpoint(p) == [
        "dlcore.nn.modules.linear.Linear", "dlcore.ops.activation.relu",
        "%s.Net" % __name__]


def test_add_and_clear(saved):
    m, p = saved
    dl.serialization.add_safe_globals([Net, nn.Linear, F.relu])
    try:
        assert Net in dl.serialization.get_safe_globals()
        assert isinstance(dl.load(p), Net)
    finally:
        dl.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        dl.load(p)


def test_entries_must_be_classes_or_functions():
    with pytest.raises(TypeError, match="not a class or function"):
        dl.serialization.add_safe_globals([3])


def test_torch_has_the_same_names(torch):
    for name in dl.serialization.__all__:
        assert hasattr(torch.serialization, name), name
