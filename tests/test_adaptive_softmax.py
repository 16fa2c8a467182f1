"""nn.AdaptiveLogSoftmaxWithLoss against torch's on loaded weights: layout, forward (output and
loss), log_prob, predict, gradients, a few SGD steps of training, and torch's errors."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

ARGS = (16, 20, [4, 9, 15])


def _pair(head_bias=True, div_value=2.0, seed=0):
    torch.manual_seed(seed)
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(*ARGS, div_value=div_value, head_bias=head_bias)
    d = dl.nn.AdaptiveLogSoftmaxWithLoss(*ARGS, div_value=div_value, head_bias=head_bias)
    assert list(d.state_dict()) == list(t.state_dict())
    assert repr(d) == repr(t)
    d.load_state_dict({k: dl.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return d, t


def _close(a, b, tol=2e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


X = np.random.default_rng(0).standard_normal((9, 16)).astype(np.float32)
Y = np.array([0, 5, 19, 3, 10, 16, 9, 15, 4])     # every cluster and its edges


@pytest.mark.parametrize("head_bias", [False, True])
def test_forward_log_prob_and_gradients_match_torch(head_bias):
    d, t = _pair(head_bias)
    do, to = d(dl.tensor(X), dl.tensor(Y)), t(torch.tensor(X), torch.tensor(Y))
    _close(do.output, to.output)
    _close(do.loss, to.loss)
    _close(d.log_prob(dl.tensor(X)), t.log_prob(torch.tensor(X)))
    lp = d.log_prob(dl.tensor(X)).numpy()
    np.testing.assert_allclose(np.exp(lp).sum(1), 1, rtol=1e-5)   # a distribution per row
    do.loss.backward()
    to.loss.backward()
    for (name, p), (_, q) in zip(d.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    one, tone = d(dl.tensor(X[2]), dl.tensor(np.array(19))), t(torch.tensor(X[2]),
                                                                torch.tensor(19))
    assert tuple(one.output.shape) == tuple(tone.output.shape) == ()
    _close(one.loss, tone.loss)


def test_predict_matches_torch_in_and_out_of_the_shortlist():
    d, t = _pair()
    # push the head toward the cluster entries for some rows, so both paths of predict run
    bias = np.zeros(7, np.float32)
    bias[4:] = [3.0, 0.0, 2.0]
    t.head.bias.data = torch.tensor(bias)
    d.head.bias = dl.nn.Parameter(dl.tensor(bias))
    xs = X * np.linspace(0.2, 3, 9, dtype=np.float32)[:, None]
    ours, theirs = d.predict(dl.tensor(xs)).numpy(), t.predict(torch.tensor(xs)).numpy()
    assert (ours >= 4).any() and (ours < 4).any()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, d.log_prob(dl.tensor(xs)).numpy().argmax(1))


def test_training_matches_torch():
    d, t = _pair()
    od = dl.optim.SGD(d.parameters(), lr=0.5)
    ot = torch.optim.SGD(t.parameters(), lr=0.5)
    for step in range(5):
        od.zero_grad()
        ot.zero_grad()
        ld = d(dl.tensor(X), dl.tensor(Y)).loss
        lt = t(torch.tensor(X), torch.tensor(Y)).loss
        ld.backward()
        lt.backward()
        od.step()
        ot.step()
        np.testing.assert_allclose(ld.item(), lt.item(), rtol=1e-5)
    for (name, p), (_, q) in zip(d.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_errors_like_torch():
    for bad in ([], [4, 4], [9, 4], [0, 4], [4, 20]):
        with pytest.raises(ValueError):
            dl.nn.AdaptiveLogSoftmaxWithLoss(16, 20, bad)
        with pytest.raises(ValueError):
            torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, bad)
    d, t = _pair()
    for x, y in ((X, np.array([0, 20] + [1] * 7)), (X, Y[:3]), (X, np.array(3)),
                 (X[0], Y), (X, Y.reshape(3, 3))):
        with pytest.raises(RuntimeError):
            t(torch.tensor(x), torch.tensor(y))
        with pytest.raises(RuntimeError):
            d(dl.tensor(x), dl.tensor(y))
