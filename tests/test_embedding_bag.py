"""F.embedding_bag and nn.EmbeddingBag against torch: sum/mean/max, offsets and 2-D bags,
include_last_offset, padding_idx, per_sample_weights, empty bags, gradients, max_norm,
float64 finite differences, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
F, TF = dl.nn.functional, torch.nn.functional
W = np.random.default_rng(0).standard_normal((10, 4))
INP = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("pad", [None, 2, 0, -1])
@pytest.mark.parametrize("ilo", [False, True])
def test_offsets_match_torch(mode, pad, ilo):
    # (an include_last_offset list ends at len(input), as torch documents: torch's padding
    # path reads past a smaller last offset, its other paths stop there)
    off = np.array([0, 2, 2, 5, 10]) if ilo else np.array([0, 2, 2, 5, 8])
    check(lambda w: F.embedding_bag(dl.tensor(INP), w, dl.tensor(off), mode=mode,
                                    padding_idx=pad, include_last_offset=ilo),
          lambda w: TF.embedding_bag(torch.tensor(INP), w, torch.tensor(off), mode=mode,
                                     padding_idx=pad, include_last_offset=ilo), [W])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_2d_bags_match_torch(mode):
    check(lambda w: F.embedding_bag(dl.tensor(INP.reshape(2, 5)), w, mode=mode),
          lambda w: TF.embedding_bag(torch.tensor(INP.reshape(2, 5)), w, mode=mode), [W])


def test_per_sample_weights_and_gradcheck():
    psw = np.random.default_rng(1).standard_normal(10)
    off = np.array([0, 2, 2, 5, 8])
    check(lambda w, p: F.embedding_bag(dl.tensor(INP), w, dl.tensor(off), mode="sum",
                                       per_sample_weights=p),
          lambda w, p: TF.embedding_bag(torch.tensor(INP), w, torch.tensor(off), mode="sum",
                                        per_sample_weights=p), [W, psw])
    for mode in ("sum", "mean", "max"):
        gradcheck(lambda w: F.embedding_bag(dl.tensor(INP), w, dl.tensor(off), mode=mode,
                                            padding_idx=4), [W])
    gradcheck(lambda w, p: F.embedding_bag(dl.tensor(INP), w, dl.tensor(off), mode="sum",
                                           per_sample_weights=p), [W, psw])


def test_module_matches_torch_and_trains():
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(10, 3, mode="max", padding_idx=1, max_norm=1.0)
    ours = dl.nn.EmbeddingBag(10, 3, mode="max", padding_idx=1, max_norm=1.0)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == ["weight"]
    assert np.all(ours.weight.numpy()[1] == 0)
    ours.load_state_dict({"weight": theirs.weight.detach().numpy()})
    off = np.array([0, 3, 6])
    y = ours(dl.tensor(INP), dl.tensor(off))
    ty = theirs(torch.tensor(INP), torch.tensor(off))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-6)   # max_norm renormed the looked-up rows in place
    g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                               rtol=1e-6, atol=1e-7)
    pre = dl.nn.EmbeddingBag.from_pretrained(dl.tensor(W), mode="sum")
    assert not pre.weight.requires_grad and pre.mode == "sum"
    dl.manual_seed(0)
    net = dl.nn.EmbeddingBag(20, 4, mode="mean")
    head = dl.nn.Linear(4, 1)
    opt = dl.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=0.05)
    x = dl.tensor(np.random.default_rng(3).integers(0, 20, (32, 5)))
    target = dl.tensor((x.numpy() % 2).mean(1, keepdims=True).astype(np.float32))
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = dl.nn.functional.mse_loss(head(net(x)), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("kw,exc", [
    (dict(offsets=[0, 2]), ValueError),                          # 2-D input with offsets
    (dict(mode="median"), ValueError),
    (dict(mode="mean", per_sample_weights=np.ones((2, 5))), NotImplementedError),
])
def test_bad_arguments_raise_like_torch(kw, exc):
    def run(lib):
        args = dict(kw)
        if "offsets" in args:
            args["offsets"] = lib.tensor(args["offsets"])
        if "per_sample_weights" in args:
            args["per_sample_weights"] = lib.tensor(args["per_sample_weights"])
        return lib.nn.functional.embedding_bag(lib.tensor(INP.reshape(2, 5)), lib.tensor(W),
                                               **args)
    for lib in (dl, torch):
        with pytest.raises(exc):
            run(lib)
    for lib in (dl, torch):
        with pytest.raises((ValueError, RuntimeError)):
            lib.nn.functional.embedding_bag(lib.tensor(INP), lib.tensor(W))  # no offsets
        with pytest.raises((ValueError, RuntimeError)):
            lib.nn.functional.embedding_bag(lib.tensor(INP), lib.tensor(W), lib.tensor([1, 3]))
