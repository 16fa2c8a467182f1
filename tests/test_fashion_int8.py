"""Issue 20's accuracy bar for static int8: a Fashion-MNIST fine-tuned model (EfficientNet-Lite0
with its top fine-tuned on the bundled subset, tools/fashion_int8_accuracy.py) keeps its fp32
test accuracy within 1 point at 8 bits, eager and as a plan.  7-bit activations (reduce_range,
the static default for 'x86' as in torch) met it in the full runs (-0.5 / +0.1 / -0.4 points
on three seeds, an older one -1.1), but this quick run's 300 test images swing -0.3 to -2.0
by thread count: they are held to 3 here.  The quick mode (200 labelled images, 300 test);
the full run's figures are in docs/quantization.md."""
import importlib.util
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def tool():
    spec = importlib.util.spec_from_file_location(
        "fashion_int8_accuracy", os.path.join(ROOT, "tools", "fashion_int8_accuracy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fashion_finetuned_int8_within_one_point():
    from dlcore.models import efficientnet_lite0
    try:
        efficientnet_lite0(pretrained=True)
    except FileNotFoundError:
        pytest.skip("EfficientNet-Lite0 weights not installed")
    res = tool().run(quick=True, log=lambda *a: None)
    assert res["model"].startswith("efficientnet")
    assert res["fp32"] > 0.6                       # the fine-tuning worked at all
    for k, points in (("int8", 1), ("int8r7", 3)):
        assert abs(res[k] - res["fp32"]) <= points / 100 + 1e-9, (k, res)
        assert res[k + "_plan"] == res[k], (k, res)
