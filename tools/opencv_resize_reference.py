#!/usr/bin/python3
"""Writes the OpenCV resize reference used by tests/InceptionNet.Vision.Tests (OpenCvResizeTests).

Run with Debian's python3-opencv (OpenCV 4.6.0, the version the MTCNN fixture used):
    apt-get install python3-opencv && /usr/bin/python3 tools/opencv_resize_reference.py > tests/InceptionNet.Vision.Tests/Fixtures/opencv-resize.json

Inputs are synthetic and rebuilt identically by the test: value(y, x, c) = ((x * 7 + y * 13 + c * 5) % 256) + ((x * y + c) % 7) / 8.
For each case the SHA-256 of the output's raw bytes and its first values are recorded.
"""
import hashlib
import json

import cv2
import numpy as np

CASES = [
    # (src w, src h, channels, dst w, dst h)
    (97, 61, 3, 58, 37),      # non-integer shrink (area tables)
    (640, 480, 3, 454, 341),  # MTCNN-like pyramid level
    (100, 80, 3, 50, 40),     # integer shrink (area fast path)
    (33, 17, 3, 11, 17),      # shrink in x only by 3
    (17, 13, 3, 24, 24),      # enlarge (area mode uses linear weights)
    (31, 45, 3, 48, 48),      # mixed: shrink y, enlarge x
    (7, 5, 1, 24, 24),
    (1, 1, 3, 3, 2),
]


def source(w, h, c, dtype):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = ((x * 7 + y * 13 + ch * 5) % 256) + ((x * y + ch) % 7) / 8.0
    return v.astype(dtype)


out = {"opencv": cv2.__version__, "cases": []}
for (sw, sh, c, dw, dh) in CASES:
    for dtype, name in ((np.float32, "float32"), (np.float64, "float64")):
        src = source(sw, sh, c, dtype)
        for interp, iname in ((cv2.INTER_AREA, "area"), (cv2.INTER_LINEAR, "linear")):
            dst = cv2.resize(src, (dw, dh), interpolation=interp)
            dst = dst.reshape(dh, dw, c)
            out["cases"].append({
                "src": [sw, sh, c], "dst": [dw, dh], "dtype": name, "interpolation": iname,
                "sha256": hashlib.sha256(np.ascontiguousarray(dst).tobytes()).hexdigest(),
                "first": [float(v) for v in dst.reshape(-1)[:6]],
            })
print(json.dumps(out, indent=1))
