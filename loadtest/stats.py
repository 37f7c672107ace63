"""Latency and outcome bookkeeping, the progress line, and CPU accounting from /proc."""
import collections
import math
import os
import resource
import sys
import threading
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Recorder:
    """Every answer: (operation, finish time, latency, HTTP status, business code)."""

    def __init__(self):
        self.samples = []
        self.start = time.perf_counter()
        self.errors = collections.Counter()

    def add(self, op, latency, status, code):
        self.samples.append((op, time.perf_counter() - self.start, latency, status, code))

    def error(self, op, exc):
        self.errors[f"{op}: {type(exc).__name__}"] += 1
        self.samples.append((op, time.perf_counter() - self.start, 0.0, 0, "exception"))

    def summary(self, ops=None, *, window=None):
        """Per operation: count, rate, latency percentiles (ms), counts per HTTP status and code."""
        out = {}
        by_op = collections.defaultdict(list)
        for s in self.samples:
            if ops is None or s[0] in ops:
                by_op[s[0]].append(s)
        duration = window or self.elapsed()
        for op, samples in sorted(by_op.items()):
            lat = sorted(s[2] * 1000 for s in samples)
            out[op] = {
                "count": len(samples), "rate": len(samples) / duration if duration else 0.0,
                "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                "max": lat[-1] if lat else 0.0,
                "http": dict(collections.Counter(s[3] for s in samples)),
                "codes": dict(collections.Counter(s[4] for s in samples)),
            }
        return out

    def elapsed(self):
        return time.perf_counter() - self.start


def print_summary(summary, file=sys.stdout):
    print(f"{'operation':<14}{'count':>8}{'rate/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          "  http / business codes", file=file)
    for op, s in summary.items():
        print(f"{op:<14}{s['count']:>8}{s['rate']:>10.1f}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}"
              f"{s['max']:>9.1f}  http {s['http']} codes {s['codes']}", file=file)


class Progress:
    """One line, rewritten every second: answers so far, the rate of the last second, codes."""

    def __init__(self, recorder, total=None, label=""):
        self.recorder = recorder
        self.total = total
        self.label = label
        self.last_count = 0
        self.last_time = time.perf_counter()

    def tick(self):
        now = time.perf_counter()
        count = len(self.recorder.samples)
        rate = (count - self.last_count) / max(now - self.last_time, 1e-6)
        self.last_count, self.last_time = count, now
        codes = collections.Counter(s[4] for s in self.recorder.samples[-2000:])
        of = f"/{self.total}" if self.total else ""
        sys.stderr.write(f"\r  {self.label} {self.recorder.elapsed():6.1f}s  {count}{of} answers  "
                         f"{rate:7.0f}/s  recent codes {dict(codes)}   ")
        sys.stderr.flush()

    def done(self):
        self.tick()
        sys.stderr.write("\n")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """user+system CPU seconds of one process (from /proc/<pid>/stat); None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def pids_named(name):
    """Processes whose command name is `name` (e.g. mariadbd, redis-server) — read only, for accounting."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


class CpuMeter:
    """CPU used during a run by this generator, the service processes, MariaDB and Redis: on average
    over the run (`report`), and second by second from a sampling thread (`series`, for the plots)."""

    def __init__(self, service_pids=(), interval=1.0):
        self.groups = {"generator": None, "service": list(dict.fromkeys(service_pids)),  # each process once
                       "mariadb": pids_named("mariadbd") or pids_named("mysqld"),
                       "redis": pids_named("redis-server")}
        self.interval = interval
        self.samples = []  # (seconds since start, {group: CPU seconds so far})
        self._stop = threading.Event()

    def _read(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)  # the whole generator process, threads included
        values = {"generator": usage.ru_utime + usage.ru_stime}
        for group, pids in self.groups.items():
            if pids is not None:
                values[group] = sum(process_cpu_seconds(p) or 0.0 for p in pids)
        return values

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.samples.append((time.perf_counter() - self.t0, self._read()))

    def __enter__(self):
        self.before = self._read()
        self.t0 = time.perf_counter()
        self.samples = [(0.0, self.before)]
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        after = self._read()
        self.wall = time.perf_counter() - self.t0
        self.samples.append((self.wall, after))
        self.used = {g: after[g] - self.before[g] for g in after if g == "generator" or self.groups[g]}
        return False

    def report(self):
        """{group: cores used on average} over the run."""
        return {g: v / self.wall for g, v in self.used.items()}

    def series(self):
        """{"t": [end of each interval, s], group: [cores used during that interval]}."""
        out = {"t": []}
        for (t0, v0), (t1, v1) in zip(self.samples, self.samples[1:]):
            if t1 - t0 < self.interval / 2:
                continue  # the short tail after the last full interval: too noisy to plot
            out["t"].append(round(t1, 3))
            for group in self.used:
                out.setdefault(group, []).append((v1[group] - v0[group]) / (t1 - t0))
        return out


def timeline(recorder, cpu=None, bucket=1.0):
    """The run second by second, for the report's plots: per operation the answers and the latency
    percentiles (ms) of each bucket, counts per HTTP status and business code, CPU per component."""
    samples = recorder.samples
    end = max((s[1] for s in samples), default=0.0)
    buckets = max(1, math.ceil(end / bucket))
    grouped = collections.defaultdict(lambda: [[] for _ in range(buckets)])
    http = collections.defaultdict(lambda: [0] * buckets)
    codes = collections.defaultdict(lambda: [0] * buckets)
    for op, finished, latency, status, code in samples:
        i = min(buckets - 1, int(finished / bucket))
        grouped[op][i].append(latency * 1000)
        http[str(status)][i] += 1
        codes[str(code)][i] += 1
    ops = {}
    for op, per_bucket in sorted(grouped.items()):
        ordered = [sorted(b) for b in per_bucket]
        ops[op] = {"count": [len(b) for b in ordered],
                   **{f"p{p}": [percentile(b, p) if b else None for b in ordered] for p in (50, 95, 99)}}
    return {"bucket_s": bucket, "end_s": round(end, 3), "t": [round((i + 1) * bucket, 3) for i in range(buckets)],
            "ops": ops,
            "http": dict(http), "codes": dict(codes), "cpu": cpu.series() if cpu else {}}
