"""The quantized element types that name a quantization's target (torch.qint8's role)."""

__all__ = ["QType", "qint8", "quint8", "bfloat16", "q8_0", "q4_0", "q4_1", "BLOCK_KINDS"]


class QType:
    """A quantized or reduced-precision element type; compared by identity."""

    __slots__ = ("name", "bits")

    def __init__(self, name, bits):
        self.name = name
        self.bits = bits

    def __repr__(self):
        return "dlcore.%s" % self.name

    def __reduce__(self):
        return self.name


qint8 = QType("qint8", 8)        # signed 8-bit codes with a scale (weights)
quint8 = QType("quint8", 8)      # unsigned 8-bit codes with scale and zero point (activations)
bfloat16 = QType("bfloat16", 16)
# ggml's block formats (32 weights per block with a float16 scale; see dlcore.ops.quantized):
# weights only, activations stay float32 (the fused dequantising kernel of nn.QuantizedLinear)
q8_0 = QType("q8_0", 8)
q4_0 = QType("q4_0", 4)
q4_1 = QType("q4_1", 4)
BLOCK_KINDS = {q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1"}
