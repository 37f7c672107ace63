"""Logging: one JSON object per line (or readable text for development), every line of a request
carrying its request id — taken from `X-Request-Id` when a proxy sends one, else made here, and
returned in the response header."""
import contextvars
import itertools
import json
import logging
import os
import re
import time

from pythonjsonlogger.json import JsonFormatter

import metrics
from flush_timer import FlushTimer

# the id of the request whose code is running (each request runs in a task of its own, which
# copies this context when it starts)
current_request_id = contextvars.ContextVar("request_id", default=None)
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s]: %(message)s"
ACCESS_LOGGER = "dadashop.access"
access_log = logging.getLogger(ACCESS_LOGGER)


def request_id_for(given: str | None) -> str:
    """The proxy's id when it looks like one (it goes into logs and headers), else a new one."""
    return given if given and SAFE_REQUEST_ID.fullmatch(given) else new_request_id()


# A new request id is 32 hex digits: 80 random bits drawn once per process, and a counter. Unique
# across processes and hosts like a uuid4, without reading the system's random source per request.
_id_prefix, _id_counter = "", None


def _new_id_prefix():
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = os.urandom(10).hex(), itertools.count()


_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker must not repeat its parent's ids


def new_request_id() -> str:
    return f"{_id_prefix}{next(_id_counter) % 2 ** 48:012x}"


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get() or "-"
        return True


class BatchingStreamHandler(logging.StreamHandler):
    """A StreamHandler that writes the access log's INFO lines in batches: one write per
    FLUSH_INTERVAL (or per CAPACITY lines) instead of one per line, which at flash-sale rates was a
    write system call per request. Every other line (a warning, an error, a worker starting or
    stopping) is written at once, with the batched lines before it, so the order of lines is kept;
    outside an event loop every line is written at once; what is left at exit, by logging.shutdown.
    A worker killed outright loses at most FLUSH_INTERVAL of access lines of answered requests."""
    FLUSH_INTERVAL = 0.2  # seconds
    CAPACITY = 256

    def __init__(self, stream=None):
        super().__init__(stream)
        self.pending = []
        self.timer = FlushTimer(self.FLUSH_INTERVAL, self.flush)

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own policy: report, never raise
            self.handleError(record)
            return
        self.add_line(line, urgent=record.levelno >= logging.WARNING or record.name != ACCESS_LOGGER)

    def add_line(self, line, *, urgent=False):
        """A formatted line: written with the next batch, or at once (with the batch) when urgent."""
        with self.lock:
            self.pending.append(line + self.terminator)
        if urgent or len(self.pending) >= self.CAPACITY:
            self.flush()
        else:
            self.timer.due()

    def flush(self):
        with self.lock:
            self.timer.cancel()
            if self.pending and self.stream is not None:
                lines, self.pending = "".join(self.pending), []
                self.stream.write(lines)
                self.stream.flush()


def flush():
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure(log_format="json", level=logging.INFO, access="all"):
    """Send every logger's records to stderr in `log_format` ("json" or "text"); `access` "errors"
    keeps only the access lines of answers with an HTTP error status."""
    access_log.setLevel(logging.INFO if access == "all" else logging.WARNING)
    handler = BatchingStreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                                           rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
                                           json_ensure_ascii=False))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    global _json_lines
    _json_lines = handler if log_format == "json" else None


# The handler of configure("json"): an access line of an answered request is written straight to it
# as the JSON its formatter would make (access_line), not through a LogRecord, a filter and the
# formatter — three times the CPU, and at flash-sale rates a tenth of a sold-out answer. Used only
# while logging is as configure() left it; any other set-up gets every line through `logging`.
_json_lines = None
_second = [None, ""]  # the last whole second formatted, and its text


ACCESS_MESSAGE = "%d %s %s %.1fms"  # status, method, path, milliseconds
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps with options makes one per call


def access_fields(status, method, path, ms, client) -> dict:
    """The fields of an access line beside its message: one definition for both ways of writing it."""
    return {"status": status, "method": method, "path": path, "duration_ms": round(ms, 2), "client": client}


def access_line(message, fields, request_id=None, now=None) -> str:
    """The JSON line the configured formatter makes of the access record of an answered request."""
    now = time.time() if now is None else now
    second = int(now)
    if _second[0] != second:
        _second[:] = [second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))]
    return _LINE_ENCODER.encode({"time": f"{_second[1]},{int((now - second) * 1000):03d}", "level": "INFO",
                                 "logger": ACCESS_LOGGER, "process": os.getpid(), "message": message, **fields,
                                 "request_id": current_request_id.get() or "-" if request_id is None else request_id})


def _writes_access_lines_directly() -> bool:
    return (_json_lines is not None and logging.root.handlers == [_json_lines] and not access_log.handlers
            and access_log.propagate and not access_log.filters and access_log.isEnabledFor(logging.INFO))


def log_request(handler):
    """Tornado's access-log hook: one line per answered request, with its fields."""
    status = handler.get_status()
    request = handler.request
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    ms = 1000.0 * request.request_time()
    metrics.request_answered(type(handler).__name__, request.method, status, ms / 1000.0)
    services = getattr(handler.application, "services", None)
    metrics.pool_use(getattr(services, "pool", None))
    if level == logging.INFO and not access_log.isEnabledFor(logging.INFO):
        return  # DADASHOP_ACCESS_LOG=errors: a formatted line per answered request costs CPU at flash-sale rates
    message_args = (status, request.method, request.path, ms)
    fields = access_fields(*message_args, request.remote_ip)
    if level == logging.INFO and _writes_access_lines_directly():
        _json_lines.add_line(access_line(ACCESS_MESSAGE % message_args, fields, getattr(handler, "request_id", None)))
        return
    access_log.log(level, ACCESS_MESSAGE, *message_args, extra=fields)
