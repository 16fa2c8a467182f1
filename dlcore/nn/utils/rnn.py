"""Variable-length batches for the recurrent layers (PyTorch's torch.nn.utils.rnn).

A PackedSequence holds only the real steps of each sequence, time-major, longest sequence
first: step t is `batch_sizes[t]` consecutive rows of `data`.  The recurrent layers run on that
layout directly, so padding never enters a state.  `sorted_indices` maps the packed order to
the caller's batch order (None when the batch was already sorted).
"""
from collections import namedtuple

import numpy as np

from ...autograd import Function
from ...functions import stack
from ...ops.shape_fn import pad
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "detach_state", "bptt_batches"]


def _np_index(a, name):
    if a is None:
        return None
    arr = a._data if isinstance(a, Tensor) else np.asarray(a)
    return arr.astype(np.int64, copy=False)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices); build it with pack_* functions."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise ValueError("PackedSequence: batch_sizes is required; build one with "
                             "pack_padded_sequence or pack_sequence")
        bs = Tensor(_np_index(batch_sizes, "batch_sizes"))
        si = None if sorted_indices is None else Tensor(_np_index(sorted_indices, ""))
        if unsorted_indices is None and si is not None:
            unsorted_indices = np.argsort(si._data, kind="stable")
        ui = None if unsorted_indices is None else Tensor(_np_index(unsorted_indices, ""))
        return super().__new__(cls, data, bs, si, ui)

    @property
    def is_cuda(self):
        return False

    def to(self, *args, **kwargs):
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)


class _Gather(Function):
    """rows of x (N, F) at `index`; backward scatters into zeros (indices are distinct)."""

    def forward(self, x, index):
        self.n, self.index = x.shape[0], index
        return x[index]

    def backward(self, g):
        out = np.zeros((self.n,) + g.shape[1:], dtype=g.dtype)
        out[self.index] = g
        return out, None


class _Scatter(Function):
    """(N, F) filled with `value`, rows `index` taken from x; backward gathers."""

    def forward(self, x, index, n, value):
        self.index = index
        out = np.full((n,) + x.shape[1:], value, dtype=x.dtype)
        out[index] = x
        return out

    def backward(self, g):
        return g[self.index], None


def _lengths_array(lengths, B):
    arr = lengths._data if isinstance(lengths, Tensor) else np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != B:
        raise ValueError("pack_padded_sequence: lengths must be 1-D with one entry per sequence "
                         "(%d), got shape %s" % (B, tuple(arr.shape)))
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.floor(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError("pack_padded_sequence: lengths must be integers, got %s" % arr.dtype)
    return arr.astype(np.int64)


def _packed_index(lengths_sorted, order, T, B):
    """Row index into the (T*B) time-major padded rows for every packed row, and batch_sizes."""
    steps = np.arange(T)
    batch_sizes = (lengths_sorted[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)
    max_len = int(lengths_sorted[0]) if B else 0
    batch_sizes = batch_sizes[:max_len]
    idx = np.concatenate([t * B + order[:n] for t, n in enumerate(batch_sizes)]) \
        if max_len else np.zeros(0, np.int64)
    return idx.astype(np.int64), batch_sizes


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with batch_first) of sequences of `lengths`.

    enforce_sorted=True requires lengths in decreasing order; False sorts them here and the
    PackedSequence remembers the permutation.
    """
    if not isinstance(input, Tensor):
        raise TypeError("pack_padded_sequence: input must be a Tensor, got %s"
                        % type(input).__name__)
    if input.ndim < 2:
        raise ValueError("pack_padded_sequence: input must be at least 2-D (T, B, *), got "
                         "shape %s" % (tuple(input.shape),))
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    lens = _lengths_array(lengths, B)
    if B == 0:
        raise ValueError("pack_padded_sequence: the batch is empty")
    if np.any(lens <= 0):
        raise ValueError("pack_padded_sequence: every length must be > 0, got %s"
                         % lens.tolist())
    if np.any(lens > T):
        raise ValueError("pack_padded_sequence: a length (%d) exceeds the padded sequence "
                         "length %d" % (int(lens.max()), T))
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("pack_padded_sequence: lengths must be sorted in decreasing "
                               "order when enforce_sorted=True, got %s; sort the batch or pass "
                               "enforce_sorted=False" % lens.tolist())
        order = np.arange(B, dtype=np.int64)
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        sorted_indices = order
    idx, batch_sizes = _packed_index(lens[order], order, T, B)
    flat = input.reshape((T * B,) + tuple(input.shape[2:]))
    data = _Gather.apply(flat, idx)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, B, *), lengths) in the original batch order."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError("pad_packed_sequence: sequence must be a PackedSequence, got %s"
                        % type(sequence).__name__)
    bs = sequence.batch_sizes._data
    T, B = len(bs), int(bs[0]) if len(bs) else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError("pad_packed_sequence: total_length=%d is less than the longest "
                             "sequence (%d)" % (total_length, T))
        T_out = int(total_length)
    else:
        T_out = T
    order = (sequence.sorted_indices._data if sequence.sorted_indices is not None
             else np.arange(B, dtype=np.int64))
    # lengths in packed (sorted) order: sequence b is active while b < batch_sizes[t]
    lens_sorted = (bs[None, :] > np.arange(B)[:, None]).sum(axis=1).astype(np.int64)
    idx = np.concatenate([t * B + order[:n] for t, n in enumerate(bs)]) if T else \
        np.zeros(0, np.int64)
    data = sequence.data
    padded = _Scatter.apply(data, idx.astype(np.int64), T_out * B, padding_value)
    padded = padded.reshape((T_out, B) + tuple(data.shape[1:]))
    lengths = np.empty(B, dtype=np.int64)
    lengths[order] = lens_sorted
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError("pad_sequence: padding_side must be 'right' or 'left', got %r"
                         % (padding_side,))
    trail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor) or s.ndim < 1 or tuple(s.shape[1:]) != trail:
            raise ValueError("pad_sequence: sequence %d has shape %s, expected (L, %s)"
                             % (i, tuple(getattr(s, "shape", ())), ", ".join(map(str, trail))))
    L = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        extra = L - s.shape[0]
        if extra:
            widths = [0, 0] * len(trail) + ([0, extra] if padding_side == "right" else [extra, 0])
            s = pad(s, tuple(widths), value=padding_value)
        padded.append(s)
    return stack(padded, dim=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (longest first unless enforce_sorted=False)."""
    seqs = list(sequences)
    lengths = [s.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded tensors from a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _np_index(lengths, "lengths")
    return [padded_sequences[i, :int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed_sequences):
    """The list of tensors a PackedSequence was packed from."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ---------------------------------------------------------------- truncated BPTT

def detach_state(state):
    """The recurrent state cut from its history (h, or (h, c), or nested tuples): carrying it
    into the next chunk keeps the values but stops backpropagation at the chunk boundary."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state.detach()


def bptt_batches(tokens, batch_size, bptt):
    """Truncated-BPTT chunks of a long token stream: the stream is cut into batch_size parallel
    columns (T_total, B), then yields (input, target) pairs of shape (<= bptt, B), the target
    shifted by one step.  Consecutive chunks continue each column, so a model carries its
    (detached) state from one chunk to the next."""
    arr = tokens._data if isinstance(tokens, Tensor) else np.asarray(tokens)
    arr = arr.reshape(-1)
    if batch_size < 1 or bptt < 1:
        raise ValueError("bptt_batches: batch_size and bptt must be >= 1, got %r, %r"
                         % (batch_size, bptt))
    n = (arr.size // batch_size) * batch_size
    if n < 2 * batch_size:
        raise ValueError("bptt_batches: %d tokens are too few for batch_size %d"
                         % (arr.size, batch_size))
    cols = arr[:n].reshape(batch_size, -1).T  # (T_total, B)
    for i in range(0, cols.shape[0] - 1, bptt):
        L = min(bptt, cols.shape[0] - 1 - i)
        yield (Tensor(np.ascontiguousarray(cols[i:i + L])),
               Tensor(np.ascontiguousarray(cols[i + 1:i + 1 + L])))
