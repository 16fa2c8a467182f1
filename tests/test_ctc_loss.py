"""F.ctc_loss / nn.CTCLoss against torch: padded and concatenated targets, per-sample input
lengths, blank other than 0, reductions, impossible alignments (inf, or 0 with
zero_infinity), unbatched input, gradients through log_softmax, float64 finite differences of
the loss itself, training, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
F, TF = dl.nn.functional, torch.nn.functional
RNG = np.random.default_rng(0)
T, N, C = 12, 3, 5
LOGITS = RNG.standard_normal((T, N, C))
TG = np.array([[1, 2, 2, 0], [3, 1, 4, 2], [4, 0, 0, 0]])
TL, IL = np.array([3, 4, 1]), np.array([12, 9, 5])


def _both(fn_args):
    return (lambda x: F.ctc_loss(x.log_softmax(2), *[dl.tensor(a) for a in fn_args[0]],
                                 **fn_args[1]),
            lambda x: TF.ctc_loss(x.log_softmax(2), *[torch.tensor(a) for a in fn_args[0]],
                                  **fn_args[1]))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_padded_targets_match_torch(reduction):
    d, t = _both(((TG, IL, TL), dict(reduction=reduction)))
    check(d, t, [LOGITS])


def test_concatenated_targets_and_blank_match_torch():
    flat = np.array([1, 2, 2, 3, 1, 4, 2, 4])
    d, t = _both(((flat, IL, TL), {}))
    check(d, t, [LOGITS])
    tg = np.array([[1, 2, 2, 0], [3, 1, 0, 2], [0, 0, 0, 0]])
    d, t = _both(((tg, IL, np.array([3, 4, 0])), dict(blank=4, reduction="sum")))
    check(d, t, [LOGITS])


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignments_like_torch(zero_infinity):
    tg = np.array([[1, 2, 2], [3, 1, 0], [2, 2, 2]])
    tl, il = np.array([3, 2, 3]), np.array([12, 1, 4])
    x = dl.tensor(LOGITS).log_softmax(2)
    got = F.ctc_loss(x, dl.tensor(tg), dl.tensor(il), dl.tensor(tl), 4, "none", zero_infinity)
    want = TF.ctc_loss(torch.tensor(LOGITS).log_softmax(2), torch.tensor(tg), torch.tensor(il),
                       torch.tensor(tl), 4, "none", zero_infinity)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-9)
    if zero_infinity:
        d, t = _both(((tg, il, tl), dict(blank=4, zero_infinity=True)))
        check(d, t, [LOGITS])


def test_unbatched_matches_torch():
    check(lambda x: F.ctc_loss(x.log_softmax(1), dl.tensor(TG[1]), dl.tensor(np.array(10)),
                               dl.tensor(np.array(4))),
          lambda x: TF.ctc_loss(x.log_softmax(1), torch.tensor(TG[1]), torch.tensor(10),
                                torch.tensor(4)), [LOGITS[:, 0]])


def test_gradcheck_through_log_softmax_and_raw_gradient_like_torch():
    """float64 finite differences through log_softmax (where torch's extra exp(log_probs)
    gradient term cancels); on raw log_probs the gradient is torch's, term included."""
    logits = RNG.standard_normal((6, 2, 4))
    args = [np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])]
    gradcheck(lambda x: F.ctc_loss(x.log_softmax(2), *[dl.tensor(a) for a in args],
                                   reduction="sum"), [logits])
    lp = np.log(RNG.random((6, 2, 4)))
    check(lambda x: F.ctc_loss(x, *[dl.tensor(a) for a in args]),
          lambda x: TF.ctc_loss(x, *[torch.tensor(a) for a in args]), [lp])


def test_module_trains():
    dl.manual_seed(0)
    net = dl.nn.Linear(4, 5)
    ctc = dl.nn.CTCLoss()
    assert repr(ctc) == repr(torch.nn.CTCLoss())
    x = dl.randn(10, 2, 4)
    tg, il, tl = dl.tensor([[1, 2, 3], [4, 4, 1]]), dl.tensor([10, 10]), dl.tensor([3, 3])
    opt = dl.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = ctc(net(x).log_softmax(2), tg, il, tl)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kw", [dict(blank=7), dict(reduction="avg")])
def test_bad_arguments_raise_like_torch(kw):
    for lib in (dl, torch):
        with pytest.raises((ValueError, RuntimeError)):
            lib.nn.functional.ctc_loss(lib.tensor(LOGITS).log_softmax(2), lib.tensor(TG),
                                       lib.tensor(IL), lib.tensor(TL), **kw)
    with pytest.raises(ValueError):  # an input length beyond T
        F.ctc_loss(dl.tensor(LOGITS), dl.tensor(TG), dl.tensor([13, 1, 1]), dl.tensor(TL))
