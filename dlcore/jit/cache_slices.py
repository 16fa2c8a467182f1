"""How many images at a time a memory-bound plan should run a batch in.

A plan runs its steps one after another over the whole batch, so every intermediate value of
the batch is written out and read back between two steps.  For MobileNetV2 at batch 32 that is
32 x 4.8 MB of expanded 112x112 activations, far past the caches: its per-image cost at batch
32 was 1.1x its cost at batch 1 (CPU time at one thread; ONNX Runtime's 1.0x).  Run as slices
of one image, one after another, each slice's intermediates stay in L2/L3 and only the weights
(13.9 MB, read once per slice) come from further away.

Which graphs gain: those that do little arithmetic per byte they move.  MobileNetV2 and
EfficientNet-Lite0 do ~11 multiply-adds per byte of node outputs, ResNet-18 ~130, and
ResNet-18's Winograd convolutions and the wide GEMMs of compute-bound graphs gain from more
images per product (slices of a few images made ResNet-18 17% slower at batch 8).  So: slice
only below _MAX_MACS_PER_BYTE, only when the batch's arena is past _SLICE_BYTES (LeNet's is a
few KB: a slice is then all overhead), and into the largest slices whose arena fits it.
"""
import math

import numpy as np

__all__ = ["macs_per_byte", "cache_slices"]

_MAX_MACS_PER_BYTE = 32
_SLICE_BYTES = 8 << 20


def macs_per_byte(graph):
    """Multiply-adds of the graph's Conv/Gemm/MatMul nodes per byte of all node outputs (a
    concrete graph); inf for a graph with no outputs to move."""
    macs = out_bytes = 0
    for n in graph.nodes:
        for v in n.outputs:
            out_bytes += int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
        y = n.outputs[0]
        if n.op == "Conv" and len(n.inputs) > 1:
            macs += int(np.prod(y.shape)) * int(np.prod(n.inputs[1].shape[1:]))
        elif n.op in ("Gemm", "MatMul") and len(n.inputs) > 1:
            a = n.inputs[0]
            k = a.shape[-2] if n.attrs.get("transA") else a.shape[-1]
            macs += int(np.prod(y.shape)) * int(k)
    return macs / out_bytes if out_bytes else math.inf


def cache_slices(batch, arena_bytes, intensity, threads):
    """The number of equal slices to run a batch of `batch` samples in (1: whole), for a plan
    whose arena at that batch is arena_bytes and whose graph does `intensity` multiply-adds
    per byte it moves; at least `threads` slices when it slices at all."""
    if batch < 2 or intensity >= _MAX_MACS_PER_BYTE or arena_bytes <= _SLICE_BYTES:
        return 1
    per_sample = arena_bytes / batch
    size = max(1, min(batch // max(threads, 1), int(_SLICE_BYTES // max(per_sample, 1))))
    while batch % size:
        size -= 1
    return batch // size
