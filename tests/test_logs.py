"""Logs: one JSON object per line, every line of a request carrying its request id (the proxy's
X-Request-Id, or a new one), which the answer returns; readable text for development."""
import json
import signal
import urllib.request

from tests.helpers import start_server


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def run_server(server_db, redis_url, tmp_path, log_format):
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")
    proc, port = start_server(server_db, redis_url, "--no-jobs", extra_env={"DADASHOP_LOG_FORMAT": log_format}, log=log)
    return proc, port, log, log_path


def stop(proc, log):
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    log.close()


def test_json_lines_with_the_proxys_request_id_or_a_new_one(server_db, redis_url, tmp_path):
    proc, port, log, log_path = run_server(server_db, redis_url, tmp_path, "json")
    try:
        status, headers = get(port, "/v1/goods/skus", {"X-Request-Id": "edge-42.a"})
        assert status == 200 and headers["X-Request-Id"] == "edge-42.a"
        status, headers = get(port, "/v1/nowhere", {"X-Request-Id": "bad id with spaces"})
        made = headers["X-Request-Id"]
        assert status == 404 and made != "bad id with spaces" and len(made) == 32
    finally:
        stop(proc, log)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = {r["request_id"]: r for r in records if r["logger"] == "dadashop.access"}
    assert access["edge-42.a"]["status"] == 200 and access["edge-42.a"]["path"] == "/v1/goods/skus"
    assert access[made]["status"] == 404 and access[made]["level"] == "WARNING"


def test_text_logs_for_development(server_db, redis_url, tmp_path):
    proc, port, log, log_path = run_server(server_db, redis_url, tmp_path, "text")
    try:
        get(port, "/v1/goods/skus", {"X-Request-Id": "dev-1"})
    finally:
        stop(proc, log)
    text = log_path.read_text()
    assert "[dev-1]: 200 GET /v1/goods/skus" in text and not text.lstrip().startswith("{")


def test_access_lines_are_written_in_batches_and_any_other_line_at_once():
    import asyncio
    import io
    import logging

    import logs
    stream = io.StringIO()
    handler = logs.BatchingStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    access, other = logging.getLogger(logs.ACCESS_LOGGER), logging.getLogger("dadashop.test")

    def emit(logger, level, message):
        handler.handle(logger.makeRecord(logger.name, level, __file__, 1, message, (), None))

    async def main():
        emit(access, logging.INFO, "200 first")
        emit(access, logging.INFO, "200 second")
        assert stream.getvalue() == ""  # held for the batch
        emit(other, logging.INFO, "pid 1: serving")  # not an access line: at once, after the held ones
        assert stream.getvalue().splitlines() == ["dadashop.access 200 first", "dadashop.access 200 second",
                                                  "dadashop.test pid 1: serving"]
        emit(access, logging.INFO, "200 third")
        await asyncio.sleep(logs.BatchingStreamHandler.FLUSH_INTERVAL + 0.1)
        assert stream.getvalue().splitlines()[-1] == "dadashop.access 200 third"  # the timer wrote it
        emit(access, logging.INFO, "200 fourth")
        emit(access, logging.WARNING, "404 fifth")  # an error status: at once
        assert stream.getvalue().splitlines()[-2:] == ["dadashop.access 200 fourth", "dadashop.access 404 fifth"]

    asyncio.run(main())
    emit(access, logging.INFO, "200 outside a loop")  # no loop to batch on: at once
    assert stream.getvalue().splitlines()[-1] == "dadashop.access 200 outside a loop"


def test_new_request_ids_are_unique_and_a_forked_worker_draws_its_own():
    import os

    import logs
    ids = {logs.new_request_id() for _ in range(10000)}
    assert len(ids) == 10000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a forked worker would draw first
        os.write(write, logs.new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read, 64).decode()
    assert len(child_id) == 32 and child_id[:20] != logs.new_request_id()[:20]


def test_the_direct_access_line_is_the_line_the_formatter_makes():
    """An answered request's access line skips the LogRecord and the formatter (logs.access_line):
    it must be exactly what they would have written, field for field, in the same order."""
    import io
    import json as json_module
    import logging

    import logs
    root = logging.getLogger()
    saved_handlers, saved_level, saved_access_level = root.handlers[:], root.level, logs.access_log.level
    try:
        logs.configure("json")
        handler = root.handlers[0]
        handler.stream = io.StringIO()
        assert logs._writes_access_lines_directly()
        token = logs.current_request_id.set("req-1")
        try:
            logs.access_log.info("%d %s %s %.1fms", 200, "POST", "/v1/orders/processing/", 12.345,
                                 extra={"status": 200, "method": "POST", "path": "/v1/orders/processing/",
                                        "duration_ms": round(12.345, 2), "client": "10.0.0.7"})
            message = logs.ACCESS_MESSAGE % (200, "POST", "/v1/orders/processing/", 12.345)
            handler.add_line(logs.access_line(message, logs.access_fields(200, "POST", "/v1/orders/processing/",
                                                                          12.345, "10.0.0.7")))
        finally:
            logs.current_request_id.reset(token)
        handler.flush()
        through_logging, direct = [json_module.loads(line) for line in handler.stream.getvalue().splitlines()]
        assert list(direct) == list(through_logging)  # the same fields in the same order
        assert {**direct, "time": None} == {**through_logging, "time": None}
        import re
        shape = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")
        assert shape.fullmatch(direct["time"]) and shape.fullmatch(through_logging["time"])
        # logging set up differently (another handler added): every line goes through logging again
        root.addHandler(logging.NullHandler())
        assert not logs._writes_access_lines_directly()
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logs.access_log.setLevel(saved_access_level)
        logs._json_lines = None
