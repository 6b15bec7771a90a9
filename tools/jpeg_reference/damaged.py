#!/usr/bin/env python3
"""JPEGs whose entropy-coded data ends early inside a scan (bytes cut from the end of a scan or of a restart interval, the
markers and the EOI kept), or whose restart markers are out of order, and the RGB bytes PIL decodes from them.
libjpeg-turbo reads zeros past a cut for the MCU it is in, leaves the MCUs after it undecoded up to the next restart
marker, resynchronises on a wrong restart marker (jdmarker.c jpeg_resync_to_restart), decodes a zero for a bit string that is no
Huffman code, and only warns; the decoder must give the same bytes. Writes tests/InceptionNet.Vision.Tests/Fixtures/
jpeg-short-scans/, jpeg-resync/ and jpeg-bad-codes/ (the files and an expected.txt in each), and jpeg-c-idct/: files whose
quantization tables push dequantized values past 16 bits, where libjpeg-turbo's SIMD IDCT saturates and its C IDCT does
not; the decoder follows the C one, so those expected bytes are PIL's with JSIMD_FORCENONE=1.

Needs Debian's libjpeg-turbo-progs (cjpeg), python3-pil and python3-numpy; run with Debian's /usr/bin/python3:
    /usr/bin/python3 tools/jpeg_reference/damaged.py
The content is synthetic (smoothing.py's gradients, waves and noise), so the files are ours to commit."""
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import PIL
from PIL import Image

from smoothing import content

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "InceptionNet.Vision.Tests", "Fixtures")


def cjpeg(pixels, args, scans=None):
    with tempfile.TemporaryDirectory() as work:
        source, target = os.path.join(work, "in.ppm"), os.path.join(work, "out.jpg")
        with open(source, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (pixels.shape[1], pixels.shape[0]) + pixels.tobytes())
        if scans is not None:
            with open(os.path.join(work, "scans.txt"), "w") as f:
                f.write(scans)
            args = [*args, "-scans", os.path.join(work, "scans.txt")]
        subprocess.run(["cjpeg", "-quality", "80", *args, "-outfile", target, source], check=True)
        return open(target, "rb").read()


def segments_ends(data):
    """Positions where entropy-coded data stops: each marker after an SOS that is a restart marker, another segment or EOI."""
    ends, pos, in_scan = [], 2, False
    while pos + 1 < len(data):
        if data[pos] != 0xFF or data[pos + 1] in (0x00, 0xFF):
            pos += 1
            continue
        marker = data[pos + 1]
        if in_scan:
            ends.append(pos)
        if 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = (data[pos + 2] << 8) | data[pos + 3]
        in_scan = marker == 0xDA
        pos += 2 + length
    return ends


def scan_starts(data):
    """Positions of the SOS markers (their 0xFF)."""
    return [p for p in range(len(data) - 1) if data[p] == 0xFF and data[p + 1] == 0xDA]


def cut(data, end, count):
    return data[:end - count] + data[end:]


def restarts(data):
    """Positions of the restart markers (their 0xFF) in the entropy-coded data."""
    return [p for p in segments_ends(data) if 0xD0 <= data[p + 1] <= 0xD7]


def renumbered(data, position, code):
    return data[:position + 1] + bytes([code]) + data[position + 2:]


def simd_and_c_agree(data):
    """Whether libjpeg-turbo's SIMD IDCT and its C IDCT (JSIMD_FORCENONE=1, read once per process) give PIL the same
    bytes: damaged data can push dequantized values past 16 bits, where the SIMD one saturates and the C one (which the
    decoder follows) does not. A reference must not depend on that."""
    return pil_digest(data) == pil_digest(data, {"JSIMD_FORCENONE": "1"})


def pil_digest(data, extra_env=None):
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        digest = "import hashlib, sys; from PIL import Image; print(hashlib.sha256(Image.open(sys.argv[1]).convert('RGB').tobytes()).hexdigest())"
        return subprocess.run([sys.executable, "-c", digest, f.name], capture_output=True, text=True, check=True,
                              env={**os.environ, **(extra_env or {})}).stdout.strip()


def write(folder, files, c_idct=False):
    out = os.path.join(FIXTURES, folder)
    os.makedirs(out, exist_ok=True)
    lines = [f"# tools/jpeg_reference/damaged.py; Pillow {PIL.__version__} (libjpeg-turbo), cjpeg from Debian libjpeg-turbo-progs",
             "# name width height sha256 of Image.open(name).convert('RGB').tobytes()" + (" with JSIMD_FORCENONE=1" if c_idct else "")]
    for name, data in files:
        if simd_and_c_agree(data) == c_idct:
            sys.exit(f"{name}: libjpeg-turbo's SIMD and C IDCTs {'agree' if c_idct else 'disagree'} on it; pick another case")
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        image = Image.open(path)
        lines.append(f"{name} {image.width} {image.height} {pil_digest(data, {'JSIMD_FORCENONE': '1'} if c_idct else None)}")
    with open(os.path.join(out, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(files)} files in {out}", file=sys.stderr)


def main():
    rng = np.random.default_rng(20261206)
    files = []
    # Baseline 4:2:0 without restarts: the rest of the image after the cut is left undecoded (zero coefficients).
    base = cjpeg(content(47, 39, rng), ["-sample", "2x2,1x1,1x1"])
    files.append(("baseline-420-cut-tail.jpg", cut(base, segments_ends(base)[0], len(base) // 5)))
    # Baseline with a restart every 6 MCUs: one interval cut short, decoding resumes at its restart marker.
    restarted = cjpeg(content(64, 40, rng), ["-sample", "2x1,1x1,1x1", "-restart", "6B"])
    ends = segments_ends(restarted)
    files.append(("restart-6-cut-interval.jpg", cut(restarted, ends[len(ends) // 2], 60)))
    files.append(("restart-6-cut-first.jpg", cut(restarted, ends[0], 160)))
    # Progressive (cjpeg's default script): a DC scan and an AC scan cut short, the later scans complete.
    progressive = cjpeg(content(41, 57, rng), ["-progressive", "-sample", "1x1,1x1,1x1"])
    ends = segments_ends(progressive)
    files.append(("progressive-cut-dc.jpg", cut(progressive, ends[0], 12)))
    files.append(("progressive-cut-ac.jpg", cut(progressive, ends[3], 30)))

    # Restart markers out of order, one per file, in a baseline file with a restart every MCU row and in a progressive one
    # with a restart every 2 MCUs: each of libjpeg's resynchronisation actions.
    rows = cjpeg(content(80, 72, rng), ["-sample", "1x1,1x1,1x1", "-restart", "1"])
    marks = restarts(rows)
    second = rows[marks[1] + 1] - 0xD0
    resync = [
        ("rows-next-but-one.jpg", renumbered(rows, marks[1], 0xD0 + (second + 2) % 8)),  # left in place: two intervals lost
        ("rows-next.jpg", renumbered(rows, marks[1], 0xD0 + (second + 1) % 8)),  # left in place: one interval lost
        ("rows-previous.jpg", renumbered(rows, marks[1], 0xD0 + (second + 7) % 8)),  # passed over: the next marker judged
        ("rows-far.jpg", renumbered(rows, marks[1], 0xD0 + (second + 4) % 8)),  # too far to judge: taken as expected
        ("rows-other-marker.jpg", renumbered(rows, marks[2], 0xFE)[:marks[2] + 2] + b"\x00\x02" + rows[marks[2] + 2:]),  # a COM
    ]
    progressive = cjpeg(content(48, 40, rng), ["-progressive", "-sample", "2x2,1x1,1x1", "-restart", "2B"])
    marks = restarts(progressive)
    middle = marks[len(marks) // 2]
    resync.append(("progressive-next-but-one.jpg", renumbered(progressive, middle, 0xD0 + (progressive[middle + 1] - 0xD0 + 2) % 8)))
    write("jpeg-resync", resync)

    # Four stuffed 0xFF bytes (32 one-bits: no code of cjpeg's standard tables, whose 16-bit codes end in a zero) put into
    # the middle of a scan's data: libjpeg takes 17 bits and decodes a zero, and the data after the inserted bytes
    # decodes out of step.
    ones = b"\xff\x00" * 4
    baseline = cjpeg(content(56, 48, rng), ["-sample", "2x2,1x1,1x1"])
    end = segments_ends(baseline)[0]
    progressive = cjpeg(content(40, 40, rng), ["-progressive", "-sample", "1x1,1x1,1x1"])
    ends = segments_ends(progressive)
    sos = scan_starts(progressive)
    def inserted(data, scan_start, scan_end):
        # The first of a few places inside the scan where the result does not depend on the IDCT's overflow handling.
        for fraction in (0.5, 0.4, 0.6, 0.3, 0.7, 0.8):
            p = int(scan_start + (scan_end - scan_start) * fraction)
            while data[p - 1] == 0xFF:
                p += 1
            edited = data[:p] + ones + data[p:]
            if simd_and_c_agree(edited):
                return edited
        sys.exit("no place found where libjpeg-turbo's SIMD and C IDCTs agree")
    bad = [
        ("baseline-420.jpg", inserted(baseline, end - len(baseline) // 3, end)),
        ("progressive-dc.jpg", inserted(progressive, sos[0], ends[0])),
        ("progressive-ac.jpg", inserted(progressive, sos[2], ends[2])),
    ]
    write("jpeg-bad-codes", bad)

    # Quality 100 (every quantizer 1), then every quantizer of both tables made 255: the dequantized coefficients go far
    # past 16 bits. Baseline and progressive.
    def rescaled(data):
        out, pos = bytearray(data), 2
        while pos + 4 <= len(out) and out[pos] == 0xFF and out[pos + 1] != 0xDA:
            length = (out[pos + 2] << 8) | out[pos + 3]
            if out[pos + 1] == 0xDB:
                at = pos + 4
                while at < pos + 2 + length:
                    out[at + 1:at + 65] = b"\xff" * 64  # 8-bit tables, as cjpeg writes them at quality 100
                    at += 65
            pos += 2 + length
        return bytes(out)
    overflow = [
        ("baseline-q255.jpg", rescaled(cjpeg(content(24, 16, rng), ["-quality", "100", "-sample", "2x2,1x1,1x1"]))),
        ("progressive-q255.jpg", rescaled(cjpeg(content(16, 24, rng), ["-quality", "100", "-progressive", "-sample", "1x1,1x1,1x1"]))),
    ]
    write("jpeg-c-idct", overflow, c_idct=True)

    # Drawn last, so that the files above keep their content. Luma's AC sent to one bit short of full precision, then the
    # last scan (Cr's AC) cut: the smoothing estimates luma's low AC coefficients, and past the row where the last scan's
    # data ran out it takes each component's state from before its latest scan (for luma: no AC, so the DC is estimated too).
    approximate = cjpeg(content(40, 64, rng), ["-sample", "1x1,1x1,1x1"],
                        scans="0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 1;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;\n")
    ends = segments_ends(approximate)
    scan_data = ends[-1] - scan_starts(approximate)[-1]
    files.append(("progressive-smoothed-cut-last.jpg", cut(approximate, ends[-1], scan_data * 3 // 10)))
    write("jpeg-short-scans", files)


if __name__ == "__main__":
    main()
