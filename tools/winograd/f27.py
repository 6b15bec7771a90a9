#!/usr/bin/env python3
"""Derives the Winograd F(2, 7) matrices used by src/InceptionNet.Tensors (WinogradWeights.G7, KernelSet.Winograd7*).

Points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity. With V_n the 8x8 Vandermonde matrix of those points (the infinity row
picks the leading coefficient), linear convolution is s = V_n^-1 (V_m u * V_r h); its transpose in u is the correlation
y = A^T [(G g) * (B^T d)] with A = V_m, G = D V_r and B^T = D^-1 (V_n^-1)^T for any diagonal D. D is chosen so that every
row of B^T is integer with no common factor. Exact rational arithmetic throughout; the identity is checked on random
integer inputs. Prints A^T, B^T and G.  Usage: python3 tools/winograd/f27.py
"""
from fractions import Fraction
from math import gcd, lcm
import random

POINTS = [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-1, 2), Fraction(2), Fraction(-2)]
M, R = 2, 7
N = M + R - 1


def vandermonde(columns):
    rows = [[p ** j for j in range(columns)] for p in POINTS]
    rows.append([Fraction(0)] * (columns - 1) + [Fraction(1)])
    return rows


def inverse(matrix):
    size = len(matrix)
    work = [row[:] + [Fraction(int(i == j)) for j in range(size)] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = next(i for i in range(col, size) if work[i][col] != 0)
        work[col], work[pivot] = work[pivot], work[col]
        lead = work[col][col]
        work[col] = [x / lead for x in work[col]]
        for i in range(size):
            if i != col and work[i][col] != 0:
                factor = work[i][col]
                work[i] = [a - factor * b for a, b in zip(work[i], work[col])]
    return [row[size:] for row in work]


def check(at, g, bt, m, r, rng, trials):
    """A^T [(G h) * (B^T d)] must be the correlation of d with h for F(m, r), exactly, on random integer inputs."""
    n = m + r - 1
    for _ in range(trials):
        taps = [Fraction(rng.randint(-99, 99)) for _ in range(r)]
        data = [Fraction(rng.randint(-99, 99)) for _ in range(n)]
        u = [sum(g[i][j] * taps[j] for j in range(r)) for i in range(n)]
        v = [sum(bt[i][j] * data[j] for j in range(n)) for i in range(n)]
        y = [sum(at[k][i] * u[i] * v[i] for i in range(n)) for k in range(m)]
        assert y == [sum(taps[j] * data[k + j] for j in range(r)) for k in range(m)], (y, taps, data)


def main():
    c = inverse(vandermonde(N))
    bt = [[c[j][i] for j in range(N)] for i in range(N)]
    g = vandermonde(R)
    for i in range(N):
        scale = 1
        for x in bt[i]:
            scale = lcm(scale, x.denominator)
        bt[i] = [x * scale for x in bt[i]]
        g[i] = [x / scale for x in g[i]]
        common = 0
        for x in bt[i]:
            common = gcd(common, x.numerator)
        bt[i] = [x / common for x in bt[i]]
        g[i] = [x * common for x in g[i]]
    at = [[vandermonde(M)[i][k] for i in range(N)] for k in range(M)]

    check(at, g, bt, M, R, random.Random(1), 100)

    for name, matrix in (("A^T", at), ("B^T", bt), ("G", g)):
        print(name)
        for row in matrix:
            print("  " + " ".join(f"{str(x):>7}" for x in row))
    print("identity checked on 100 random integer inputs")


if __name__ == "__main__":
    main()
