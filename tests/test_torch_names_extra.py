"""The shape, math and type functions added for ordinary scripts (dlcore.ops.shape_extra,
dlcore.ops.math_extra, dlcore.type_info), each against torch as the oracle: values, dtypes,
shapes, index results, gradients where torch differentiates, and errors where torch raises."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
Z = RNG.standard_normal((2, 3, 4))
U = RNG.uniform(0.05, 0.95, (3, 4))
V3 = RNG.standard_normal((4, 3))
W3 = RNG.standard_normal((4, 3))
I = np.array([[3, -1, 4], [1, 5, -9], [2, 6, 5]])
S = np.sort(RNG.standard_normal(7))
NAN = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, 4.0, -1.0, 7.0], [np.nan, np.nan, 1.0, 2.0]])


def _t(lib, a, grad=False):
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            return lib.tensor(a, dtype=lib.float64, requires_grad=grad)
        return lib.tensor(a)
    return a


# name -> (function of (lib, *tensors), arrays, differentiable?)
CASES = {
    "movedim": (lambda m, a: m.movedim(a, (0, 2), (2, 0)), [Z], True),
    "moveaxis_method": (lambda m, a: a.moveaxis(-1, 0), [Z], True),
    "select": (lambda m, a: m.select(a, 1, -2), [Z], True),
    "select_method": (lambda m, a: a.select(0, 1), [Z], True),
    "swapdims": (lambda m, a: m.swapdims(a, 0, 2), [Z], True),
    "ravel": (lambda m, a: m.ravel(a.t()), [X], True),
    "tile": (lambda m, a: m.tile(a, (2, 1, 3)), [X], True),
    "tile_short": (lambda m, a: a.tile((2,)), [Z], True),
    "tensor_split_sections": (lambda m, a: m.tensor_split(a, 3, 1), [X], True),
    "tensor_split_indices": (lambda m, a: a.tensor_split([1, 3], 1), [X], True),
    "tensor_split_neg": (lambda m, a: a.tensor_split([-2, 9], 0), [X], True),
    "hsplit": (lambda m, a: m.hsplit(a, 2), [X], True),
    "vsplit": (lambda m, a: a.vsplit([1]), [X], True),
    "dsplit": (lambda m, a: m.dsplit(a, [1, 3]), [Z], True),
    "atleast_3d": (lambda m, a: m.atleast_3d(a), [X], True),
    "atleast_2d_many": (lambda m, a, b: m.atleast_2d(a[0, 0], b[0]), [X, Y], True),
    "atleast_1d": (lambda m, a: m.atleast_1d(a[1, 1]), [X], True),
    "hstack": (lambda m, a, b: m.hstack([a, b]), [X, Y], True),
    "hstack_1d": (lambda m, a, b: m.hstack([a[0], b[1]]), [X, Y], True),
    "vstack": (lambda m, a, b: m.vstack([a[0], b]), [X, Y], True),
    "row_stack": (lambda m, a, b: m.row_stack([a, b]), [X, Y], True),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [X, Y], True),
    "column_stack": (lambda m, a, b: m.column_stack([a[0], b]), [X, V3], True),
    "fliplr": (lambda m, a: m.fliplr(a), [X], True),
    "flipud": (lambda m, a: a.flipud(), [X], True),
    "rot90": (lambda m, a: m.rot90(a), [X], True),
    "rot90_k2": (lambda m, a: a.rot90(2, (0, 1)), [X], True),
    "rot90_k3": (lambda m, a: m.rot90(a, 3, (2, 0)), [Z], True),
    "rot90_kneg": (lambda m, a: m.rot90(a, -1, [0, 1]), [X], True),
    "broadcast_tensors": (lambda m, a, b: m.broadcast_tensors(a[:, :1], b[0]), [X, Y], True),
    "take": (lambda m, a: m.take(a, m.tensor([[0, 5], [11, -1]])), [X], True),
    "take_along_dim": (lambda m, a: m.take_along_dim(a, a.argsort(1), 1), [X], True),
    "take_along_dim_flat": (lambda m, a: a.take_along_dim(m.tensor([2, 0, 7])), [X], True),
    "take_along_dim_bcast": (lambda m, a: m.take_along_dim(a, m.tensor([[0], [2]]).unsqueeze(0),
                                                           1), [Z], True),
    "diag_embed": (lambda m, a: m.diag_embed(a), [X], True),
    "diag_embed_offset": (lambda m, a: a.diag_embed(-1), [X], True),
    "diag_embed_dims": (lambda m, a: m.diag_embed(a, 1, 0, 2), [X], True),
    "diagflat": (lambda m, a: m.diagflat(a, 2), [X], True),
    "trace": (lambda m, a: m.trace(a), [X], True),
    "trace_method": (lambda m, a: a.t().trace(), [X], True),
    "block_diag": (lambda m, a, b: m.block_diag(a, b[0], b[:2, :1]), [X, Y], True),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a[0], b[1, :2]), [X, Y], True),
    "combinations": (lambda m, a: m.combinations(a[0], 2), [X], True),
    "combinations_repl": (lambda m, a: m.combinations(a[1], 3, with_replacement=True), [X], True),
    "deg2rad": (lambda m, a: m.deg2rad(a), [X], True),
    "rad2deg": (lambda m, a: a.rad2deg(), [X], True),
    "deg2rad_int": (lambda m, a: m.deg2rad(a), [I], False),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), [X * (X > 0), U], True),
    "xlogy_scalar": (lambda m, a: m.xlogy(a, 3.0), [X], True),
    "logit": (lambda m, a: m.logit(a), [U], True),
    "logit_eps": (lambda m, a: a.logit(0.2), [U], True),
    "sinc": (lambda m, a: m.sinc(a), [X * (np.abs(X) > 0.3)], True),
    "copysign": (lambda m, a, b: m.copysign(a, b), [X, Y], True),
    "fmax": (lambda m, a, b: m.fmax(a, b), [NAN, X], True),
    "fmin": (lambda m, a, b: a.fmin(b), [X, NAN], True),
    "float_power": (lambda m, a: m.float_power(a, 2), [X], True),
    "float_power_int": (lambda m, a: m.float_power(a, 2), [I], False),
    "frac": (lambda m, a: m.frac(a * 3), [X], True),
    "fix": (lambda m, a: a.fix(), [X * 3], False),
    "positive": (lambda m, a: m.positive(a), [X], True),
    "sgn": (lambda m, a: m.sgn(a), [X], False),
    "nansum": (lambda m, a: m.nansum(a), [NAN], True),
    "nansum_dim": (lambda m, a: a.nansum(1, keepdim=True), [NAN], True),
    "nanmean": (lambda m, a: m.nanmean(a, 0), [NAN], True),
    "std_mean": (lambda m, a: m.std_mean(a, 1), [X], True),
    "var_mean_correction": (lambda m, a: m.var_mean(a, 0, correction=0, keepdim=True), [X], True),
    "var_mean_all": (lambda m, a: m.var_mean(a), [X], True),
    "aminmax": (lambda m, a: tuple(m.aminmax(a)), [X], False),
    "aminmax_dim": (lambda m, a: tuple(a.aminmax(dim=1, keepdim=True)), [X], False),
    "median": (lambda m, a: m.median(a), [X], True),
    "median_dim": (lambda m, a: tuple(a.median(1)), [X], True),
    "median_even_dim0": (lambda m, a: tuple(m.median(a, 0, keepdim=True)), [V3], True),
    "median_nan": (lambda m, a: m.median(a), [NAN], False),
    "median_nan_dim": (lambda m, a: tuple(m.median(a, 1)), [NAN], False),
    "nanmedian": (lambda m, a: m.nanmedian(a), [NAN], False),
    "nanmedian_dim": (lambda m, a: tuple(a.nanmedian(1)), [NAN], False),
    "kthvalue": (lambda m, a: tuple(m.kthvalue(a, 2)), [X], True),
    "kthvalue_dim0": (lambda m, a: tuple(a.kthvalue(3, 0, True)), [X], True),
    "msort": (lambda m, a: m.msort(a), [X], True),
    "cummax": (lambda m, a: tuple(m.cummax(a, 1)), [X], True),
    "cummin": (lambda m, a: tuple(a.cummin(0)), [X], True),
    "cummax_ties": (lambda m, a: tuple(m.cummax(a, 1)), [np.array([[1.0, 3, 3, 2, 3]])], True),
    "cross": (lambda m, a, b: m.cross(a, b, dim=1), [V3, W3], True),
    "cross_method": (lambda m, a, b: a.t().cross(b.t(), dim=0), [V3, W3], True),
    "inner": (lambda m, a, b: m.inner(a, b), [X, Y], True),
    "kron": (lambda m, a, b: m.kron(a, b), [X[:2, :3], Y[:3, :2]], True),
    "kron_ranks": (lambda m, a, b: m.kron(a, b), [Z[:, :2, :2], X[0, :3]], True),
    "tensordot": (lambda m, a, b: m.tensordot(a, b), [Z, X], True),
    "tensordot_lists": (lambda m, a, b: m.tensordot(a, b, ([1, 2], [0, 1])), [Z, X], True),
    "tensordot_int": (lambda m, a, b: m.tensordot(a, b, 1), [Z, V3], True),
    "vdot": (lambda m, a, b: m.vdot(a[0], b[0]), [X, Y], True),
    "cdist": (lambda m, a, b: m.cdist(a, b), [X, Y[:2]], True),
    "cdist_p1": (lambda m, a, b: m.cdist(a, b, 1.0), [Z, Z[:, :2]], True),
    "cdist_pinf": (lambda m, a, b: m.cdist(a, b, float("inf")), [X, Y], False),
    "dist": (lambda m, a, b: m.dist(a, b), [X, Y], True),
    "dist_p3": (lambda m, a, b: a.dist(b, 3), [X, Y], True),
    "index_add": (lambda m, a, b: m.index_add(a, 0, m.tensor([2, 0, 2]), b, alpha=2.0),
                  [X, Y], True),
    "index_add_method": (lambda m, a, b: a.index_add(1, m.tensor([1, 3, 1]), b[:, :3]),
                         [X, Y], True),
    "index_fill": (lambda m, a: m.index_fill(a, 1, m.tensor([0, 2]), -1.5), [X], True),
    "signbit": (lambda m, a: m.signbit(a), [X], False),
    "heaviside": (lambda m, a, b: m.heaviside(a * (np.abs(a) > 0.5), b), [X, Y], False),
    "isneginf": (lambda m, a: m.isneginf(a), [np.array([-np.inf, 0.0, np.inf, np.nan])], False),
    "isposinf": (lambda m, a: a.isposinf(), [np.array([-np.inf, 0.0, np.inf, np.nan])], False),
    "histc": (lambda m, a: m.histc(a, 5), [X], False),
    "histc_range": (lambda m, a: a.histc(4, -1, 1), [X], False),
    "bucketize": (lambda m, a, b: m.bucketize(a, b), [X, S], False),
    "bucketize_right": (lambda m, a, b: m.bucketize(a, b, right=True, out_int32=True),
                        [np.round(X), np.arange(-2.0, 3.0)], False),
    "searchsorted": (lambda m, a, b: m.searchsorted(b, a), [X, S], False),
    "searchsorted_rows": (lambda m, a, b: m.searchsorted(a.sort(1)[0], b, side="right"),
                          [X, Y[:, :2]], False),
    "isin": (lambda m, a, b: m.isin(a, b), [I, np.array([5, -1, 7])], False),
    "isin_invert": (lambda m, a: m.isin(a, 5, invert=True), [I], False),
    "gcd": (lambda m, a, b: m.gcd(a, b), [I, I.T], False),
    "lcm": (lambda m, a, b: a.lcm(b), [I, I.T + 10], False),
    "bitwise_and": (lambda m, a, b: m.bitwise_and(a, b), [I, I.T], False),
    "bitwise_xor": (lambda m, a, b: a.bitwise_xor(b), [I, I.T], False),
    "bitwise_not": (lambda m, a: m.bitwise_not(a), [I], False),
    "tril_indices": (lambda m: m.tril_indices(4, 3, 1), [], False),
    "triu_indices": (lambda m: m.triu_indices(3, 5, -1), [], False),
    "broadcast_shapes": (lambda m: m.tensor(m.broadcast_shapes((3, 1), (1, 4), (4,))), [],
                         False),
}


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [t for x in r for t in _flat(x)]
    return [r]


def _compare(ours, theirs, name):
    o, t = _flat(ours), _flat(theirs)
    assert len(o) == len(t), name
    for a, b in zip(o, t):
        assert tuple(a.shape) == tuple(b.shape), (name, tuple(a.shape), tuple(b.shape))
        assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (name, a.dtype, b.dtype)
        np.testing.assert_allclose(np.asarray(a.detach().numpy(), np.float64),
                                   np.asarray(b.detach().numpy(), np.float64),
                                   rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, arrays, differentiable = CASES[name]
    results = []
    for lib in (dl, torch):
        args = [_t(lib, a, differentiable) for a in arrays]
        out = fn(lib, *args)
        grads = []
        if differentiable:
            outs = [o for o in _flat(out) if o.dtype in (lib.float64,)]
            w = np.random.default_rng(5)
            loss = sum((o * lib.tensor(w.standard_normal(tuple(o.shape)),
                                       dtype=lib.float64)).sum() for o in outs)
            leaves = [a for a in args if hasattr(a, "requires_grad") and a.requires_grad]
            loss.backward()
            grads = [a.grad if a.grad is not None else lib.zeros(tuple(a.shape),
                                                                 dtype=lib.float64)
                     for a in leaves]
        results.append((out, grads))
    (ours, og), (theirs, tg) = results
    _compare(ours, theirs, name)
    _compare(og, tg, name + " gradient")


ERRORS = {
    "hsplit_uneven": lambda m: m.hsplit(m.zeros(3, 5), 2),
    "vsplit_1d": lambda m: m.vsplit(m.zeros(4), 2),
    "tensor_split_zero": lambda m: m.tensor_split(m.zeros(4), 0),
    "fliplr_1d": lambda m: m.fliplr(m.zeros(3)),
    "rot90_same_dims": lambda m: m.rot90(m.zeros(2, 2), 1, (1, 1)),
    "take_out_of_range": lambda m: m.take(m.zeros(2, 2), m.tensor([4])),
    "cross_no_3": lambda m: m.cross(m.zeros(2, 4), m.zeros(2, 4)),
    "cdist_columns": lambda m: m.cdist(m.zeros(2, 3), m.zeros(2, 4)),
    "vdot_2d": lambda m: m.vdot(m.zeros(2, 2), m.zeros(2, 2)),
    "select_out_of_range": lambda m: m.select(m.zeros(2, 3), 1, -4),
    "tensordot_mismatch": lambda m: m.tensordot(m.zeros(2, 3), m.zeros(4, 2), 1),
    "gcd_float": lambda m: m.gcd(m.zeros(2), m.zeros(2)),
    "frac_int": lambda m: m.frac(m.tensor([1, 2])),
    "positive_bool": lambda m: m.positive(m.tensor([True])),
    "nanmean_int": lambda m: m.nanmean(m.tensor([1, 2])),
    "is_nonzero_many": lambda m: m.is_nonzero(m.zeros(2)),
    "kthvalue_range": lambda m: m.kthvalue(m.zeros(3), 4),
    "broadcast_shapes": lambda m: m.broadcast_shapes((2, 3), (4,)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_raises_where_torch_raises(name):
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(Exception) as ours:
        ERRORS[name](dl)
    # the same family: torch's RuntimeError/IndexError/ValueError as ours
    assert isinstance(ours.value, (RuntimeError, IndexError, ValueError, TypeError)), ours.value
    assert issubclass(type(theirs.value), (RuntimeError, IndexError, ValueError, TypeError))


def test_select_is_a_view_as_torch():
    for lib in (dl, torch):
        x = lib.zeros(3, 4)
        x.select(1, 2).fill_(5.0)
        lib.select(x, 0, -1)[0] = 7.0
        assert x.tolist() == [[0, 0, 5, 0], [0, 0, 5, 0], [7, 0, 5, 0]]
    with pytest.raises(IndexError):
        dl.zeros(3).select(0, 3)


def test_type_info_as_torch():
    for d, t in ((dl.float32, torch.float32), (dl.float64, torch.float64),
                 (dl.float16, torch.float16)):
        ours, theirs = dl.finfo(d), torch.finfo(t)
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, attr) == getattr(theirs, attr), (d, attr)
    assert dl.finfo().eps == torch.finfo().eps
    for d, t in ((dl.int64, torch.int64), (dl.int32, torch.int32), (dl.uint8, torch.uint8),
                 (dl.int8, torch.int8)):
        ours, theirs = dl.iinfo(d), torch.iinfo(t)
        assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)
    with pytest.raises(TypeError):
        dl.finfo(dl.int64)
    with pytest.raises(TypeError):
        dl.iinfo(dl.float32)
    assert dl.int == dl.int32 and str(torch.int) == "torch.int32"
    assert isinstance(dl.float32, dl.dtype) and isinstance(dl.tensor([1]).dtype, dl.dtype)
    for vals in ([1, -2], [1.5], [True]):
        d, t = dl.tensor(vals), torch.tensor(vals)
        assert dl.is_signed(d) == torch.is_signed(t) and d.is_signed() == t.is_signed()
        assert dl.is_complex(d) == torch.is_complex(t) is False
    assert dl.tensor([3]).is_nonzero() and not dl.is_nonzero(dl.tensor([0.0]))
    assert dl.is_same_size(dl.zeros(2, 3), dl.ones(2, 3))
    assert not dl.zeros(2, 3).is_same_size(dl.zeros(3, 2))


def test_scalar_tensor_and_asarray_as_torch():
    for s in (3, 2.5, True):
        d, t = dl.scalar_tensor(s), torch.scalar_tensor(s)
        assert d.shape == () and str(d.dtype) == str(t.dtype)[6:] and d.item() == t.item()
    a = np.arange(4.0)
    d = dl.asarray(a)
    d[0] = 7.0              # shares memory with the array, as torch.asarray does
    assert a[0] == 7.0
    c = dl.asarray(a, copy=True)
    c[1] = -1.0
    assert a[1] == 1.0
    assert dl.asarray([1, 2]).dtype == dl.int64 == np.dtype(str(torch.asarray([1, 2]).dtype)[6:])
    assert dl.asarray([1.0], requires_grad=True).requires_grad
