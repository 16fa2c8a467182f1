"""dlcore: a small, fast CPU deep-learning engine (C/OpenMP/SIMD kernels, PyTorch-style API).

    import dlcore as dl
"""
__version__ = "0.1.0"

import importlib as _importlib
import os as _os

# libgomp reads its wait policy when the extension loads it.  Its default spins up to 300,000
# iterations at every barrier, which on a machine with more runnable threads than cores makes a
# two-thread kernel 3-30x slower than one thread (measured here under load); a short spin keeps
# back-to-back parallel regions fast and yields the core soon after.  Users' settings win.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

from . import numpy_warnings as _numpy_warnings
_numpy_warnings.install()
from ._unbuilt import explain as _explain_missing_extension
try:
    from . import runtime  # the first import of the compiled extension
except ModuleNotFoundError as _e:  # an unbuilt source tree: say why and what to do
    raise _explain_missing_extension(_e) from None
from .dtypes import (float32, float64, float16, half, int64, int32, int16, short, int8, uint8,  # noqa: F401
                     bool_, long, double, get_default_dtype, set_default_dtype, device, promote_types,
                     can_cast)
from . import dtypes as _dtypes
from .dtypes import float32 as float  # noqa: F401,A001
from .dtypes import bool_ as bool  # noqa: F401,A001
from .shapes import Size  # noqa: F401
from .default_device import set_default_device, get_default_device  # noqa: F401
from .tensor import (Tensor, tensor, as_tensor, from_numpy, zeros, ones, empty, full,  # noqa: F401
                     zeros_like, ones_like, full_like, empty_like, eye, arange, linspace, rand,
                     randn, randint, randperm, rand_like, randn_like, is_tensor, numel)
from .autograd import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled,  # noqa: F401
                       inference_mode, is_inference_mode_enabled)
from .autograd import is_anomaly_enabled, is_anomaly_check_nan_enabled  # noqa: F401
from .autograd.anomaly import _set as set_anomaly_enabled  # noqa: F401
from .random import (manual_seed, seed, initial_seed, Generator, get_rng_state,  # noqa: F401
                     set_rng_state, default_generator)
from .legacy_types import *  # noqa: F401,F403
from .functions import *  # noqa: F401,F403
from .functions import cat, stack, where, matmul, einsum  # noqa: F401
from .functions_nn import *  # noqa: F401,F403
from .ops.shape_extra import *  # noqa: F401,F403
from .ops.math_extra import *  # noqa: F401,F403
from .ops.tensor_compat import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403
from .ops.linalg_methods import *  # noqa: F401,F403
from .ops.math_torch import *  # noqa: F401,F403
from .type_info import *  # noqa: F401,F403
from . import autograd, nn, random, runtime  # noqa: F401
from .runtime import memory, set_num_threads, get_num_threads, num_threads  # noqa: F401
from .nn import functional  # noqa: F401


memory._install_at_import()

from . import out_arg as _out_arg  # noqa: E402
_out_arg.install(globals())  # torch's out= keyword on the functions torch gives one


def __getattr__(name):
    # subpackages that pull in more code load on first use, keeping `import dlcore` fast
    if name in ("optim", "data", "models", "train", "io", "metrics", "cli", "bench",
                "weights", "text", "distributed", "utils", "jit", "onnx", "quantization",
                "distributions", "multiprocessing", "sparse", "vision", "cuda", "backends",
                "amp", "cpu", "accelerator", "serialization", "testing", "func", "special",
                "linalg", "profiler"):
        return _importlib.import_module("." + name, __name__)
    if name in ("qint8", "quint8"):
        return getattr(_importlib.import_module(".quantization", __name__), name)
    if name in ("sparse_coo_tensor", "spmm"):
        return getattr(_importlib.import_module(".sparse", __name__), name)
    if name == "bfloat16":  # ml_dtypes loads on first use (dlcore.dtypes)
        return _dtypes.bfloat16_dtype()
    if name in ("autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cpu_enabled",
                "get_autocast_cpu_dtype", "set_autocast_enabled", "set_autocast_dtype"):
        return getattr(_importlib.import_module(".amp", __name__), name)
    if name in ("save", "load"):
        return getattr(_importlib.import_module(".io", __name__), name)
    raise AttributeError("module 'dlcore' has no attribute %r" % name)
