"""Dev-only driver for testing the faust peer by hand (not used by the harness).

Spawns run.sh with the given peer arguments, prints each stdout line with the
time since spawn, reads utime+stime and VmHWM from /proc/<pid>, sends SIGTERM
after `done` (or right after `ready` when --expect 0) and reports how long the
exit took and the exit code.

    python3 _drive_dev.py [--timeout S] -- --workload count ... (peer args)

--timeout S sends SIGTERM S seconds after spawn if `done` has not come (a
mid-run SIGTERM test); the exit code and the time to exit are printed.
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def proc_stats(pid: int) -> tuple:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) // 1024
    return cpu, hwm


def main() -> None:
    argv = sys.argv[1:]
    timeout = 300.0
    if argv[:1] == ["--timeout"]:
        timeout = float(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    expect = int(argv[argv.index("--expect") + 1])
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", os.path.join(HERE, "run.sh"), *argv], stdout=subprocess.PIPE)
    os.set_blocking(p.stdout.fileno(), True)
    deadline = t0 + timeout

    def on_alarm(_signum: int, _frame: object) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    cpu_ready = cpu_warm = None
    finished = False
    while time.monotonic() < deadline:
        try:
            line = p.stdout.readline()
        except TimeoutError:
            break
        if not line:
            break
        now = time.monotonic() - t0
        print(f"[{now:7.2f}s] {line.decode().rstrip()}", flush=True)
        msg = json.loads(line)
        cpu, hwm = proc_stats(p.pid)
        if msg["event"] == "ready":
            cpu_ready = cpu
            if expect == 0:
                finished = True
        elif msg["event"] == "warm":
            cpu_warm = cpu
        elif msg["event"] == "done":
            n = msg["processed"] - int(argv[argv.index("--warmup") + 1])
            s = msg["seconds"]
            print(
                f"  -> {n / s:,.0f} ev/s over {n} events; cpu warm->done "
                f"{cpu - cpu_warm:.2f}s = {(cpu - cpu_warm) / n * 1e6:.1f} cpu-s/M; "
                f"cpu total {cpu:.2f}s (at ready {cpu_ready:.2f}s); VmHWM {hwm} MiB",
                flush=True,
            )
            finished = True
        if finished:
            break
    signal.setitimer(signal.ITIMER_REAL, 0)
    if not finished:
        print(f"TIMEOUT ({timeout}s) waiting for the peer", flush=True)
    with open(f"/proc/{p.pid}/cmdline", "rb") as f:
        print("SIGTERM to:", f.read().replace(b"\0", b" ").decode()[:120], flush=True)
    ts = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed"
    rest = p.stdout.read().decode()
    if rest.strip():
        print(f"extra stdout after SIGTERM: {rest!r}")
    print(f"SIGTERM -> exit {rc} in {time.monotonic() - ts:.2f}s", flush=True)


if __name__ == "__main__":
    main()
