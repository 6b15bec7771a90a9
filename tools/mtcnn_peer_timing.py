#!/usr/bin/env python3
"""Times facenet-pytorch's MTCNN (the peer of issue 19, goal 3) on the photos our MTCNN benchmarks use.

Usage (from the repository root; needs python3-torch, python3-torchvision and python3-pil):
    python3 tools/mtcnn_peer_timing.py --facenet-pytorch /path/to/facenet-pytorch [--threads 2] [--runs 15]

--facenet-pytorch is a checkout of github.com/timesler/facenet-pytorch (its models/ folder and data/*.pt weights);
nothing of it is copied here. Settings are MtcnnOptions' defaults (min face 20, thresholds 0.6/0.7/0.7, factor 0.709),
the same as facenet-pytorch's. The clock covers MTCNN.detect on an already decoded PIL image, as our benchmark covers
MtcnnDetector.Detect on a decoded RgbImage. Each photo is warmed up three times, then the median of --runs calls is
printed, with the face count as a sanity check.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

PHOTOS = ["faces/two_people.jpg", "faces/test/obama1.jpg", "course/kian.jpg"]  # DetectBenchmarks' [Params]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facenet-pytorch", required=True, type=Path, help="checkout of timesler/facenet-pytorch")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared",
                        help="the shared data folder (default: ../shared next to the repository)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2, as our pool)")
    parser.add_argument("--runs", type=int, default=15, help="timed calls per photo (default 15)")
    args = parser.parse_args()

    import torch
    from PIL import Image

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    sys.path.insert(0, str(args.facenet_pytorch))
    from models.mtcnn import MTCNN  # facenet-pytorch's own module (models/ is a namespace package there)

    mtcnn = MTCNN(min_face_size=20, thresholds=[0.6, 0.7, 0.7], factor=0.709, keep_all=True, device="cpu")
    mtcnn.eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, facenet-pytorch at {args.facenet_pytorch}")
    with torch.no_grad():
        for photo in PHOTOS:
            image = Image.open(args.shared / "images" / photo).convert("RGB")
            for _ in range(3):
                boxes, _ = mtcnn.detect(image)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                boxes, _ = mtcnn.detect(image)
                times.append((time.perf_counter() - start) * 1000)
            faces = 0 if boxes is None else len(boxes)
            print(f"facenet-pytorch MTCNN {photo} ({image.width}x{image.height}): median {statistics.median(times):.1f} ms, "
                  f"min {min(times):.1f} ms, {faces} faces")


if __name__ == "__main__":
    main()
