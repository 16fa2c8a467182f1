"""dlcore.ops.distance: vector norms, normalize, cosine_similarity, pairwise_distance and the
distance losses against torch (values and gradients), float64 gradcheck, argument errors."""
import math

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

pytest.importorskip("torch")
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402


@pytest.fixture
def r():
    return np.random.default_rng(7)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf, 0.5])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_normalize_matches_torch(r, p, dim):
    x = r.standard_normal((4, 5, 3))
    x[1, :, 0] = 0.0  # a zero vector along dim 1: gradient 0, not NaN
    check(lambda t: F.normalize(t, p=p, dim=dim), lambda t: TF.normalize(t, p=p, dim=dim), [x])


@pytest.mark.parametrize("p", [-1.0, -2.5, -math.inf])
def test_negative_p_matches_torch(r, p):
    # torch's norms of negative order: (sum |x|^p)^(1/p), -inf the smallest magnitude
    x = r.standard_normal((4, 5))
    check(lambda t: F.normalize(t, p=p, dim=1), lambda t: TF.normalize(t, p=p, dim=1), [x])
    y = r.standard_normal((4, 5))
    check(lambda a, b: F.pairwise_distance(a, b, p=p), lambda a, b: TF.pairwise_distance(a, b, p=p),
          [x, y])
    if p != -math.inf:
        gradcheck(lambda t: F.normalize(t, p=p, dim=1), [x])


def test_normalize_of_a_0d_tensor_keeps_its_shape():
    for v in (2.0, -0.5):
        check(lambda t: F.normalize(t, p=1.2, dim=0), lambda t: TF.normalize(t, p=1.2, dim=0),
              [np.array(v)])


def test_vector_norm_gradcheck(r):
    x = r.standard_normal((3, 6))
    for p in (1.5, 2.0, 3.0, math.inf):
        gradcheck(lambda t: F.vector_norm(t, p, 1), [x])


@pytest.mark.parametrize("shapes,dim", [(((5, 7), (5, 7)), 1), (((3, 1, 4), (1, 6, 4)), -1),
                                        (((6,), (6,)), 0)])
def test_cosine_similarity_matches_torch(r, shapes, dim):
    a, b = r.standard_normal(shapes[0]), r.standard_normal(shapes[1])
    check(lambda x, y: F.cosine_similarity(x, y, dim=dim),
          lambda x, y: TF.cosine_similarity(x, y, dim=dim), [a, b])
    gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=dim), [a, b])
    m = dl.nn.CosineSimilarity(dim=dim)
    tm = torch.nn.CosineSimilarity(dim=dim)
    check(m, tm, [a, b])


def test_cosine_similarity_tiny_vectors(r):
    a = r.standard_normal((3, 4)) * 1e-10
    b = r.standard_normal((3, 4))
    check(lambda x, y: F.cosine_similarity(x, y), lambda x, y: TF.cosine_similarity(x, y), [a, b],
          rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(r, p, keepdim):
    a, b = r.standard_normal((6, 5)), r.standard_normal((6, 5))
    check(lambda x, y: F.pairwise_distance(x, y, p=p, keepdim=keepdim),
          lambda x, y: TF.pairwise_distance(x, y, p=p, keepdim=keepdim), [a, b])
    check(dl.nn.PairwiseDistance(p=p, keepdim=keepdim),
          torch.nn.PairwiseDistance(p=p, keepdim=keepdim), [a, b])
    gradcheck(lambda x, y: F.pairwise_distance(x, y, p=p), [a, b])


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_loss_matches_torch(r, swap, reduction):
    a, p, n = (r.standard_normal((8, 4)) for _ in range(3))
    kw = dict(margin=1.5, p=2, swap=swap, reduction=reduction)
    check(lambda x, y, z: F.triplet_margin_loss(x, y, z, **kw),
          lambda x, y, z: TF.triplet_margin_loss(x, y, z, **kw), [a, p, n])
    check(dl.nn.TripletMarginLoss(**kw), torch.nn.TripletMarginLoss(**kw), [a, p, n])
    gradcheck(lambda x, y, z: F.triplet_margin_loss(x, y, z, **kw), [a, p, n])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_ranking_loss_matches_torch(r, reduction):
    a, b = r.standard_normal(9), r.standard_normal(9)
    y = np.where(r.random(9) > 0.5, 1.0, -1.0)
    kw = dict(margin=0.3, reduction=reduction)
    check(lambda x1, x2, t: F.margin_ranking_loss(x1, x2, t, **kw),
          lambda x1, x2, t: TF.margin_ranking_loss(x1, x2, t, **kw), [a, b, y])
    check(dl.nn.MarginRankingLoss(**kw), torch.nn.MarginRankingLoss(**kw), [a, b, y])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cosine_embedding_loss_matches_torch(r, reduction):
    a, b = r.standard_normal((7, 5)), r.standard_normal((7, 5))
    y = np.where(r.random(7) > 0.5, 1, -1).astype(np.int64)
    kw = dict(margin=0.2, reduction=reduction)
    check(lambda x1, x2: F.cosine_embedding_loss(x1, x2, dl.tensor(y), **kw),
          lambda x1, x2: TF.cosine_embedding_loss(x1, x2, torch.tensor(y), **kw), [a, b])
    check(lambda x1, x2: dl.nn.CosineEmbeddingLoss(**kw)(x1, x2, dl.tensor(y)),
          lambda x1, x2: torch.nn.CosineEmbeddingLoss(**kw)(x1, x2, torch.tensor(y)), [a, b])
    gradcheck(lambda x1, x2: F.cosine_embedding_loss(x1, x2, dl.tensor(y), **kw), [a, b])


def test_distance_float32_trains(r):
    emb = dl.nn.Linear(4, 3)
    a = dl.tensor(r.standard_normal((5, 4)).astype(np.float32))
    loss = dl.nn.TripletMarginLoss()(emb(a), emb(a * 2), emb(-a))
    loss.backward()
    assert emb.weight.grad is not None and np.isfinite(emb.weight.grad.numpy()).all()


def test_errors():
    x = dl.randn(3, 4)
    with pytest.raises(ValueError, match="p must be"):  # (negative p is a norm in torch)
        F.normalize(x, p=float("nan"))
    with pytest.raises(ValueError, match="p must be"):
        F.pairwise_distance(x, x, p="2")
    for f in (F, TF):  # torch's rule: a triplet margin must be positive
        with pytest.raises(ValueError, match="margin must be greater than 0"):
            f.triplet_margin_loss(x if f is F else torch.randn(3, 4), *(2 * [
                x if f is F else torch.randn(3, 4)]), margin=0.0)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.normalize(np.ones(3))
    with pytest.raises(ValueError, match="do not broadcast"):
        F.cosine_similarity(x, dl.randn(2, 4))
    with pytest.raises(ValueError, match="1-D or all 2-D"):
        F.triplet_margin_loss(x, x, dl.randn(3, 4, 1))
    with pytest.raises(ValueError, match="reduction"):
        F.margin_ranking_loss(x[0], x[1], x[2], reduction="avg")
    with pytest.raises(ValueError, match="target must have"):
        F.cosine_embedding_loss(x, x, dl.ones(3, 1))
