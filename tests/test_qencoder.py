"""The eager inference path of a dynamically quantized BERT layer (dlcore.ops.qencoder, taken
by BertLayer through dlcore.models._bert_int8): bit for bit the modules' output, taken only
where the modules would add nothing, and left for the modules on non-finite attention input."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.models import BertModel
from dlcore.models import _bert_int8
from dlcore.ops import qencoder


def _model(act="gelu", granularity="per_row", layers=2):
    dl.manual_seed(3)
    m = BertModel(vocab_size=50, hidden_size=20, num_hidden_layers=layers,
                  num_attention_heads=4, intermediate_size=36, hidden_act=act,
                  add_pooling_layer=False).eval()
    return dl.quantization.quantize_dynamic(m, {nn.Linear}, granularity=granularity)


def _inputs(rng, B=2, T=11):
    ids = rng.integers(0, 50, (B, T)).astype(np.int64)
    mask = np.ones((B, T), np.int64)
    mask[1, 7:] = 0                     # padding in the second sequence
    types = (np.arange(T)[None, :] >= 5).astype(np.int64).repeat(B, 0)
    return ids, mask, types


def _run(q, inputs, fast):
    """(hidden states, number of layers the fast path computed)"""
    taken = []
    real = qencoder.int8_encoder_layer

    def counting(*a):
        y = real(*a)
        taken.append(y is not None)
        return y
    _bert_int8.int8_encoder_layer = counting
    hooks = [] if fast else [l.register_forward_hook(lambda *a: None) for l in q.encoder.layer]
    try:
        with dl.no_grad():
            h = q(*[None if a is None else dl.tensor(a) for a in inputs])[0].numpy()
    finally:
        _bert_int8.int8_encoder_layer = real
        for k in hooks:
            k.remove()
    return h, sum(taken)


@pytest.mark.parametrize("act", ["gelu", "relu"])
@pytest.mark.parametrize("granularity", ["per_row", "per_tensor"])
def test_fast_path_equals_the_modules(act, granularity, isa, rng):
    q = _model(act, granularity)
    inputs = _inputs(rng)
    got, n = _run(q, inputs, fast=True)
    assert n == 2
    want, n = _run(q, inputs, fast=False)
    assert n == 0
    np.testing.assert_array_equal(got, want)
    # and without an attention mask, batch 1, an odd length
    inputs = (inputs[0][:1, :9], None, None)
    got, n = _run(q, inputs, fast=True)
    assert n == 2
    np.testing.assert_array_equal(got, _run(q, inputs, fast=False)[0])


def test_fast_path_stays_close_to_float(rng):
    dl.manual_seed(3)
    m = BertModel(vocab_size=50, hidden_size=20, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=36, add_pooling_layer=False).eval()
    q = dl.quantization.quantize_dynamic(m, {nn.Linear})
    inputs = _inputs(rng)
    got, n = _run(q, inputs, fast=True)
    with dl.no_grad():
        ref = m(*[dl.tensor(a) for a in inputs])[0].numpy()
    assert n == 2
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max()


def test_fast_path_only_where_the_modules_add_nothing(rng):
    q = _model()
    inputs = _inputs(rng)
    # autograd on, training mode (dropout), a hook on an inner module, a float Linear left
    with dl.enable_grad():
        assert _bert_int8.int8_layer_forward(q.encoder.layer[0], dl.zeros(2, 11, 20), None) \
            is None
    q.train()
    assert _run(q, inputs, fast=True)[1] == 0
    q.eval()
    h = q.encoder.layer[0].attention.self.key.register_forward_hook(lambda *a: None)
    assert _run(q, inputs, fast=True)[1] == 1
    h.remove()
    assert _run(q, inputs, fast=True)[1] == 2
    dl.manual_seed(3)
    q.encoder.layer[1].output.dense = nn.Linear(36, 20)
    assert _run(q, inputs, fast=True)[1] == 1


def test_non_finite_attention_input_goes_to_the_modules(rng):
    q = _model(layers=1)
    w = q.embeddings.word_embeddings.weight
    with dl.no_grad():
        w._data[7] = np.inf
    ids, mask, types = _inputs(rng)
    ids[0, 3] = 7
    got, n = _run(q, (ids, mask, types), fast=True)
    assert n == 0
    want, _ = _run(q, (ids, mask, types), fast=False)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0]).any()
