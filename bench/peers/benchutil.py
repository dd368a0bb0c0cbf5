"""benchutil.py - Ray's timeit() for the Python peers of bench/compare.sh.

Same statistics as bench/microbench.c: a short warm-up, then REPS repetitions
of at least REP_S seconds each (always at least one step); the mean and the
population standard deviation (numpy's np.std) of the per-repetition rates,
printed in Ray's format:

    <name> per second <mean> +- <stddev>

A step is a function returning (amount, seconds): the operations (or
gigabytes) it did and the time that counts.
"""

import argparse
import math
import sys
import time


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--reps", type=int, default=5, help="repetitions per figure (5)")
    p.add_argument("--rep-ms", type=float, default=300.0,
                   help="least milliseconds per repetition (300)")
    p.add_argument("--filter", default=None,
                   help="only the figures whose name contains this text")
    return p.parse_args()


def timed(fn):
    """A step that times the whole call of fn(); fn returns the amount."""
    def step():
        t0 = time.perf_counter()
        amount = fn()
        return amount, time.perf_counter() - t0
    return step


def timeit(name, step, args, warm_s=0.15):
    if args.filter and args.filter not in name:
        return None
    t0 = time.perf_counter()
    while True:
        step()
        if time.perf_counter() - t0 >= warm_s:
            break
    rep_s = args.rep_ms / 1000.0
    rates = []
    for _ in range(args.reps):
        amount = counted = 0.0
        start = time.perf_counter()
        while True:
            a, s = step()
            amount += a
            counted += s
            if time.perf_counter() - start >= rep_s:
                break
        rates.append(amount / counted)
    mean = sum(rates) / len(rates)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / len(rates))
    print(f"{name} per second {mean:.2f} +- {sd:.2f}", flush=True)
    return mean


def note(text):
    print(f"# {text}", file=sys.stderr, flush=True)
