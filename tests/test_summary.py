"""Module.summary() and `dlcore summary`: parameter counts equal torch's for the same layers,
MACs equal hand counts, output shapes are the forward pass's, and nothing about the model
changes (training flags, batch-norm statistics)."""
import io

import numpy as np
import pytest

import dlcore as dl
from dlcore import cli, nn
from dlcore.nn.summary import layer_macs, summary


def _torch_params(m, trainable=False):
    return sum(p.numel() for p in m.parameters() if p.requires_grad or not trainable)


def _pairs():
    """(dlcore module, the same module built by torch) for a handful of layer kinds."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    return [
        (nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                       nn.Conv2d(8, 12, 5, stride=2, groups=4, bias=False), nn.Flatten(),
                       nn.Linear(12 * 6 * 6, 10)),
         tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(),
                        tnn.Conv2d(8, 12, 5, stride=2, groups=4, bias=False), tnn.Flatten(),
                        tnn.Linear(12 * 6 * 6, 10))),
        (nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=7),
         tnn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=7)),
        (nn.GRU(6, 9, num_layers=3), tnn.GRU(6, 9, num_layers=3)),
        (nn.TransformerEncoderLayer(32, 4, 64), tnn.TransformerEncoderLayer(32, 4, 64)),
        (nn.TransformerDecoderLayer(16, 2, 40), tnn.TransformerDecoderLayer(16, 2, 40)),
        (nn.MultiheadAttention(12, 3, kdim=5, vdim=7), tnn.MultiheadAttention(12, 3, kdim=5,
                                                                             vdim=7)),
        (nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), tnn.ConvTranspose2d(4, 6, 3, stride=2,
                                                                             groups=2)),
        (nn.Embedding(50, 8), tnn.Embedding(50, 8)),
        (nn.LayerNorm(13), tnn.LayerNorm(13)),
    ]


def test_parameter_counts_match_torch():
    for ours, theirs in _pairs():
        s = summary(ours)
        assert s.total_params == _torch_params(theirs), type(ours).__name__
        assert s.trainable_params == s.total_params
        # the rows add up to the total (each parameter counted once, where it lives)
        assert sum(r["params"] for r in s.rows) == s.total_params
        # and per submodule, the same counts as torch's submodule of the same name
        theirs_named = dict(theirs.named_modules())
        for name, mod in ours.named_modules():
            if name and name in theirs_named:
                assert mod.num_parameters() == _torch_params(theirs_named[name]), name


def test_resnet18_parameter_count_matches_torchvisions_published_figure():
    # torchvision's resnet18: 11,689,512 parameters (its model card); same layers here
    s = dl.models.resnet18().summary()
    assert s.total_params == 11_689_512


def test_macs_by_hand():
    # Conv2d(3, 8, 3, padding=1) on (2, 3, 10, 10): 2*8*10*10 outputs, each 3*3*3 MACs
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert conv.summary((2, 3, 10, 10)).total_macs == 2 * 8 * 10 * 10 * 27
    # grouped, strided: out (1, 12, 3, 3) from in 8 channels in 4 groups (2 in per group), 5x5
    g = nn.Conv2d(8, 12, 5, stride=2, groups=4)
    assert g.summary((1, 8, 10, 10)).total_macs == 12 * 3 * 3 * 2 * 25
    # Linear(10, 5) on (4, 7, 10): 4*7 rows of 5 outputs, each 10 MACs
    assert nn.Linear(10, 5).summary((4, 7, 10)).total_macs == 4 * 7 * 5 * 10
    # ConvTranspose2d: every input pixel scatters into out/groups channels x kernel
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert t.summary((1, 4, 5, 5)).total_macs == 4 * 5 * 5 * 3 * 9
    # LSTM(10, 20), one layer: 4 gates x 20 units x (10 inputs + 20 recurrent) per step
    lstm = nn.LSTM(10, 20, batch_first=True)
    assert lstm.summary((3, 7, 10)).total_macs == 3 * 7 * 4 * 20 * 30
    # a Sequential sums its layers; ReLU and pooling add nothing
    seq = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    assert seq.summary((5, 6)).total_macs == 5 * (4 * 6 + 2 * 4)


def test_mha_macs_by_hand():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q = dl.randn(3, 5, 8)
    kv = dl.randn(3, 4, 8)
    s = mha.summary(input_data=(q, kv, kv))
    # q, k, v projections + Q K^T + P V + out_proj
    want = 3 * 5 * 8 * 8 + 2 * 3 * 4 * 8 * 8 + 2 * 3 * 5 * 4 * 8 + 3 * 5 * 8 * 8
    assert s.total_macs == want
    assert sum(r["params"] for r in s.rows) == s.total_params == 4 * 8 * 8 + 4 * 8
    assert sum(r["macs"] for r in s.rows) == want
    assert layer_macs(nn.ReLU(), (q,), q) == 0


def test_output_shapes_and_rows():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 10))
    s = model.summary((2, 1, 8, 8))
    assert [r["output"] for r in s.rows] == ["(2, 4, 6, 6)", "(2, 4, 6, 6)", "(2, 4, 3, 3)",
                                             "(2, 36)", "(2, 10)"]
    assert [r["type"] for r in s.rows] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    text = str(s)
    assert "Conv2d" in text and "(2, 4, 6, 6)" in text and "total params: 410" in text
    assert "MACs for input (2, 1, 8, 8)" in text


def test_depth_folds_children_into_their_parent():
    model = dl.models.resnet_small()
    deep, shallow = model.summary((1, 1, 28, 28)), model.summary((1, 1, 28, 28), depth=1)
    assert all(r["depth"] == 1 for r in shallow.rows)
    assert sum(r["params"] for r in shallow.rows) == deep.total_params == shallow.total_params
    assert sum(r["macs"] for r in shallow.rows) == deep.total_macs == shallow.total_macs
    assert sum(r["macs"] for r in deep.rows) == deep.total_macs


def test_trainable_counts_and_no_side_effects():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    model.train()
    before = model[1].running_mean.numpy().copy()
    s = model.summary((8, 4))
    assert s.total_params == 15 + 6 + 8
    assert s.trainable_params == s.total_params - 12 and s.non_trainable_params == 12
    assert model.training and model[1].training
    np.testing.assert_array_equal(model[1].running_mean.numpy(), before)
    # the hooks are gone: a second summary counts the same
    assert model.summary((8, 4)).total_macs == s.total_macs


def test_token_inputs_and_bad_arguments():
    model = nn.Sequential(nn.Embedding(20, 6), nn.Linear(6, 2))
    s = model.summary((2, 9), dtypes=dl.int64)
    assert s.rows[1]["output"] == "(2, 9, 2)"
    with pytest.raises(ValueError, match="input_shape"):
        model.summary((2, -1))
    with pytest.raises(ValueError, match="input_shape"):
        model.summary("2, 9")
    with pytest.raises(ValueError, match="depth"):
        model.summary(depth=0)
    with pytest.raises(TypeError, match="Module"):
        summary(object())


def _run(argv):
    out = io.StringIO()
    return cli.main(argv, out=out), out.getvalue()


def test_cli_summary_of_an_architecture_and_of_a_file(tmp_path):
    code, text = _run(["summary", "--list"])
    assert code == 0 and "resnet18" in text and "LeNet5" in text
    code, text = _run(["summary", "LeNet5", "--input-shape", "1", "1", "28", "28"])
    assert code == 0, text
    lenet = dl.models.LeNet5()
    s = lenet.summary((1, 1, 28, 28))
    assert "total params: {:,}".format(s.total_params) in text
    assert "{:,}".format(s.total_macs) in text
    path = str(tmp_path / "lenet.safetensors")
    dl.save(lenet.state_dict(), path)
    code, text = _run(["summary", path])
    assert code == 0, text
    n_state = sum(int(np.prod(t.shape)) for t in lenet.state_dict().values())
    assert "total: {:,} values".format(n_state) in text
    for prefix in {k.split(".")[0] for k in lenet.state_dict()}:
        assert prefix in text
    # the weights load into the architecture
    code, text = _run(["summary", "LeNet5", "--weights", path])
    assert code == 0 and "total params: {:,}".format(s.total_params) in text
    code, _ = _run(["summary", "no_such_model"])
    assert code == 2
    code, _ = _run(["summary", "LeNet5", "--input-shape", "1", "3", "5"])
    assert code == 1
