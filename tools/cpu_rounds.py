"""Median CPU time of several callables, taken in alternated rounds (one call of each per
round), so that load on a shared machine moves every side alike.  Used by the int8 A/B tools."""
import statistics
import time


def median_cpu_ms(sides, rounds):
    """{name: median CPU milliseconds of one call} for a {name: callable} dict."""
    ts = {k: [] for k in sides}
    for _ in range(rounds):
        for k, f in sides.items():
            t = time.process_time()
            f()
            ts[k].append(time.process_time() - t)
    return {k: statistics.median(v) * 1e3 for k, v in ts.items()}
