"""Anomaly mode: detect_anomaly / set_detect_anomaly raise on the first NaN a backward
Function returns, naming it and warning with its forward call's stack, as torch does; off (the
default) a NaN gradient passes through; the mode is restored on exit; StackDataset."""
import warnings

import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")


def _nan_backward(lib):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    return x, (x / x).sum()


def test_raises_like_torch_naming_the_op_and_the_forward_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dl.autograd.detect_anomaly():
            assert dl.autograd.is_anomaly_enabled() and dl.is_anomaly_enabled()
            x, z = _nan_backward(dl)
            with pytest.raises(RuntimeError, match=r"Function 'Div' returned nan values in its "
                                                   r"1th output"):
                z.backward()
    assert not dl.autograd.is_anomaly_enabled()
    msgs = [str(w.message) for w in caught]
    assert any(m.startswith("Anomaly Detection has been enabled") for m in msgs)
    trace = [m for m in msgs if m.startswith("Error detected in Div")]
    assert trace and "_nan_backward" in trace[0]      # the forward call is shown
    with torch.autograd.detect_anomaly():
        _, tz = _nan_backward(torch)
        with pytest.raises(RuntimeError, match="returned nan values in its 1th output"):
            tz.backward()


def test_off_by_default_and_check_nan_false():
    x, z = _nan_backward(dl)
    z.backward()
    assert np.isnan(x.grad.numpy()).any()
    with pytest.warns(UserWarning):
        with dl.autograd.detect_anomaly(check_nan=False):
            x, z = _nan_backward(dl)
            z.backward()
    assert dl.autograd.is_anomaly_check_nan_enabled()  # restored


def test_set_detect_anomaly_and_decorator():
    with dl.autograd.set_detect_anomaly(True):
        x, z = _nan_backward(dl)
        with pytest.raises(RuntimeError, match="nan"):
            z.backward()
    assert not dl.autograd.is_anomaly_enabled()
    dl.autograd.set_detect_anomaly(True)
    try:
        assert dl.autograd.is_anomaly_enabled()
    finally:
        dl.autograd.set_detect_anomaly(False)

    @dl.autograd.detect_anomaly()
    def step():
        x, z = _nan_backward(dl)
        z.backward()
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="Div"):
        step()
    assert not dl.autograd.is_anomaly_enabled()


def test_finite_training_unaffected():
    net = dl.nn.Linear(3, 2)
    x = dl.randn(4, 3)
    ref = dl.autograd.grad(net(x).sum(), [net.weight])[0].numpy()
    with pytest.warns(UserWarning):
        with dl.autograd.detect_anomaly():
            g = dl.autograd.grad(net(x).sum(), [net.weight])[0].numpy()
    np.testing.assert_array_equal(g, ref)


def test_stack_dataset_like_torch():
    from torch.utils.data import StackDataset as TStack
    a, b = list(range(5)), [x * 10 for x in range(5)]
    for lib_stack in (dl.utils.data.StackDataset, TStack):
        s = lib_stack(a, b)
        assert len(s) == 5 and s[2] == (2, 20)
        assert s.__getitems__([0, 3]) == [(0, 0), (3, 30)]
        d = lib_stack(x=a, y=b)
        assert d[1] == {"x": 1, "y": 10}
        assert d.__getitems__([4]) == [{"x": 4, "y": 40}]
        with pytest.raises(ValueError):
            lib_stack(a, [1])
        with pytest.raises(ValueError):
            lib_stack(a, y=b)
    loader = dl.data.DataLoader(dl.data.StackDataset(dl.arange(6.0), dl.arange(6)), batch_size=4)
    xb, yb = next(iter(loader))
    assert xb.shape == (4,) and yb.numpy().tolist() == [0, 1, 2, 3]
