#!/usr/bin/env python3
# gguf.py: an independent pure-Python + NumPy GGUF (v2/v3, little-endian) reader, the oracle the C++
# reader is checked against and the only file access of the other references (llama_ref.py). It shares no
# code with src/gguf; written from the format spec (llama.cpp docs/gguf.md). Dequantization of block types
# is delegated to quants.py; F32/F16/BF16 are handled here.
#
#   load(path) -> (metadata: dict key -> value, tensors: dict name -> (type_id, shape, raw bytes))
#     values: int / float / bool / str, arrays as (nested) lists; shapes are outermost-first tuples.
#   tensor_f32(path_or_loaded, name) -> flat float32 array (outermost-first row-major order)
#   gguf.py dump FILE   prints a JSON summary (used by tests/gguf/gguf_python_test.cpp)
import json
import os
import struct
import sys

import numpy as np

# GGUF metadata value types: id -> struct format (scalars only).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types this reader can size: id -> (name, block size, bytes per block).
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36),
    10: ("q2_K", 256, 84), 11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144),
    13: ("q5_K", 256, 176), 14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292),
    16: ("iq2_xxs", 256, 66), 17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98),
    19: ("iq1_s", 256, 50), 20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110),
    22: ("iq2_s", 256, 82), 23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2),
    26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8), 29: ("iq1_m", 256, 56),
    30: ("bf16", 1, 2), 34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17),
}


class _Reader:
    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n, what):
        if self.pos + n > len(self.data):
            raise ValueError(f"{self.path}: {what}: truncated at offset {self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def scalar(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what):
        n = self.scalar("<Q", what + " length")
        return self.take(n, what).decode("utf-8", errors="surrogateescape")

    def value(self, type_id, what):
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id], what)
        if type_id == _STRING:
            return self.string(what)
        if type_id == _ARRAY:
            elem = self.scalar("<I", what + " element type")
            n = self.scalar("<Q", what + " length")
            if elem in _SCALARS and elem != 7:  # fast path: one NumPy read for numeric arrays
                dt = np.dtype(_SCALARS[elem])
                raw = self.take(n * dt.itemsize, what)
                return np.frombuffer(raw, dtype=dt).tolist()
            return [self.value(elem, f"{what}[{k}]") for k in range(n)]
        raise ValueError(f"{self.path}: {what}: unknown value type {type_id}")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    r = _Reader(data, path)
    if r.take(4, "magic") != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    version = r.scalar("<I", "version")
    if version not in (2, 3):
        raise ValueError(f"{path}: unsupported GGUF version {version}")
    n_tensors = r.scalar("<Q", "n_tensors")
    n_kv = r.scalar("<Q", "n_kv")
    meta = {}
    for k in range(n_kv):
        key = r.string(f"kv[{k}] key")
        meta[key] = r.value(r.scalar("<I", f"{key} type"), key)
    alignment = int(meta.get("general.alignment", 32))
    infos = []
    for t in range(n_tensors):
        name = r.string(f"tensor[{t}] name")
        n_dims = r.scalar("<I", f"{name} n_dims")
        ne = [r.scalar("<q", f"{name} ne") for _ in range(n_dims)]
        type_id = r.scalar("<I", f"{name} type")
        offset = r.scalar("<Q", f"{name} offset")
        infos.append((name, tuple(reversed(ne)), type_id, offset))
    data_start = (r.pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, shape, type_id, offset in infos:
        _, block, type_size = GGML_TYPES[type_id]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = numel // block * type_size
        start = data_start + offset
        if start + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name}: data past the end of the file")
        tensors[name] = (type_id, shape, data[start:start + nbytes])
    return meta, tensors


def tensor_f32(path_or_loaded, name):
    """The tensor's values as a flat float32 array (reshape with the shape from load())."""
    loaded = load(path_or_loaded) if isinstance(path_or_loaded, (str, os.PathLike)) else path_or_loaded
    type_id, shape, raw = loaded[1][name]
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if type_id == 0:
        return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
    if type_id == 1:
        return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    if type_id == 30:  # bfloat16: the high half of a float32
        bits = np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32) << 16
        return bits.view(np.float32)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import quants  # noqa: E402  (tests/reference/quants.py)
    return np.asarray(quants.dequantize(type_id, raw, n), dtype=np.float32)


def _quants_supported():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import quants  # noqa: E402
    except ImportError:
        return set()
    return set(getattr(quants, "BLOCKED", {}).keys())


def _summary(value):
    if isinstance(value, list):
        return {"array_len": len(value), "head": [_summary(v) for v in value[:4]]}
    if isinstance(value, float):
        return {"float": value}
    return value


def dump(path):
    meta, tensors = load(path)
    out = {"keys": list(meta.keys()), "values": {k: _summary(v) for k, v in meta.items()},
           "tensors": {}}
    for name, (type_id, shape, raw) in tensors.items():
        entry = {"type": type_id, "shape": list(shape), "nbytes": len(raw)}
        if type_id in (0, 1, 30) or type_id in _quants_supported():
            vals = tensor_f32((meta, tensors), name).astype(np.float64)
            entry["sum"] = float(vals.sum())
            entry["head"] = vals[:4].tolist()
        out["tensors"][name] = entry
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "dump":
        sys.exit("usage: gguf.py dump FILE")
    json.dump(dump(sys.argv[2]), sys.stdout)
