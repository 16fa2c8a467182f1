"""torch's legacy typed constructors: dl.FloatTensor(2, 3), dl.LongTensor([1, 2]), and
`isinstance(t, dl.FloatTensor)`, which is true for a float32 Tensor as in torch."""
import numpy as np

from .tensor import Tensor


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, requires_grad=False, device=None):
        """A Tensor of this type's dtype: sizes give zeros of that shape, a sequence (or an
        array, or a Tensor) its data converted to the dtype."""
        if len(args) == 1 and isinstance(args[0], (Tensor, np.ndarray)):
            src = args[0]._data if isinstance(args[0], Tensor) else args[0]
            return Tensor(np.array(src, dtype=cls.dtype), requires_grad=requires_grad,
                          device=device)
        return Tensor(*args, dtype=cls.dtype, requires_grad=requires_grad, device=device)


def _legacy(name, dtype):
    return _LegacyTensorType(name, (), {"dtype": np.dtype(dtype), "__module__": __name__,
                                        "__doc__": "Tensor of dtype %s (torch.%s)"
                                        % (np.dtype(dtype), name)})


FloatTensor = _legacy("FloatTensor", np.float32)
DoubleTensor = _legacy("DoubleTensor", np.float64)
HalfTensor = _legacy("HalfTensor", np.float16)
LongTensor = _legacy("LongTensor", np.int64)
IntTensor = _legacy("IntTensor", np.int32)
ShortTensor = _legacy("ShortTensor", np.int16)
CharTensor = _legacy("CharTensor", np.int8)
ByteTensor = _legacy("ByteTensor", np.uint8)
BoolTensor = _legacy("BoolTensor", np.bool_)

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
