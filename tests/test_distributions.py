"""dl.distributions against torch.distributions: log_prob, entropy, mean/stddev/variance and
kl_divergence (values and gradients in the parameters), sample shapes and statistics, rsample
gradients, REINFORCE and VAE-style use, argument validation."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import distributions as D
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
TD = torch.distributions


@pytest.fixture
def r():
    return np.random.default_rng(0)


def test_normal_matches_torch(r):
    loc, scale = r.standard_normal((3, 4)), r.uniform(0.5, 2, (3, 4))
    x = r.standard_normal((5, 3, 4))
    check(lambda l, s, v: D.Normal(l, s).log_prob(v), lambda l, s, v: TD.Normal(l, s).log_prob(v),
          [loc, scale, x])
    check(lambda l, s: D.Normal(l, s).entropy(), lambda l, s: TD.Normal(l, s).entropy(),
          [loc, scale])
    for attr in ("mean", "stddev", "variance"):
        check(lambda l, s: getattr(D.Normal(l, s), attr),
              lambda l, s: getattr(TD.Normal(l, s), attr), [loc, scale])
    check(lambda l, s: D.Normal(l, s).cdf(dl.tensor(x)),
          lambda l, s: TD.Normal(l, s).cdf(torch.tensor(x)), [loc, scale], grad=False)
    gradcheck(lambda l, s: D.Normal(l, s).log_prob(dl.tensor(x)), [loc, scale])


def test_normal_rsample_and_sample(r):
    loc = dl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    scale = dl.tensor(np.array([0.5, 3.0]), requires_grad=True)
    d = D.Normal(loc, scale)
    s = d.rsample((20000,))
    assert s.shape == (20000, 2) and s.requires_grad
    np.testing.assert_allclose(s.numpy().mean(0), [1, -2], atol=0.06)
    np.testing.assert_allclose(s.numpy().std(0), [0.5, 3], rtol=0.03)
    s.mean().backward()  # d mean(loc + eps*scale) / d loc = 1/2 each
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5])
    assert not d.sample((3,)).requires_grad
    assert D.Normal(0.0, 1.0).sample().shape == () and D.Normal(0.0, 1.0).sample().dtype == \
        np.float32


def test_kl_normal_normal_matches_torch(r):
    a = [r.standard_normal(4), r.uniform(0.5, 2, 4), r.standard_normal(4), r.uniform(0.5, 2, 4)]
    check(lambda l1, s1, l2, s2: D.kl_divergence(D.Normal(l1, s1), D.Normal(l2, s2)),
          lambda l1, s1, l2, s2: TD.kl_divergence(TD.Normal(l1, s1), TD.Normal(l2, s2)), a)


@pytest.mark.parametrize("use_logits", [True, False])
def test_categorical_matches_torch(r, use_logits):
    raw = r.standard_normal((3, 5)) if use_logits else r.uniform(0.05, 1, (3, 5))
    kw = "logits" if use_logits else "probs"
    v = r.integers(0, 5, (7, 3))
    check(lambda p: D.Categorical(**{kw: p}).log_prob(dl.tensor(v)),
          lambda p: TD.Categorical(**{kw: p}).log_prob(torch.tensor(v)), [raw])
    check(lambda p: D.Categorical(**{kw: p}).entropy(),
          lambda p: TD.Categorical(**{kw: p}).entropy(), [raw])
    check(lambda p: D.Categorical(**{kw: p}).probs, lambda p: TD.Categorical(**{kw: p}).probs,
          [raw])
    q = r.standard_normal((3, 5))
    check(lambda p: D.kl_divergence(D.Categorical(**{kw: p}), D.Categorical(logits=dl.tensor(q))),
          lambda p: TD.kl_divergence(TD.Categorical(**{kw: p}),
                                     TD.Categorical(logits=torch.tensor(q))), [raw])
    gradcheck(lambda p: D.Categorical(**{kw: p}).log_prob(dl.tensor(v)), [raw])


def test_categorical_sampling_frequencies():
    probs = dl.tensor([[0.1, 0.6, 0.3], [0.5, 0.0, 0.5]])
    s = D.Categorical(probs=probs).sample((20000,))
    assert s.shape == (20000, 2) and s.dtype == np.int64
    f0 = np.bincount(s.numpy()[:, 0], minlength=3) / 20000
    f1 = np.bincount(s.numpy()[:, 1], minlength=3) / 20000
    np.testing.assert_allclose(f0, [0.1, 0.6, 0.3], atol=0.015)
    np.testing.assert_allclose(f1, [0.5, 0.0, 0.5], atol=0.015)
    assert D.Categorical(logits=dl.zeros(4)).sample().shape == ()


def test_bernoulli_and_uniform_match_torch(r):
    p = r.uniform(0.1, 0.9, 6)
    v = (r.random((4, 6)) > 0.5).astype(np.float64)
    check(lambda q: D.Bernoulli(q).log_prob(dl.tensor(v)),
          lambda q: TD.Bernoulli(q).log_prob(torch.tensor(v)), [p])
    check(lambda q: D.Bernoulli(logits=q).log_prob(dl.tensor(v)),
          lambda q: TD.Bernoulli(logits=q).log_prob(torch.tensor(v)), [p * 4 - 2])
    check(lambda q: D.Bernoulli(q).entropy(), lambda q: TD.Bernoulli(q).entropy(), [p])
    check(lambda a, b: D.kl_divergence(D.Bernoulli(a), D.Bernoulli(b)),
          lambda a, b: TD.kl_divergence(TD.Bernoulli(a), TD.Bernoulli(b)), [p, p[::-1].copy()])
    lo, hi = r.uniform(-2, 0, 5), r.uniform(1, 3, 5)
    x = r.uniform(0, 1, (3, 5))
    check(lambda a, b: D.Uniform(a, b).log_prob(dl.tensor(x)),
          lambda a, b: TD.Uniform(a, b).log_prob(torch.tensor(x)), [lo, hi])
    check(lambda a, b: D.Uniform(a, b).entropy(), lambda a, b: TD.Uniform(a, b).entropy(),
          [lo, hi])
    check(lambda a, b: D.Uniform(a, b).stddev, lambda a, b: TD.Uniform(a, b).stddev, [lo, hi])
    s = D.Uniform(dl.tensor(lo), dl.tensor(hi)).sample((10000,)).numpy()
    assert (s >= lo).all() and (s < hi).all()
    np.testing.assert_allclose(s.mean(0), (lo + hi) / 2, atol=0.06)
    b = D.Bernoulli(dl.tensor(p)).sample((20000,)).numpy()
    np.testing.assert_allclose(b.mean(0), p, atol=0.015)


def test_reinforce_step_matches_torch(r):
    # policy-gradient loss: -(log pi(a|s) * return).sum(), gradient w.r.t. the policy weights
    W = r.standard_normal((4, 2)) * 0.3
    s = r.standard_normal((6, 4))
    a = r.integers(0, 2, 6)
    ret = r.standard_normal(6)

    def ours(w):
        dist = D.Categorical(logits=dl.tensor(s) @ w)
        return -(dist.log_prob(dl.tensor(a)) * dl.tensor(ret)).sum()

    def theirs(w):
        dist = TD.Categorical(logits=torch.tensor(s) @ w)
        return -(dist.log_prob(torch.tensor(a)) * torch.tensor(ret)).sum()
    check(ours, theirs, [W])


def test_validation_errors():
    with pytest.raises(ValueError, match="scale"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="either probs or logits"):
        D.Categorical()
    with pytest.raises(ValueError, match="probs"):
        D.Bernoulli(1.5)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        D.Categorical(logits=dl.zeros(3)).log_prob(dl.tensor(3))
    with pytest.raises(ValueError, match="LessThan"):
        D.Uniform(1.0, 0.0)
    with pytest.raises(NotImplementedError, match="not reparameterisable"):
        D.Categorical(logits=dl.zeros(3)).rsample()
    with pytest.raises(NotImplementedError, match="no closed form"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Uniform(0.0, 1.0))
    D.Normal(0.0, -1.0, validate_args=False)  # allowed when validation is off
