"""Tensor methods about where and as what a tensor lives: the device (the CPU only), `to`,
`cpu`/`cuda`, formatting, and the `new_*` constructors that copy a tensor's dtype."""
import numpy as np

from ..dtypes import CPU, as_dtype, check_device, device
from ..tensor_base import TensorBase, scalar_of, shape_args, wrap
from .shape import Cast, Clone

def _parse_to(args, kwargs):
    """(dtype or None, copy) from torch's forms of `to`: to(dtype), to(device[, dtype]),
    to(other), with keywords dtype=, device=, non_blocking=, copy=, memory_format=."""
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)  # nothing is asynchronous on the CPU
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError("to: unexpected keyword argument(s) %s" % ", ".join(sorted(kwargs)))
    args = list(args)
    if args and isinstance(args[0], TensorBase):  # to(other, non_blocking, copy)
        other = args.pop(0)
        dtype = other._data.dtype
        if args:
            args.pop(0)
        if args:
            copy = bool(args.pop(0))
    elif args and (isinstance(args[0], (str, device, int)) and not isinstance(args[0], bool)):
        dev = args.pop(0)
        if args and not isinstance(args[0], bool):
            dtype = args.pop(0)
    if args and dtype is None and not isinstance(args[0], bool):
        dtype = args.pop(0)
    if args:  # the positional non_blocking, copy that follow a dtype
        args.pop(0)
        if args:
            copy = bool(args.pop(0))
    check_device(dev, "to")
    return as_dtype(dtype, fname="to"), copy


class ConvertMethods:
    """device, is_cuda, to/cpu/cuda, __format__, new_zeros/new_ones/new_full/new_empty/
    new_tensor."""

    __slots__ = ()

    @property
    def device(self):
        return CPU

    is_cuda = False
    is_cpu = True
    is_meta = False
    is_quantized = False
    # torch's other device flags, all False on the CPU (scripts test `is_cuda or is_xpu`)
    is_xpu = is_mps = is_mkldnn = is_vulkan = is_ipu = is_xla = is_maia = is_mtia = False
    is_nested = is_sparse_csr = False

    def get_device(self):
        return -1  # torch's answer for a CPU tensor

    def to(self, *args, **kwargs):
        """A tensor of the requested dtype (on the CPU, the only device): `self` when nothing
        changes and copy=False, else a new tensor; the cast is differentiable."""
        dtype, copy = _parse_to(args, kwargs)
        if dtype is None or dtype == self._data.dtype:
            return Clone.apply(self) if copy else self
        return Cast.apply(self, dtype=dtype)

    def cpu(self, memory_format=None):
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        raise RuntimeError("cuda: dlcore runs on the CPU only and has no CUDA device "
                           "(dl.cuda.is_available() is False); use .cpu() or .to('cpu')")

    def __format__(self, spec):
        # torch formats a one-element tensor as its number ('{:.2f}'.format(loss)); any other
        # tensor only with an empty spec, which prints it as str() does
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__: a format "
                            "spec (%r) needs a 0-d tensor, got shape %s"
                            % (spec, tuple(self._data.shape)))
        return str(self)

    # ---- new_*: a new tensor with this one's dtype (and device) -------------------------------
    def _new(self, fill, size, dtype, requires_grad, fname):
        dt = as_dtype(dtype, fname=fname) or self._data.dtype
        shape = shape_args(size, fname)
        arr = np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
        out = wrap(arr)
        if requires_grad:
            out.requires_grad_(True)
        return out

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **_):
        check_device(device, "new_zeros")
        return self._new(0, size, dtype, requires_grad, "new_zeros")

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **_):
        check_device(device, "new_ones")
        return self._new(1, size, dtype, requires_grad, "new_ones")

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **_):
        check_device(device, "new_empty")
        return self._new(None, size, dtype, requires_grad, "new_empty")

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False, **_):
        check_device(device, "new_full")
        return self._new(scalar_of(fill_value, "new_full"), (size,) if isinstance(size, int)
                         else (tuple(size),), dtype, requires_grad, "new_full")

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A copy of `data` with this tensor's dtype unless `dtype` is given (torch's rule:
        unlike dl.tensor, the dtype is not inferred from the data)."""
        check_device(device, "new_tensor")
        dt = as_dtype(dtype, fname="new_tensor") or self._data.dtype
        arr = np.array(data._data if isinstance(data, TensorBase) else data, dtype=dt,
                       copy=True, order="C")
        out = wrap(arr)
        if requires_grad:
            out.requires_grad_(True)
        return out
