"""nn.Embedding / F.embedding: parity with torch (lookup and dense gradient), padding_idx,
max_norm, scale_grad_by_freq, from_pretrained, errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F


def test_lookup_and_gradient_match_torch(torch, rng):
    t = torch.nn.Embedding(11, 5, padding_idx=2).double()
    m = dl.nn.Embedding(11, 5, padding_idx=2, dtype=dl.float64)
    m.load_state_dict({"weight": t.weight.detach().numpy()})
    idx = rng.integers(0, 11, size=(4, 7))
    idx[0, :3] = 2
    idx[1, :] = 3  # repeated index: gradients add up
    yt, yo = t(torch.tensor(idx)), m(dl.tensor(idx))
    np.testing.assert_array_equal(yo.numpy(), yt.detach().numpy())
    g = rng.standard_normal((4, 7, 5))
    yt.backward(torch.tensor(g))
    yo.backward(dl.tensor(g))
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), atol=1e-12)
    assert np.all(m.weight.grad.numpy()[2] == 0)


def test_init_padding_row_zero_and_normal():
    dl.manual_seed(0)
    m = dl.nn.Embedding(1000, 8, padding_idx=-1)
    assert m.padding_idx == 999
    assert np.all(m.weight.numpy()[999] == 0)
    w = m.weight.numpy()[:999]
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05


def test_scale_grad_by_freq_and_max_norm_match_torch(torch, rng):
    w0 = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 1, 1, 5], [1, 0, 3, 3]])
    g = rng.standard_normal((2, 4, 4))
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w0), freeze=False, max_norm=1.5,
                                           scale_grad_by_freq=True)
    m = dl.nn.Embedding.from_pretrained(dl.tensor(w0), freeze=False, max_norm=1.5,
                                        scale_grad_by_freq=True)
    yt, yo = t(torch.tensor(idx)), m(dl.tensor(idx))
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.weight.numpy(), t.weight.detach().numpy(), rtol=1e-6)
    yt.backward(torch.tensor(g))
    yo.backward(dl.tensor(g))
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), atol=1e-12)


def test_from_pretrained_freeze_and_functional(rng):
    w = rng.standard_normal((5, 3)).astype(np.float32)
    m = dl.nn.Embedding.from_pretrained(dl.tensor(w))
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(dl.tensor([4, 0])).numpy(), w[[4, 0]])
    wt = dl.tensor(w, requires_grad=True)
    y = F.embedding(dl.tensor(np.array([[1, 1], [2, 0]])), wt)
    assert tuple(y.shape) == (2, 2, 3)
    y.sum().backward()
    np.testing.assert_array_equal(wt.grad.numpy()[:, 0], [1, 2, 1, 0, 0])


def test_gradcheck(rng):
    w = dl.tensor(rng.standard_normal((7, 3)), requires_grad=True)
    idx = dl.tensor(np.array([[0, 6, 6], [3, 2, 0]]))
    assert dl.autograd.gradcheck(lambda w: F.embedding(idx, w), (w,))


def test_errors():
    m = dl.nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        m(dl.tensor([0, 4]))
    with pytest.raises(IndexError, match="out of range"):
        m(dl.tensor([-1]))
    with pytest.raises(TypeError, match="integer"):
        m(dl.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        dl.nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="sparse"):
        dl.nn.Embedding(4, 2, sparse=True)
