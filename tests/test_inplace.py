"""Every accepted `inplace=True` really writes into the input's storage (same values as torch's
in-place op, views see them), and raises where autograd records the input (issue #19 item 7)."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")

# (dlcore layer, torch layer) pairs, both built with inplace=True
LAYERS = [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.7,)), ("CELU", (0.6,)),
          ("SELU", ()), ("SiLU", ()), ("Hardtanh", (-0.5, 0.8)), ("Hardswish", ()),
          ("Hardsigmoid", ()), ("Mish", ())]

FUNCS = [(lambda x: F.relu(x, inplace=True), lambda x: torch.nn.functional.relu(x, inplace=True)),
         (F.relu_, torch.relu_),
         (lambda x: F.leaky_relu_(x, 0.3), lambda x: torch.nn.functional.leaky_relu_(x, 0.3)),
         (lambda x: F.elu_(x, 0.5), lambda x: torch.nn.functional.elu_(x, 0.5)),
         (lambda x: F.hardtanh_(x, -0.2, 0.4), lambda x: torch.nn.functional.hardtanh_(x, -0.2, 0.4)),
         (lambda x: F.relu6(x, inplace=True), lambda x: torch.nn.functional.relu6(x, inplace=True))]


def _input():
    x = np.random.default_rng(0).standard_normal((4, 9)).astype(np.float32) * 3
    x[0, :4] = [0.0, -3.0, 3.0, 25.0]
    return x


def _check_same_storage(ours, theirs):
    x = _input()
    base = dl.tensor(x.copy())
    view = base[1:]  # a view: it must see the write
    tbase = torch.tensor(x.copy())
    tview = tbase[1:]
    out, tout = ours(view), theirs(tview)
    assert out is view
    np.testing.assert_allclose(base.numpy(), tbase.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(base.numpy()[0], x[0])  # outside the view: untouched
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,args", LAYERS)
def test_inplace_layers_write_the_input(name, args):
    ours = getattr(dl.nn, name)(*args, inplace=True)
    theirs = getattr(torch.nn, name)(*args, inplace=True)
    _check_same_storage(ours, theirs)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("i", range(len(FUNCS)))
def test_inplace_functions_write_the_input(i):
    _check_same_storage(*FUNCS[i])


@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_inplace_dropout_writes_the_input(cls):
    x = dl.ones(2, 3, 4, 5)
    alias = x[:]
    m = getattr(dl.nn, cls)(0.5, inplace=True)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.5, inplace=True))
    y = m(x)
    assert y is x
    vals = set(np.unique(alias.numpy()).tolist())
    assert vals == {0.0, 2.0}
    m.eval()
    z = dl.ones(2, 3, 4)
    assert m(z) is z and np.array_equal(z.numpy(), np.ones((2, 3, 4)))


def test_inplace_follows_torchs_autograd_rules():
    """A leaf that requires grad is refused (as torch refuses it); a tensor inside the graph is
    modified in place with the gradient torch gives; under no_grad the write is plain."""
    leaf = dl.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        dl.nn.ReLU(inplace=True)(leaf)
    with pytest.raises(Exception):  # torch refuses the leaf too
        torch.nn.ReLU(inplace=True)(torch.randn(3, requires_grad=True))
    x = np.array([-1.5, -0.2, 0.3, 2.0], np.float32)
    for name, call_dl, call_t in (
            ("elu", lambda t: F.elu(t, inplace=True), lambda t: torch.nn.functional.elu(
                t, inplace=True)),
            ("leaky_relu", lambda t: F.leaky_relu(t, 0.1, inplace=True),
             lambda t: torch.nn.functional.leaky_relu(t, 0.1, inplace=True)),
            ("hardtanh", lambda t: F.hardtanh(t, inplace=True),
             lambda t: torch.nn.functional.hardtanh(t, inplace=True))):
        a = dl.tensor(x, requires_grad=True)
        inner = a * 2
        out = call_dl(inner)
        assert out is inner, name
        (out * dl.tensor(np.arange(4, dtype=np.float32))).sum().backward()
        ta = torch.tensor(x, requires_grad=True)
        tout = call_t(ta * 2)
        (tout * torch.arange(4, dtype=torch.float32)).sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6,
                                   err_msg=name)
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6, err_msg=name)
    with dl.no_grad():  # nothing recorded: the write is allowed
        assert F.relu_(leaf) is leaf
    assert float(leaf.numpy().min()) >= 0.0


def test_inplace_on_an_expanded_view_raises_like_torch():
    with pytest.raises(Exception):
        torch.relu_(torch.zeros(1, 3).expand(4, 3))
    with pytest.raises(ValueError, match="expanded view"):
        F.relu_(dl.zeros(1, 3).expand(4, 3))


def test_inplace_model_matches_out_of_place_in_inference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    dl.manual_seed(0)
    a = dl.nn.Sequential(dl.nn.Linear(6, 8), dl.nn.ReLU(inplace=True), dl.nn.Linear(8, 2))
    b = dl.nn.Sequential(dl.nn.Linear(6, 8), dl.nn.ReLU(), dl.nn.Linear(8, 2))
    b.load_state_dict(a.state_dict())
    with dl.no_grad():
        np.testing.assert_array_equal(a(dl.tensor(x)).numpy(), b(dl.tensor(x)).numpy())


@pytest.mark.parametrize("make", [
    lambda: dl.nn.Linear(2, 2).to(device="cuda"),
    lambda: dl.nn.Linear(2, 2).to("cuda:0"),
    lambda: dl.nn.TransformerEncoderLayer(4, 2, 8, device="cuda"),
    lambda: dl.nn.TransformerDecoderLayer(4, 2, 8, device="meta"),
    lambda: dl.nn.Transformer(4, 2, 1, 1, 8, device="cuda"),
    lambda: dl.nn.Transformer.generate_square_subsequent_mask(3, device="cuda"),
])
def test_unknown_device_is_a_clear_error(make):
    with pytest.raises(ValueError, match="CPU only"):
        make()


def test_module_to_accepts_cpu_and_refuses_unknown_keywords():
    m = dl.nn.Linear(2, 2)
    assert m.to("cpu") is m and m.to(device="cpu", dtype=dl.float64).weight.dtype == dl.float64
    with pytest.raises(TypeError, match="devce"):
        m.to(devce="cpu")


def test_inplace_rrelu_and_the_models_relu6():
    from dlcore.models._layers import ReLU6
    for m, x in ((dl.nn.RReLU(0.1, 0.3, inplace=True), dl.tensor(np.array([-1.0, 2.0]))),
                 (ReLU6(inplace=True), dl.tensor(np.array([-1.0, 7.0])))):
        m.eval()
        assert m(x) is x
    assert x.numpy().tolist() == [0.0, 6.0]
