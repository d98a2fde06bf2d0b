#!/usr/bin/env python3
"""Dev-only: runs run.sh once the way the harness would and prints what it saw.

  python3 dev/try.py -- <PeerApp args...>

Prints each stdout line with the seconds since spawn, then CPU seconds
(utime+stime of the spawned pid, which must be the JVM), VmHWM, the time from
SIGTERM to exit, and the exit code. SIGTERM is sent right after `done` (or after
`ready` when --expect 0).
"""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[sys.argv.index("--") + 1:]
expect = int(args[args.index("--expect") + 1])
tick = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return line.split(":")[1].strip()
    return "?"


t0 = time.monotonic()
p = subprocess.Popen(["bash", os.path.join(HERE, "run.sh"), *args], stdout=subprocess.PIPE, text=True)
deadline = t0 + 600
for line in p.stdout:
    now = time.monotonic() - t0
    print(f"{now:8.3f}s {line.rstrip()}", flush=True)
    ev = json.loads(line)
    if ev["event"] == "ready":
        cpu_ready = cpu(p.pid)
    if ev["event"] == "warm":
        cpu_warm = cpu(p.pid)
    if ev["event"] == "done":
        cw = cpu(p.pid) - cpu_warm
        n = ev["processed"] - int(args[args.index("--warmup") + 1])
        print(f"  warm->done: {n / ev['seconds']:.0f} events/s, {cw:.2f} CPU-s = {cw / n * 1e6:.1f} CPU-s/1M")
    if ev["event"] == "done" or (ev["event"] == "ready" and expect == 0):
        break
    if time.monotonic() > deadline:
        break
with open(f"/proc/{p.pid}/comm") as f:
    comm = f.read().strip()
c = cpu(p.pid)
print(f"comm={comm} cpu_total={c:.2f}s cpu_at_ready={cpu_ready:.2f}s cpu_after_ready={c - cpu_ready:.2f}s VmHWM={hwm(p.pid)}")
threads = {}
for tid in os.listdir(f"/proc/{p.pid}/task"):
    try:
        with open(f"/proc/{p.pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        threads[name] = threads.get(name, 0) + cpu(f"{p.pid}/task/{tid}")
    except OSError:
        pass
top = sorted(threads.items(), key=lambda kv: -kv[1])[:8]
print("threads (cpu s): " + ", ".join(f"{n}={c:.2f}" for n, c in top))
ts = time.monotonic()
p.send_signal(signal.SIGTERM)
rc = p.wait(60)
print(f"SIGTERM -> exit {rc} in {time.monotonic() - ts:.2f}s; rest of stdout: {p.stdout.read()!r}")
