"""Small, dependency-free PNG writing: enough for the simulator's images (the spend chart uses Pillow)."""

from __future__ import annotations

import struct
import zlib


def png_bytes(width: int, height: int, rows: list[bytes], *, text: dict[str, str] | None = None) -> bytes:
    """Encode 8-bit RGB rows (each ``width * 3`` bytes) as a PNG file."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError("rows do not match the image size")
    raw = b"".join(b"\x00" + row for row in rows)
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    for key, value in (text or {}).items():
        chunks.append(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1")))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw, 1)))
    chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def gradient_png(width: int, height: int, seed: int, *, label: str = "") -> bytes:
    """A banded gradient whose colours come from `seed`, so every seed gives different bytes."""
    r0, g0, b0 = seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF
    band = max(1, height // 32)
    rows = []
    for y in range(0, height, band):
        shade = (y * 255) // max(1, height - 1)
        pixel = bytes(((r0 + shade) & 0xFF, (g0 + shade // 2) & 0xFF, (b0 + 255 - shade) & 0xFF))
        # a stripe of the seed's own bytes at the left edge keeps neighbouring seeds apart too
        row = seed.to_bytes(8, "big") * 3 + pixel * (width - 8)
        rows.extend([row[: width * 3]] * min(band, height - y))
    return png_bytes(width, height, rows, text={"Comment": label} if label else None)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
