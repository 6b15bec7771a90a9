#!/usr/bin/env python3
"""Checks the Winograd form of stride-2 3x3 convolutions in src/InceptionNet.Tensors (WinogradWeights, KernelSet.WinogradS2*).

Split the kernel w and the input x by row and column parity. A 2x2 output tile of the stride-2 correlation reads a 5x5
input patch d and is the sum of four stride-1 correlations:
  even rows, even cols: a 2x2 kernel (w[0::2, 0::2]) over d[0::2, 0::2] (3x3), done as F(2x2, 2x2): 9 products;
  even rows, odd cols:  a 2x1 kernel (w[0::2, 1]) over d[0::2, 1::2] (3x2), F(2, 2) down the rows: 3 x 2 products;
  odd rows, even cols:  a 1x2 kernel (w[1, 0::2]) over d[1::2, 0::2] (2x3), F(2, 2) along the columns: 2 x 3 products;
  odd rows, odd cols:   w[1, 1] times d[1::2, 1::2] (2x2): 4 products.
25 products per channel pair instead of 36, from 9 + 3 + 3 + 1 = 16 transformed kernel values.
F(2, 2) at the points 0, 1 and infinity: B^T d = (d0 - d1, d1, d2 - d1), G g = (g0, g0 + g1, g1),
A^T = ((1, 1, 0), (0, 1, 1)); integers only, so the check below is exact on integer inputs.
The same in the one 5x5 form the code uses: Y = S [(H g H^T) * (T d T^T)] S^T with T's rows (d0 - d2, d2, d4 - d2, d1, d3),
H = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0], S = [1 1 0 1 0; 0 1 1 0 1]; both are checked.
Usage: python3 tools/winograd/stride2.py
"""
import random

BT = [[1, -1, 0], [0, 1, 0], [0, -1, 1]]
G = [[1, 0], [1, 1], [0, 1]]
AT = [[1, 1, 0], [0, 1, 1]]


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def transpose(a):
    return [list(row) for row in zip(*a)]


def hadamard(a, b):
    return [[x * y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


def take(m, rows, cols):
    return [[m[r][c] for c in cols] for r in rows]


def direct(d, w):
    return [[sum(d[2 * i + u][2 * j + v] * w[u][v] for u in range(3) for v in range(3)) for j in range(2)] for i in range(2)]


def winograd(d, w):
    even, odd = [0, 2, 4], [1, 3]
    # even-even: Y = A^T [(G g G^T) * (B^T d B)] A
    v = matmul(matmul(BT, take(d, even, even)), transpose(BT))
    u = matmul(matmul(G, take(w, [0, 2], [0, 2])), transpose(G))
    y = matmul(matmul(AT, hadamard(u, v)), transpose(AT))
    # even-odd: rows transformed, the two odd columns as they are
    v = matmul(BT, take(d, even, odd))
    g = [row[0] for row in matmul(G, take(w, [0, 2], [1]))]
    yeo = matmul(AT, [[g[r] * x for x in v[r]] for r in range(3)])
    # odd-even: columns transformed, the two odd rows as they are
    v = matmul(take(d, odd, even), transpose(BT))
    g = [row[0] for row in matmul(G, transpose(take(w, [1], [0, 2])))]
    yoe = matmul([[x * g[c] for c, x in enumerate(row)] for row in v], transpose(AT))
    # odd-odd
    yoo = [[x * w[1][1] for x in row] for row in take(d, odd, odd)]
    return [[y[i][j] + yeo[i][j] + yoe[i][j] + yoo[i][j] for j in range(2)] for i in range(2)]


T = [[1, 0, -1, 0, 0], [0, 0, 1, 0, 0], [0, 0, -1, 0, 1], [0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
H = [[1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 1, 0], [0, 1, 0]]
S = [[1, 1, 0, 1, 0], [0, 1, 1, 0, 1]]


def five_by_five(d, w):
    v = matmul(matmul(T, d), transpose(T))
    u = matmul(matmul(H, w), transpose(H))
    return matmul(matmul(S, hadamard(u, v)), transpose(S))


def main():
    rng = random.Random(7)
    for _ in range(2000):
        d = [[rng.randint(-100, 100) for _ in range(5)] for _ in range(5)]
        w = [[rng.randint(-100, 100) for _ in range(3)] for _ in range(3)]
        assert winograd(d, w) == direct(d, w), (d, w)
        assert five_by_five(d, w) == direct(d, w), (d, w)
    # H's last two rows are equal, so U has 16 distinct elements: element 5a + b is kernel 4 min(a, 3) + min(b, 3).
    assert H[3] == H[4]
    print("stride-2 3x3, as four parity phases with F(2, 2) and as S[(H g H^T) * (T d T^T)]S^T: exact on 2000 random "
          "integer tiles; 25 products, 16 kernel values")


if __name__ == "__main__":
    main()
