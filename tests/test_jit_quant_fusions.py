"""Two hand-offs the dl.jit plan makes without a pass over memory (a BERT layer's int8 plan):
a SkipLayerNormalization read by a dynamic int8 Linear also writes its rows quantized for it
(DL_QLIN_QROWS), and an attention step read only by the heads' merge (Transpose 0, 2, 1, 3)
writes its output in the merged layout, so the merge's copy goes.  Each is checked bit for
bit against the same plan with the fusion refused (the quantizer sees the same floats, the
attention writes the same values elsewhere), on every ISA and at 1 and 2 threads, and each
refuses where another reader needs what it would drop."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import lower_layers, lower_math

F = nn.functional


def eager(model, x):
    with dl.no_grad():
        return model(dl.tensor(x)).numpy()


def unfused_plan(monkeypatch, model, x):
    """The plan of `model` with both fusions refused."""
    with monkeypatch.context() as m:
        m.setattr(lower_math, "layernorm_rows", lambda L, y, M, N: (None, 0))
        m.setattr(lower_layers, "_merged_heads", lambda L, y: None)
        return dl.jit.trace(model, x).plan(x)


class Residual(nn.Module):
    """x -> LN(x + a(x)) = y -> LN(y + c(relu(b(y)))) -> f: two SkipLayerNormalizations,
    each read by a Linear and by a residual add or the output."""

    def __init__(self, d=37, h=53):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(d, d), nn.Linear(d, h), nn.Linear(h, d)
        self.ln1, self.ln2, self.f = nn.LayerNorm(d), nn.LayerNorm(d), nn.Linear(d, 5)

    def forward(self, x):
        y = self.ln1(x + self.a(x))
        z = self.ln2(y + self.c(F.relu(self.b(y))))
        return self.f(z) + z[..., :5]


def _steps(p, label):
    return [s for s in p.steps if s.label == label]


@pytest.mark.parametrize("reduce_range", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 203])
def test_layernorm_writes_the_next_linears_quantized_rows(reduce_range, rows, isa, threads,
                                                          rng, monkeypatch):
    dl.manual_seed(0)
    q = dl.quantization.quantize_dynamic(Residual().eval(), reduce_range=reduce_range)
    x = rng.standard_normal((rows, 37)).astype(np.float32) * 3
    p = dl.jit.trace(q, x).plan(x)
    lns = _steps(p, "SkipLayerNormalization")
    assert [s.ints[2] for s in lns] == [127 if reduce_range else 255] * 2
    # both LayerNorms' readers take quantized rows (mode 3); so does c, from b's epilogue
    assert [s.ints[3] for s in _steps(p, "QLinear")] == [0, 3, 3, 3]
    ref = unfused_plan(monkeypatch, q, x)
    assert all(s.ints[2] == 0 for s in _steps(ref, "SkipLayerNormalization"))
    np.testing.assert_array_equal(p(x)[0], ref(x)[0])
    # a NaN row stays NaN and alone
    x[rows // 2, 3] = np.nan
    got = p(x)[0]
    np.testing.assert_array_equal(got, ref(x)[0])
    assert np.isnan(got[rows // 2]).all()
    assert np.isfinite(np.delete(got, rows // 2, axis=0)).all()
    # and the quantized plan stays near the float model
    x[rows // 2, 3] = 0.0
    dl.manual_seed(0)
    f = eager(Residual().eval(), x)
    assert np.abs(p(x)[0] - f).max() < 0.1 * np.abs(f).max()


def test_layernorm_rows_only_for_compatible_readers(rng, monkeypatch):
    """A per-tensor reader, or one quantizing to the other range, keeps the float rows."""
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = nn.LayerNorm(21)
            self.p, self.q, self.r = nn.Linear(21, 9), nn.Linear(21, 9), nn.Linear(21, 9)

        def forward(self, x):
            y = self.ln(x + x)
            return self.p(y) + self.q(y) + self.r(y)

    dl.manual_seed(2)
    q = dl.quantization.quantize_dynamic(Two().eval())
    q.q.reduce_range = True                  # the other code range than the first reader
    q.r.granularity = "per_tensor"           # one scale for all rows: not per-row codes
    x = rng.standard_normal((11, 21)).astype(np.float32)
    p = dl.jit.trace(q, x).plan(x)
    assert [s.ints[2] for s in _steps(p, "SkipLayerNormalization")] == [255]
    assert sorted(s.ints[3] for s in _steps(p, "QLinear")) == [0, 1, 3]
    np.testing.assert_array_equal(p(x)[0], unfused_plan(monkeypatch, q, x)(x)[0])
    # a LayerNorm no dynamic Linear reads writes no rows
    m = nn.Sequential(nn.Linear(21, 21), nn.LayerNorm(21), nn.Linear(21, 3)).eval()
    p = dl.jit.trace(m, x).plan(x)
    assert all(s.ints[2] == 0 for s in p.steps if "LayerNorm" in s.label and len(s.ints) > 2)


class Heads(nn.Module):
    """BERT's self-attention: heads split by Reshape + Transpose, merged back the same way."""

    def __init__(self, d=15, heads=3, extra_reader=False):
        super().__init__()
        self.h, self.extra = heads, extra_reader
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x):
        B, L, d = x.shape
        t = self.qkv(x).reshape(B, L, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(t[0], t[1], t[2])
        y = self.out(o.transpose(1, 2).reshape(B, L, d))
        return y + o.sum() if self.extra else y


@pytest.mark.parametrize("quant", [False, True])
@pytest.mark.parametrize("shape", [(1, 7), (2, 33)])
def test_attention_writes_the_merged_heads(quant, shape, isa, threads, rng, monkeypatch):
    dl.manual_seed(3)
    m = Heads().eval()
    if quant:
        m = dl.quantization.quantize_dynamic(m, reduce_range=True)
    x = rng.standard_normal(shape + (15,)).astype(np.float32)
    p = dl.jit.trace(m, x).plan(x)
    ref = unfused_plan(monkeypatch, m, x)
    assert len(_steps(p, "Attention")) == 1
    assert len(_steps(p, "Copy")) == len(_steps(ref, "Copy")) - 1
    np.testing.assert_array_equal(p(x)[0], ref(x)[0])
    tol = 0.05 if quant else 1e-5
    e = eager(m, x)
    assert np.abs(p(x)[0] - e).max() <= tol * np.abs(e).max()


def test_attention_output_read_elsewhere_stays_contiguous(rng):
    dl.manual_seed(3)
    m = Heads(extra_reader=True).eval()
    x = rng.standard_normal((2, 9, 15)).astype(np.float32)
    p = dl.jit.trace(m, x).plan(x)
    assert len(_steps(p, "Copy")) >= 1
    np.testing.assert_allclose(p(x)[0], eager(m, x), rtol=1e-5, atol=1e-5)
