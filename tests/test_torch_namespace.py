"""The torch-namespace and Tensor names scripts use, each against torch: devices and `to`,
dl.cuda / dl.backends, the legacy constructors, dl.tensor's dtype inference, seeding, and the
Tensor methods (values against torch, gradients by float64 finite differences)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck

torch = pytest.importorskip("torch")


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(np.asarray(ours.numpy(), np.float64),
                               np.asarray(theirs.numpy(), np.float64), rtol=1e-6, atol=1e-6)


# ---- devices ------------------------------------------------------------------------------------
def test_device_objects_and_strings():
    d = dl.device("cpu")
    assert str(d) == "cpu" and d.type == "cpu" and d.index is None
    assert d == dl.device("cpu") == "cpu" and hash(d) == hash(dl.device("cpu"))
    assert repr(dl.device("cuda:1")) == "device(type='cuda', index=1)"
    assert dl.device("cuda", 0).index == 0 and dl.device("cuda:0").type == "cuda"
    with pytest.raises(ValueError):
        dl.device("cpu:x")
    t = dl.ones(2)
    assert t.device == dl.device("cpu") and t.device.type == "cpu" and not t.is_cuda
    assert t.get_device() == torch.ones(2).get_device()


@pytest.mark.parametrize("dev", ["cpu", "cpu:0", dl.device("cpu"), None])
def test_device_arguments_accept_the_cpu(dev):
    assert dl.zeros(2, device=dev).device == "cpu"
    assert dl.tensor([1.0], device=dev).device == "cpu"
    assert dl.ones(2).to(dev) is not None
    assert dl.ones(2).new_zeros(3, device=dev).shape == (3,)


@pytest.mark.parametrize("dev", ["cuda", "cuda:0", dl.device("cuda"), "mps", 0])
def test_other_devices_raise_clearly(dev):
    with pytest.raises(RuntimeError, match="CPU only"):
        dl.zeros(2, device=dev)
    with pytest.raises(RuntimeError, match="CPU only"):
        dl.ones(2).to(dev)
    with pytest.raises(RuntimeError, match="CPU only"):
        dl.tensor([1.0], device=dev)


def test_cuda_method_raises_and_cpu_is_identity():
    t = dl.ones(2)
    assert t.cpu() is t
    with pytest.raises(RuntimeError, match="CUDA"):
        t.cuda()


def test_to_forms_as_torch():
    t, tt = dl.tensor([1.5, 2.0]), torch.tensor([1.5, 2.0])
    assert t.to("cpu") is t and tt.to("cpu") is tt
    assert t.to(dl.float32) is t
    assert t.to(dl.float32, copy=True) is not t
    _same(t.to(dl.int64), tt.to(torch.int64))
    _same(t.to("cpu", dl.float64), tt.to("cpu", torch.float64))
    _same(t.to(device="cpu", dtype=dl.float64, non_blocking=True),
          tt.to(device="cpu", dtype=torch.float64, non_blocking=True))
    _same(t.to(dl.tensor([1], dtype=dl.int32)), tt.to(torch.tensor([1], dtype=torch.int32)))
    _same(t.to(dl.device("cpu"), dl.float64, False, True),
          tt.to(torch.device("cpu"), torch.float64, False, True))
    # the cast is differentiable
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    x.to(dl.float64).sum().backward()
    assert x.grad.dtype == dl.float32 and x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        t.to(dl.float32, bogus=1)


def test_cuda_and_backends_namespaces():
    assert dl.cuda.is_available() is torch.cuda.is_available() is False
    assert dl.cuda.device_count() == 0
    dl.cuda.manual_seed(0)
    dl.cuda.manual_seed_all(0)
    with pytest.raises(RuntimeError):
        dl.cuda.current_device()
    cudnn = dl.backends.cudnn
    assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled) == (False, False, True)
    cudnn.benchmark = True
    cudnn.deterministic = True
    cudnn.benchmark = False
    cudnn.deterministic = False
    assert not cudnn.is_available()
    assert dl.backends.mps.is_available() is False and not dl.backends.mps.is_built()
    dl.backends.cuda.matmul.allow_tf32 = False
    assert isinstance(dl.backends.openmp.is_available(), bool)


def test_bfloat16_and_half_are_tensor_dtypes():
    # dl.bfloat16 used to raise (no dtype); it is now a tensor dtype (tests/test_half_dtypes.py)
    assert dl.zeros(2, dtype=dl.bfloat16).dtype == dl.bfloat16
    assert dl.half is dl.float16 and str(dl.bfloat16) == "bfloat16"


# ---- construction -------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(4,), (16, 7), (2, 0, 3), ([1, 2],), ([[1.5], [2.0]],),
                                  ((2, 3),), ()])
def test_legacy_tensor_constructor_as_torch(args):
    ours, theirs = dl.Tensor(*args), torch.Tensor(*args)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == dl.float32
    if theirs.numel() and args and isinstance(args[0], (list, tuple)):
        _same(ours, theirs)


def test_legacy_constructor_errors_and_arrays():
    with pytest.raises(TypeError):
        dl.Tensor(4.0)
    with pytest.raises(RuntimeError):
        dl.Tensor(-1)
    a = np.arange(3)
    t = dl.Tensor(a)  # an array is wrapped as it is (dlcore's own use)
    assert t.numpy() is a
    assert dl.Tensor([1, 2], requires_grad=True).requires_grad


@pytest.mark.parametrize("name,args", [("FloatTensor", (2, 3)), ("LongTensor", ([1, 2],)),
                                       ("DoubleTensor", ([1.5],)), ("IntTensor", (3,)),
                                       ("BoolTensor", ([True, False],)),
                                       ("ByteTensor", ([1, 255],))])
def test_typed_legacy_constructors(name, args):
    ours, theirs = getattr(dl, name)(*args), getattr(torch, name)(*args)
    if isinstance(args[0], list):
        _same(ours, theirs)
    else:  # sizes: torch's memory is uninitialised, ours zeros
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert tuple(ours.shape) == tuple(theirs.shape)
    assert isinstance(ours, getattr(dl, name))
    assert not isinstance(ours, dl.FloatTensor if name != "FloatTensor" else dl.LongTensor)


@pytest.mark.parametrize("data", [1.5, 2, True, [1, 2], [1.0, 2], [[1, 2.5]], [True, False],
                                  [], np.float64(2.5), np.array([1, 2], np.int32)])
def test_tensor_dtype_inference_as_torch(data):
    _same(dl.tensor(data), torch.tensor(data))


def test_seeding_functions():
    g = dl.manual_seed(123)
    assert isinstance(g, dl.Generator) and dl.initial_seed() == 123
    a = dl.rand(3)
    dl.manual_seed(123)
    assert dl.rand(3).tolist() == a.tolist()
    s = dl.seed()
    assert isinstance(s, int) and dl.initial_seed() == s
    gen = dl.Generator().manual_seed(7)
    assert gen.initial_seed() == 7
    x = dl.randn(4, generator=gen)
    assert dl.randn(4, generator=dl.Generator().manual_seed(7)).tolist() == x.tolist()
    assert isinstance(dl.Generator().seed(), int)
    with pytest.raises(RuntimeError):
        dl.Generator(device="cuda")


def test_format_as_torch():
    t = dl.tensor(3.14159)
    assert "{:.2f}".format(t) == "{:.2f}".format(torch.tensor(3.14159)) == "3.14"
    assert f"{dl.tensor(7):d}" == "7"
    assert "{}".format(dl.ones(2)) == str(dl.ones(2))
    with pytest.raises(TypeError):
        "{:.2f}".format(torch.ones(2))
    with pytest.raises(TypeError):
        "{:.2f}".format(dl.ones(2))


# ---- new_* ---------------------------------------------------------------------------------------
def test_new_constructors_keep_dtype_as_torch():
    for dt in ("float64", "int32", "bool"):
        t, tt = dl.zeros(2, dtype=getattr(dl, dt)), torch.zeros(2, dtype=getattr(torch, dt))
        _same(t.new_zeros(2, 3), tt.new_zeros(2, 3))
        _same(t.new_ones((3,)), tt.new_ones((3,)))
        _same(t.new_full((2, 2), 1), tt.new_full((2, 2), 1))
        assert t.new_empty(4).dtype == t.dtype and t.new_empty(4).shape == (4,)
        _same(t.new_tensor([1, 0]), tt.new_tensor([1, 0]))
    assert dl.ones(1).new_zeros(2, dtype=dl.int64).dtype == dl.int64
    assert dl.ones(1).new_ones(2, requires_grad=True).requires_grad


# ---- Tensor methods against torch ---------------------------------------------------------------
def test_mm_bmm_addmm_mv_dot():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    c = rng.standard_normal((5,))
    ta, tb, tc = torch.tensor(a), torch.tensor(b), torch.tensor(c)
    da, db, dc = dl.tensor(a), dl.tensor(b), dl.tensor(c)
    _same(da.mm(db), ta.mm(tb))
    _same(dc.addmm(da, db, beta=0.5, alpha=2.0), tc.addmm(ta, tb, beta=0.5, alpha=2.0))
    _same(dl.addmm(dc, da, db), torch.addmm(tc, ta, tb))
    _same(da.mv(dl.tensor(b[:, 0])), ta.mv(tb[:, 0]))
    _same(dc.dot(dc), tc.dot(tc))
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 2))
    _same(dl.tensor(x).bmm(dl.tensor(y)), torch.tensor(x).bmm(torch.tensor(y)))
    with pytest.raises(RuntimeError):
        da.mm(dc)
    with pytest.raises(RuntimeError):
        dl.tensor(x).bmm(dl.tensor(y[:1]))
    A = dl.tensor(a, requires_grad=True)
    B = dl.tensor(b, requires_grad=True)
    C = dl.tensor(c, requires_grad=True)
    assert gradcheck(lambda m, n, k: k.addmm(m, n, beta=0.5, alpha=2.0), (A, B, C))


def test_nonzero_unique():
    x = torch.tensor([[0, 3, 0], [2, 0, 3]])
    d = dl.tensor(x.numpy())
    _same(d.nonzero(), x.nonzero())
    for o, t in zip(d.nonzero(as_tuple=True), x.nonzero(as_tuple=True)):
        _same(o, t)
    _same(dl.tensor(5).nonzero(), torch.tensor(5).nonzero())
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}, {"dim": 0}):
        o, t = d.unique(**kw), x.unique(**kw)
        for a, b in zip(o if isinstance(o, tuple) else (o,), t if isinstance(t, tuple) else (t,)):
            _same(a, b)


def test_multinomial_distribution_and_errors():
    dl.manual_seed(0)
    p = dl.tensor([0.1, 0.0, 0.6, 0.3])
    draws = p.multinomial(20000, replacement=True)
    assert draws.dtype == dl.int64 and draws.shape == (20000,)
    freq = np.bincount(draws.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.02)
    rows = dl.tensor([[1.0, 0.0, 1.0], [0.0, 5.0, 0.0]]).multinomial(2)
    assert rows.shape == (2, 2) and sorted(rows[0].tolist()) == [0, 2]
    # without replacement, past the non-zero categories torch goes on with the zero ones
    assert torch.tensor([0.0, 1.0]).multinomial(2).tolist() == [1, 0]
    assert dl.tensor([0.0, 1.0]).multinomial(2).tolist() == [1, 0]
    with pytest.raises(RuntimeError):
        torch.tensor([0.0, 1.0]).multinomial(3)
    with pytest.raises(RuntimeError):
        dl.tensor([0.0, 1.0]).multinomial(3)
    # without replacement the first draw follows the weights, later ones exclude earlier
    firsts = np.array([dl.tensor([0.2, 0.3, 0.5]).multinomial(3).tolist() for _ in range(3000)])
    assert all(sorted(r) == [0, 1, 2] for r in firsts)
    np.testing.assert_allclose(np.bincount(firsts[:, 0], minlength=3) / 3000, [0.2, 0.3, 0.5],
                               atol=0.035)
    with pytest.raises(RuntimeError):
        dl.tensor([-1.0, 1.0]).multinomial(1)
    with pytest.raises(RuntimeError):
        dl.tensor([1, 2]).multinomial(1)


def test_scatter_and_scatter_inplace():
    src = torch.arange(1, 11, dtype=torch.float64).reshape(2, 5)
    idx = torch.tensor([[0, 1, 2, 0]])
    ds, di = dl.tensor(src.numpy()), dl.tensor(idx.numpy())
    _same(dl.zeros(3, 5, dtype=dl.float64).scatter(0, di, ds),
          torch.zeros(3, 5, dtype=torch.float64).scatter(0, idx, src))
    _same(dl.zeros(3, 5).scatter(1, dl.tensor([[0], [2], [4]]), value=2.5),
          torch.zeros(3, 5).scatter(1, torch.tensor([[0], [2], [4]]), value=2.5))
    _same(dl.ones(3, 5).scatter_(0, di, 2.0, reduce="multiply"),
          torch.ones(3, 5).scatter_(0, idx, 2.0, reduce="multiply"))
    t = dl.zeros(2, 4)
    assert t.scatter_(1, dl.tensor([[1], [3]]), dl.ones(2, 1)) is t
    _same(t, torch.zeros(2, 4).scatter_(1, torch.tensor([[1], [3]]), torch.ones(2, 1)))
    with pytest.raises(RuntimeError, match="out of bounds"):
        dl.zeros(2, 3).scatter(1, dl.tensor([[3]]), value=1.0)
    with pytest.raises(RuntimeError, match="int64"):
        dl.zeros(2, 3).scatter(1, dl.tensor([[1.0]]), value=1.0)
    a = dl.tensor(np.random.default_rng(1).standard_normal((3, 5)), requires_grad=True)
    s = dl.tensor(src.numpy(), requires_grad=True)
    assert gradcheck(lambda x, y: x.scatter(0, di, y), (a, s))


def test_index_put():
    t, tt = dl.zeros(4), torch.zeros(4)
    i, ti = dl.tensor([0, 2, 0]), torch.tensor([0, 2, 0])
    _same(t.index_put_((i,), dl.tensor([1.0, 2.0, 3.0]), accumulate=True),
          tt.index_put_((ti,), torch.tensor([1.0, 2.0, 3.0]), accumulate=True))
    _same(dl.zeros(2, 2).index_put_((dl.tensor([1]), dl.tensor([0])), dl.tensor(5.0)),
          torch.zeros(2, 2).index_put_((torch.tensor([1]), torch.tensor([0])),
                                       torch.tensor(5.0)))
    base = dl.zeros(3)
    assert base.index_put((dl.tensor([1]),), dl.tensor(1.0)).tolist() == [0, 1, 0]
    assert base.tolist() == [0, 0, 0]


def test_narrow_diag_roll_diff_repeat_interleave_cumprod_values():
    x = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    d = dl.tensor(x.numpy())
    _same(d.narrow(1, 2, 3), x.narrow(1, 2, 3))
    _same(d.narrow(0, -2, 2), x.narrow(0, -2, 2))
    v = d.narrow(1, 1, 2)
    v[0, 0] = -1.0  # narrow is a view
    assert d[0, 1].item() == -1.0
    x[0, 1] = -1.0
    with pytest.raises(RuntimeError):
        d.narrow(0, 3, 2)
    for k in (-2, 0, 1, 5):
        _same(d.diag(k), x.diag(k))
        _same(d[0].diag(k), x[0].diag(k))
    _same(d.roll(3), x.roll(3))
    _same(d.roll((1, -2), (0, 1)), x.roll((1, -2), (0, 1)))
    _same(d.roll(-1, 1), x.roll(-1, 1))
    _same(d.diff(), x.diff())
    _same(d.diff(n=2, dim=0), x.diff(n=2, dim=0))
    _same(d.diff(dim=1, prepend=d[:, :1], append=d[:, -2:]),
          x.diff(dim=1, prepend=x[:, :1], append=x[:, -2:]))
    b = torch.tensor([True, False, False, True])
    _same(dl.tensor(b.numpy()).diff(), b.diff())
    _same(d.repeat_interleave(2), x.repeat_interleave(2))
    _same(d.repeat_interleave(dl.tensor([1, 0, 2, 1]), dim=0),
          x.repeat_interleave(torch.tensor([1, 0, 2, 1]), dim=0))
    _same(dl.repeat_interleave(dl.tensor([2, 0, 1])), torch.repeat_interleave(torch.tensor([2, 0, 1])))
    _same(d.cumprod(1), x.cumprod(1))
    _same(dl.tensor([1, 2, 3], dtype=dl.int32).cumprod(0),
          torch.tensor([1, 2, 3], dtype=torch.int32).cumprod(0))
    _same(dl.tensor([True, True]).cumsum(0), torch.tensor([True, True]).cumsum(0))


@pytest.mark.parametrize("name,fn", [
    ("narrow", lambda t: t.narrow(1, 1, 3)),
    ("diag2d", lambda t: t.diag(1)),
    ("diag1d", lambda t: t[0].diag(-1)),
    ("roll", lambda t: t.roll((1, 2), (0, 1))),
    ("roll_flat", lambda t: t.roll(5)),
    ("diff", lambda t: t.diff(n=2, dim=1)),
    ("repeat_interleave", lambda t: t.repeat_interleave(dl.tensor([2, 1, 0]), dim=0)),
    ("cumprod", lambda t: t.cumprod(1)),
])
def test_gradients_by_finite_differences(name, fn):
    a = np.random.default_rng(3).standard_normal((3, 5)) + 0.1
    assert gradcheck(fn, (dl.tensor(a, requires_grad=True),))


def test_cumprod_gradient_with_zeros_matches_torch():
    a = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, 2.0, 4.0, 0.5]])
    x = dl.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    w = np.random.default_rng(0).standard_normal(a.shape)
    (x.cumprod(1) * dl.tensor(w)).sum().backward()
    (tx.cumprod(1) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_meshgrid_as_torch():
    a, b, c = torch.arange(3.0), torch.arange(2) * 1.5, torch.arange(4.0)
    for ix in ("ij", "xy"):
        ours = dl.meshgrid(dl.arange(3.0), dl.arange(2) * 1.5, dl.arange(4.0), indexing=ix)
        for o, t in zip(ours, torch.meshgrid(a, b, c, indexing=ix)):
            _same(o, t)
    for o, t in zip(dl.meshgrid([dl.arange(2), dl.arange(3)]),
                    torch.meshgrid([torch.arange(2), torch.arange(3)], indexing="ij")):
        _same(o, t)
    with pytest.raises(RuntimeError):
        torch.meshgrid(torch.arange(2), torch.arange(2.0), indexing="ij")
    with pytest.raises(RuntimeError):
        dl.meshgrid(dl.arange(2), dl.arange(2.0))


def test_result_type_promote_types_can_cast():
    cases = [(dl.tensor([1]), 1.0), (dl.tensor([1.0]), dl.tensor(1.0, dtype=dl.float64)),
             (dl.tensor([True]), 2), (3, dl.tensor([1], dtype=dl.int32))]
    for a, b in cases:
        ta = torch.tensor(a.numpy()) if isinstance(a, dl.Tensor) else a
        tb = torch.tensor(b.numpy()) if isinstance(b, dl.Tensor) else b
        assert str(dl.result_type(a, b)) == str(torch.result_type(ta, tb)).replace("torch.", "")
    assert dl.promote_types(dl.int64, dl.float32) == dl.float32
    assert dl.promote_types(dl.uint8, dl.int8) == np.dtype(np.int16)
    assert not dl.can_cast(dl.float32, dl.int64) and dl.can_cast(dl.int64, dl.float32)


# ---- random sampling names -----------------------------------------------------------------------
def test_random_fills_follow_their_laws():
    dl.manual_seed(0)
    n = 40000
    b = dl.bernoulli(dl.full((n,), 0.3))
    assert b.dtype == dl.float32 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    assert abs(b.numpy().mean() - 0.3) < 0.015
    e = dl.empty(n).exponential_(2.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.02
    r = dl.empty(n, dtype=dl.int64).random_(3, 7).numpy()
    assert r.min() == 3 and r.max() == 6
    assert dl.empty(n).random_(5).numpy().max() == 4
    g = dl.empty(n).geometric_(0.25).numpy()
    assert g.min() >= 1 and abs(g.mean() - 4.0) < 0.15
    x = dl.normal(dl.full((n,), 2.0), dl.full((n,), 0.5)).numpy()
    assert abs(x.mean() - 2.0) < 0.02 and abs(x.std() - 0.5) < 0.02
    assert dl.normal(0.0, 1.0, size=(3, 2)).shape == (3, 2)
    p = dl.poisson(dl.full((n,), 3.0)).numpy()
    assert abs(p.mean() - 3.0) < 0.05 and abs(p.var() - 3.0) < 0.15
    assert dl.zeros(4).bernoulli_(1.0).tolist() == [1.0] * 4
    t = dl.randint_like(dl.zeros(1000, dtype=dl.int64), 2, 5).numpy()
    assert t.dtype == np.int64 and t.min() == 2 and t.max() == 4
    with pytest.raises(RuntimeError):
        dl.empty(3).exponential_(-1.0)
    with pytest.raises(RuntimeError):
        dl.bernoulli(dl.tensor([1.5]))
    with pytest.raises(RuntimeError):
        dl.empty(3).random_(5, 2)
    assert dl.ones(2).type(dl.LongTensor).dtype == dl.int64
