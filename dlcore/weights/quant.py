"""Dequantisation of ggml's block formats, vectorised in NumPy.

Each block holds 32 weights and one float16 scale `d` (plus a float16 minimum `m` for Q4_1):
- Q4_0 (18 bytes): d, 16 bytes of 4-bit codes q;  w = (q - 8) * d
- Q4_1 (20 bytes): d, m, 16 bytes of 4-bit codes; w = q * d + m
- Q8_0 (34 bytes): d, 32 int8 codes;              w = q * d
In the 4-bit formats byte j holds weight j in its low nibble and weight j + 16 in its high one.
"""
import numpy as np

QK = 32
BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}


def _blocks(raw, kind):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    nb = BLOCK_BYTES[kind]
    if raw.size % nb:
        raise ValueError("dequantize %s: %d bytes is not a whole number of %d-byte blocks"
                         % (kind, raw.size, nb))
    return raw.reshape(-1, nb)


def _nibbles(qs):
    # (n, 16) bytes -> (n, 32) codes: low nibbles are weights 0..15, high nibbles 16..31
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def dequantize_q4_0(raw):
    b = _blocks(raw, "Q4_0")
    d = b[:, :2].copy().view("<f2").astype(np.float32)
    q = _nibbles(b[:, 2:]).astype(np.int8) - np.int8(8)
    return (q.astype(np.float32) * d).reshape(-1)


def dequantize_q4_1(raw):
    b = _blocks(raw, "Q4_1")
    d = b[:, :2].copy().view("<f2").astype(np.float32)
    m = b[:, 2:4].copy().view("<f2").astype(np.float32)
    q = _nibbles(b[:, 4:])
    return (q.astype(np.float32) * d + m).reshape(-1)


def dequantize_q8_0(raw):
    b = _blocks(raw, "Q8_0")
    d = b[:, :2].copy().view("<f2").astype(np.float32)
    q = b[:, 2:].view(np.int8)
    return (q.astype(np.float32) * d).reshape(-1)


DEQUANTIZERS = {"Q4_0": dequantize_q4_0, "Q4_1": dequantize_q4_1, "Q8_0": dequantize_q8_0}


def dequantize(raw, kind, shape=None):
    """float32 weights from the raw bytes of a Q4_0 / Q4_1 / Q8_0 tensor, reshaped to `shape`."""
    fn = DEQUANTIZERS.get(kind)
    if fn is None:
        raise ValueError("dequantize: unsupported block format %r (supported: %s)"
                         % (kind, ", ".join(DEQUANTIZERS)))
    out = fn(raw)
    if shape is not None:
        n = int(np.prod(shape))
        if n != out.size:
            raise ValueError("dequantize %s: %d weights do not fill shape %s"
                             % (kind, out.size, tuple(shape)))
        out = out.reshape(shape)
    return out
