"""The quantized element types that name a quantization's target (torch.qint8's role)."""

__all__ = ["QType", "qint8", "quint8", "bfloat16"]


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
