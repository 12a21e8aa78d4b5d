"""Counter-based randomness: every draw is a pure function of (seed, stream, key).

Nothing here keeps state, so a day can be generated alone, in any order, and
give the same rows. ``splitmix64`` is a bijection on 64-bit integers, which
also makes it a collision-free way to turn unique counters into opaque ids.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Two hex digits per byte value, so a uint64 becomes 16 characters with one gather.
_BYTE_TO_HEX = (_HEX[np.arange(256) >> 4].astype(np.uint16)) | (_HEX[np.arange(256) & 15].astype(np.uint16) << 8)


def splitmix64(x: np.ndarray | int) -> np.ndarray:
    """The splitmix64 finalizer, vectorized; a bijection of uint64."""
    z = np.array(x, dtype=np.uint64, ndmin=1) + _GOLDEN  # a fresh array, updated in place below
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z if np.ndim(x) else z[0]


def stream_salt(seed: int, stream: str) -> np.uint64:
    """A 64-bit salt for one named stream of one seed."""
    acc = splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    for byte in stream.encode():
        acc = splitmix64(acc ^ np.uint64(byte))
    return np.uint64(acc)


def hash64(seed: int, stream: str, keys: np.ndarray) -> np.ndarray:
    """A uint64 per key; a bijection of the keys for a fixed (seed, stream)."""
    return splitmix64(np.asarray(keys, dtype=np.uint64) ^ stream_salt(seed, stream))


def uniform(seed: int, stream: str, keys: np.ndarray) -> np.ndarray:
    """A float in [0, 1) per key."""
    return (hash64(seed, stream, keys) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def combine(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Mix two integer keys into one (for per person-and-day draws)."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    return splitmix64(a ^ splitmix64(b + np.uint64(0x632BE59BD9B4E019)))


def hex_ids(values: np.ndarray, prefix: str = "") -> pa.Array:
    """16 lower-case hex digits per uint64 (after ``prefix``), as an Arrow string array."""
    v = np.asarray(values, dtype=np.uint64)
    n = len(v)
    digits = _BYTE_TO_HEX[v.astype(">u8").view(np.uint8)].view(np.uint8).reshape(n, 16)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    width = len(head) + 16
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, : len(head)] = head
    chars[:, len(head) :] = digits
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.reshape(-1)))
