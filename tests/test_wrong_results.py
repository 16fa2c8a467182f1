"""Regression tests for the wrong results and wrong rejections of issue #19, each against torch."""
import math

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")


def _both(a, requires_grad=False):
    return (dl.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


# ---- Tensor.norm --------------------------------------------------------------------------------
NORM_INPUT = np.array([[0.0, 3.0, -3.0, 1.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 0.5, 0.0, 7.0]])


@pytest.mark.parametrize("p", [math.inf, -math.inf, 0, 1, 2, 3, 0.5, -1, "fro"])
@pytest.mark.parametrize("dim", [None, 1, 0, (0, 1)])
def test_norm_matches_torch_values_and_grads(p, dim):
    if p == -1 and dim in (None, 0, (0, 1)):
        dim = 1  # torch's -1 norm over a zero-containing set has an undefined gradient
    a, t = _both(NORM_INPUT, requires_grad=True)
    y, ty = a.norm(p=p, dim=dim), t.norm(p=p, dim=dim)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=0)
    y.sum().backward()
    ty.sum().backward()
    tg = np.zeros_like(NORM_INPUT) if t.grad is None else t.grad.numpy()  # p=0: no grad
    np.testing.assert_allclose(a.grad.numpy(), tg, rtol=1e-12, atol=1e-15)


def test_norm_inf_is_max_abs():
    x = dl.tensor(np.arange(-3, 3, dtype=np.float32))
    assert x.norm(p=math.inf).item() == 3.0
    assert x.norm(p=-math.inf).item() == 0.0
    assert x.norm(p=0).item() == 5.0


def test_norm_rejects_what_torch_rejects():
    with pytest.raises(TypeError, match="floating"):
        dl.tensor(np.arange(3)).norm()
    with pytest.raises(ValueError, match="empty"):
        dl.zeros(0).norm(p=-1)
    with pytest.raises(ValueError):
        dl.zeros(0).norm(p=math.inf)
    with pytest.raises(ValueError, match="nuc"):  # (a nuclear norm needs a matrix)
        dl.zeros(3).norm(p="nuc")


@pytest.mark.parametrize("make", [lambda m: m.zeros(3, requires_grad=True),
                                  lambda m: m.zeros(2, 3, requires_grad=True)])
def test_norm_and_std_gradient_at_zero_is_zero_as_torch(make):
    for mod in (dl, torch):
        z = make(mod)
        z.norm().backward()
        assert np.array_equal(np.asarray(z.grad), np.zeros(z.shape))
    for mod in (dl, torch):
        c = make(mod)
        (c + 1.5).std().backward()
        assert np.array_equal(np.asarray(c.grad), np.zeros(c.shape))
    a, t = _both(np.full((3, 4), 2.0), requires_grad=True)
    a.std(dim=1).sum().backward()
    t.std(dim=1).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


def test_std_gradient_unchanged_away_from_zero():
    x = np.random.default_rng(0).standard_normal((4, 5))
    a = dl.tensor(x, requires_grad=True)
    assert dl.autograd.gradcheck(lambda v: v.std(dim=1), (a,))


# ---- gather / scatter_add / index_select ---------------------------------------------------------
def test_gather_does_not_broadcast_the_index():
    x = np.random.default_rng(1).standard_normal((15, 7)).astype(np.float32)
    a, t = _both(x)
    idx = np.array([[3]])
    y = a.gather(0, dl.tensor(idx))
    assert tuple(y.shape) == (1, 1)
    np.testing.assert_array_equal(y.numpy(), t.gather(0, torch.tensor(idx)).numpy())


@pytest.mark.parametrize("dim,shape", [(0, (16, 1)), (1, (2, 9)), (1, (3, 3)), (0, (0, 7)),
                                       (0, (4, 2)), (-1, (15, 1))])
def test_gather_shapes_and_grads_as_torch(dim, shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((15, 7))
    d = dim % 2
    idx = rng.integers(0, x.shape[d], size=shape)
    a, t = _both(x, requires_grad=True)
    y, ty = a.gather(dim, dl.tensor(idx)), t.gather(dim, torch.tensor(idx))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = rng.standard_normal(shape)
    (y * dl.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dim,idx", [(0, [[-1]]), (0, [[15]]), (1, [[7]]), (1, np.zeros((16, 1))),
                                     (0, np.zeros((1, 8))), (0, np.zeros(3)), (0, [[0.5]])])
def test_gather_raises_where_torch_raises(dim, idx):
    x = np.zeros((15, 7))
    idx = np.asarray(idx)
    idx = idx.astype(np.int64) if idx.dtype.kind == "f" and np.all(idx == 0) else idx
    with pytest.raises(Exception):
        torch.tensor(x).gather(dim, torch.tensor(idx))
    with pytest.raises((IndexError, ValueError, TypeError)):
        dl.tensor(x).gather(dim, dl.tensor(idx))


def test_negative_indices_raise_in_index_ops_as_torch():
    x = np.zeros((5, 3))
    for call in (lambda m, T: T(x).index_select(0, T(np.array([-1]))),
                 lambda m, T: T(x).scatter_add(0, T(np.array([[-1]])), T(np.ones((1, 1))))):
        with pytest.raises(Exception):
            call(torch, torch.tensor)
        with pytest.raises(IndexError, match="-1 is out of bounds"):
            call(dl, dl.tensor)
    # where torch accepts a negative index (plain and advanced indexing), so do we
    a, t = _both(np.arange(15.0).reshape(5, 3))
    np.testing.assert_array_equal(a[-1].numpy(), t[-1].numpy())
    np.testing.assert_array_equal(a[dl.tensor(np.array([-1, 0]))].numpy(),
                                  t[torch.tensor([-1, 0])].numpy())
    np.testing.assert_array_equal(a.index_select(-1, dl.tensor(np.array([2]))).numpy(),
                                  t.index_select(-1, torch.tensor([2])).numpy())
    np.testing.assert_array_equal(a.gather(-1, dl.tensor(np.array([[2], [0]]))).numpy(),
                                  t.gather(-1, torch.tensor([[2], [0]])).numpy())


def test_scatter_add_matches_torch_with_a_smaller_index():
    rng = np.random.default_rng(3)
    x, src = rng.standard_normal((4, 5)), rng.standard_normal((3, 6))
    idx = rng.integers(0, 4, size=(2, 3))
    got = dl.tensor(x).scatter_add(0, dl.tensor(idx), dl.tensor(src)).numpy()
    want = torch.tensor(x).scatter_add(0, torch.tensor(idx), torch.tensor(src)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="larger than src"):
        dl.tensor(x).scatter_add(0, dl.tensor(idx), dl.tensor(src[:1]))


# ---- max_unpool2d --------------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p", [(3, 1, 0), (3, 2, 1), (2, 1, 0)])
def test_max_unpool2d_places_overlapping_maxima(k, s, p):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 6)).astype(np.float32)
    x[0, 0, 3, 3] = 9.0  # one maximum shared by many overlapping windows
    a, t = _both(x, requires_grad=True)
    y, i = F.max_pool2d(a, k, s, p, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(t, k, s, p, return_indices=True)
    u = F.max_unpool2d(y, i, k, s, p, output_size=x.shape[2:])
    tu = torch.nn.functional.max_unpool2d(ty, ti, k, s, p, output_size=x.shape[2:])
    np.testing.assert_array_equal(u.detach().numpy(), tu.detach().numpy())
    assert u.detach().numpy().max() == 9.0
    g = np.random.default_rng(5).standard_normal(u.shape).astype(np.float32)
    (u * dl.tensor(g)).sum().backward()
    (tu * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_unpool2d_rejects_indices_outside_the_plane():
    y = dl.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="outside the output plane"):
        F.max_unpool2d(y, dl.tensor(np.full((1, 1, 2, 2), 16)), 2)


# ---- NumPy protocol ------------------------------------------------------------------------------
def test_array_copy_true_copies():
    w = dl.nn.Parameter(dl.ones(3))
    snap = np.array(w, copy=True)
    opt = dl.optim.SGD([w], lr=1.0)
    w.sum().backward()
    opt.step()
    np.testing.assert_array_equal(snap, np.ones(3, np.float32))
    assert np.shares_memory(np.asarray(w), w._data)
    assert not np.shares_memory(np.array(w), w._data)
    with pytest.raises(ValueError, match="copy=False"):
        np.array(w, dtype=np.float64, copy=False)
    assert np.array(w, dtype=np.float64).dtype == np.float64


# ---- valid inputs the kernels used to refuse -----------------------------------------------------
def test_linear_with_a_non_contiguous_bias():
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    for grad in (False, True):
        got = F.linear(dl.tensor(x, requires_grad=grad), dl.tensor(w), dl.tensor(b)[:, 1])
        want = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)[:, 1])
        np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="bias dtype"):
        F.linear(dl.tensor(x), dl.tensor(w), dl.tensor(b[:, 0].astype(np.float32)))


def _copy_rnn(m, tm):
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_rnn_on_an_expanded_input(cls):
    m, tm = getattr(dl.nn, cls)(3, 5), getattr(torch.nn, cls)(3, 5)
    _copy_rnn(m, tm)
    x = np.random.default_rng(7).standard_normal((1, 1, 3)).astype(np.float32)
    a = dl.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    y, ty = m(a.expand(4, 2, 3))[0], tm(t.expand(4, 2, 3))[0]
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_with_batch_zero(cls, bidirectional):
    m = getattr(dl.nn, cls)(3, 5, num_layers=2, bidirectional=bidirectional)
    tm = getattr(torch.nn, cls)(3, 5, num_layers=2, bidirectional=bidirectional)
    x = dl.randn(4, 0, 3, requires_grad=True)
    out, h = m(x)
    tout, th = tm(torch.zeros(4, 0, 3))
    assert tuple(out.shape) == tuple(tout.shape)
    hs = h if cls == "LSTM" else (h,)
    ths = th if cls == "LSTM" else (th,)
    assert [tuple(v.shape) for v in hs] == [tuple(v.shape) for v in ths]
    (out.sum() + hs[0].sum()).backward()
    assert tuple(x.grad.shape) == (4, 0, 3)
    assert float(np.abs(m.weight_ih_l0.grad.numpy()).sum()) == 0.0


@pytest.mark.parametrize("causal", [False, True])
def test_attention_with_head_dim_zero(causal):
    rng = np.random.default_rng(8)
    q, v = rng.standard_normal((1, 2, 3, 0)), rng.standard_normal((1, 2, 3, 4))
    got = F.scaled_dot_product_attention(dl.tensor(q), dl.tensor(q), dl.tensor(v),
                                         is_causal=causal).numpy()
    want = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(q), torch.tensor(v), is_causal=causal).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mish_gradient_at_large_inputs(dtype):
    x = np.array([1e30, 1e4, 25.0, 20.5, 19.0, 0.0, -20.0, -1e30, 3.0], dtype)
    a, t = _both(x, requires_grad=True)
    F.mish(a).sum().backward()
    torch.nn.functional.mish(t).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_embedding_padding_idx_must_be_an_int():
    with pytest.raises(TypeError, match="padding_idx"):
        dl.nn.Embedding(4, 3, padding_idx=1.5)
    with pytest.raises(TypeError, match="padding_idx"):
        F.embedding(dl.tensor(np.array([0])), dl.randn(4, 3), padding_idx=1.5)
    assert dl.nn.Embedding(4, 3, padding_idx=np.int64(-1)).padding_idx == 3


def test_llama_config_checks_head_counts():
    from dlcore.models.llama_config import LlamaConfig
    for kv in (0, -2):
        with pytest.raises(ValueError, match="n_kv_heads must be a positive int"):
            LlamaConfig(10, 8, 1, 4, kv, 16)
    with pytest.raises(ValueError, match="n_heads must be a positive int"):
        LlamaConfig(10, 8, 1, 0, 1, 16)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        LlamaConfig(10, 8, 1, 4, 3, 16)
    md = {"general.architecture": "llama", "llama.attention.head_count": 4,
          "llama.attention.head_count_kv": 0, "llama.embedding_length": 8,
          "llama.block_count": 1, "llama.feed_forward_length": 16, "llama.vocab_size": 10}
    with pytest.raises(ValueError, match="n_kv_heads"):
        LlamaConfig.from_gguf_metadata(md)


def test_bpe_from_gguf_without_tokens_is_a_clear_error():
    from dlcore.text.bpe import BPETokenizer

    class Meta:
        metadata = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"]}
    with pytest.raises(ValueError, match="lacks tokenizer.ggml.merges"):
        BPETokenizer.from_gguf(Meta())


@pytest.mark.parametrize("call", [
    lambda x, i: x.gather(0, i.reshape(1, 1)),
    lambda x, i: x.index_select(0, i),
    lambda x, i: x.scatter_add(0, i.reshape(1, 1), dl.ones(1, 1)),
])
def test_index_just_past_the_end_is_named_in_the_error(call):
    x = dl.zeros(15, 7)
    with pytest.raises(IndexError, match="index 15 is out of bounds for dim 0 of size 15"):
        call(x, dl.tensor(np.array([15])))
    call(x, dl.tensor(np.array([14])))  # the last valid index


def _sdpa_ieee(q, k, v):
    """softmax(q k^T / sqrt(E)) v in float64 NumPy, NaN and Inf as IEEE arithmetic makes them."""
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(s - s.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("where", ["q", "k", "v"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("E", [1, 2, 3])
def test_attention_propagates_nan_and_inf(where, value, E):
    """NaN/Inf operands give the IEEE result (a NaN row where a score is NaN or the softmax is
    inf/inf).  torch's CPU kernels differ by head dim here (E=1: NaN rows, E>1: some NaN rows
    come out as zeros); we never show a finite value where torch shows NaN."""
    rng = np.random.default_rng(9)
    arrs = {n: rng.standard_normal((1, 2, 4, E)).astype(np.float32) for n in "qkv"}
    arrs[where][0, 1, 2, E - 1] = value
    got = F.scaled_dot_product_attention(*(dl.tensor(arrs[n]) for n in "qkv")).numpy()
    np.testing.assert_allclose(got, _sdpa_ieee(*(arrs[n] for n in "qkv")), rtol=1e-5,
                               atol=1e-6, equal_nan=True)
    want = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(arrs[n]) for n in "qkv")).numpy()
    assert not (np.isnan(want) & ~np.isnan(got)).any()
    finite = np.isfinite(got)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-6)


def test_fuzz_findings_flip_of_a_scalar_and_logsumexp_of_an_empty_dim():
    a, t = _both(np.array(3.0))
    np.testing.assert_array_equal(a.flip(0).numpy(), t.flip(0).numpy())
    a, t = _both(np.zeros((2, 0)), requires_grad=True)
    y, ty = a.logsumexp(1), t.logsumexp(1)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    assert tuple(a.grad.shape) == (2, 0)


def test_std_of_large_float32_values_is_finite_as_torch(torch):
    """The variance of float32 values near 3e19 overflows float32; torch's std stays finite."""
    x = np.array([3e19, -3e19, 1e19], np.float32)
    a = dl.tensor(x, requires_grad=True)
    s = a.std()
    s.backward()
    t = torch.tensor(x, requires_grad=True)
    ts = t.std()
    ts.backward()
    assert s.dtype == dl.float32 and np.isfinite(s.item())
    np.testing.assert_allclose(s.item(), ts.item(), rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5)


# ---- log_softmax of huge logits (found by the long fuzz run) ------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["row", "columns"])
@pytest.mark.parametrize("values", [[1e30, 1e30], [1e30, 1e30, -1e30], [1e8, 1e8, 1e8 - 16],
                                    [-3e7, -3e7, -3e7, -3e7, -3e7]])
def test_log_softmax_keeps_log_sum_beside_a_huge_max(isa, dtype, layout, values):
    """log_softmax([1e30, 1e30]) is -log 2 each (torch); computing x - (max + log sum) rounds
    max + log 2 to max and gave 0.  Both kernels: along a row (inner = 1) and down columns."""
    x = np.array(values, dtype)
    if layout == "columns":
        x = np.repeat(x[:, None], 19, axis=1)   # dim 0 of (n, 19): the column kernel, a tail
    a, t = _both(x)
    y, ty = F.log_softmax(a, 0), torch.log_softmax(t, 0)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6, atol=0)
    ties = sum(v == max(values) for v in values)   # the other terms' exp underflows
    assert y.numpy()[0].flat[0] == pytest.approx(-math.log(ties), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_gradient_beside_a_huge_max(isa, dtype, smoothing):
    """The backward used p = exp(x - lse) with lse = max + log-sum rounded to max at 1e8 or
    1e30: two tied logits both got p = 1 (gradient [0, 1, 0], torch [-0.5, 0.5, 0]).  Class
    indices and class probabilities (whose target gradient uses log p too), against torch."""
    x = np.array([[1e30, 1e30, 0.0], [1e8, 1e8, 1e8 - 40], [-1e30, -1e30, -1e30]], dtype)
    x = np.repeat(x, 3, axis=1)                 # 9 classes: a vector and a tail on every path
    idx = np.array([0, 1, 4])
    q = np.random.default_rng(0).dirichlet(np.ones(9), size=3).astype(dtype)
    for target, ttarget in ((dl.tensor(idx), torch.tensor(idx)), (None, None)):
        a, t = _both(x, requires_grad=True)
        if target is None:
            target, ttarget = _both(q, requires_grad=True)
        loss = F.cross_entropy(a, target, label_smoothing=smoothing)
        tloss = torch.nn.functional.cross_entropy(t, ttarget, label_smoothing=smoothing)
        loss.backward()
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-6)
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)
        if ttarget.requires_grad:
            np.testing.assert_allclose(target.grad.numpy(), ttarget.grad.numpy(), rtol=1e-5)


# ---- found by the long fuzz run (session 5) ------------------------------------------------------
def test_log_softmax_keeps_small_differences_next_to_a_huge_max():
    torch = pytest.importorskip("torch")
    x = np.array([[1e30, 1e30, 3.0], [2.0, 1e30, -1e30]], np.float32)
    for dim in (0, 1):
        want = torch.tensor(x).log_softmax(dim).numpy()
        np.testing.assert_allclose(dl.tensor(x).log_softmax(dim).numpy(), want, rtol=1e-6)
        got64 = dl.tensor(x.astype(np.float64)).log_softmax(dim).numpy()
        np.testing.assert_allclose(got64, torch.tensor(x.astype(np.float64)).log_softmax(dim))
    loss = dl.nn.functional.nll_loss(dl.tensor(x[:1]).log_softmax(1), dl.tensor([0]))
    assert abs(loss.item() - np.log(2)) < 1e-6


def test_layer_norm_row_with_a_1e30_entry_matches_float64():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
    x[0, 5] = 1e30
    x[2, 0] = -3e25
    want = torch.nn.functional.layer_norm(torch.tensor(x).double(), (64,)).float().numpy()
    got = dl.nn.functional.layer_norm(dl.tensor(x), (64,)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_norm_float32_does_not_overflow_below_float32_max():
    torch = pytest.importorskip("torch")
    x = np.array([[1e30, 1.0], [3e20, 4e20]], np.float32)
    for p in (2, 3, 1.5):
        want = torch.tensor(x).double().norm(p=p, dim=1).float().numpy()
        np.testing.assert_allclose(dl.tensor(x).norm(p=p, dim=1).numpy(), want, rtol=1e-6)


def test_sort_and_topk_put_nan_first_when_descending():
    torch = pytest.importorskip("torch")
    x = np.array([[0.5, np.nan, 2.0, np.nan, -1.0], [1.0, 1.0, np.nan, 3.0, 0.0]], np.float32)
    for desc in (False, True):
        got, want = dl.tensor(x).sort(1, descending=desc), torch.tensor(x).sort(dim=1, descending=desc, stable=True)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    for largest in (False, True):
        got, want = dl.tensor(x).topk(3, 1, largest), torch.tensor(x).topk(3, 1, largest)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())


def test_var_and_std_of_equal_values_are_exactly_zero_with_zero_gradient():
    torch = pytest.importorskip("torch")
    for dtype in (np.float32, np.float64):
        for v in (1e30, 0.1257302165031433, -3.3):
            col = np.random.default_rng(1).standard_normal(33).astype(dtype)
            x = np.broadcast_to(col, (33, 33)).copy()  # every column constant
            x[:, 0] = v
            np.testing.assert_array_equal(dl.tensor(x).var(0).numpy(), torch.tensor(x).var(0).numpy())
            t = dl.tensor(x, requires_grad=True)
            t.std(0).sum().backward()
            tt = torch.tensor(x, requires_grad=True)
            tt.std(0).sum().backward()
            np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


def test_layer_norm_of_a_constant_row_is_the_bias_in_float64():
    torch = pytest.importorskip("torch")
    x = np.full((2, 33), 1e30)
    x[1] = 0.1
    b = np.random.default_rng(2).standard_normal(33)
    w = np.random.default_rng(3).standard_normal(33)
    want = torch.nn.functional.layer_norm(torch.tensor(x), (33,), torch.tensor(w), torch.tensor(b))
    got = dl.nn.functional.layer_norm(dl.tensor(x), (33,), dl.tensor(w), dl.tensor(b))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_variance_of_equal_huge_values_is_exactly_zero():
    """Found by the long fuzz run: the variance of 33 copies of 1e30 is 0.  dlcore says so in
    float32 and float64; torch's float64 var says 2.04e28 (its mean's rounding, squared)."""
    for dtype in (np.float32, np.float64):
        x = dl.tensor(np.full(33, 1e30, dtype)).reshape(1, 33).expand(3, 33)
        assert x.var(1).numpy().tolist() == [0.0] * 3
        assert x.std(1).numpy().tolist() == [0.0] * 3
        assert float(x.var()) == 0.0
