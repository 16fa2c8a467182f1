"""Names public PyTorch scripts use that dlcore must answer as torch's CPU build does
(found by running pytorch/examples' mnist, vae, dcgan and word_language_model with
`import dlcore as torch`): torch.accelerator, Tensor.is_xpu, the nn.modules.* paths scripts
list in safe_globals, NonDynamicallyQuantizableLinear."""
import numpy as np
import pytest

import dlcore as dl


def test_accelerator_answers_as_torch_cpu_build(torch):
    for name in ("is_available", "device_count", "current_accelerator"):
        assert getattr(dl.accelerator, name)() == getattr(torch.accelerator, name)()
    for name in ("current_device_index", "synchronize"):
        with pytest.raises(RuntimeError):
            getattr(torch.accelerator, name)()
        with pytest.raises(RuntimeError, match="no accelerator"):
            getattr(dl.accelerator, name)()


def test_device_flags_match_torch(torch):
    t, d = torch.zeros(2), dl.zeros(2)
    for name in ("is_cuda", "is_cpu", "is_xpu", "is_mps", "is_meta", "is_mkldnn", "is_quantized",
                 "is_vulkan", "is_ipu", "is_xla", "is_maia", "is_mtia", "is_nested", "is_sparse", "is_sparse_csr"):
        assert getattr(d, name) == getattr(t, name), name


def test_module_paths_scripts_name(torch):
    # word_language_model/main.py lists these under torch.serialization.safe_globals
    from dlcore.nn.modules import activation, linear
    assert activation.MultiheadAttention is dl.nn.MultiheadAttention
    assert issubclass(linear.NonDynamicallyQuantizableLinear, dl.nn.Linear)
    m = dl.nn.MultiheadAttention(8, 2)
    assert type(m.out_proj).__name__ == type(torch.nn.MultiheadAttention(8, 2).out_proj).__name__
    assert set(m.state_dict()) == set(torch.nn.MultiheadAttention(8, 2).state_dict())
    assert "NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)" in repr(m)


def test_utils_data_submodule_paths(torch):
    # mnist_hogwild: `from torch.utils.data.sampler import Sampler`
    import importlib
    for sub in ("dataset", "sampler", "dataloader", "distributed"):
        mine = importlib.import_module("dlcore.utils.data." + sub)
        theirs = importlib.import_module("torch.utils.data." + sub)
        for name in mine.__all__:
            assert hasattr(theirs, name), (sub, name)
            assert getattr(mine, name) is getattr(dl.utils.data, name)
