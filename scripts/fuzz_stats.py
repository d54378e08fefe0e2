"""Statistics for comparing fuzzing trials, shared by scripts/bugbench and scripts/fuzz-eval.

Klees et al. ("Evaluating Fuzz Testing", CCS 2018) and FuzzBench compare fuzzers over several
independent trials with a two-sided Mann-Whitney U test and the Vargha-Delaney A12 effect size.
Python 3 standard library only.
"""

import math


def mann_whitney(a, b):
    """Two-sided Mann-Whitney U: (U of a, p). Exact without ties for small samples, else the
    normal approximation with tie and continuity correction."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return None, None
    values = sorted(a + b)
    ranks = {}
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[values[i]] = (i + j) / 2 + 1
        i = j + 1
    r1 = sum(ranks[x] for x in a)
    u1 = r1 - n1 * (n1 + 1) / 2
    ties = len(set(values)) != len(values)
    if not ties and n1 + n2 <= 30:
        # Exact: count the rank-sum arrangements with the DP over (items, picked, U).
        counts = [[0] * (n1 * n2 + 1) for _ in range(n1 + 1)]
        counts[0][0] = 1
        for k in range(1, n1 + n2 + 1):
            for m in range(min(k, n1), 0, -1):
                # Picking the k-th smallest value for sample a adds (k - m) b-values below it.
                add = k - m
                if add > n2:
                    continue
                for u in range(n1 * n2, add - 1, -1):
                    counts[m][u] += counts[m - 1][u - add]
        total = math.comb(n1 + n2, n1)
        dist = counts[n1]
        lo = sum(dist[: int(math.floor(min(u1, n1 * n2 - u1))) + 1])
        return u1, min(1.0, 2 * lo / total)
    mean = n1 * n2 / 2
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in (values.count(v) for v in set(values)))
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return u1, 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0) / math.sqrt(2))
    return u1, min(1.0, p)


def a12(a, b):
    """Vargha-Delaney A12: the probability that a value drawn from a beats one drawn from b
    (ties count half). 0.5 is no effect; above 0.71 or below 0.29 is a large one."""
    if not a or not b:
        return None
    wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    return wins / (len(a) * len(b))
