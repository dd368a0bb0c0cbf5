"""dask_bench.py - dask.distributed's figures for bench/compare.sh.

    /usr/bin/python3 bench/peers/dask_bench.py

A LocalCluster of 2 worker processes x 1 thread each (lumen runs 2 ranks),
on this host, with Dask's default (TCP) comm; the client and scheduler live
in this process. Every figure goes through the scheduler, as Dask does.

    single client tasks sync       client.submit(noop, pure=False).result()
    single client tasks async      1,000 submits, then client.gather of all
    1:1 actor calls sync           one call to a Dask actor, .result(); repeat
    1:1 actor calls async          1,000 calls to the actor, then every .result()
    single client put+get 1 MiB / 256 MiB gigabytes
                                   client.scatter(payload, hash=False) (the
                                   bytes go to a worker) then client.gather
                                   (they come back) and release: two
                                   transfers; gigabytes count the payload once

Dask actors run on a worker, outside the scheduler's task graph; their calls
go from the client to the worker directly. Lines in Ray's format,
statistics as lumen's microbench (benchutil.py).
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # noqa: E402

ASYNC_BATCH = 1000
ACTOR_BATCH = 1000


def noop(*_):
    return None


class Actor:
    """Ray's benchmark actor: small_value returns b"ok"."""

    def small_value(self):
        return b"ok"


def main():
    import dask
    import distributed
    from distributed import Client, LocalCluster

    args = benchutil.parse_args(__doc__.splitlines()[0])
    logging.getLogger("distributed").setLevel(logging.ERROR)
    benchutil.note(f"dask {dask.__version__}, distributed {distributed.__version__}, "
                   f"python {sys.version.split()[0]}")
    # one figure of a batch may take a second here; a 256 MiB message is over
    # Dask's default comm limits on shards, not on size, so no option is needed
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        client.submit(noop, pure=False).result()

        def sync():
            client.submit(noop, pure=False).result()
            return 1

        def batch():
            futs = [client.submit(noop, i, pure=False) for i in range(ASYNC_BATCH)]
            client.gather(futs)
            del futs
            return ASYNC_BATCH

        benchutil.timeit("single client tasks sync", benchutil.timed(sync), args)
        benchutil.timeit("single client tasks async", benchutil.timed(batch), args)

        actor = client.submit(Actor, actor=True).result()
        actor.small_value().result()

        def actor_sync():
            actor.small_value().result()
            return 1

        def actor_async():
            futs = [actor.small_value() for _ in range(ACTOR_BATCH)]
            for f in futs:
                f.result()
            return ACTOR_BATCH

        benchutil.timeit("1:1 actor calls sync", benchutil.timed(actor_sync), args)
        benchutil.timeit("1:1 actor calls async", benchutil.timed(actor_async), args)

        for label, n in (("1 MiB", 1 << 20), ("256 MiB", 256 << 20)):
            payload = bytes(bytearray(b"\x5a") * n)

            def roundtrip(payload=payload, n=n):
                fut = client.scatter(payload, hash=False)
                back = client.gather(fut)
                assert len(back) == n
                fut.release()
                return n / 1e9

            benchutil.timeit(f"single client put+get {label} gigabytes",
                             benchutil.timed(roundtrip), args)
            del payload


if __name__ == "__main__":
    main()
