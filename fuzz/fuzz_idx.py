"""Fuzzes swiftstn.datasets.parse_idx (and read_idx's gzip path) on arbitrary bytes.

Contract: an ndarray, or datasets.IDXError — nothing else, never a crash.
Known bugs tolerated unless SWIFTSTN_FUZZ_STRICT=1: dimensions whose product overflows int64, or
a zero dimension next to huge ones, give numpy's plain ValueError from reshape; read_idx lets
zlib.error escape for a corrupt deflate stream.
"""
import gzip
import os
import struct
import tempfile
import zlib

import numpy as np

from _common import STRICT, check, instrumented_import, main

with instrumented_import():
    from swiftstn import datasets

KNOWN = ("cannot reshape array", "array is too big")
KNOWN_TYPES = (zlib.error,)  # read_idx lets zlib.error escape (fuzz/regressions/idx-zlib-error.gz)
TMP = tempfile.mkdtemp(prefix="swiftstn-fuzz-idx-")


def contract(fn, arg):
    try:
        a = fn(arg)
    except datasets.IDXError as e:
        check(str(e), "IDXError without a message")
        return
    except ValueError as e:
        if not STRICT and any(k in str(e) for k in KNOWN):
            return
        raise
    except KNOWN_TYPES:
        if STRICT:
            raise
        return
    check(isinstance(a, np.ndarray), f"returned {type(a)}")


def TestOneInput(data):
    contract(datasets.parse_idx, data)
    if data[:1] == b"\x1f":  # exercise read_idx's gzip handling on files now and then
        path = os.path.join(TMP, "f.gz")
        with open(path, "wb") as f:
            f.write(b"\x1f\x8b" + data[1:] if len(data) > 1 and data[1:2] != b"\x8b" else data)
        contract(datasets.read_idx, path)
        with open(path, "wb") as f:
            f.write(gzip.compress(data[1:]))
        contract(datasets.read_idx, path)


def seeds():
    out = []
    for code, dims in [(0x08, (2, 3)), (0x0D, (1, 2)), (0x0E, (2,)), (0x0B, (1, 1, 2)), (0x09, (0, 4))]:
        dtype = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
        payload = np.arange(int(np.prod(dims)), dtype=dtype).tobytes()
        out.append(struct.pack(">HBB", 0, code, len(dims)) + struct.pack(">" + "I" * len(dims), *dims) + payload)
    return out


if __name__ == "__main__":
    main(TestOneInput, seeds=seeds())
