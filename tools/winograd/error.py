#!/usr/bin/env python3
"""Float32 error of candidate Winograd tiles for a 3x3 convolution, against a float64 direct reference.

Why F(2x2, 3x3) and not F(4x4, 3x3) (issue 19, round two): the larger tile needs 36/16 = 2.25 products per output instead
of 4, but its transforms weigh inputs by up to 4-5 and its error grows with them. This script measures both on one output
tile with C input and K output channels, inputs and weights uniform in [-1, 1] as in WinogradTests, the way the engine
rounds: U = G g G^T in float64 rounded once to float32, V = B^T d B and M = V . U and Y = A^T M A in float32.

Matrices are derived exactly (Toom-Cook at the given points, infinity last) and checked on random integers first.
Prints the worst |Y - reference| over the trials for each candidate.
Usage: python3 tools/winograd/error.py [trials]   (Debian python3-numpy)
"""
from fractions import Fraction
import random
import sys

import numpy as np

from f27 import check  # the exact identity check, shared with the F(2, 7) derivation (same folder)


def matrices(points, m, r):
    """A^T (m x n), G (n x r), B^T (n x n) of F(m, r) at the finite `points` plus infinity, n = m + r - 1."""
    n = m + r - 1
    assert len(points) == n - 1
    at = [[Fraction(0)] * n for _ in range(m)]
    g = [[Fraction(0)] * r for _ in range(n)]
    bt = [[Fraction(0)] * n for _ in range(n)]

    def times(a, b):
        out = [Fraction(0)] * (len(a) + len(b) - 1)
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                out[i + j] += x * y
        return out

    for i, p in enumerate(points):
        for j in range(m):
            at[j][i] = p ** j
        scale = Fraction(1)
        for k, q in enumerate(points):
            if k != i:
                scale *= p - q
        for j in range(r):
            g[i][j] = p ** j / scale
        poly = [Fraction(1)]
        for k, q in enumerate(points):
            if k != i:
                poly = times(poly, [-q, Fraction(1)])
        for j in range(n - 1):
            bt[i][j] = poly[j]
    at[m - 1][n - 1] = Fraction(1)
    g[n - 1][r - 1] = Fraction(1)
    poly = [Fraction(1)]
    for q in points:
        poly = times(poly, [-q, Fraction(1)])
    bt[n - 1] = poly
    return at, g, bt


def worst_error(points, m, trials, channels, outputs, rng):
    r = 3
    at, g, bt = matrices(points, m, r)
    check(at, g, bt, m, r, random.Random(1), 20)
    at, g, bt = (np.array(x, dtype=np.float64) for x in (at, g, bt))
    n = m + r - 1
    worst = 0.0
    for _ in range(trials):
        d = rng.uniform(-1, 1, (n, n, channels)).astype(np.float32)
        w = rng.uniform(-1, 1, (r, r, channels, outputs))
        u = np.einsum('ai,ijck,bj->abck', g, w, g).astype(np.float32)
        bt32, at32 = bt.astype(np.float32), at.astype(np.float32)
        v = np.einsum('ai,ijc,bj->abc', bt32, d, bt32).astype(np.float32)
        prod = np.einsum('abc,abck->abk', v, u).astype(np.float32)
        y = np.einsum('ia,abk,jb->ijk', at32, prod, at32).astype(np.float32)
        ref = np.zeros((m, m, outputs))
        d64 = d.astype(np.float64)
        for i in range(m):
            for j in range(m):
                ref[i, j] = np.einsum('ijc,ijck->k', d64[i:i + r, j:j + r], w)
        worst = max(worst, float(np.abs(y - ref).max()))
    return worst


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rng = np.random.default_rng(1)
    half = Fraction(1, 2)
    candidates = [
        ("F(2x2, 3x3) at 0, 1, -1 (the engine's)", 2, [Fraction(0), Fraction(1), Fraction(-1)]),
        ("F(4x4, 3x3) at 0, 1, -1, 2, -2", 4, [Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2)]),
        ("F(4x4, 3x3) at 0, 1, -1, 1/2, -1/2", 4, [Fraction(0), Fraction(1), Fraction(-1), half, -half]),
        ("F(4x4, 3x3) at 0, 1, -1, 2, -1/2", 4, [Fraction(0), Fraction(1), Fraction(-1), Fraction(2), -half]),
    ]
    for channels in (32, 128):
        print(f"C = {channels}, K = 64, {trials} tiles, inputs and weights in [-1, 1]:")
        for name, m, points in candidates:
            print(f"  {name:42s} worst |error| {worst_error(points, m, trials, channels, 64, rng):.2e}")


if __name__ == "__main__":
    main()
