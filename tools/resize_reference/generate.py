#!/usr/bin/python3
"""Writes the resize references replayed by tests/InceptionNet.Vision.Tests (ResizeSweepTests).

Run with Debian's interpreter, which has python3-pil (Pillow 9.4.0, libjpeg-turbo) and python3-opencv (4.6.0):
    /usr/bin/python3 tools/resize_reference/generate.py

It writes three files under tests/InceptionNet.Vision.Tests/Fixtures/:

resize-sweep.txt
    One case per line: resizer dtype sw sh cn dw dh source input_hash output_hash.
    resizer: pil-nearest, pil-bilinear (Image.resize on an RGB image), cv-area, cv-linear (cv2.resize).
    source: noise:SEED, photo:PATH:LEFT:TOP (a crop of a shared photo), or pattern (the synthetic image of the
    former tools/opencv_resize_reference.py). Hashes are the first 16 hex digits of the SHA-256 of the raw bytes
    (uint8 HWC for Pillow; float32 or float64 HWC, little-endian, for OpenCV).
pil-nearest-index.txt
    The column indices Pillow's NEAREST resize reads, for every source length 1..3000 and target 1..400, taken
    from Pillow itself (a 1-pixel-high mode "I" image holding its column numbers). "s S HASH": hash over the
    int16 tables of targets 1..400 for source S; "t T HASH": hash over the tables of sources 1..3000 for target T.
photos.txt
    For every photo under shared/images/faces (recursively) and shared/images/course: path, size, SHA-256 of
    Image.open(p).convert("RGB") bytes, and of .resize((160, 160), Image.NEAREST) (the course's load_img).

Inputs are rebuilt by the C# tests without Python. Noise comes from splitmix64 (state += 0x9E3779B97F4A7C15,
then the usual two multiply-xorshift rounds), one output per value:
    uint8   = low 8 bits
    float32 = (z >> 40) * 2^-16 - 128   (exact in float32)
    float64 = (z >> 11) * 2^-45 - 128   (exact in float64)
Photo crops for OpenCV are converted as float(byte) / 255 in the element type.
"""
import hashlib
import os
import random
import sys

import cv2
import numpy as np
from PIL import Image

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared"))
OUT = os.path.join(REPO, "tests", "InceptionNet.Vision.Tests", "Fixtures")
MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

assert Image.__version__ == "9.4.0", Image.__version__
assert cv2.__version__ == "4.6.0", cv2.__version__


def splitmix64(seed, n):
    """n outputs of splitmix64 started at state `seed`, vectorized (the generator is a counter hashed)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def splitmix64_scalar(seed, n):
    state, out = seed, []
    for _ in range(n):
        state = (state + GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


assert [int(v) for v in splitmix64(12345, 5)] == splitmix64_scalar(12345, 5)


def noise(seed, shape, dtype):
    z = splitmix64(seed, int(np.prod(shape)))
    if dtype == "u8":
        v = (z & np.uint64(0xFF)).astype(np.uint8)
    elif dtype == "f32":
        v = ((z >> np.uint64(40)).astype(np.float64) * 2.0 ** -16 - 128).astype(np.float32)
    else:
        v = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -45 - 128
    return v.reshape(shape)


def pattern(w, h, c, dtype):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = ((x * 7 + y * 13 + ch * 5) % 256) + ((x * y + ch) % 7) / 8.0
    return v.astype(np.float32 if dtype == "f32" else np.float64)


def short(b):
    return hashlib.sha256(b).hexdigest()[:16]


def photo_files():
    files = []
    for root in ("images/faces", "images/course"):
        for d, _, names in os.walk(os.path.join(SHARED, root)):
            for n in names:
                if n.lower().endswith((".jpg", ".jpeg", ".png")):
                    files.append(os.path.relpath(os.path.join(d, n), SHARED))
    return sorted(files)


PHOTOS = {}


def photo(rel):
    if rel not in PHOTOS:
        PHOTOS[rel] = np.asarray(Image.open(os.path.join(SHARED, rel)).convert("RGB"))
    return PHOTOS[rel]


# ---------------------------------------------------------------------------------------------------------------------
# Pillow NEAREST index tables: from Pillow itself, checked against our reading of ImagingScaleAffine.

def pillow_table(s, t, mode):
    if mode == "I":
        im = Image.frombytes("I", (s, 1), np.arange(s, dtype=np.int32).tobytes())
        return np.asarray(im.resize((t, 1), Image.NEAREST), dtype=np.int32).reshape(-1)
    rgb = np.zeros((1, s, 3), np.uint8)
    rgb[0, :, 0] = np.arange(s) & 0xFF
    rgb[0, :, 1] = np.arange(s) >> 8
    out = np.asarray(Image.fromarray(rgb, "RGB").resize((t, 1), Image.NEAREST), dtype=np.int32)
    return out[0, :, 0] + 256 * out[0, :, 1]


def rule_table(s, t):
    """ImagingScaleAffine: x starts at scale/2, adds scale per output column in double, truncated; equal size copies."""
    if s == t:
        return list(range(s))
    scale = s / t
    steps = np.full(t, scale)
    steps[0] = scale * 0.5
    return np.add.accumulate(steps).astype(np.int64).tolist()  # sequential double additions, then truncation


def old_rule_table(s, t):
    scale = s / t
    return np.minimum(((np.arange(t) + 0.5) * scale).astype(np.int64), s - 1).tolist()


def index_tables(max_s=3000, max_t=400):
    rows, columns = [], [hashlib.sha256() for _ in range(max_t + 1)]
    old_wrong = 0
    for s in range(1, max_s + 1):
        row = hashlib.sha256()
        for t in range(1, max_t + 1):
            table = pillow_table(s, t, "I")
            assert table.min() >= 0 and table.max() < s, (s, t)
            # Mode I (32-bit pixels) and RGB (32-bit pixels, the same AFFINE_SCALE(INT32) loop) read the same columns.
            if s % 7 == 0 or s < 400:
                assert np.array_equal(table, pillow_table(s, t, "RGB")), (s, t)
            assert table.tolist() == rule_table(s, t), (s, t)
            old_wrong += table.tolist() != old_rule_table(s, t)
            b = table.astype("<i2").tobytes()
            row.update(b)
            columns[t].update(b)
        rows.append(f"s {s} {row.hexdigest()[:16]}")
    lines = rows + [f"t {t} {columns[t].hexdigest()[:16]}" for t in range(1, max_t + 1)]
    print(f"index tables: old rule wrong on {old_wrong} of {max_s * max_t} (source, target) pairs", file=sys.stderr)
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# Sweep cases.

def log_uniform(rng, lo, hi):
    return max(lo, min(hi, int(round(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))))))


def pick_sizes(rng, max_src, max_dst, max_area):
    """(sw, sh, dw, dh): a mix of general ratios, integer factors (2x2, 3x, mixed), equal axes, sizes 1, upscales."""
    kind = rng.random()
    sw, sh = log_uniform(rng, 1, max_src), log_uniform(rng, 1, max_src)
    while sw * sh > max_area:
        sw, sh = max(1, sw // 2), max(1, sh // 2)
    if kind < 0.30:  # integer shrink factors per axis
        fx, fy = rng.choice([1, 2, 2, 3, 4, 5, 7, 8]), rng.choice([1, 2, 2, 3, 4, 5, 7, 8])
        if rng.random() < 0.3:
            fx = fy = rng.choice([2, 3, 4])
        dw, dh = max(1, min(max_dst, sw // fx)), max(1, min(max_dst, sh // fy))
        sw, sh = dw * fx, dh * fy
    elif kind < 0.40:  # sizes 1
        dw, dh = log_uniform(rng, 1, max_dst), log_uniform(rng, 1, max_dst)
        which = rng.randrange(4)
        if which == 0:
            sw = 1
        elif which == 1:
            sh = 1
        elif which == 2:
            dw = 1
        else:
            dh = 1
    elif kind < 0.55:  # enlarge
        dw, dh = min(max_dst * 2, sw * rng.uniform(1, 4) + 1), min(max_dst * 2, sh * rng.uniform(1, 4) + 1)
        dw, dh = int(dw), int(dh)
    elif kind < 0.62:  # one axis unchanged
        dw, dh = log_uniform(rng, 1, max_dst), log_uniform(rng, 1, max_dst)
        if rng.random() < 0.5:
            dw = sw = min(sw, max_dst)
        else:
            dh = sh = min(sh, max_dst)
    else:  # general
        dw, dh = log_uniform(rng, 1, max_dst), log_uniform(rng, 1, max_dst)
    return sw, sh, dw, dh


def source_for(rng, seed, sw, sh, cn, photo_share):
    """A source spec; photo crops when one of the photos is large enough."""
    if cn == 3 and rng.random() < photo_share:
        fitting = [p for p in JPEG_PHOTOS if photo(p).shape[1] >= sw and photo(p).shape[0] >= sh]
        if fitting:
            p = rng.choice(fitting)
            h, w = photo(p).shape[:2]
            return f"photo:{p}:{rng.randrange(w - sw + 1)}:{rng.randrange(h - sh + 1)}"
    return f"noise:{seed}"


def build(spec, sw, sh, cn, dtype):
    kind, _, rest = spec.partition(":")
    if kind == "noise":
        return noise(int(rest), (sh, sw, cn), dtype)
    if kind == "pattern":
        return pattern(sw, sh, cn, dtype)
    path, left, top = rest.rsplit(":", 2)
    crop = photo(path)[int(top):int(top) + sh, int(left):int(left) + sw]
    if dtype == "u8":
        return np.ascontiguousarray(crop)
    t = np.float32 if dtype == "f32" else np.float64
    return crop.astype(t) / t(255)


def run(resizer, src, dw, dh):
    if resizer.startswith("pil"):
        im = Image.fromarray(src, "RGB")
        return np.asarray(im.resize((dw, dh), Image.NEAREST if resizer == "pil-nearest" else Image.BILINEAR))
    interp = cv2.INTER_AREA if resizer == "cv-area" else cv2.INTER_LINEAR
    out = cv2.resize(src, (dw, dh), interpolation=interp)
    return np.ascontiguousarray(out.reshape(dh, dw, src.shape[2]))


OLD_CASES = [(97, 61, 3, 58, 37), (640, 480, 3, 454, 341), (100, 80, 3, 50, 40), (33, 17, 3, 11, 17),
             (17, 13, 3, 24, 24), (31, 45, 3, 48, 48), (7, 5, 1, 24, 24), (1, 1, 3, 3, 2)]


def sweep(per_resizer=600):
    rng = random.Random(1313)
    lines, seed = [], 1
    for resizer in ("pil-nearest", "pil-bilinear", "cv-area", "cv-linear"):
        cases = []
        if resizer.startswith("cv"):
            cases += [(sw, sh, cn, dw, dh, "pattern") for (sw, sh, cn, dw, dh) in OLD_CASES]
        while len(cases) < per_resizer:
            if resizer.startswith("pil"):
                sw, sh, dw, dh = pick_sizes(rng, 3000, 400, 400_000)
                cn = 3
            else:
                sw, sh, dw, dh = pick_sizes(rng, 600, 300, 120_000)
                cn = rng.choice([1, 2, 3, 3, 3, 4])
            if resizer == "cv-area" and rng.random() < 0.5 and cn == 2:
                cn = 3
            cases.append((sw, sh, cn, dw, dh, source_for(rng, seed, sw, sh, cn, 0.35)))
            seed += 1
        for (sw, sh, cn, dw, dh, spec) in cases:
            for dtype in (("u8",) if resizer.startswith("pil") else ("f32", "f64")):
                src = build(spec, sw, sh, cn, dtype)
                assert src.shape == (sh, sw, cn) and src.flags["C_CONTIGUOUS"]
                out = run(resizer, src, dw, dh)
                assert out.shape == (dh, dw, cn), (resizer, out.shape)
                lines.append(f"{resizer} {dtype} {sw} {sh} {cn} {dw} {dh} {spec} {short(src.tobytes())} {short(out.tobytes())}")
    return lines


def photos():
    lines = []
    for rel in photo_files():
        im = Image.open(os.path.join(SHARED, rel)).convert("RGB")
        near = im.resize((160, 160), Image.NEAREST)
        lines.append(f"{rel} {im.size[0]} {im.size[1]} {hashlib.sha256(im.tobytes()).hexdigest()} "
                     f"{hashlib.sha256(near.tobytes()).hexdigest()}")
    return lines


def write(name, header, lines):
    with open(os.path.join(OUT, name), "w", encoding="ascii", newline="\n") as f:
        f.write("".join(f"# {h}\n" for h in header))
        f.write("\n".join(lines) + "\n")


JPEG_PHOTOS = [p for p in photo_files() if p.startswith("images/faces") and p.lower().endswith((".jpg", ".jpeg"))]

if __name__ == "__main__":
    provenance = f"tools/resize_reference/generate.py; Pillow {Image.__version__}, OpenCV {cv2.__version__} (Debian python3-pil, python3-opencv)"
    write("photos.txt", [provenance, "path width height rgb_sha256 nearest160_sha256"], photos())
    write("resize-sweep.txt", [provenance, "resizer dtype sw sh cn dw dh source input_sha256[:16] output_sha256[:16]"], sweep())
    write("pil-nearest-index.txt", [provenance, "s SOURCE hash over targets 1..400 | t TARGET hash over sources 1..3000 (int16 LE tables, sha256[:16])"], index_tables())
