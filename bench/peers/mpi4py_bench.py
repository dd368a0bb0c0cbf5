"""mpi4py_bench.py - mpi4py.futures' figures for bench/compare.sh.

    mpirun -np 2 /usr/bin/python3 -m mpi4py.futures bench/peers/mpi4py_bench.py

Rank 0 runs this script with an MPIPoolExecutor whose one worker is rank 1
(the pool mpi4py.futures builds from the ranks of the job), so the tasks
cross an MPI process boundary, as lumen's do.

    single client tasks sync            submit(noop).result(), repeat
    single client tasks async           1,000 submit(noop), then wait for all
    single client put+get 1 MiB / 256 MiB gigabytes
                                        submit(identity, payload).result():
                                        mpi4py.futures has no object store, so
                                        "put + get" is the payload pickled to
                                        the worker and back (two transfers);
                                        gigabytes count the payload once

No actors in mpi4py.futures: not measured. Lines in Ray's format, statistics
as lumen's microbench (benchutil.py).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # noqa: E402

ASYNC_BATCH = 1000


def noop():
    return None


def identity(x):
    return x


def main():
    from mpi4py import MPI
    from mpi4py.futures import MPIPoolExecutor, wait

    import mpi4py
    args = benchutil.parse_args(__doc__.splitlines()[0])
    benchutil.note(f"mpi4py {mpi4py.__version__}, {MPI.Get_library_version().splitlines()[0]}, "
                   f"python {sys.version.split()[0]}, "
                   f"{MPI.COMM_WORLD.Get_size() - 1} worker rank(s)")
    with MPIPoolExecutor() as ex:
        ex.submit(noop).result()  # start the pool before timing

        def sync():
            ex.submit(noop).result()
            return 1

        def batch():
            futs = [ex.submit(noop) for _ in range(ASYNC_BATCH)]
            wait(futs)
            for f in futs:
                f.result()
            return ASYNC_BATCH

        benchutil.timeit("single client tasks sync", benchutil.timed(sync), args)
        benchutil.timeit("single client tasks async", benchutil.timed(batch), args)
        for label, n in (("1 MiB", 1 << 20), ("256 MiB", 256 << 20)):
            payload = bytes(bytearray(b"\x5a") * n)

            def roundtrip(payload=payload, n=n):
                back = ex.submit(identity, payload).result()
                assert len(back) == n
                return n / 1e9

            benchutil.timeit(f"single client put+get {label} gigabytes",
                             benchutil.timed(roundtrip), args)
            del payload


if __name__ == "__main__":
    main()
