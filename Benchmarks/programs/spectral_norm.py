# Spectral norm (Computer Language Benchmarks Game): nested loops, calls, float math and
# list indexing. Prints the norm times 1e9, truncated to an int.
import math


def a(i, j):
    ij = i + j
    return 1.0 / (ij * (ij + 1) // 2 + i + 1)


# y = A x
def mul_av(n, x, y):
    for i in range(n):
        sum = 0.0
        for j in range(n):
            sum = sum + a(i, j) * x[j]
        y[i] = sum


# y = A^T x
def mul_atv(n, x, y):
    for i in range(n):
        sum = 0.0
        for j in range(n):
            sum = sum + a(j, i) * x[j]
        y[i] = sum


# y = A^T A x
def mul_atav(n, x, y, t):
    mul_av(n, x, t)
    mul_atv(n, t, y)


def main(n):
    u = []
    v = []
    t = []
    for i in range(n):
        u.append(1.0)
        v.append(0.0)
        t.append(0.0)
    for i in range(10):
        mul_atav(n, u, v, t)
        mul_atav(n, v, u, t)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv = vbv + u[i] * v[i]
        vv = vv + v[i] * v[i]
    print(int(math.sqrt(vbv / vv) * 1e9))


main(800)
