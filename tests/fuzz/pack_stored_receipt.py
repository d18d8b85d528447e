#!/usr/bin/env python3
"""Packs tests/fuzz/corpus/receipt/batched-v2.json into the stored form that
wallet/stored_receipt.hpp documents, written from that documentation alone (not from
perdiem's code), and compares it with the pinned corpus/stored_receipt/valid-batched-v2.bin.
The unit test checks that perdiem packs the same JSON receipt to the same bytes, so the
code, this script and the documentation agree.

usage: pack_stored_receipt.py            check the pinned file (exit 1 if it differs)
       pack_stored_receipt.py --write    rewrite it (with its bad-* neighbours)
"""
import json
import pathlib
import struct
import sys
from decimal import Decimal

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def text(value):
    data = value.encode()
    return struct.pack(">H", len(data)) + data


def i64(value):
    return struct.pack(">q", value)


def hex_bytes(value):
    return bytes.fromhex(value[2:])


def nanos(usd):
    return int(Decimal(usd) * 10**9)


def pack(r):
    out = b"\x01"  # format 1
    out += text(r["id"]) + hex_bytes(r["wallet"]) + (b"\x01" if r["status"] == "final" else b"\x00")
    out += text(r["run"]) + i64(r["step"]) + text(r["provider"]) + text(r["model"])
    for key in ("input_tokens", "output_tokens", "cached_input_tokens"):
        out += i64(r[key])
    for key in ("input", "output", "cached_input", "request"):
        out += i64(nanos(r["prices"][key]))
    out += i64(nanos(r["cost"])) + i64(r["time"])
    out += hex_bytes(r["request_hash"]) + hex_bytes(r["response_hash"])
    batch = r["batch"]
    out += bytes([batch["version"]]) + struct.pack(">II", batch["index"], batch["size"])
    out += hex_bytes(batch["root"]) + bytes([len(batch["proof"])])
    out += b"".join(hex_bytes(h) for h in batch["proof"]) + hex_bytes(r["signature"])
    return out


def main():
    packed = pack(json.loads((CORPUS / "receipt" / "batched-v2.json").read_text()))
    pinned = CORPUS / "stored_receipt" / "valid-batched-v2.bin"
    if "--write" in sys.argv[1:]:
        pinned.write_bytes(packed)
        (CORPUS / "stored_receipt" / "bad-truncated.bin").write_bytes(packed[:-1])
        (CORPUS / "stored_receipt" / "bad-trailing.bin").write_bytes(packed + b"\x00")
        (CORPUS / "stored_receipt" / "bad-newer-format.bin").write_bytes(b"\x02" + packed[1:])
        return 0
    if pinned.read_bytes() != packed:
        print(f"{pinned} differs from the receipt packed by the documented layout", file=sys.stderr)
        return 1
    print(f"{pinned.name}: {len(packed)} bytes, as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
