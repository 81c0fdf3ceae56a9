# SPDX-License-Identifier: MIT
"""Writes the seed corpus for safetensors_fuzz: tiny valid files of each dtype and broken ones
(truncated, bad lengths, bad offsets, overlaps, huge shapes). Run once with /usr/bin/python3;
the output is committed."""
import json
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "safetensors")
os.makedirs(out, exist_ok=True)


def st(header, data=b"", hlen=None, pad=True):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


valid = st({"__metadata__": {"format": "pt"},
            "w": t("F32", [2, 2], 0, 16), "h": t("F16", [3], 16, 22), "b": t("BF16", [1], 22, 24),
            "ids": t("I64", [1, 2], 24, 40)},
           struct.pack("<4f", 1, -2, 0.5, 3) + bytes.fromhex("003c01800004") + b"\x80\x3f"
           + struct.pack("<2q", 0, 1))
write("valid", valid)
write("valid_specials", st({"x": t("F16", [4], 0, 8), "y": t("BF16", [4], 8, 16)},
                           bytes.fromhex("007c00fc017e0100") + bytes.fromhex("807f80ffc07f0100")))
write("empty_header", st({}))
write("scalar", st({"s": t("F32", [], 0, 4)}, struct.pack("<f", 7)))
write("zero_size", st({"z": t("F32", [0, 5], 0, 0)}))
write("truncated", valid[:len(valid) - 7])
write("short", b"\x10\x00\x00")
write("len_too_big", st({"a": t("F32", [1], 0, 4)}, b"\0" * 4, hlen=4096))
write("len_huge", st({}, hlen=2 ** 64 - 1))
write("not_object", st(b"[1,2,3]"))
write("bad_json", st(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]', pad=False))
write("offsets_out", st({"a": t("F32", [2], 0, 8)}, b"\0" * 4))
write("offsets_reversed", st({"a": t("F32", [1], 4, 0)}, b"\0" * 4))
write("offsets_negative", st({"a": t("F32", [1], -4, 0)}, b"\0" * 4))
write("overlap", st({"a": t("F32", [2], 0, 8), "b": t("F32", [1], 4, 8)}, b"\0" * 8))
write("size_mismatch", st({"a": t("F16", [3], 0, 8)}, b"\0" * 8))
write("huge_shape", st({"a": t("F32", [2 ** 62, 2 ** 62], 0, 4)}, b"\0" * 4))
write("many_dims", st({"a": t("F32", [1] * 9, 0, 4)}, b"\0" * 4))
write("duplicate", st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                      b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4))
write("unknown_dtype", st({"a": t("Q4", [1], 0, 1)}, b"\0"))
write("nul_in_name", st(b'{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                        b"\0" * 4))
