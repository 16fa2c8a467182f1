"""alpha_dropout / feature_alpha_dropout, gumbel_softmax, local_response_norm, lp_pool1d/2d/3d,
multi_margin_loss, multilabel_margin_loss and their layers (AlphaDropout, FeatureAlphaDropout,
LocalResponseNorm, CrossMapLRN2d, LPPool*, MultiMarginLoss, MultiLabelMarginLoss, NLLLoss2d):
torch parity (values and gradients), float64 finite differences, the statistics the random
ones promise, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")
F, TF = dl.nn.functional, torch.nn.functional
RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 6, 7, 5))


# ------------------------------------------------------------------ local response norm
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("shape", [(2, 6, 7), (2, 6, 7, 5), (2, 4, 3, 3, 2)])
def test_local_response_norm_matches_torch(size, shape):
    x = np.random.default_rng(size).standard_normal(shape)
    check(lambda x: F.local_response_norm(x, size, 1e-2, 0.6, 2.0),
          lambda x: TF.local_response_norm(x, size, 1e-2, 0.6, 2.0), [x])


@pytest.mark.parametrize("size,C", [(1, 3), (2, 1), (3, 6), (4, 9), (5, 3), (7, 9)])
def test_cross_map_lrn2d_matches_torch_forward(size, C):
    """torch's CrossMapLRN2d backward does not run for every shape (C=1) and is not its
    forward's gradient, so the forward is compared and ours is finite-differenced."""
    x = np.random.default_rng(C).standard_normal((2, C, 3, 4)).astype(np.float32)
    a = dl.nn.CrossMapLRN2d(size, 0.1, 0.7, 2)(dl.tensor(x)).numpy()
    b = torch.nn.CrossMapLRN2d(size, 0.1, 0.7, 2)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    m = dl.nn.CrossMapLRN2d(size, 0.1, 0.7, 2)
    gradcheck(m, [np.random.default_rng(1).standard_normal((1, C, 2, 2))])


@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_lp_pool_matches_torch(p):
    xp = np.abs(X4) + 0.1
    check(lambda x: F.lp_pool2d(x, p, (3, 2), 2, True),
          lambda x: TF.lp_pool2d(x, p, (3, 2), 2, True), [xp])
    check(lambda x: F.lp_pool1d(x, p, 3), lambda x: TF.lp_pool1d(x, p, 3), [xp[:, :, 0]])
    check(lambda x: F.lp_pool3d(x, p, 2, 1), lambda x: TF.lp_pool3d(x, p, 2, 1), [xp])


def test_lp_pool_signed_input_matches_torch():
    check(lambda x: F.lp_pool2d(x, 2, 2), lambda x: TF.lp_pool2d(x, 2, 2), [X4])


def test_gradcheck():
    gradcheck(lambda x: F.local_response_norm(x, 3, 0.1), [X4[:1, :, :3, :2]])
    gradcheck(lambda x: F.lp_pool2d(x, 2.5, 2), [np.abs(X4[:1, :2]) + 0.1])
    gradcheck(lambda x: F.lp_pool1d(x, 2, 2, 1), [np.abs(X4[:1, :2, 0]) + 0.1])


@pytest.mark.parametrize("name,args", [
    ("LocalResponseNorm", (3,)), ("LocalResponseNorm", (4, 0.01, 0.5, 1.5)),
    ("LPPool1d", (2, 3)), ("LPPool2d", (2, (2, 3), 1)), ("LPPool3d", (3, 2))])
def test_layers_match_torch(name, args):
    shape = {"LPPool1d": (2, 3, 9), "LPPool3d": (1, 2, 4, 4, 5)}.get(name, (2, 5, 6, 4))
    x = (np.abs(RNG.standard_normal(shape)) + 0.1).astype(np.float32)
    ours, theirs = getattr(dl.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, [x], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- losses
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(p, reduction, weighted):
    x = RNG.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    w = np.array([0.5, 2.0, 1.0, 0.3]) if weighted else None
    check(lambda x: F.multi_margin_loss(x, dl.tensor(y), p, 0.7,
                                        None if w is None else dl.tensor(w),
                                        reduction=reduction),
          lambda x: TF.multi_margin_loss(x, torch.tensor(y), p, 0.7,
                                         None if w is None else torch.tensor(w),
                                         reduction=reduction), [x])
    check(lambda x: F.multi_margin_loss(x, dl.tensor(np.array(2)), p, reduction=reduction),
          lambda x: TF.multi_margin_loss(x, torch.tensor(2), p, reduction=reduction), [x[0]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss_matches_torch(reduction):
    x = RNG.standard_normal((5, 4))
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 2], [-1, 0, 0, 0], [2, 2, 0, -1]])
    check(lambda x: F.multilabel_margin_loss(x, dl.tensor(t), reduction=reduction),
          lambda x: TF.multilabel_margin_loss(x, torch.tensor(t), reduction=reduction), [x])
    check(lambda x: F.multilabel_margin_loss(x, dl.tensor(t[0]), reduction=reduction),
          lambda x: TF.multilabel_margin_loss(x, torch.tensor(t[0]), reduction=reduction),
          [x[0]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_losses_take_a_0d_input_as_torch(reduction):
    # torch reads a 0-d input as one sample of one class (a zero loss with a zero gradient)
    x = np.array(0.7)
    check(lambda x: F.multi_margin_loss(x, dl.tensor(np.array(0)), reduction=reduction),
          lambda x: TF.multi_margin_loss(x, torch.tensor(0), reduction=reduction), [x])
    for t in (0, -1):
        check(lambda x: F.multilabel_margin_loss(x, dl.tensor(np.array(t)), reduction=reduction),
              lambda x: TF.multilabel_margin_loss(x, torch.tensor(t), reduction=reduction), [x])
    with pytest.raises(IndexError):
        F.multi_margin_loss(dl.tensor(0.7), dl.tensor(1))


def test_loss_gradcheck_and_layers():
    x = RNG.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 2], [-1, 0, 0, 0], [2, 2, 0, -1]])
    gradcheck(lambda x: F.multilabel_margin_loss(x, dl.tensor(t)), [x])
    wc = dl.tensor(np.array([0.5, 2.0, 1.0, 0.3]))
    gradcheck(lambda x: F.multi_margin_loss(x, dl.tensor(y), 2, weight=wc), [x])
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    ours = dl.nn.MultiMarginLoss(p=2, margin=0.5, weight=dl.tensor(w))
    theirs = torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    xf = x.astype(np.float32)
    check(ours, theirs, [xf, y], rtol=1e-5, atol=1e-6)
    check(dl.nn.MultiLabelMarginLoss(reduction="sum"),
          torch.nn.MultiLabelMarginLoss(reduction="sum"), [xf, t], rtol=1e-5, atol=1e-6)
    lp = np.log(np.full((2, 3, 2, 2), 1 / 3, np.float32))
    tgt = np.zeros((2, 2, 2), np.int64)
    check(dl.nn.NLLLoss2d(), torch.nn.NLLLoss2d(), [lp, tgt], rtol=1e-6)


@pytest.mark.parametrize("call,exc", [
    (lambda L: L.nn.functional.multi_margin_loss(L.zeros(2, 3), L.tensor([0, 1]), p=3),
     ValueError),
    (lambda L: L.nn.functional.multi_margin_loss(L.zeros(2, 3), L.tensor([0, 3])),
     (IndexError, RuntimeError)),
    (lambda L: L.nn.functional.multi_margin_loss(L.zeros(2, 3), L.tensor([0, 1, 2])),
     (ValueError, RuntimeError)),
    (lambda L: L.nn.functional.multilabel_margin_loss(L.zeros(2, 3), L.tensor([[0, 5, 1],
                                                                                  [0, 1, 2]])),
     (IndexError, RuntimeError)),
    (lambda L: L.nn.functional.multilabel_margin_loss(L.zeros(2, 3), L.tensor([0, 1])),
     (ValueError, RuntimeError)),
    (lambda L: L.nn.functional.local_response_norm(L.zeros(2, 3), 2), ValueError),
    (lambda L: L.nn.functional.alpha_dropout(L.zeros(2, 3), 1.5, True), ValueError),
])
def test_bad_arguments_raise_like_torch(call, exc):
    for lib in (dl, torch):
        with pytest.raises(exc):
            call(lib)


# ------------------------------------------------------------------ random layers
def test_alpha_dropout_keeps_selu_statistics():
    dl.manual_seed(0)
    x = dl.randn(200000)
    for p in (0.1, 0.5):
        y = F.alpha_dropout(x, p, training=True).numpy()
        assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
        # dropped units all sit at one value, a * alpha' * (p - 1), as torch's
        a = 1 / np.sqrt((1.7580993408473766 ** 2 * p + 1) * (1 - p))
        dropped = np.isclose(y, a * 1.7580993408473766 * (p - 1), atol=1e-6)
        assert abs(dropped.mean() - p) < 0.01
        ty = TF.alpha_dropout(torch.randn(200000), p, training=True).numpy()
        assert abs(np.isclose(ty, a * 1.7580993408473766 * (p - 1), atol=1e-6).mean() - p) < 0.01
    assert F.alpha_dropout(x, 0.5, training=False) is x
    assert np.all(F.alpha_dropout(x[:10], 1.0, True).numpy() == 0)


def test_feature_alpha_dropout_drops_whole_maps_and_trains():
    dl.manual_seed(1)
    x = dl.randn(8, 6, 5, 5, requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.5, training=True)
    arr = y.detach().numpy().reshape(8, 6, -1)
    const = np.ptp(arr, axis=2) == 0
    assert 0 < const.mean() < 1        # some maps dropped whole, others kept
    y.sum().backward()
    g = x.grad.numpy().reshape(8, 6, -1)
    assert np.all(g[const] == 0) and np.all(g[~const] > 0)
    m = dl.nn.FeatureAlphaDropout(0.2)
    assert repr(m) == repr(torch.nn.FeatureAlphaDropout(0.2))
    m.eval()
    assert m(x) is x


def test_alpha_dropout_layer_and_gradient():
    dl.manual_seed(2)
    m = dl.nn.AlphaDropout(0.3)
    assert repr(m) == repr(torch.nn.AlphaDropout(0.3))
    x = dl.randn(50, 40, requires_grad=True)
    y = m(x)
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    kept = x.grad.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy()[kept], a, rtol=1e-6)
    np.testing.assert_allclose(y.detach().numpy()[kept],
                               a * x.detach().numpy()[kept] + a * 1.7580993408473766 * 0.3,
                               rtol=1e-5, atol=1e-6)


def test_gumbel_softmax():
    dl.manual_seed(0)
    logits = dl.tensor(np.log(np.array([[0.1, 0.6, 0.3]] * 20000)), requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5, hard=True)
    arr = y.detach().numpy()
    assert np.all(arr.sum(1) == 1) and set(np.unique(arr)) <= {0.0, 1.0}
    np.testing.assert_allclose(arr.mean(0), [0.1, 0.6, 0.3], atol=0.015)  # Gumbel-max
    w = dl.tensor(np.random.default_rng(0).standard_normal((20000, 3)))
    (y * w).sum().backward()
    assert np.abs(logits.grad.numpy()).sum() > 0  # straight-through gradient of the soft y
    s = F.gumbel_softmax(dl.randn(4, 5, 3), tau=2.0, dim=1)
    np.testing.assert_allclose(s.numpy().sum(1), 1.0, rtol=1e-6)
    with pytest.raises(TypeError):
        F.gumbel_softmax(dl.tensor([1, 2]))
