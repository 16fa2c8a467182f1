"""A pickle's opcodes checked before the (restricted) unpickler sees them.

CPython's unpickler trusts two kinds of number in the stream with memory: a memo index
(`LONG_BINPUT 2**26` makes it allocate and zero a 1 GiB memo table from a 10-byte pickle) and a
byte length (`BINBYTES8 2**40` allocates the whole length before reading).  Walking the opcodes
with pickletools, over a stream whose `read(n)` never returns more than what is really there,
costs no memory and lets us refuse both before anything is built:
- a memo index may not exceed the number of opcodes read so far (each opcode stores at most one);
- every length must be backed by bytes in the stream (pickletools raises when they are not);
- the copyreg extension opcodes (EXT1/2/4) are refused: they can reach cached objects without
  passing through the unpickler's find_class.
"""
import pickletools
import struct

_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}
_REFUSED_OPS = {"EXT1", "EXT2", "EXT4"}


class ByteWindow:
    """A read-only file over a bytes-like object (bytes, mmap): reads never allocate more than
    the bytes that remain, so a length read from the data cannot size an allocation."""

    def __init__(self, buf):
        self.buf = buf
        self.size = len(buf)
        self.pos = 0

    def read(self, n=-1):
        pos = self.pos
        end = self.size if n is None or n < 0 else min(self.size, pos + n)
        self.pos = end
        return self.buf[pos:end]  # slicing bytes or an mmap gives bytes

    def readline(self, limit=-1):
        nl = self.buf.find(b"\n", self.pos)
        end = self.size if nl < 0 else nl + 1
        if limit is not None and limit >= 0:
            end = min(end, self.pos + limit)
        return self.read(end - self.pos)

    def tell(self):
        return self.pos

    def seek(self, pos):
        self.pos = max(0, min(int(pos), self.size))


def scan_pickle(window, what):
    """Walk one pickle from window's position to its STOP; raise ValueError naming `what` if it
    is malformed or uses what the unpickler would turn into unbounded memory.  The window (a
    ByteWindow or io.BytesIO) is left where it was; returns the offset just past the STOP."""
    start = window.tell()
    n_ops, end = 0, start
    try:
        for op, arg, pos in pickletools.genops(window):
            end = window.tell()
            n_ops += 1
            if op.name in _MEMO_OPS and (not isinstance(arg, int) or not 0 <= arg <= n_ops):
                raise ValueError("memo index %r at byte %d, but only %d opcodes precede it"
                                 % (arg, start + pos, n_ops))
            if op.name in _REFUSED_OPS:
                raise ValueError("opcode %s at byte %d (copyreg extension) is not allowed"
                                 % (op.name, start + pos))
    except (ValueError, EOFError, OverflowError, struct.error) as e:
        raise ValueError("%s: malformed pickle (%s)" % (what, e)) from None
    finally:
        window.seek(start)
    if n_ops == 0:
        raise ValueError("%s: empty pickle" % what)
    return end
