"""The hostile-file corpus: small files crafted to make a loader hang, allocate without bound,
recurse, or run code, plus truncations and bit-flips of one valid file of every format dlcore
reads (safetensors as dl.save and dl.weights write it, torch.save zip and legacy, GGUF, IDX,
IDX.gz and IDX.xz).  Everything is written by this script, without torch or gguf, so the corpus
is the same on every machine; tests/test_hostile_files.py builds it in a temporary folder and
runs every file through every loader.

    python tests/data/hostile/make_corpus.py OUT_DIR     # write the corpus for manual fuzzing

build(out_dir) returns one Case per file:
  must_fail  True: every loader must refuse it (crafted files and truncations); a tuple: those
             loaders must; False: it may also load (a bit flip inside tensor data leaves a
             valid file)
  expect     {loader name: regex its error message must match}
  valid_for  the loaders that must read the unmodified fixture
The pickles that would run code write `marker` when run; the test checks it never appears.
"""
import collections
import functools
import gzip
import io
import json
import lzma
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

Case = collections.namedtuple("Case", "name path must_fail expect valid_for")


# ---------------------------------------------------------------------------- pickle assembler
# torch's pickles name torch globals; writing them by hand needs no torch in this process.
class G(collections.namedtuple("G", "module name")):
    """A global, pickled as GLOBAL 'module\\nname\\n'."""


class R(collections.namedtuple("R", "fn args")):
    """fn(*args) at unpickling time (REDUCE)."""


class PID(collections.namedtuple("PID", "tup")):
    """A persistent id (BINPERSID), how torch refers to storages."""


class ODict(collections.namedtuple("ODict", "items")):
    """collections.OrderedDict() then SETITEMS, as torch writes state_dicts."""


class Raw(bytes):
    """Opcodes inserted as they are."""


def _enc(x):
    if isinstance(x, Raw):
        return bytes(x)
    if x is None:
        return b"N"
    if x is True or x is False:
        return b"\x88" if x else b"\x89"
    if isinstance(x, int):
        if 0 <= x < 256:
            return b"K" + bytes([x])
        if 0 <= x < 65536:
            return b"M" + struct.pack("<H", x)
        if -2 ** 31 <= x < 2 ** 31:
            return b"J" + struct.pack("<i", x)
        n = (x.bit_length() + 8) // 8
        return b"\x8a" + bytes([n]) + x.to_bytes(n, "little", signed=True)
    if isinstance(x, float):
        return b"G" + struct.pack(">d", x)
    if isinstance(x, str):
        b = x.encode("utf-8")
        return b"X" + struct.pack("<I", len(b)) + b
    if isinstance(x, G):
        return b"c" + x.module.encode() + b"\n" + x.name.encode() + b"\n"
    if isinstance(x, R):
        return _enc(x.fn) + _enc(tuple(x.args)) + b"R"
    if isinstance(x, PID):
        return _enc(tuple(x.tup)) + b"Q"
    if isinstance(x, ODict):
        body = b"".join(_enc(k) + _enc(v) for k, v in x.items)
        return _enc(R(G("collections", "OrderedDict"), ())) + (b"(" + body + b"u" if body else b"")
    if isinstance(x, tuple):
        return b")" if not x else b"(" + b"".join(_enc(v) for v in x) + b"t"
    if isinstance(x, list):
        return b"]" + (b"(" + b"".join(_enc(v) for v in x) + b"e" if x else b"")
    if isinstance(x, dict):
        body = b"".join(_enc(k) + _enc(v) for k, v in x.items())
        return b"}" + (b"(" + body + b"u" if body else b"")
    raise TypeError(type(x))


def pickle_bytes(obj):
    return b"\x80\x02" + _enc(obj) + b"."


_STORAGE = {np.dtype("f4"): "FloatStorage", np.dtype("f8"): "DoubleStorage",
            np.dtype("f2"): "HalfStorage", np.dtype("i8"): "LongStorage",
            np.dtype("u1"): "ByteStorage"}


def tensor_ref(key, dtype, numel, offset, size, stride, legacy):
    pid = ("storage", G("torch", _STORAGE[np.dtype(dtype)]), key, "cpu", numel)
    if legacy:
        pid += (None,)
    return R(G("torch._utils", "_rebuild_tensor_v2"),
             (PID(pid), offset, tuple(size), tuple(stride), False, ODict(())))


def torch_zip(obj, storages, compress=None):
    """torch.save's zip layout: archive/data.pkl, archive/byteorder, archive/data/<key>."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", obj if isinstance(obj, bytes) else pickle_bytes(obj))
        z.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            z.writestr("archive/data/" + key, data, compress_type=compress)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


def torch_legacy(obj, storages, numels=None):
    """torch.save(..., _use_new_zipfile_serialization=False): five pickles, then per storage an
    int64 element count and its bytes."""
    info = {"protocol_version": 1001, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
    out = [pickle_bytes(LEGACY_MAGIC), pickle_bytes(1001), pickle_bytes(info),
           obj if isinstance(obj, bytes) else pickle_bytes(obj), pickle_bytes(list(storages))]
    for key, (itemsize, data) in storages.items():
        n = (numels or {}).get(key, len(data) // itemsize)
        out.append(struct.pack("<q", n) + data)
    return b"".join(out)


def _state_dict(rng, legacy):
    """A small state_dict (with a transposed view sharing a storage) and its storages."""
    w = rng.standard_normal(15).astype(np.float32)
    b = rng.standard_normal(7)
    h = rng.standard_normal(4).astype(np.float16)
    i = np.arange(-2, 2, dtype=np.int64)
    arrays = {"0": w, "1": b, "2": h, "3": i}
    sd = ODict((
        ("lin.weight", tensor_ref("0", "f4", 15, 0, (3, 5), (5, 1), legacy)),
        ("lin.weight_t", tensor_ref("0", "f4", 15, 0, (5, 3), (1, 5), legacy)),
        ("lin.bias", tensor_ref("1", "f8", 7, 0, (7,), (1,), legacy)),
        ("half", tensor_ref("2", "f2", 4, 0, (2, 2), (2, 1), legacy)),
        ("steps", tensor_ref("3", "i8", 4, 1, (3,), (1,), legacy)),
        ("empty", tensor_ref("1", "f8", 7, 0, (0, 3), (3, 1), legacy)),
    ))
    expected = {"lin.weight": w.reshape(3, 5), "lin.weight_t": w.reshape(3, 5).T,
                "lin.bias": b, "half": h.reshape(2, 2), "steps": i[1:],
                "empty": np.zeros((0, 3))}
    return sd, arrays, expected


# ---------------------------------------------------------------------------- GGUF writer
_GG_SCALAR = {"u8": (0, "B"), "i8": (1, "b"), "u16": (2, "H"), "i16": (3, "h"), "u32": (4, "I"),
              "i32": (5, "i"), "f32": (6, "f"), "bool": (7, "?"), "u64": (10, "Q"),
              "i64": (11, "q"), "f64": (12, "d")}


def gg_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gg_value(kind, v):
    """(type code bytes, value bytes) for kind 'str', a scalar kind, or ('arr', item kind)."""
    if kind == "str":
        return struct.pack("<I", 8), gg_str(v)
    if isinstance(kind, tuple):
        sub = kind[1]
        code = 8 if sub == "str" else 9 if isinstance(sub, tuple) else _GG_SCALAR[sub][0]
        body = b"".join(gg_value(sub, x)[1] for x in v)  # items carry no type code of their own
        return struct.pack("<I", 9), struct.pack("<IQ", code, len(v)) + body
    code, fmt = _GG_SCALAR[kind]
    return struct.pack("<I", code), struct.pack("<" + fmt, v)


def gguf_bytes(kvs, tensors, version=3, align=32, pad_end=False):
    """kvs: [(key, kind, value)]; tensors: [(name, ggml dims, ggml type, data bytes)]."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, kind, v in kvs:
        t, body = gg_value(kind, v)
        head += gg_str(key) + t + body
    offs, data = [], b""
    for name, dims, code, raw in tensors:
        data += b"\0" * (-len(data) % align)
        offs.append(len(data))
        data += raw
    for (name, dims, code, raw), off in zip(tensors, offs):
        head += gg_str(name) + struct.pack("<I", len(dims)) + struct.pack(
            "<%dQ" % len(dims), *dims) + struct.pack("<IQ", code, off)
    head += b"\0" * (-len(head) % align)
    if pad_end:
        data += b"\0" * (-len(data) % align)
    return head + data


def _gguf_valid(rng, arch_kv=None):
    kv = [("general.architecture", "str", "llama"), ("general.name", "str", "tiny"),
          ("llama.block_count", "u32", 1), ("llama.context_length", "u32", 16),
          ("llama.embedding_length", "u32", 32), ("llama.feed_forward_length", "u32", 64),
          ("llama.attention.head_count", "u32", 4), ("llama.attention.head_count_kv", "u32", 2),
          ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
          ("tokenizer.ggml.model", "str", "gpt2"),
          ("tokenizer.ggml.tokens", ("arr", "str"), ["<s>", "a", "b", "ab", "wörld"]),
          ("tokenizer.ggml.scores", ("arr", "f32"), [0.0, -1.0, -2.0, -3.0, -4.0]),
          ("tokenizer.ggml.token_type", ("arr", "i32"), [3, 1, 1, 1, 1]),
          ("tokenizer.ggml.add_bos_token", "bool", True),
          ("nested", ("arr", ("arr", "u8")), [[1, 2], [3]])]
    if arch_kv:
        kv = [(k, t, arch_kv.get(k, v)) for k, t, v in kv]
    w = rng.standard_normal((2, 32)).astype(np.float32)
    q8 = np.concatenate([np.full((2, 1), 0.05, np.float16).view(np.uint8),
                         rng.integers(-100, 100, (2, 32), dtype=np.int8).view(np.uint8)], 1)
    q4 = np.concatenate([np.full((1, 1), 0.1, np.float16).view(np.uint8),
                         rng.integers(0, 256, (1, 16), dtype=np.uint8)], 1)
    tensors = [("w.f32", (32, 2), 0, w.tobytes()),
               ("w.f16", (32, 2), 1, w.astype(np.float16).tobytes()),
               ("w.q8_0", (32, 2), 8, q8.tobytes()),
               ("w.q4_0", (32, 1), 2, q4.tobytes()),
               ("w.bf16", (32, 1), 30, (w[:1].view(np.uint32) >> 16).astype(np.uint16).tobytes()),
               ("ids.i32", (3,), 26, np.array([7, -1, 2 ** 31 - 1], np.int32).tobytes())]
    return kv, tensors


# ---------------------------------------------------------------------------- the corpus
def _evil_payloads(marker):
    """Pickled objects that would create `marker` if anything ran them."""
    cmd = "touch %s" % marker
    code = "open(%r, 'w').close()" % str(marker)
    return {
        "system": R(G("posix", "system"), (cmd,)),
        "os_system": R(G("os", "system"), (cmd,)),
        "eval": R(G("builtins", "eval"), (code,)),
        "exec": R(G("builtins", "exec"), (code,)),
        "getattr": R(R(G("builtins", "getattr"), (R(G("builtins", "__import__"), ("os",)),
                                                   "system")), (cmd,)),
        "subprocess": R(G("subprocess", "check_call"), (["touch", str(marker)],)),
    }


def build(out_dir, marker=None):
    """Write the corpus into out_dir; returns a list of Case."""
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.abspath(marker or os.path.join(out_dir, "PWNED"))
    rng = np.random.default_rng(1234)
    cases = []

    def add(name, data, must_fail=True, expect=None, valid_for=()):
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        cases.append(Case(name, path, must_fail, dict(expect or {}), tuple(valid_for)))
        return path

    # ---- valid fixtures, then truncations and bit flips of each
    fixtures = {}
    sd, arrays, _ = _state_dict(rng, legacy=False)
    fixtures["torch_zip.pt"] = (torch_zip(sd, {k: v.tobytes() for k, v in arrays.items()}),
                                ("load_torch", "weights.load_file"))
    sd, arrays, _ = _state_dict(rng, legacy=True)
    fixtures["torch_legacy.pt"] = (torch_legacy(sd, {k: (v.itemsize, v.tobytes())
                                                     for k, v in arrays.items()}),
                                   ("load_torch", "weights.load_file"))
    kv, tensors = _gguf_valid(rng)
    fixtures["model.gguf"] = (gguf_bytes(kv, tensors), ("load_gguf", "weights.load_file"))
    fixtures["state.safetensors"] = (_safetensors_flat(rng, out_dir),
                                     ("dl.load", "load_safetensors", "weights.load_file"))
    fixtures["tree.safetensors"] = (_safetensors_tree(rng, out_dir),
                                    ("dl.load", "load_safetensors", "weights.load_file"))
    imgs = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    fixtures["images.idx"] = (_idx_bytes(imgs), ("read_idx",))
    fixtures["images.idx.gz"] = (gzip.compress(_idx_bytes(imgs), mtime=0), ("read_idx",))
    fixtures["images.idx.xz"] = (lzma.compress(_idx_bytes(imgs)), ("read_idx",))
    fixtures["floats.idx"] = (_idx_bytes(rng.standard_normal((3, 2)).astype(">f8"), 0x0E),
                              ("read_idx",))
    for name, (data, valid_for) in fixtures.items():
        add(name, data, must_fail=False, valid_for=valid_for)
        cuts = sorted({0, 1, 3, 4, 8, 12, 24, 40, len(data) // 3, len(data) // 2,
                       len(data) - 8, len(data) - 1} - {len(data)})
        for cut in cuts:
            if 0 <= cut < len(data):
                add("%s.cut%d" % (name, cut), data[:cut])
        head = min(len(data), 160)
        spots = list(rng.choice(head, size=min(head, 14), replace=False))
        spots += list(rng.integers(0, len(data), 4))
        for pos in spots:
            bit = int(rng.integers(0, 8))
            flipped = bytearray(data)
            flipped[pos] ^= 1 << bit
            add("%s.flip%d.%d" % (name, pos, bit), bytes(flipped), must_fail=False)

    _crafted_gguf(add, rng)
    _crafted_torch(add, marker)
    _crafted_idx(add)
    _crafted_safetensors(add)
    return cases


def _idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    return (bytes([0, 0, code, arr.ndim]) + struct.pack(">%dI" % arr.ndim, *arr.shape)
            + arr.astype(arr.dtype.newbyteorder(">")).tobytes())


def _safetensors_raw(header, data):
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def _safetensors_flat(rng, out_dir):
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = np.arange(5, dtype=np.int64)
    header = {"__metadata__": {"dlcore.kind": "state_dict",
                               "dlcore.keys": json.dumps(["w", "b"])},
              "w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
              "b": {"dtype": "I64", "shape": [5], "data_offsets": [48, 88]}}
    return _safetensors_raw(header, w.tobytes() + b.tobytes())


def _safetensors_tree(rng, out_dir):
    m = rng.standard_normal(6).astype(np.float32)
    tree = {"dict": {"state": {"items": [[0, {"dict": {"step": 3, "exp_avg": {"T": "m"}},
                                              "type": "dict"}]], "type": "dict"},
                     "param_groups": [{"dict": {"lr": 0.001, "params": [0]}, "type": "dict"}]},
            "type": "dict"}
    header = {"__metadata__": {"dlcore.kind": "tree", "dlcore.tree": json.dumps(tree)},
              "m": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}
    return _safetensors_raw(header, m.tobytes())


def _crafted_gguf(add, rng):
    hdr = lambda nt, nkv, v=3: b"GGUF" + struct.pack("<IQQ", v, nt, nkv)  # noqa: E731
    # the 65-byte file: its one metadata array claims 2**62 uint32 items, holds 4
    add("gguf_array_2e62.gguf", hdr(0, 1) + gg_str("a") + struct.pack("<IIQ", 9, 4, 2 ** 62)
        + b"\1" * 16, expect={"load_gguf": r"4611686018427387904 uint32 items"})
    add("gguf_kv_count_2e63.gguf", hdr(0, 2 ** 63))
    add("gguf_tensor_count_2e63.gguf", hdr(2 ** 63, 0) + b"\0" * 40)
    add("gguf_key_len_2e63.gguf", hdr(0, 1) + struct.pack("<Q", 2 ** 63) + b"abc" * 8)
    add("gguf_u32_array_huge.gguf", hdr(0, 1) + gg_str("k") + struct.pack("<IIQ", 9, 4, 2 ** 40)
        + b"\1" * 64)
    deep = struct.pack("<IQ", 9, 1) * 5000  # an array of one array of one array of ...
    add("gguf_nested_arrays_5000.gguf", hdr(0, 1) + gg_str("k") + struct.pack("<I", 9) + deep
        + struct.pack("<IQ", 0, 0))
    kv, tensors = _gguf_valid(rng)
    add("gguf_head_count_kv_0.gguf",
        gguf_bytes([(k, t, 0 if k.endswith("head_count_kv") else v) for k, t, v in kv], tensors),
        expect={"load_gguf": "head_count_kv"})
    add("gguf_head_count_str.gguf",
        gguf_bytes([(k, "str" if k.endswith(".head_count") else t,
                     "4" if k.endswith(".head_count") else v) for k, t, v in kv], tensors),
        expect={"load_gguf": "head_count"})
    add("gguf_alignment_3.gguf", gguf_bytes(kv + [("general.alignment", "u32", 3)], tensors))
    add("gguf_alignment_0.gguf", gguf_bytes(kv + [("general.alignment", "u32", 0)], tensors))
    add("gguf_duplicate_key.gguf", gguf_bytes(kv + [kv[1]], tensors))
    add("gguf_duplicate_tensor.gguf", gguf_bytes(kv, tensors + [tensors[0]]))
    add("gguf_value_type_99.gguf", hdr(0, 1) + gg_str("k") + struct.pack("<I", 99) + b"\0" * 8)
    add("gguf_bad_utf8_key.gguf", hdr(0, 1) + gg_str(b"\xff\xfe") + struct.pack("<IB", 0, 1))
    add("gguf_version_1.gguf", hdr(0, 0, v=1) + b"\0" * 8)
    add("gguf_version_99.gguf", hdr(0, 0, v=99) + b"\0" * 8)
    w = np.zeros(8, np.float32).tobytes()
    add("gguf_tensor_past_end.gguf", gguf_bytes([], [("t", (2 ** 20,), 0, w)]))
    add("gguf_tensor_dims_2e63.gguf", gguf_bytes([], [("t", (2 ** 63, 2 ** 63), 0, w)]))
    add("gguf_tensor_ndims_0.gguf", gguf_bytes([], [("t", (), 0, w)]))
    add("gguf_tensor_ndims_9.gguf", gguf_bytes([], [("t", (1,) * 9, 0, w)]))
    add("gguf_tensor_type_77.gguf", gguf_bytes([], [("t", (8,), 77, w)]))
    add("gguf_q4_row_31.gguf", gguf_bytes([], [("t", (31,), 2, b"\0" * 18)]))
    ok = gguf_bytes([], [("a", (8,), 0, w), ("b", (8,), 0, w)])
    # point the second tensor's offset at the first: overlapping tensors multiply memory
    i = ok.rindex(struct.pack("<IQ", 0, 32))
    add("gguf_tensors_overlap.gguf", ok[:i] + struct.pack("<IQ", 0, 0) + ok[i + 12:])


def _crafted_torch(add, marker):
    one = np.ones(1, np.float32).tobytes()
    big = (8192, 8192)
    # the stride-0 file: one stored float shown as a 256 MiB tensor
    sd = ODict((("w", tensor_ref("0", "f4", 1, 0, big, (0, 0), False)),))
    add("pth_stride0_256mib.pt", torch_zip(sd, {"0": one}),
        expect={"load_torch": "max_expansion"})
    sd = ODict((("w", tensor_ref("0", "f4", 1, 0, big, (0, 0), True)),))
    add("pth_stride0_legacy.pt", torch_legacy(sd, {"0": (4, one)}),
        expect={"load_torch": "max_expansion"})
    # many full views of one 128 KiB storage: each view is fine, together 256 MiB
    store = np.arange(32768, dtype=np.float32).tobytes()
    views = ODict(tuple(("v%d" % i, tensor_ref("0", "f4", 32768, 0, (32768,), (1,), False))
                        for i in range(2048)))
    add("pth_2048_views.pt", torch_zip(views, {"0": store}), expect={"load_torch": "max_exp"})
    # zip bombs: a storage, and the pickle itself, deflated from 256 MiB of zeros
    zeros = _deflate_zeros(256 << 20)
    n = (256 << 20) // 4
    sd = ODict((("w", tensor_ref("0", "f4", n, 0, (n,), (1,), False)),))
    add("pth_zip_bomb_storage.pt", _zip_with_raw_member(
        torch_zip(sd, {}), "archive/data/0", zeros, 256 << 20),
        expect={"load_torch": "max_inflate_ratio"})
    add("pth_zip_bomb_pickle.pt", _zip_with_raw_member(
        torch_zip(ODict(()), {}), "archive/data.pkl", zeros, 256 << 20, replace=True),
        expect={"load_torch": "max_inflate_ratio"})
    good = torch_zip(ODict((("w", tensor_ref("0", "f4", 1, 0, (1,), (1,), False)),)),
                     {"0": one})
    add("pth_zip_truncated.pt", good[:len(good) // 2],
        expect={"load_torch": "zip archive"})
    add("pth_zip_no_eocd.pt", good[:-22])
    # pickles that make CPython's unpickler allocate by a number in the stream
    for legacy in (False, True):
        tag = "legacy" if legacy else "zip"
        wrap = (lambda p: torch_legacy(p, {})) if legacy else (lambda p: torch_zip(p, {}))
        add("pth_memo_2e30_%s.pt" % tag, wrap(b"\x80\x02N" + b"r" + struct.pack("<I", 2 ** 30)
                                              + b"."), expect={"load_torch": "memo index"})
        add("pth_binbytes8_%s.pt" % tag, wrap(b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 40)
                                              + b"abc."))
        add("pth_binunicode8_%s.pt" % tag, wrap(b"\x80\x04\x8d" + struct.pack("<Q", 2 ** 33)
                                                + b"abc."))
        add("pth_frame_%s.pt" % tag, wrap(b"\x80\x04\x95" + struct.pack("<Q", 2 ** 40) + b"N."))
        add("pth_ext1_%s.pt" % tag, wrap(b"\x80\x02\x82\x01."))
        add("pth_deep_list_%s.pt" % tag, wrap(b"\x80\x02" + b"]" * 20000 + b"a" * 19999
                                              + b"."), expect={"load_torch": "nested"})
        # each level holds the one below twice: 2**80 paths through 80 lists
        dag = b"\x80\x02]q\x00" + b"".join(b"](h%sh%seq%s" % (bytes([i]), bytes([i]),
                                                               bytes([i + 1]))
                                           for i in range(80)) + b"."
        add("pth_dag_2e80_%s.pt" % tag, wrap(dag), must_fail=False)
        add("pth_cycle_%s.pt" % tag, wrap(b"\x80\x02]q\x00h\x00a."), must_fail=False)
        for evil, obj in _evil_payloads(marker).items():
            payload = ODict((("w", tensor_ref("0", "f4", 1, 0, (1,), (1,), legacy)),
                             ("payload", obj)))
            data = (torch_legacy(payload, {"0": (4, one)}) if legacy
                    else torch_zip(payload, {"0": one}))
            add("pth_evil_%s_%s.pt" % (evil, tag), data, expect={"load_torch": "refusing"})
        add("pth_evil_build_%s.pt" % tag, wrap(b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00"
                                               b"\x00dtypeX\x01\x00\x00\x00Osb."))
        add("pth_evil_protocol0_%s.pt" % tag,
            wrap(("cposix\nsystem\n(S'touch %s'\ntR." % marker).encode()))
        add("pth_negative_stride_%s.pt" % tag, (torch_legacy if legacy else _tzip)(
            ODict((("w", tensor_ref("0", "f4", 4, 3, (4,), (-1,), legacy)),)),
            {"0": (4, b"\0" * 16)} if legacy else {"0": b"\0" * 16}))
        add("pth_offset_past_%s.pt" % tag, (torch_legacy if legacy else _tzip)(
            ODict((("w", tensor_ref("0", "f4", 4, 3, (4,), (1,), legacy)),)),
            {"0": (4, b"\0" * 16)} if legacy else {"0": b"\0" * 16}))
    add("pth_legacy_numel_2e60.pt", torch_legacy(
        ODict((("w", tensor_ref("0", "f4", 2 ** 60, 0, (1,), (1,), True)),)),
        {"0": (4, one)}, numels={"0": 2 ** 60}))
    add("pth_zip_size_mismatch.pt", torch_zip(
        ODict((("w", tensor_ref("0", "f4", 1000, 0, (1000,), (1,), False)),)), {"0": one}))
    add("pth_zip_bad_byteorder.pt", torch_zip(ODict(()), {}).replace(b"little", b"middle"))
    add("pth_zip_two_pkl.pt", _two_pkl())
    add("raw_pickle_evil.pkl", pickle_bytes(_evil_payloads(marker)["system"]))
    add("empty.bin", b"")
    add("zeros_4k.bin", b"\0" * 4096)


def _tzip(obj, storages):
    return torch_zip(obj, storages)


def _two_pkl():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/data.pkl", pickle_bytes({}))
        z.writestr("b/data.pkl", pickle_bytes({}))
    return buf.getvalue()


def _deflate_zeros(n):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    out = [c.compress(chunk) for _ in range(n >> 20)]
    return b"".join(out) + c.flush()


def _zip_with_raw_member(base, name, deflated, size, replace=False):
    """Zip `base` with member `name` added (or replaced) as already-deflated bytes that
    inflate to `size` zeros, written by hand (zipfile would have to inflate them first)."""
    src = zipfile.ZipFile(io.BytesIO(base))
    members = [(i.filename, src.read(i.filename), None, 0) for i in src.infolist()
               if i.filename != name]
    members.append((name, deflated, size, 8))
    out = io.BytesIO()
    central = []
    for fname, data, usize, method in members:
        crc = _crc_zeros(usize) if method else zlib.crc32(data)
        usize = len(data) if usize is None else usize
        off = out.tell()
        fn = fname.encode()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc,
                              len(data), usize, len(fn), 0) + fn + data)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0,
                                   0, crc, len(data), usize, len(fn), 0, 0, 0, 0, 0, off) + fn)
    cd_off = out.tell()
    cd = b"".join(central)
    out.write(cd + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central),
                               len(cd), cd_off, 0))
    return out.getvalue()


@functools.lru_cache(maxsize=None)
def _crc_zeros(n):
    crc, chunk = 0, b"\0" * (1 << 20)
    for _ in range(n >> 20):
        crc = zlib.crc32(chunk, crc)
    return zlib.crc32(b"\0" * (n & ((1 << 20) - 1)), crc)


def _crafted_idx(add):
    # the gzip bomb: a header declaring 4 bytes, then 256 MiB of zeros
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = [c.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + b"\1\2\3\4")]
    chunk = b"\0" * (1 << 20)
    body += [c.compress(chunk) for _ in range(256)]
    add("idx_gz_bomb_trailing.idx.gz", b"".join(body) + c.flush(),
        expect={"read_idx": "trailing"})
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = [c.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 256 << 20))]
    body += [c.compress(chunk) for _ in range(64)]
    add("idx_gz_declares_256mib_holds_64.idx.gz", b"".join(body) + c.flush())
    add("idx_gz_dims_2e96.idx.gz", gzip.compress(bytes([0, 0, 8, 3]) + b"\xff" * 12 + b"\0" * 64,
                                                 mtime=0), expect={"read_idx": "gzip"})
    add("idx_dims_2e96.idx", bytes([0, 0, 8, 3]) + b"\xff" * 12 + b"\0" * 64)
    add("idx_ndim_0.idx", bytes([0, 0, 8, 0]))
    add("idx_ndim_255.idx", bytes([0, 0, 8, 255]) + b"\0\0\0\1" * 255 + b"\0")
    add("idx_type_0x42.idx", bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))
    add("idx_bad_magic.idx", bytes([1, 2, 8, 1, 0, 0, 0, 1, 0]))
    good = gzip.compress(_idx_bytes(np.arange(100, dtype=np.uint8)), mtime=0)
    bad = bytearray(good)
    bad[-8] ^= 0xFF  # CRC
    add("idx_gz_bad_crc.idx.gz", bytes(bad))
    bad = bytearray(good)
    bad[-1] ^= 0x01  # ISIZE
    add("idx_gz_bad_isize.idx.gz", bytes(bad))
    add("idx_gz_garbage_after.idx.gz", good + b"garbage!")
    _crafted_idx_xz(add)


def _xz_of_zeros_after(head, mib):
    """An xz stream of `head` then `mib` MiB of zeros, compressed without holding them."""
    c = lzma.LZMACompressor(preset=0)
    chunk = b"\0" * (1 << 20)
    return b"".join([c.compress(head)] + [c.compress(chunk) for _ in range(mib)] + [c.flush()])


def _crafted_idx_xz(add):
    # the xz bomb: a header declaring 4 bytes, then 256 MiB of zeros in ~40 KB
    add("idx_xz_bomb_trailing.idx.xz",
        _xz_of_zeros_after(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + b"\1\2\3\4", 256),
        expect={"read_idx": "trailing"})
    add("idx_xz_declares_256mib_holds_64.idx.xz",
        _xz_of_zeros_after(bytes([0, 0, 8, 1]) + struct.pack(">I", 256 << 20), 64),
        expect={"read_idx": "more than xz can hold"})
    # a block header asking for a 4 GiB dictionary (its CRC32 made right): refused by the
    # decoder's memory limit, not allocated
    z = bytearray(lzma.compress(_idx_bytes(np.arange(10, dtype=np.uint8)), format=lzma.FORMAT_XZ,
                                filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 4096}]))
    z[16] = 40
    z[20:24] = struct.pack("<I", zlib.crc32(bytes(z[12:20])))
    add("idx_xz_4gib_dictionary.idx.xz", bytes(z), expect={"read_idx": "dictionary"})
    good = lzma.compress(_idx_bytes(np.arange(100, dtype=np.uint8)))
    bad = bytearray(good)
    bad[-13] ^= 0xFF  # inside the index/check, before the footer
    add("idx_xz_bad_check.idx.xz", bytes(bad))
    add("idx_xz_garbage_after.idx.xz", good + b"garbage!",
        expect={"read_idx": "not another xz stream"})
    add("idx_xz_lzma_alone_format.idx.xz", lzma.compress(_idx_bytes(np.arange(5, dtype=np.uint8)),
                                                       format=lzma.FORMAT_ALONE))


def _crafted_safetensors(add):
    add("st_header_len_2e63.safetensors", struct.pack("<Q", 2 ** 63) + b"{}")
    add("st_header_len_99m.safetensors", struct.pack("<Q", 99_000_000) + b"{}")
    deep = b"[" * 100000 + b"]" * 100000
    add("st_deep_json.safetensors", struct.pack("<Q", len(deep)) + deep)
    add("st_offsets_past.safetensors", _safetensors_raw(
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 40]}}, b"\0" * 16))
    add("st_shape_2e80.safetensors", _safetensors_raw(
        {"w": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 16]}},
        b"\0" * 16))
    add("st_shape_negative.safetensors", _safetensors_raw(
        {"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\0" * 16))
    add("st_overlap.safetensors", _safetensors_raw(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
         "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16))
    add("st_hole.safetensors", _safetensors_raw(
        {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, b"\0" * 12))
    # bytes no tensor covers: the safetensors package refuses such a file, and so must we
    add("st_trailing_bytes.safetensors", _safetensors_raw(
        {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4096),
        expect={"weights.load_file": "4092 bytes after the last tensor"})
    add("st_dtype_obj.safetensors", _safetensors_raw(
        {"w": {"dtype": "O", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 16))
    add("st_not_json.safetensors", struct.pack("<Q", 8) + b"\x80\x02N.    ")
    # dl.load's own structure description, hostile (io.py parses these)
    # valid safetensors files whose dlcore structure description is hostile: only dl.load
    # reads that description
    add("st_tree_deep.safetensors", _safetensors_raw(
        {"__metadata__": {"dlcore.kind": "tree", "dlcore.tree": "[" * 100000 + "]" * 100000},
         "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        must_fail=("dl.load",))
    add("st_tree_unknown_node.safetensors", _safetensors_raw(
        {"__metadata__": {"dlcore.kind": "tree", "dlcore.tree": '{"T": "missing"}'},
         "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        must_fail=("dl.load",))
    add("st_keys_deep.safetensors", _safetensors_raw(
        {"__metadata__": {"dlcore.kind": "state_dict", "dlcore.keys": "[" * 100000 + "]" * 100000},
         "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        must_fail=("dl.load",))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    made = build(sys.argv[1])
    print("%d files in %s" % (len(made), sys.argv[1]))
