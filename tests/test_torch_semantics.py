"""torch's semantics, with torch as the oracle: type promotion over a grid of dtype pairs and
operand kinds (dimensioned tensor, 0-d tensor, Python number) × ops, in-place ops keeping the
left dtype (and raising where torch raises), integer/bool reductions, view vs reshape."""
import itertools
import operator

import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
VALUES = {"bool": [True, True, False], "uint8": [1, 2, 3], "int8": [1, -2, 3],
          "int32": [4, -2, 3], "int64": [5, 2, -3], "float32": [1.5, -2.25, 3.0],
          "float64": [0.5, 2.0, -1.75]}
# the right operand is never 0 (integer division by zero is its own test)
RIGHT = {"bool": [True, True, True], "uint8": [2, 1, 3], "int8": [2, -1, 3],
         "int32": [3, 2, -1], "int64": [2, 3, 1], "float32": [0.75, -1.5, 2.0],
         "float64": [1.25, 0.5, -2.0]}
SCALARS = {"pybool": True, "pyint": 2, "pyfloat": 0.5}


def _operand(kind, dtype, values, lib):
    """A dimensioned tensor, a 0-d tensor, or a Python number of lib (torch or dl)."""
    if kind in SCALARS:
        return SCALARS[kind]
    dt = getattr(lib, dtype)
    data = values[dtype] if kind == "dim" else values[dtype][0]
    return lib.tensor(data, dtype=dt)


def _kinds():
    out = []
    for dt in DTYPES:
        out.append(("dim", dt))
        out.append(("zero", dt))
    for s in SCALARS:
        out.append((s, None))
    return out


PAIRS = [(a, b) for a in _kinds() for b in _kinds()
         if not (a[0] in SCALARS and b[0] in SCALARS)]
PAIR_IDS = ["%s-%s__%s-%s" % (a[0], a[1], b[0], b[1]) for a, b in PAIRS]

BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": operator.pow, "eq": operator.eq, "lt": operator.lt, "ge": operator.ge,
    "maximum": lambda a, b: (a if hasattr(a, "maximum") else b).maximum(
        b if hasattr(a, "maximum") else a),
}


def _run(fn, *args):
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001 - the oracle decides which inputs raise
        return None, e


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, dl.Tensor):
        return x.numpy()
    return np.asarray(x)


def _same(ours, theirs, what):
    assert isinstance(ours, dl.Tensor), "%s: expected a Tensor, got %r" % (what, ours)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), \
        "%s: dtype %s, torch gives %s" % (what, ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(_np(ours).astype(np.float64), _np(theirs).astype(np.float64),
                               rtol=1e-6, atol=1e-6, err_msg=what)


@pytest.mark.parametrize("left,right", PAIRS, ids=PAIR_IDS)
def test_binary_promotion_matches_torch(left, right):
    """Every op of BINARY on this operand pair: torch's dtype and values, or an error where
    torch raises one."""
    ta, tb = _operand(*left, VALUES, torch), _operand(*right, RIGHT, torch)
    da, db = _operand(*left, VALUES, dl), _operand(*right, RIGHT, dl)
    for op, fn in sorted(BINARY.items()):
        if op == "maximum" and (left[0] in SCALARS or right[0] in SCALARS):
            continue  # torch.maximum takes two tensors
        theirs, terr = _run(fn, ta, tb)
        ours, oerr = _run(fn, da, db)
        what = "%s(%s, %s)" % (op, left, right)
        if terr is not None:
            assert oerr is not None, "%s: torch raises %r, dlcore returned %r" % (what, terr,
                                                                                   ours)
            continue
        assert oerr is None, "%s: dlcore raised %r, torch gives %s" % (what, oerr, theirs)
        _same(ours, theirs, what)


@pytest.mark.parametrize("right", _kinds(), ids=lambda k: "%s-%s" % k)
@pytest.mark.parametrize("left", DTYPES)
def test_inplace_keeps_left_dtype_or_raises_like_torch(left, right):
    for op in ("add_", "sub_", "mul_", "div_"):
        ta = _operand("dim", left, VALUES, torch).clone()
        da = _operand("dim", left, VALUES, dl).clone()
        tb, db = _operand(*right, RIGHT, torch), _operand(*right, RIGHT, dl)
        theirs, terr = _run(lambda: getattr(ta, op)(tb))
        ours, oerr = _run(lambda: getattr(da, op)(db))
        what = "%s.%s(%s)" % (left, op, right)
        if terr is not None:
            assert oerr is not None, "%s: torch raises %r, dlcore did not" % (what, terr)
            assert np.array_equal(da.numpy(), ta.numpy()), what + ": changed before raising"
            continue
        assert oerr is None, "%s: dlcore raised %r" % (what, oerr)
        assert ours is da and str(da.dtype) == left
        _same(da, ta, what)


def test_inplace_operator_on_int_tensor_with_float_raises():
    t = dl.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        t += 0.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        t /= 2
    t *= 2
    assert t.dtype == dl.int64 and t.tolist() == [2, 4, 6]


@pytest.mark.parametrize("a,b", [("float32", "float64"), ("float64", "float32"),
                                 ("int64", "float32"), ("float32", "float32")])
def test_matmul_dtypes_as_torch(a, b):
    ta = torch.ones(2, 3, dtype=getattr(torch, a))
    tb = torch.ones(3, 2, dtype=getattr(torch, b))
    theirs, terr = _run(operator.matmul, ta, tb)
    ours, oerr = _run(operator.matmul, dl.ones(2, 3, dtype=getattr(dl, a)),
                      dl.ones(3, 2, dtype=getattr(dl, b)))
    assert (terr is None) == (oerr is None), (terr, oerr)
    if terr is None:
        _same(ours, theirs, "matmul")


@pytest.mark.parametrize("a,b", itertools.product(["bool", "int64", "float32", "float64"],
                                                  ["pyint", "pyfloat", "dim-int64",
                                                   "dim-float64", "zero-float64"]))
def test_where_and_cat_promote_as_torch(a, b):
    cond_t = torch.tensor([True, False, True])
    cond_d = dl.tensor([True, False, True])
    ta = torch.tensor(VALUES[a], dtype=getattr(torch, a))
    dA = dl.tensor(VALUES[a], dtype=getattr(dl, a))
    if b in SCALARS:
        tb = db = SCALARS[b]
    else:
        kind, dt = b.split("-")
        tb, db = _operand(kind, dt, RIGHT, torch), _operand(kind, dt, RIGHT, dl)
    _same(dl.where(cond_d, dA, db), torch.where(cond_t, ta, tb), "where")
    _same(dl.where(cond_d, db, dA), torch.where(cond_t, tb, ta), "where reversed")
    if b.startswith("dim"):
        _same(dl.cat([dA, db]), torch.cat([ta, tb]), "cat")
        _same(dl.stack([dA, db]), torch.stack([ta, tb]), "stack")


def test_where_of_two_numbers_is_default_float():
    c = dl.tensor([True, False])
    assert dl.where(c, 1.0, 0.0).dtype == dl.float32
    assert dl.where(c, 1, 0).dtype == dl.int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_of_every_dtype_as_torch(dtype):
    t = torch.tensor(VALUES[dtype], dtype=getattr(torch, dtype))
    d = dl.tensor(VALUES[dtype], dtype=getattr(dl, dtype))
    for red in ("sum", "mean", "prod", "var", "std", "cumsum"):
        args = (0,) if red == "cumsum" else ()
        theirs, terr = _run(lambda: getattr(t, red)(*args))
        ours, oerr = _run(lambda: getattr(d, red)(*args))
        if terr is not None:
            assert oerr is not None, "%s of %s: torch raises %r" % (red, dtype, terr)
            continue
        assert oerr is None, "%s of %s: %r" % (red, dtype, oerr)
        _same(ours, theirs, "%s(%s)" % (red, dtype))


def test_accuracy_idiom():
    pred = dl.tensor([1, 2, 3, 4])
    y = dl.tensor([1, 0, 3, 0])
    with pytest.raises(RuntimeError, match="mean"):
        (pred == y).mean()
    with pytest.raises(RuntimeError, match="mean"):
        pred.mean()
    acc = (pred == y).float().mean()
    assert acc.dtype == dl.float32 and acc.item() == 0.5
    assert (pred == y).sum().item() == 2 and (pred == y).sum().dtype == dl.int64
    assert pred.mean(dtype=dl.float32).item() == 2.5


def test_promotion_cases_named_in_the_issue():
    i = dl.tensor([1, 2, 3])
    assert (i / 2).dtype == dl.float32
    assert (i + dl.ones(3)).dtype == dl.float32
    assert (dl.ones(3) * dl.tensor(2.0, dtype=dl.float64)).dtype == dl.float32
    # the 0-d float64 tensor still gets its gradient, in its own dtype
    x = dl.ones(3, requires_grad=True)
    s = dl.tensor(3.0, dtype=dl.float64, requires_grad=True)
    (x * s).sum().backward()
    assert s.grad.dtype == dl.float64 and s.grad.item() == 3.0
    assert x.grad.dtype == dl.float32


def test_integer_division_by_zero_raises_as_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivision"):
        dl.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivision"):
        dl.tensor([1, 2]) % dl.tensor([1, 0])
    # float division by zero is IEEE's inf, as torch
    assert (dl.tensor([1, 2]) / 0).tolist() == (torch.tensor([1, 2]) / 0).tolist()


VIEW_CASES = [
    ((3, 4), lambda t: t, (12,)),
    ((3, 4), lambda t: t.t(), (12,)),
    ((3, 4), lambda t: t.t(), (4, 3)),
    ((3, 4), lambda t: t.t(), (2, 2, 3)),
    ((3, 4), lambda t: t[:, ::2], (6,)),
    ((3, 4), lambda t: t[:, ::2], (3, 2, 1)),
    ((4, 4), lambda t: t[::2], (8,)),
    ((4, 4), lambda t: t[::2], (2, 2, 2)),
    ((2, 3, 4), lambda t: t.permute(0, 2, 1), (2, 12)),
    ((2, 3, 4), lambda t: t.permute(1, 0, 2), (3, 8)),
    ((2, 3, 4), lambda t: t.permute(1, 0, 2), (6, 4)),
    ((2, 3, 4), lambda t: t.transpose(0, 1), (3, 2, 2, 2)),
    ((3, 1), lambda t: t.expand(3, 4), (12,)),
    ((3, 1), lambda t: t.expand(3, 4), (3, 2, 2)),
    ((1, 4), lambda t: t.expand(3, 4), (3, 4, 1)),
    ((5,), lambda t: t[1:4], (3, 1)),
    ((6,), lambda t: t[::2], (3, 1)),
    ((6,), lambda t: t[::2], (1, 3)),
]


@pytest.mark.parametrize("case", range(len(VIEW_CASES)))
def test_view_raises_where_torch_raises_and_writes_reach_the_base(case):
    shape, make, new = VIEW_CASES[case]
    n = int(np.prod(shape))
    tb = torch.arange(n, dtype=torch.float32).reshape(shape)
    db = dl.arange(n, dtype=dl.float32).reshape(shape)
    theirs, terr = _run(lambda: make(tb).view(new))
    ours, oerr = _run(lambda: make(db).view(new))
    assert (terr is None) == (oerr is None), (shape, new, terr, oerr)
    if terr is not None:
        assert isinstance(oerr, RuntimeError) and "reshape" in str(oerr)
        # reshape always works, as torch's does
        _same(make(db).reshape(new), make(tb).reshape(new), "reshape")
        return
    _same(ours, theirs, "view")
    if 0 in make(tb).stride():
        return  # an expanded tensor: torch refuses writes into it too
    last = tuple(n - 1 for n in new)
    ours[last] = -100.0
    theirs[last] = -100.0
    # the write went through the view into the base, at the same place as torch's
    np.testing.assert_array_equal(db.numpy(), tb.numpy())


def test_view_write_through_reaches_base():
    base = dl.zeros(4, 6)
    v = base[:, ::2].view(4, 3, 1)
    v[1, 2, 0] = 7.0
    assert base[1, 4].item() == 7.0
    v2 = base.t().view(6, 4)
    v2[5, 3] = 9.0
    assert base[3, 5].item() == 9.0


def test_view_dtype_reinterprets_bits_as_torch():
    t = torch.tensor([1.0, -2.5])
    d = dl.tensor([1.0, -2.5])
    assert d.view(dl.int32).tolist() == t.view(torch.int32).tolist()
    assert d.view(dl.uint8).shape == tuple(t.view(torch.uint8).shape)
    with pytest.raises(RuntimeError):
        dl.tensor(1.0).view(dl.float64)
