"""Prometheus metrics across all worker processes (prometheus-client's multiprocess mode): each
process writes its samples to files in one folder, and a scrape of any process reads them all.

`setup()` runs in the parent before the workers are forked and before any metric exists (the
multiprocess value class must be chosen first); without it every function here does nothing, so
tests and tools that build an App without metrics still work.
"""
import bisect
import collections
import os
import shutil
import tempfile
import time

from flush_timer import FlushTimer

_metrics = None
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram
        self.requests = Counter("dadashop_requests_total", "HTTP requests answered", ["route", "method", "status"])
        self.latency = Histogram("dadashop_request_seconds", "Time to answer an HTTP request", ["route", "method"],
                                 buckets=LATENCY_BUCKETS)
        self.business = Counter("dadashop_business_answers_total",
                                "Answers with a business code other than 200 (50103 = sold out)", ["code"])
        self.orders_created = Counter("dadashop_orders_created_total", "Orders created")
        self.notifies = Counter("dadashop_alipay_notifies_total", "Alipay notifies by outcome", ["outcome"])
        self.alipay_calls = Counter("dadashop_alipay_calls_total", "Alipay gateway calls", ["method", "outcome"])
        self.alipay_latency = Histogram("dadashop_alipay_call_seconds", "Alipay gateway call time", ["method"],
                                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20))
        self.refunds_pending = Gauge("dadashop_refunds_pending", "Refunds owed and not yet taken by Alipay",
                                     multiprocess_mode="livemax")
        self.pool = Gauge("dadashop_db_connections", "MariaDB pool connections of the live workers", ["state"],
                          multiprocess_mode="livesum")


def setup(directory=None) -> str:
    """Choose the multiprocess folder (made empty) and make the metrics; returns the folder."""
    global _metrics
    directory = directory or tempfile.mkdtemp(prefix="dadashop-metrics-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from prometheus_client import values
    values.ValueClass = values.MultiProcessValue()
    _metrics = Metrics()
    return directory


def enabled() -> bool:
    return _metrics is not None


def process_dead(pid):
    """A worker exited: its live gauges no longer count."""
    if _metrics is not None:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid)


def scrape() -> bytes:
    """The text exposition of every process's samples."""
    flush()
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


# The per-request samples (requests, their latency, business answers, orders) are counted in this
# process and written to the shared files once per FLUSH_INTERVAL: writing them (a lock and an
# mmap write per value, five per request) cost about a tenth of a flash-sale answer. A scrape
# shows a request within FLUSH_INTERVAL; the scraping process writes its own pending ones first.
FLUSH_INTERVAL = 1.0  # seconds
_pending = collections.Counter()  # (kind, labels) -> count
_pending_latency = {}  # (route, method) -> [bucket counts..., sum]


def _count(kind, labels, amount=1):
    _pending[(kind, labels)] += amount
    _flush_timer.due()


def flush():
    """Write the pending per-request samples to the shared files."""
    _flush_timer.cancel()
    if _metrics is None:
        return
    counters = {"requests": _metrics.requests, "business": _metrics.business, "orders": _metrics.orders_created}
    pending, latency = dict(_pending), dict(_pending_latency)
    _pending.clear()
    _pending_latency.clear()
    for (kind, labels), amount in pending.items():
        counter = counters[kind]
        (counter.labels(*labels) if labels else counter).inc(amount)
    for labels, counts in latency.items():
        # what Histogram.observe does per value, once per bucket (prometheus-client's own fields)
        child = _metrics.latency.labels(*labels)
        for bucket, count in zip(child._buckets, counts):
            if count:
                bucket.inc(count)
        child._sum.inc(counts[-1])


_flush_timer = FlushTimer(FLUSH_INTERVAL, flush)


def request_answered(route, method, status, seconds):
    if _metrics is not None:
        _count("requests", (route, method, str(status)))
        counts = _pending_latency.get((route, method))
        if counts is None:
            counts = _pending_latency[(route, method)] = [0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the +Inf bucket after the last bound
        counts[-1] += seconds


def business_answer(code):
    if _metrics is not None:
        _count("business", (str(code),))


def order_created():
    if _metrics is not None:
        _count("orders", ())


def notify(outcome):
    if _metrics is not None:
        _metrics.notifies.labels(outcome).inc()


def alipay_call(method, outcome, seconds):
    if _metrics is not None:
        _metrics.alipay_calls.labels(method, outcome).inc()
        _metrics.alipay_latency.labels(method).observe(seconds)


def refunds_pending(count):
    if _metrics is not None:
        _metrics.refunds_pending.set(count)


POOL_SAMPLE_INTERVAL = 1.0  # seconds: the gauges are read every few seconds at most
_pool_sampled_at = float("-inf")


def pool_use(pool):
    """The pool gauges, set at most once per POOL_SAMPLE_INTERVAL (each set writes the shared files)."""
    global _pool_sampled_at
    if _metrics is not None and pool is not None:
        now = time.monotonic()
        if now - _pool_sampled_at < POOL_SAMPLE_INTERVAL:
            return
        _pool_sampled_at = now
        in_use = pool.size - pool.freesize
        _metrics.pool.labels("in_use").set(in_use)
        _metrics.pool.labels("idle").set(pool.freesize)
