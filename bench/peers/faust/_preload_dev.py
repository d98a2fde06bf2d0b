"""Dev-only preloader for testing the faust peer by hand (not used by the harness).

Creates the input topic (4 partitions) and the output topic (4 partitions) and
writes N records per bench_protocol.md: key "k<i%K>", value
{"id": i, "word": "k<i%K>", "n": i % 100}, partitioned by aiokafka's default
partitioner (murmur2, same as Kafka's Java client).

    python _preload_dev.py --bootstrap 127.0.0.1:19092 --input in1 --output out1 --n 20000
"""

import argparse
import asyncio
import json
import sys
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--keys", type=int, default=10_000)
    a = p.parse_args()

    admin = AIOKafkaAdminClient(bootstrap_servers=a.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(t, num_partitions=4, replication_factor=1)
            for t in (a.input, a.output)
            if t not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()

    prod = AIOKafkaProducer(
        bootstrap_servers=a.bootstrap, linger_ms=5, max_batch_size=512 * 1024, acks="all"
    )
    await prod.start()
    t0 = time.monotonic()
    try:
        pending = []
        for i in range(a.n):
            w = f"k{i % a.keys}"
            v = json.dumps({"id": i, "word": w, "n": i % 100}).encode()
            pending.append(await prod.send(a.input, v, key=w.encode()))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await prod.stop()
    print(f"preloaded {a.n} records in {time.monotonic() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
