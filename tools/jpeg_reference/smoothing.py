#!/usr/bin/env python3
"""Progressive JPEGs whose scans leave some of the first nine AC coefficients unsent or unrefined, and the RGB bytes
PIL decodes from them: libjpeg-turbo then applies its inter-block smoothing (jdcoefct.c decompress_smooth_data), which
the decoder must reproduce. Writes tests/InceptionNet.Vision.Tests/Fixtures/jpeg-smoothing/ (the files and expected.txt).

Needs Debian's libjpeg-turbo-progs (cjpeg), python3-pil and python3-numpy; run with Debian's /usr/bin/python3:
    /usr/bin/python3 tools/jpeg_reference/smoothing.py
The content is synthetic (gradients, waves and noise from a fixed seed), so the files are ours to commit."""
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import PIL
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "InceptionNet.Vision.Tests", "Fixtures", "jpeg-smoothing")

# cjpeg scan scripts (component list: Ss-Se, Ah, Al). Each leaves some of zig-zag coefficients 1-9 unknown or approximate.
SCRIPTS = {
    "dc-only": "0,1,2: 0-0, 0, 0;",
    "dc-approx": "0,1,2: 0-0, 0, 2;",
    "luma-ac-approx": "0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 1;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;",
    "chroma-ac-approx": "0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 0;\n1: 1-63, 0, 2;\n2: 1-63, 0, 1;",
    "luma-ac-10-63": "0,1,2: 0-0, 0, 0;\n0: 10-63, 0, 0;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;",
    "luma-ac-1-2": "0,1,2: 0-0, 0, 1;\n0: 1-2, 0, 0;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;\n0,1,2: 0-0, 1, 0;",
}
GRAY_SCRIPTS = {"dc-only": "0: 0-0, 0, 0;", "ac-approx": "0: 0-0, 0, 0;\n0: 1-63, 0, 2;"}
# (width, height, sampling): odd sizes, several iMCU heights, and every subsampling the course and real photos use.
CASES = [(37, 29, "1x1,1x1,1x1"), (45, 51, "2x1,1x1,1x1"), (53, 38, "2x2,1x1,1x1"), (23, 61, "1x2,1x1,1x1"),
         (61, 17, "4x1,1x1,1x1"), (9, 70, "2x2,1x1,1x1")]


def content(width, height, rng):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        wave = 60 * np.sin(x / (3 + 2 * c) + y / (5 + c)) + 40 * np.cos(x * y / (40.0 + 7 * c))
        ramp = 255 * (x / max(width - 1, 1) * (c != 1) + y / max(height - 1, 1) * (c != 0)) / 2
        channels.append(ramp + wave + rng.normal(0, 12, (height, width)))
    return np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8)


def cjpeg(pixels, path, script, args):
    with tempfile.TemporaryDirectory() as work:
        source, scans = os.path.join(work, "in.ppm"), os.path.join(work, "scans.txt")
        gray = pixels.ndim == 2
        with open(source, "wb") as f:
            f.write(b"P5\n" if gray else b"P6\n")
            f.write(b"%d %d\n255\n" % (pixels.shape[1], pixels.shape[0]) + pixels.tobytes())
        with open(scans, "w") as f:
            f.write(script)
        subprocess.run(["cjpeg", "-quality", "75", *args, "-scans", scans, "-outfile", path, source], check=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261205)
    lines = [f"# tools/jpeg_reference/smoothing.py; Pillow {PIL.__version__} (libjpeg-turbo), cjpeg from Debian libjpeg-turbo-progs",
             "# name width height sha256 of Image.open(name).convert('RGB').tobytes()"]
    names = []
    for i, (width, height, sampling) in enumerate(CASES):
        for script_name, script in SCRIPTS.items():
            names.append((f"{script_name}-{width}x{height}-{sampling.split(',')[0]}.jpg", content(width, height, rng), script, ["-sample", sampling]))
    for script_name, script in GRAY_SCRIPTS.items():
        # A grayscale frame declaring 2x2 sampling: two block rows per iMCU row, where libjpeg picks the rows around a block
        # by iMCU row.
        names.append((f"gray-{script_name}-27x43-2x2.jpg", content(27, 43, rng)[:, :, 0], script, ["-grayscale", "-sample", "2x2"]))
    for name, pixels, script, args in names:
        path = os.path.join(OUT, name)
        cjpeg(pixels, path, script, args)
        image = Image.open(path).convert("RGB")
        lines.append(f"{name} {image.width} {image.height} {hashlib.sha256(image.tobytes()).hexdigest()}")
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(names)} files in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
