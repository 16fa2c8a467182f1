"""nn.utils.skip_init (PyTorch's name): a module built without initialising its parameters
draws nothing from the random stream, and a model loaded from a checkpoint that way equals one
initialised first and then loaded."""
import numpy as np

import dlcore as dl
from dlcore import nn
from dlcore.nn.utils import skip_init


def _draw():
    return dl.rand(5).numpy()


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin, self.emb, self.lstm = nn.Linear(3, width), nn.Embedding(6, 2), nn.LSTM(2, 3)


def test_skip_init_draws_nothing_and_keeps_the_structure():
    dl.manual_seed(7)
    expected = _draw()
    dl.manual_seed(7)
    m = skip_init(Net, width=4)
    np.testing.assert_array_equal(_draw(), expected)
    ref = Net(4)
    assert {k: v.shape for k, v in m.state_dict().items()} == \
        {k: v.shape for k, v in ref.state_dict().items()}
    # outside the call the init functions work again, in this thread as in others
    lin = nn.Linear(3, 4)
    assert np.abs(lin.weight.numpy()).max() > 0


def test_skip_init_then_load_equals_init_then_load():
    dl.manual_seed(0)
    src = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    sd = src.state_dict()
    a = skip_init(lambda: nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2)))
    a.load_state_dict(sd)
    x = dl.randn(3, 4)
    with dl.no_grad():
        np.testing.assert_array_equal(a(x).numpy(), src(x).numpy())


def test_skip_init_restores_the_flag_after_an_error():
    def broken():
        raise RuntimeError("constructor failed")
    try:
        skip_init(broken)
    except RuntimeError:
        pass
    dl.manual_seed(1)
    w = nn.Linear(2, 2).weight.numpy()
    assert np.abs(w).max() > 0 and np.isfinite(w).all()
