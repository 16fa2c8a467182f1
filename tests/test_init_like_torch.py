"""Initialisation equal to torch's in distribution: for every parameter and buffer of each
module whose torch counterpart initialises its own weights, the same shapes, and (with the two
libraries' generators unrelated) the same law — constants equal, uniform bounds and standard
deviations within sampling tolerance over large layers."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn

torch = pytest.importorskip("torch")

CASES = {
    "Linear": lambda m: m.Linear(300, 400),
    "Linear_nobias": lambda m: m.Linear(500, 200, bias=False),
    "Conv1d": lambda m: m.Conv1d(16, 64, 5),
    "Conv2d": lambda m: m.Conv2d(16, 64, 5),
    "Conv2d_groups": lambda m: m.Conv2d(32, 64, 3, groups=4),
    "ConvTranspose2d": lambda m: m.ConvTranspose2d(32, 48, 4),
    "Embedding": lambda m: m.Embedding(2000, 64),
    "BatchNorm1d": lambda m: m.BatchNorm1d(64),
    "BatchNorm2d": lambda m: m.BatchNorm2d(64),
    "LayerNorm": lambda m: m.LayerNorm(64),
    "RNN": lambda m: m.RNN(64, 96, num_layers=2),
    "LSTM": lambda m: m.LSTM(64, 96, num_layers=2, bidirectional=True),
    "GRU": lambda m: m.GRU(64, 96, batch_first=True),
    "RNNCell": lambda m: m.RNNCell(64, 128),
    "LSTMCell": lambda m: m.LSTMCell(64, 128),
    "GRUCell": lambda m: m.GRUCell(64, 128),
    "MultiheadAttention": lambda m: m.MultiheadAttention(128, 8),
    "MultiheadAttention_kv": lambda m: m.MultiheadAttention(128, 8, kdim=64, vdim=96),
    "TransformerEncoderLayer": lambda m: m.TransformerEncoderLayer(128, 8, 256),
    "TransformerDecoderLayer": lambda m: m.TransformerDecoderLayer(128, 8, 256),
    "Transformer": lambda m: m.Transformer(64, 4, 2, 2, 128),
}


def _entries(module, lib):
    out = dict(module.named_parameters())
    out.update(dict(module.named_buffers()))
    return {k: np.asarray(v.detach().numpy() if lib is torch else v.numpy(), np.float64)
            for k, v in out.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_initial_values_follow_torchs_law(name):
    dl.manual_seed(1)
    torch.manual_seed(2)  # different streams: compare laws, not values
    build = CASES[name]
    try:
        ours = build(nn)
    except AttributeError as e:
        pytest.skip("dlcore has no %s (%s)" % (name, e))
    theirs = build(torch.nn)
    a, b = _entries(ours, dl), _entries(theirs, torch)
    assert sorted(a) == sorted(b), name
    for key in b:
        x, y = a[key], b[key]
        what = "%s.%s" % (name, key)
        assert x.shape == y.shape, what
        if y.size == 0:
            continue
        if np.all(y == y.flat[0]):  # a constant (ones, zeros, a counter)
            np.testing.assert_array_equal(x, y, err_msg=what)
            continue
        # the same spread: std within sampling error (relative error of a std estimate over n
        # samples is about 1/sqrt(2n); allow 6 of those plus 1%)
        tol = 6.0 / np.sqrt(2.0 * y.size) + 0.01
        assert abs(x.std() / y.std() - 1) < tol, (what, x.std(), y.std())
        assert abs(x.mean() - y.mean()) < 6 * y.std() / np.sqrt(y.size) + 1e-12, what
        # uniform laws share their bounds: torch's largest |value| is within about b/n of its
        # bound b (short by more than 12 b/n with probability e^-12), and so is ours
        if _looks_uniform(y):
            bound = np.abs(y).max()
            assert np.abs(x).max() <= bound * (1 + 12.0 / y.size) + 1e-7, what
            assert np.abs(x).max() >= bound * (1 - 12.0 / y.size) - 1e-7, what


def _looks_uniform(v):
    # a uniform(-b, b) sample has max|v| / std close to sqrt(3); a normal one goes far past it
    return v.size >= 100 and np.abs(v).max() / v.std() < 1.8


def test_transformer_reinitialises_matrices_with_xavier():
    dl.manual_seed(0)
    t = nn.Transformer(64, 4, 1, 1, 128)
    w = t.encoder.layers[0].linear1.weight.numpy()  # (128, 64): Linear's default would be
    bound = np.sqrt(6.0 / (64 + 128))                 # kaiming-uniform, bound 1/sqrt(64)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(w).max() > 1 / np.sqrt(64)
    # biases and LayerNorm vectors keep their own init
    assert np.all(t.encoder.layers[0].norm1.weight.numpy() == 1)
    b = t.encoder.layers[0].linear1.bias.numpy()
    assert np.abs(b).max() <= 1 / np.sqrt(64)


def test_encoder_layers_start_as_copies_as_in_torch():
    # torch's TransformerEncoder deep-copies its layer, so every layer starts identical
    for lib in (dl, torch):
        m = (nn if lib is dl else torch.nn)
        enc = m.TransformerEncoder(m.TransformerEncoderLayer(32, 4, 64), 3)
        w0 = enc.layers[0].linear1.weight.detach().numpy()
        w2 = enc.layers[2].linear1.weight.detach().numpy()
        np.testing.assert_array_equal(w0, w2)
