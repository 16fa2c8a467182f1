"""nn.Perceptron: the learning rule, convergence on separable data, none on XOR, state_dict."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn

BITS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


@pytest.mark.parametrize("name, y", [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]),
                                     ("NAND", [1, 1, 1, 0])])
def test_learns_linearly_separable_gates(name, y):
    p = nn.Perceptron(2, max_epochs=50)
    res = p.fit(BITS, np.array(y))
    assert res.converged and res.errors[-1] == 0 and res.epochs == len(res.errors)
    assert p.predict(BITS).tolist() == y
    assert p.predict(BITS).dtype == dl.int64
    assert p(dl.tensor(BITS)).tolist() == [float(v) for v in y]


def test_never_converges_on_xor():
    p = nn.Perceptron(2, max_epochs=30)
    res = p.fit(BITS, np.array([0, 1, 1, 0]))
    assert not res.converged and res.epochs == 30 and len(res.errors) == 30
    assert min(res.errors) >= 1  # no line separates XOR: every epoch makes a mistake
    assert p.score(BITS, [0, 1, 1, 0]) <= 0.75


def test_update_rule_by_hand():
    p = nn.Perceptron(3, lr=0.5, max_epochs=1)
    x = np.array([[1.0, 2.0, -1.0]], dtype=np.float32)
    res = p.fit(x, np.array([1]))  # w=0, b=0 -> predicts 0, target 1: one update
    assert res.errors == [1] and not res.converged
    np.testing.assert_array_equal(p.weight.numpy(), [[0.5, 1.0, -0.5]])
    np.testing.assert_array_equal(p.bias.numpy(), [0.5])
    res = p.fit(x, np.array([0]))  # now predicts 1, target 0: the opposite update
    np.testing.assert_array_equal(p.weight.numpy(), [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(p.bias.numpy(), [0.0])
    assert p.decision_function(x).tolist() == [0.0]


def test_iris_setosa_vs_rest():
    X, y = dl.data.load_iris(return_X_y=True)
    p = nn.Perceptron(4, lr=0.1, max_epochs=100)
    res = p.fit(X, y == 0)
    assert res.converged
    assert p.score(X, y == 0) == 1.0
    # versicolor vs virginica is not linearly separable in these 4 features
    mask = y > 0
    q = nn.Perceptron(4, lr=0.1, max_epochs=20)
    assert not q.fit(X[mask], (y[mask] == 2).astype(np.int64)).converged


def test_shuffle_is_reproducible():
    X, y = dl.data.load_iris(return_X_y=True)
    runs = []
    for _ in range(2):
        p = nn.Perceptron(4, shuffle=True, generator=dl.Generator().manual_seed(3))
        runs.append((p.fit(X, y == 0).errors, p.weight.numpy().copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_state_dict_and_save(tmp_path):
    p = nn.Perceptron(2)
    p.fit(BITS, np.array([0, 0, 0, 1]))
    sd = p.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert sd["weight"].shape == (1, 2) and sd["bias"].shape == (1,)
    assert all(isinstance(t, nn.Parameter) for t in p.parameters())
    dl.save(sd, tmp_path / "p.safetensors")
    q = nn.Perceptron(2)
    q.load_state_dict(dl.load(tmp_path / "p.safetensors"))
    assert q.predict(BITS).tolist() == [0, 0, 0, 1]
    assert "in_features=2" in repr(q)


def test_errors():
    with pytest.raises(ValueError, match="in_features"):
        nn.Perceptron(0)
    with pytest.raises(ValueError, match="lr"):
        nn.Perceptron(2, lr=0)
    p = nn.Perceptron(2)
    with pytest.raises(ValueError, match="0 or 1"):
        p.fit(BITS, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"\(n_samples, 2\)"):
        p.fit(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="samples"):
        p.fit(BITS, np.zeros(3))
