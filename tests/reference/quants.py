#!/usr/bin/env python3
"""Independent NumPy dequantization of the ggml/GGUF block formats latent supports.

Written from the format descriptions (block layout + formula per element), not from latent's C++; the
C++ tests (tests/tensor/quant_reference_test.cpp) compare both bit for bit on random blocks.
Every arithmetic step is float32, one rounding per operation (no fused multiply-add), in the order
ggml's dequantize_row_* uses, so results are bitwise reproducible.

  dequantize(type_id, raw, n) -> np.ndarray[float32] of n values
  CLI: python3 quants.py dequant TYPE_ID IN.bin N OUT.f32
"""
import sys

import numpy as np

F32 = np.float32

# type id -> (name, elements per block, bytes per block); ids are ggml's enum ggml_type.
FORMATS = {
    0: ("f32", 1, 4),
    1: ("f16", 1, 2),
    2: ("q4_0", 32, 18),
    3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22),
    7: ("q5_1", 32, 24),
    8: ("q8_0", 32, 34),
    10: ("q2_K", 256, 84),
    11: ("q3_K", 256, 110),
    12: ("q4_K", 256, 144),
    13: ("q5_K", 256, 176),
    14: ("q6_K", 256, 210),
    15: ("q8_K", 256, 292),
    30: ("bf16", 1, 2),
}


def half(b: np.ndarray) -> np.ndarray:
    """(nb, 2) little-endian fp16 bytes -> (nb, 1) float32."""
    return np.ascontiguousarray(b).view("<f2").astype(F32)


def f32(a) -> np.ndarray:
    return np.asarray(a).astype(F32)


def nibbles32(qs: np.ndarray) -> np.ndarray:
    """16 bytes -> 32 values: element j < 16 is the low nibble of byte j, element j + 16 the high one."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)


def high_bits32(qh: np.ndarray) -> np.ndarray:
    """4 bytes (little-endian u32) -> bit j for j = 0..31."""
    word = np.ascontiguousarray(qh).view("<u4").astype(np.int64)  # (nb, 1)
    return ((word >> np.arange(32)) & 1).astype(np.int32)


# ---- legacy 32-element blocks ----

def q4_0(blk):  # d:f16 qs[16]; x = d * (q - 8)
    d = half(blk[:, 0:2])
    return f32(nibbles32(blk[:, 2:18]) - 8) * d


def q4_1(blk):  # d:f16 m:f16 qs[16]; x = d * q + m
    d, m = half(blk[:, 0:2]), half(blk[:, 2:4])
    return f32(nibbles32(blk[:, 4:20])) * d + m


def q5_0(blk):  # d:f16 qh[4] qs[16]; x = d * (q - 16), q = nibble | bit << 4
    d = half(blk[:, 0:2])
    q = nibbles32(blk[:, 6:22]) | (high_bits32(blk[:, 2:6]) << 4)
    return f32(q - 16) * d


def q5_1(blk):  # d:f16 m:f16 qh[4] qs[16]; x = d * q + m
    d, m = half(blk[:, 0:2]), half(blk[:, 2:4])
    q = nibbles32(blk[:, 8:24]) | (high_bits32(blk[:, 4:8]) << 4)
    return f32(q) * d + m


def q8_0(blk):  # d:f16 qs:int8[32]; x = d * q
    d = half(blk[:, 0:2])
    return f32(np.ascontiguousarray(blk[:, 2:34]).view(np.int8)) * d


# ---- K-quants: 256-element super-blocks ----

E = np.arange(256)


def planes2(qs: np.ndarray) -> np.ndarray:
    """64 bytes of 2-bit planes -> 256 values: element e is bits 2*((e%128)//32) of byte 32*(e//128) + e%32."""
    idx = 32 * (E // 128) + E % 32
    shift = 2 * ((E % 128) // 32)
    return ((qs[:, idx] >> shift) & 3).astype(np.int32)


def q2_K(blk):  # scales[16] qs[64] d:f16 dmin:f16
    sc = blk[:, 0:16][:, E // 16]
    d, dmin = half(blk[:, 80:82]), half(blk[:, 82:84])
    dl = d * f32(sc & 0x0F)
    ml = dmin * f32(sc >> 4)
    return dl * f32(planes2(blk[:, 16:80])) - ml


def q3_K_scales(s: np.ndarray) -> np.ndarray:
    """12 bytes -> 16 six-bit scales (biased by 32): low nibbles of bytes 0..7 are scales 0..7, their
    high nibbles scales 8..15; byte 8 + i holds the top 2 bits of scales i, i+4, i+8, i+12."""
    low = np.concatenate([s[:, 0:8] & 0x0F, s[:, 0:8] >> 4], axis=1).astype(np.int32)
    top = s[:, 8:12].astype(np.int32)  # (nb, 4)
    high = np.concatenate([(top >> (2 * k)) & 3 for k in range(4)], axis=1)  # scale 4k + i
    return low | (high << 4)


def q3_K(blk):  # hmask[32] qs[64] scales[12] d:f16
    hmask = blk[:, 0:32]
    d = half(blk[:, 108:110])
    scale = q3_K_scales(blk[:, 96:108])[:, E // 16] - 32
    hbit = (hmask[:, E % 32] >> (E // 32)) & 1
    q = planes2(blk[:, 32:96]) - np.where(hbit == 1, 0, 4)
    return (d * f32(scale)) * f32(q)


def k4_scales_mins(s: np.ndarray):
    """12 bytes -> 8 six-bit scales and 8 six-bit mins (Q4_K/Q5_K)."""
    s = s.astype(np.int32)
    sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)], axis=1)
    mn = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], axis=1)
    return sc, mn


def nibbles256(qs: np.ndarray) -> np.ndarray:
    """128 bytes -> 256: chunk c of 64 is the low nibbles of bytes 32c..32c+31, then their high nibbles."""
    idx = 32 * (E // 64) + E % 32
    return np.where(E % 64 < 32, qs[:, idx] & 0x0F, qs[:, idx] >> 4).astype(np.int32)


def q4_K(blk):  # d:f16 dmin:f16 scales[12] qs[128]; x = d*sc*q - dmin*m
    d, dmin = half(blk[:, 0:2]), half(blk[:, 2:4])
    sc, mn = k4_scales_mins(blk[:, 4:16])
    dl = d * f32(sc[:, E // 32])
    ml = dmin * f32(mn[:, E // 32])
    return dl * f32(nibbles256(blk[:, 16:144])) - ml


def q5_K(blk):  # d:f16 dmin:f16 scales[12] qh[32] qs[128]
    d, dmin = half(blk[:, 0:2]), half(blk[:, 2:4])
    sc, mn = k4_scales_mins(blk[:, 4:16])
    hbit = (blk[:, 16:48][:, E % 32] >> (E // 32)) & 1
    q = nibbles256(blk[:, 48:176]) + 16 * hbit.astype(np.int32)
    dl = d * f32(sc[:, E // 32])
    ml = dmin * f32(mn[:, E // 32])
    return dl * f32(q) - ml


def q6_K(blk):  # ql[128] qh[64] scales:int8[16] d:f16; x = d * sc * (q - 32)
    ql, qh = blk[:, 0:128], blk[:, 128:192]
    sc = np.ascontiguousarray(blk[:, 192:208]).view(np.int8)
    d = half(blk[:, 208:210])
    h, k, l = E // 128, (E % 128) // 32, E % 32
    byte = ql[:, 64 * h + l + 32 * (k & 1)]
    low4 = np.where(k < 2, byte & 0x0F, byte >> 4).astype(np.int32)
    high2 = ((qh[:, 32 * h + l] >> (2 * k)) & 3).astype(np.int32)
    q = (low4 | (high2 << 4)) - 32
    return d * f32(sc[:, E // 16]) * f32(q)


def q8_K(blk):  # d:f32 qs:int8[256] bsums:int16[16]; x = d * q
    d = np.ascontiguousarray(blk[:, 0:4]).view("<f4")
    return d * f32(np.ascontiguousarray(blk[:, 4:260]).view(np.int8))


# ---- plain floats ----

def f16(raw):
    return raw.view("<f2").astype(F32)


def bf16(raw):
    return (raw.view("<u2").astype(np.uint32) << 16).view(F32)


BLOCKED = {2: q4_0, 3: q4_1, 6: q5_0, 7: q5_1, 8: q8_0,
           10: q2_K, 11: q3_K, 12: q4_K, 13: q5_K, 14: q6_K, 15: q8_K}


def dequantize(type_id: int, raw: bytes, n: int) -> np.ndarray:
    name, block, size = FORMATS[type_id]
    if n % block != 0:
        raise ValueError(f"{n} elements is not a multiple of the {name} block size {block}")
    buf = np.frombuffer(raw, dtype=np.uint8, count=n // block * size)
    if type_id == 0:
        return buf.view("<f4").astype(F32)
    if type_id == 1:
        return f16(buf)
    if type_id == 30:
        return bf16(buf)
    out = BLOCKED[type_id](buf.reshape(-1, size))
    assert out.dtype == F32, (name, out.dtype)
    return out.reshape(-1)


def main(argv) -> int:
    if len(argv) != 6 or argv[1] != "dequant":
        print("usage: quants.py dequant TYPE_ID IN.bin N OUT.f32", file=sys.stderr)
        return 2
    type_id, n = int(argv[2]), int(argv[4])
    with open(argv[3], "rb") as f:
        raw = f.read()
    dequantize(type_id, raw, n).astype("<f4").tofile(argv[5])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
