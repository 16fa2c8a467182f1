"""Static int8 CNNs at batch 1 (224x224) in CPU time at one thread: dlcore fp32 eager, fp32 as
a dl.jit plan, int8 from quantize_static (eager) and that int8 model as a dl.jit plan, and
the same two with 7-bit activations (get_default_qconfig('x86', reduce_range=True): int8r7,
int8r7_plan; --no-r7 leaves them out), the sides alternated in every round (time.process_time, so a shared machine's other jobs count
less).  Calibration as in `dlcore bench quant_static`: two random batches of 2.

    python tools/static_int8_cpu.py --rounds 7
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dlcore as dl  # noqa: E402
from dlcore import Tensor, jit, no_grad  # noqa: E402
from cpu_rounds import median_cpu_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--models", nargs="+",
                    default=["resnet18", "mobilenet_v2", "efficientnet_lite0"])
    ap.add_argument("--no-r7", action="store_true")
    a = ap.parse_args()
    from dlcore import models
    from dlcore.quantization import quantize_static, get_default_qconfig
    dl.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    for name in a.models:
        if name == "efficientnet_lite0":
            try:
                model = models.efficientnet_lite0(pretrained=True)
            except FileNotFoundError:
                model = models.efficientnet_lite0().eval()
        else:
            model = getattr(models, name)().eval()
        calib = [Tensor._wrap(rng.standard_normal((2, 3, 224, 224)).astype(np.float32))
                 for _ in range(2)]
        qm = quantize_static(model, calib, qconfig=get_default_qconfig("x86", reduce_range=False))
        q7 = None if a.no_r7 else quantize_static(
            model, calib, qconfig=get_default_qconfig("x86", reduce_range=True))
        tx = Tensor._wrap(x)
        p32 = jit.trace(model, [x]).plan(x)
        p8 = jit.trace(qm, [x]).plan(x)

        def f32():
            with no_grad():
                return model(tx).numpy()
        sides = {"fp32": f32, "fp32_plan": lambda: p32(x)[0],
                 "int8": lambda: qm(tx).numpy(), "int8_plan": lambda: p8(x)[0]}
        if q7 is not None:
            p7 = jit.trace(q7, [x]).plan(x)
            sides["int8r7"] = lambda: q7(tx).numpy()
            sides["int8r7_plan"] = lambda: p7(x)[0]
        ref = f32()
        errs = {k: float(np.abs(f() - ref).max() / np.abs(ref).max()) for k, f in sides.items()}
        ms = median_cpu_ms(sides, a.rounds)
        print("%s b1, 1 thread, CPU ms (median of %d alternated rounds); int8 plan: %d Python "
              "steps of %d" % (name, a.rounds, p8.n_python_steps, len(p8.steps)))
        print("  " + "  ".join("%s %.1f (err %.3f)" % (k, ms[k], errs[k]) for k in ms))
        print("  int8/fp32 %.2f  int8_plan/fp32 %.2f  int8_plan/fp32_plan %.2f" % (
            ms["fp32"] / ms["int8"], ms["fp32"] / ms["int8_plan"],
            ms["fp32_plan"] / ms["int8_plan"]), flush=True)
        if q7 is not None:
            print("  r7: int8r7/fp32 %.2f  int8r7_plan/fp32_plan %.2f  r7 vs int8 %.2f  r7 plan "
                  "vs int8 plan %.2f" % (ms["fp32"] / ms["int8r7"], ms["fp32_plan"] /
                                         ms["int8r7_plan"], ms["int8"] / ms["int8r7"],
                                         ms["int8_plan"] / ms["int8r7_plan"]), flush=True)


if __name__ == "__main__":
    main()
