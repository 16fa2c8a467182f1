"""Collectives and point-to-point messages on dlcore tensors (or NumPy arrays), in place.

Each call hands the tensor's own NumPy buffer to MPI (no staging copy), so the buffer must be
C-contiguous and writable where it receives.  Every call is non-blocking underneath: with
async_op=True it returns a Work handle, otherwise it waits (bounded by the group's timeout).
"""
import hashlib

import numpy as np

from ..tensor import Tensor
from ._mpi import mpi
from .process_group import _default_or_none, _group
from .work import Work

__all__ = ["ReduceOp", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "send", "recv", "isend", "irecv",
           "barrier", "mean_over_ranks"]

_TRANSFER_DTYPES = frozenset(np.dtype(d) for d in (np.float32, np.float64, np.int8, np.uint8,
                                                   np.int32, np.int64, np.bool_))
_REDUCE_DTYPES = frozenset(d for d in _TRANSFER_DTYPES if d.kind in "fiu")


class ReduceOp:
    """How all_reduce / reduce_scatter combine the ranks' values (torch's names)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "ReduceOp.%s" % self.name

    def _mpi(self):
        MPI = mpi()
        return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN,
                "MAX": MPI.MAX}[self.name]


ReduceOp.SUM = ReduceOp("SUM")
ReduceOp.AVG = ReduceOp("AVG")
ReduceOp.PRODUCT = ReduceOp("PRODUCT")
ReduceOp.MIN = ReduceOp("MIN")
ReduceOp.MAX = ReduceOp("MAX")
_OPS = {op.name: op for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN,
                               ReduceOp.MAX)}


def _array(t, who, name, writable):
    """The NumPy buffer behind a dlcore Tensor (or an ndarray itself), checked for MPI."""
    if isinstance(t, Tensor):
        arr = t._data
    elif isinstance(t, np.ndarray):
        arr = t
    else:
        raise TypeError("%s: %s must be a dlcore Tensor or a NumPy array, got %s"
                        % (who, name, type(t).__name__))
    if arr.dtype not in _TRANSFER_DTYPES:
        raise TypeError("%s: %s has dtype %s; supported: %s"
                        % (who, name, arr.dtype, ", ".join(sorted(str(d) for d in
                                                                  _TRANSFER_DTYPES))))
    if not arr.flags.c_contiguous:
        raise ValueError("%s: %s must be contiguous (its buffer goes to MPI as it is), got a "
                         "strided view of shape %s; call .contiguous() first"
                         % (who, name, arr.shape))
    if writable and not arr.flags.writeable:
        raise ValueError("%s: %s receives the result but its array is read-only" % (who, name))
    return arr


def _op(op, who, dtype):
    if isinstance(op, str) and op.upper() in _OPS:
        op = _OPS[op.upper()]
    if not isinstance(op, ReduceOp):
        raise TypeError("%s: op must be a dlcore.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, "
                        "MAX), got %r" % (who, op))
    if dtype not in _REDUCE_DTYPES:
        raise TypeError("%s: cannot reduce a tensor of dtype %s" % (who, dtype))
    if op is ReduceOp.AVG and dtype.kind != "f":
        raise TypeError("%s: ReduceOp.AVG needs a floating-point tensor, got %s (sum integer "
                        "tensors and divide as you intend)" % (who, dtype))
    return op


def _rank_arg(value, size, who, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s: %s must be an int rank, got %r" % (who, name, value))
    if not 0 <= int(value) < size:
        raise ValueError("%s: %s=%d is not a rank of this group (0..%d)"
                         % (who, name, int(value), size - 1))
    return int(value)


def _tag_arg(tag, who):
    if isinstance(tag, bool) or not isinstance(tag, (int, np.integer)) or int(tag) < 0:
        raise ValueError("%s: tag must be a non-negative int, got %r" % (who, tag))
    if int(tag) > mpi().COMM_WORLD.Get_attr(mpi().TAG_UB):
        raise ValueError("%s: tag %d exceeds MPI's limit %d"
                         % (who, int(tag), mpi().COMM_WORLD.Get_attr(mpi().TAG_UB)))
    return int(tag)


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _divider(arr, size, op):
    if op is not ReduceOp.AVG:
        return None

    def average():
        np.divide(arr, size, out=arr)
    return average


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` across ranks in place (every rank ends with the result)."""
    who = "all_reduce"
    pg = _group(group, who)
    arr = _array(tensor, who, "tensor", True)
    op = _op(op, who, arr.dtype)
    req = pg.comm.Iallreduce(mpi().IN_PLACE, arr, op=op._mpi())
    return _finish(Work([req], who, pg.rank(), pg.timeout, _divider(arr, pg.size(), op)),
                   async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank `src`'s tensor into every other rank's tensor, in place."""
    who = "broadcast"
    pg = _group(group, who)
    src = _rank_arg(src, pg.size(), who, "src")
    arr = _array(tensor, who, "tensor", pg.rank() != src)
    req = pg.comm.Ibcast(arr, root=src)
    return _finish(Work([req], who, pg.rank(), pg.timeout), async_op)


def _same_layout(who, name, arr, ref):
    if arr.shape != ref.shape or arr.dtype != ref.dtype:
        raise ValueError("%s: every entry of %s must match the input tensor (shape %s, %s), got "
                         "shape %s, %s" % (who, name, ref.shape, ref.dtype, arr.shape, arr.dtype))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- rank r's `tensor`.  MPI gathers into one buffer, copied out into the
    list once; all_gather_into_tensor gathers straight into your buffer."""
    who = "all_gather"
    pg = _group(group, who)
    arr = _array(tensor, who, "tensor", False)
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError("%s: tensor_list must be a list of world_size=%d tensors, got %s"
                        % (who, pg.size(), type(tensor_list).__name__))
    if len(tensor_list) != pg.size():
        raise ValueError("%s: tensor_list must hold world_size=%d tensors, got %d"
                         % (who, pg.size(), len(tensor_list)))
    outs = [_array(t, who, "tensor_list[%d]" % i, True) for i, t in enumerate(tensor_list)]
    for o in outs:
        _same_layout(who, "tensor_list", o, arr)
    gathered = np.empty((pg.size(),) + arr.shape, dtype=arr.dtype)
    req = pg.comm.Iallgather(arr, gathered)

    def copy_out():
        for o, g in zip(outs, gathered):
            o[...] = g
    return _finish(Work([req], who, pg.rank(), pg.timeout, copy_out), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank r's input lands in the r-th block of `output_tensor` (world_size x the input's
    elements, same dtype), with no copy."""
    who = "all_gather_into_tensor"
    pg = _group(group, who)
    arr = _array(input_tensor, who, "input_tensor", False)
    out = _array(output_tensor, who, "output_tensor", True)
    if out.dtype != arr.dtype or out.size != arr.size * pg.size():
        raise ValueError("%s: output_tensor must hold world_size (%d) x %d elements of %s, got "
                         "shape %s of %s" % (who, pg.size(), arr.size, arr.dtype, out.shape,
                                             out.dtype))
    req = pg.comm.Iallgather(arr, out)
    return _finish(Work([req], who, pg.rank(), pg.timeout), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- the reduction over ranks of input_list[this rank] (the list is packed into one
    send buffer; reduce_scatter_tensor takes it packed already)."""
    who = "reduce_scatter"
    pg = _group(group, who)
    out = _array(output, who, "output", True)
    op = _op(op, who, out.dtype)
    if not isinstance(input_list, (list, tuple)) or len(input_list) != pg.size():
        raise ValueError("%s: input_list must be a list of world_size=%d tensors, got %r"
                         % (who, pg.size(), type(input_list).__name__
                            if not isinstance(input_list, (list, tuple)) else
                            "%d tensors" % len(input_list)))
    ins = [_array(t, who, "input_list[%d]" % i, False) for i, t in enumerate(input_list)]
    for a in ins:
        _same_layout(who, "input_list", a, out)
    packed = np.stack(ins) if ins else np.empty((0,), out.dtype)
    req = pg.comm.Ireduce_scatter_block(packed, out, op=op._mpi())
    return _finish(Work([req], who, pg.rank(), pg.timeout, _divider(out, pg.size(), op)),
                   async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- the reduction over ranks of block `rank` of `input` (world_size blocks of
    output's size), with no copy."""
    who = "reduce_scatter_tensor"
    pg = _group(group, who)
    out = _array(output, who, "output", True)
    arr = _array(input, who, "input", False)
    op = _op(op, who, out.dtype)
    if arr.dtype != out.dtype or arr.size != out.size * pg.size():
        raise ValueError("%s: input must hold world_size (%d) x %d elements of %s, got shape %s "
                         "of %s" % (who, pg.size(), out.size, out.dtype, arr.shape, arr.dtype))
    req = pg.comm.Ireduce_scatter_block(arr, out, op=op._mpi())
    return _finish(Work([req], who, pg.rank(), pg.timeout, _divider(out, pg.size(), op)),
                   async_op)


def isend(tensor, dst, group=None, tag=0):
    """Start sending `tensor` to rank `dst`; the buffer must not change until wait()."""
    who = "isend"
    pg = _group(group, who)
    dst = _rank_arg(dst, pg.size(), who, "dst")
    if dst == pg.rank():
        raise ValueError("%s: dst=%d is this process's own rank" % (who, dst))
    arr = _array(tensor, who, "tensor", False)
    req = pg.comm.Isend(arr, dest=dst, tag=_tag_arg(tag, who))
    return Work([req], "%s to rank %d" % (who, dst), pg.rank(), pg.timeout)


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into `tensor` from rank `src` (None: from any rank); Work.source()
    says who sent it."""
    who = "irecv"
    pg = _group(group, who)
    MPI = mpi()
    if src is None:
        source, where = MPI.ANY_SOURCE, "any rank"
    else:
        source = _rank_arg(src, pg.size(), who, "src")
        if source == pg.rank():
            raise ValueError("%s: src=%d is this process's own rank" % (who, source))
        where = "rank %d" % source
    arr = _array(tensor, who, "tensor", True)
    status = MPI.Status()
    req = pg.comm.Irecv(arr, source=source, tag=_tag_arg(tag, who))
    return Work([req], "%s from %s" % (who, where), pg.rank(), pg.timeout, status=status)


def send(tensor, dst, group=None, tag=0):
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0):
    """Receive into `tensor`; returns the sender's rank."""
    return irecv(tensor, src, group, tag).source()


def barrier(group=None, async_op=False):
    """Wait until every rank has reached this call."""
    pg = _group(group, "barrier")
    req = pg.comm.Ibarrier()
    return _finish(Work([req], "barrier", pg.rank(), pg.timeout), async_op)


def mean_over_ranks(values, group=None):
    """{name: number} averaged over the ranks (a world of one, or no process group, returns
    `values` as it is).  For logs: a training loop that prints or stops on the mean loss and
    accuracy of all ranks makes every rank take the same decision.  Every rank must pass the
    same names."""
    if _state_group(group) is None:
        return values
    pg = _group(group, "mean_over_ranks")
    if pg.size() == 1:
        return values
    names = sorted(values)
    digest = int.from_bytes(hashlib.sha256("\0".join(names).encode()).digest()[:7], "little")
    check = np.array([digest, -digest], dtype=np.int64)
    all_reduce(check, op=ReduceOp.MAX, group=group)
    if check[0] != digest or -check[1] != digest:
        raise RuntimeError("mean_over_ranks: the ranks passed different names; this rank has "
                           "%s" % names)
    arr = np.array([float(values[k]) for k in names], dtype=np.float64)
    all_reduce(arr, op=ReduceOp.AVG, group=group)
    out = dict(values)
    out.update(zip(names, arr.tolist()))
    return out


def _state_group(group):
    return group if group is not None else _default_or_none()
