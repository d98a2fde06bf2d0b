"""faust-streaming peer of `deno task bench:peers` (protocol: bench_protocol.md).

    python peer.py --workload forward|count|window --bootstrap 127.0.0.1:PORT \
        --input TOPIC --output TOPIC --app-id ID --expect N --warmup W --state-dir DIR

A plain Faust application, written the way a Faust user writes one: a
``faust.App``, topics with serializers, one ``@app.agent`` doing the work, a
``Table`` for ``count``, run by ``faust.Worker`` (which handles SIGTERM:
stop the agents, commit offsets, flush the producer, close RocksDB, exit 0).

stdout carries only the protocol's JSON lines (written to fd 1 directly, as
the Worker may redirect ``sys.stdout`` into logging); Faust logs go to stderr.

* ``ready``  -- forward: ``app.on_rebalance_complete`` (partitions assigned,
  streams about to resume); count: ``@table.on_recover``, which Faust calls
  from ``Recovery.on_recovery_completed`` once the table has been restored
  from its changelog (``{app_id}-counts-changelog``), before the input
  partitions are resumed. ``recovered`` counts the changelog events the
  recovery applied (the table's ``on_changelog_event`` callback).
* ``window`` -- a tumbling 1-minute windowed table (relative to stream:
  the record timestamps) summing ``n`` per word; the result is read from
  every (word, window) key of the underlying table.
* ``warm``/``done`` -- forward: an event is processed when the send of its
  output record is acknowledged (the send callback); count: when its table
  update is done. ``seconds`` is ``time.monotonic()`` from warm to done.
"""

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

# A SIGTERM that arrives while Python still imports Faust (the first ~1-2 s)
# ends the process with exit 0 (nothing consumed, nothing to commit); the
# faust.Worker replaces this handler with its own clean shutdown once it runs.
signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))

import faust


def emit(obj: dict[str, Any]) -> None:
    """Write one protocol line to the real stdout (fd 1), bypassing redirects."""
    os.write(1, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def parse_args(argv: list | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="peer.py", description=__doc__.split("\n")[0])
    p.add_argument("--workload", required=True, choices=("forward", "count", "window"))
    p.add_argument("--bootstrap", required=True, help="host:port of the broker")
    p.add_argument("--input", required=True, help="input topic (must exist)")
    p.add_argument("--output", required=True, help="output topic (forward)")
    p.add_argument("--app-id", required=True, help="Faust app id = consumer group")
    p.add_argument("--expect", type=int, required=True, help="N input events; 0 = idle")
    p.add_argument("--warmup", type=int, default=0, help="W events before timing")
    p.add_argument("--state-dir", required=True, help="Faust datadir (RocksDB tables)")
    p.add_argument("--loglevel", default=os.environ.get("FAUST_BENCH_LOGLEVEL", "WARNING"))
    a = p.parse_args(argv)
    if a.expect < 0 or a.warmup < 0 or (a.expect and a.warmup > a.expect):
        p.error(f"need 0 <= --warmup ({a.warmup}) <= --expect ({a.expect})")
    return a


class Progress:
    """Counts processed events and emits ready/warm/done once each."""

    def __init__(self, expect: int, warmup: int) -> None:
        self.expect = expect
        self.warmup = warmup
        self.processed = 0
        self.ready_sent = False
        self.warm_at: float | None = None
        self.done = False

    def ready(self, recovered: int | None = None) -> None:
        if self.ready_sent:
            return
        self.ready_sent = True
        msg: dict[str, Any] = {"event": "ready"}
        if recovered is not None:
            msg["recovered"] = recovered
        emit(msg)

    def started(self) -> None:
        """Call when the first event arrives (starts the clock for W = 0)."""
        if self.warm_at is None and self.warmup == 0:
            self.warm_at = time.monotonic()
            emit({"event": "warm", "processed": 0})

    def step(self) -> bool:
        """Count one processed event; return True when it is the N-th."""
        self.processed += 1
        n = self.processed
        if n == self.warmup and self.warm_at is None:
            self.warm_at = time.monotonic()
            emit({"event": "warm", "processed": n})
        return n == self.expect and not self.done

    def finish(self, result: dict[str, Any]) -> None:
        self.done = True
        start = self.warm_at if self.warm_at is not None else time.monotonic()
        emit(
            {
                "event": "done",
                "processed": self.processed,
                "seconds": round(time.monotonic() - start, 6),
                "result": result,
            }
        )


def build_app(a: argparse.Namespace, progress: Progress) -> faust.App:
    app = faust.App(
        a.app_id,
        broker=f"kafka://{a.bootstrap}",
        # RocksDB tables, Faust's production store (not memory://): its
        # bindings do install here, from PyPI as binary wheels (rocksdict
        # 0.3.29, RocksDB 8, via the faust-streaming[rocksdict] extra); Faust
        # uses rocksdict automatically when it is installed.
        # The store keeps the changelog offset it has applied, so a restart
        # with the state dir kept reads (almost) nothing from the changelog.
        # FAUST_BENCH_STORE=memory:// only for side experiments; the bench uses RocksDB.
        store=os.environ.get("FAUST_BENCH_STORE", "rocksdb://"),
        datadir=a.state_dir,
        broker_commit_interval=2.8,  # Faust's default, stated for the protocol
        topic_partitions=4,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )
    source = app.topic(a.input, key_serializer="raw", value_serializer="json")

    if a.workload == "forward":
        sink = app.topic(a.output, key_serializer="raw", value_serializer="json")
        sent = {"n": 0}

        def on_sent(_fut: Any) -> None:
            # Called by Faust when the broker acknowledged the record.
            sent["n"] += 1
            if progress.step():
                progress.finish({"produced": sent["n"]})

        @app.on_rebalance_complete.connect
        async def on_assigned(sender: Any, **kwargs: Any) -> None:
            progress.ready()

        @app.agent(source)
        async def forward(stream: Any) -> None:
            async for key, value in stream.items():
                progress.started()
                await sink.send(
                    key=key,
                    value={"id": value["id"], "word": value["word"], "n2": value["n"] * 2},
                    callback=on_sent,
                )

    elif a.workload == "window":
        # Tumbling 1-minute windows of the event timestamps (relative to
        # stream), kept a day; `sums[word] += n` adds to the current window.
        sums = app.Table(
            "wsum",
            default=int,
            partitions=4,
            key_type=str,
            value_type=int,
        ).tumbling(60, expires=86400, key_index=True).relative_to_stream()

        @app.on_rebalance_complete.connect
        async def on_window_assigned(sender: Any, **kwargs: Any) -> None:
            progress.ready()

        def window_result() -> dict[str, int]:
            # The underlying table's keys are (word, (start, end)), seconds.
            pairs = total = weighted = 0
            lo = hi = None
            for (word, (start, _end)), v in sums.table.items():
                v = int(v)
                pairs += 1
                total += v
                lo = v if lo is None else min(lo, v)
                hi = v if hi is None else max(hi, v)
                minute = int(round(start * 1000)) // 60_000
                weighted += v * (int(word[1:]) + 1) * (minute % 7 + 1)
            return {
                "pairs": pairs,
                "total": total,
                "min": lo or 0,
                "max": hi or 0,
                "weighted": weighted,
            }

        @app.agent(source)
        async def window_sum(stream: Any) -> None:
            async for value in stream:
                progress.started()
                sums[value["word"]] += value["n"]
                if progress.step():
                    progress.finish(window_result())

    else:
        recovered = {"n": 0}

        async def on_changelog_event(_event: Any) -> None:
            recovered["n"] += 1

        counts = app.Table(
            "counts",
            default=int,
            partitions=4,
            key_type=str,
            value_type=int,
            on_changelog_event=on_changelog_event,
        )

        @counts.on_recover
        async def on_recovered() -> None:
            progress.ready(recovered["n"])

        def table_result() -> dict[str, int]:
            values = [int(v) for v in counts.values()]
            return {
                "keys": len(values),
                "total": sum(values),
                "min": min(values) if values else 0,
                "max": max(values) if values else 0,
            }

        @app.agent(source)
        async def count(stream: Any) -> None:
            async for value in stream:
                progress.started()
                counts[value["word"]] += 1
                if progress.step():
                    progress.finish(table_result())

    return app


def main() -> None:
    a = parse_args()
    os.makedirs(a.state_dir, exist_ok=True)  # Faust creates only the last level
    progress = Progress(a.expect, a.warmup)
    app = build_app(a, progress)
    worker = faust.Worker(
        app,
        loglevel=a.loglevel,
        quiet=True,  # no banner
        stdout=sys.stderr,  # Worker's own prints (spinner) stay off stdout
        redirect_stdouts=False,
    )
    worker.spinner = None  # no terminal spinner escapes on stderr
    worker.execute_from_commandline()  # returns via SystemExit (0 on SIGTERM)


if __name__ == "__main__":
    main()
