#!/usr/bin/env python3
"""JPEGs whose entropy-coded data ends early inside a scan (bytes cut from the end of a scan or of a restart interval, the
markers and the EOI kept), or whose restart markers are out of order, and the RGB bytes PIL decodes from them.
libjpeg-turbo reads zeros past a cut for the MCU it is in, leaves the MCUs after it undecoded up to the next restart
marker, resynchronises on a wrong restart marker (jdmarker.c jpeg_resync_to_restart), and only warns; the decoder must
give the same bytes. Writes tests/InceptionNet.Vision.Tests/Fixtures/jpeg-short-scans/ and .../jpeg-resync/ (the files
and an expected.txt in each).

Needs Debian's libjpeg-turbo-progs (cjpeg), python3-pil and python3-numpy; run with Debian's /usr/bin/python3:
    /usr/bin/python3 tools/jpeg_reference/short_scans.py
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


def cjpeg(pixels, args):
    with tempfile.TemporaryDirectory() as work:
        source, target = os.path.join(work, "in.ppm"), os.path.join(work, "out.jpg")
        with open(source, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (pixels.shape[1], pixels.shape[0]) + pixels.tobytes())
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


def cut(data, end, count):
    return data[:end - count] + data[end:]


def restarts(data):
    """Positions of the restart markers (their 0xFF) in the entropy-coded data."""
    return [p for p in segments_ends(data) if 0xD0 <= data[p + 1] <= 0xD7]


def renumbered(data, position, code):
    return data[:position + 1] + bytes([code]) + data[position + 2:]


def write(folder, files):
    out = os.path.join(FIXTURES, folder)
    os.makedirs(out, exist_ok=True)
    lines = [f"# tools/jpeg_reference/short_scans.py; Pillow {PIL.__version__} (libjpeg-turbo), cjpeg from Debian libjpeg-turbo-progs",
             "# name width height sha256 of Image.open(name).convert('RGB').tobytes()"]
    for name, data in files:
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        image = Image.open(path).convert("RGB")
        lines.append(f"{name} {image.width} {image.height} {hashlib.sha256(image.tobytes()).hexdigest()}")
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
    write("jpeg-short-scans", files)

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


if __name__ == "__main__":
    main()
