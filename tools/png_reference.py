#!/usr/bin/python3
"""Writes the PNG conformance set under tests/InceptionNet.Vision.Tests/Png and Pillow's pixels for it.

Pillow cannot write interlaced, 2/4-bit grey or 16-bit colour PNGs, so the files are written here with a small
independent encoder (every filter type, chosen per row at random; Adam7), and the expected RGB is what Pillow 9.4
decodes from those exact bytes: sha256 of Image.open(p).convert("RGB").tobytes(). Run with Debian's /usr/bin/python3
(python3-pil). Deterministic: re-running gives the same files.
"""
import hashlib, io, json, os, random, struct, zlib
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "InceptionNet.Vision.Tests", "Png")
COMBOS = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
PASSES = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filter_rows(rows, bpp, rng):
    out, prior = bytearray(), bytes(len(rows[0])) if rows else b""
    for row in rows:
        f = rng.randrange(5)
        line = bytearray([f])
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f]
            line.append((x - pred) & 0xFF)
        out += line
        prior = row
    return bytes(out)


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    bits, out = 0, bytearray()
    acc = 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def sample_value(rng, depth, colour_type, palette_entries):
    if colour_type == 3:
        # Mostly valid indices, a few past the palette (Pillow shows them as grey).
        return rng.randrange(min(1 << depth, palette_entries + 2))
    if depth == 16 and rng.random() < 0.5:
        return rng.randrange(300)  # around the 255 clip of 16-bit grey
    return rng.randrange(1 << depth)


def make(width, height, depth, colour_type, interlace, rng):
    ch = CHANNELS[colour_type]
    palette_entries = rng.randrange(1, (1 << depth) + 1) if colour_type == 3 else 0
    image = [[[sample_value(rng, depth, colour_type, palette_entries) for _ in range(ch)] for _ in range(width)] for _ in range(height)]
    bpp = max(1, ch * depth // 8)
    passes = PASSES if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, width, dx), range(y0, height, dy)
        if len(xs) == 0 or len(ys) == 0:
            continue
        rows = [pack_row([s for x in xs for s in image[y][x]], depth) for y in ys]
        raw += filter_rows(rows, bpp, rng)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace))
    if colour_type == 3:
        body += chunk(b"PLTE", bytes(rng.randrange(256) for _ in range(3 * palette_entries)))
        if rng.random() < 0.5:
            body += chunk(b"tRNS", bytes(rng.randrange(256) for _ in range(palette_entries)))
    data = zlib.compress(raw, 9)
    cut = rng.randrange(len(data) + 1)  # split the image data over two IDAT chunks (one may be empty)
    body += chunk(b"IDAT", data[:cut]) + chunk(b"IDAT", data[cut:]) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def main():
    rng = random.Random(13)
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for colour_type, depths in COMBOS.items():
        for depth in depths:
            for interlace in (0, 1):
                for width, height in ((1, 1), (5, 3), (13, 9)):
                    name = f"ct{colour_type}-{depth}bit-{'adam7' if interlace else 'plain'}-{width}x{height}.png"
                    data = make(width, height, depth, colour_type, interlace, rng)
                    with open(os.path.join(OUT, name), "wb") as f:
                        f.write(data)
                    rgb = Image.open(io.BytesIO(data)).convert("RGB").tobytes()
                    assert len(rgb) == width * height * 3
                    expected[name] = hashlib.sha256(rgb).hexdigest()
    with open(os.path.join(OUT, "pillow-rgb-sha256.json"), "w") as f:
        json.dump({"source": "tools/png_reference.py, Pillow " + Image.__version__, "images": expected}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
