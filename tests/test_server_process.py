"""The server as a real process: forked workers sharing the port, graceful shutdown, demo shop."""
import asyncio
import json
import signal
import time

import pymysql
import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.simple_httpclient import HTTPStreamClosedError

import config as config_module
from tests.helpers import ROOT, start_server


@pytest.mark.gen_test(timeout=120)
async def test_sigterm_lets_requests_in_flight_finish_across_workers(server_db, redis_url):
    # 16 registrations at once from one address: no rate limit, and as many hashes at once
    proc, port = start_server(server_db, redis_url, "--processes", "2", "--no-jobs",
                              extra_env={"DADASHOP_RATE_LIMITS": "0", "DADASHOP_MAX_CONCURRENT_HASHES": "16"})
    target = config_module.parse_mysql_url(server_db)
    holder = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                             database=target.db, autocommit=True)
    watcher = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                              database=target.db, autocommit=True)
    client = AsyncHTTPClient(force_instance=True, max_clients=50)
    try:
        # the users table locked for reading: each registration waits inside a worker, on the database,
        # until it is unlocked — in flight for sure when SIGTERM comes, whatever the machine's load
        with holder.cursor() as cur:
            cur.execute("LOCK TABLES user_profile READ")
        requests = [client.fetch(f"http://127.0.0.1:{port}/v1/users", method="POST", raise_error=False,
                                 body=json.dumps({"uname": f"graceful_{i}", "password": "secret123"}))
                    for i in range(16)]
        while waiting_registrations(watcher) < 16:
            assert not any(r.done() for r in requests)
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        with holder.cursor() as cur:  # the registrations go through, during the drain
            cur.execute("UNLOCK TABLES")
        answers = await asyncio.gather(*requests)
        assert [a.code for a in answers] == [200] * 16
        assert await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60) == 0
    finally:
        client.close()
        holder.close()
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read()
    assert output.count("stopping; finishing requests in flight") == 2, output  # both workers drained
    with watcher.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM user_profile WHERE username LIKE 'graceful%%'")
        assert cur.fetchone()[0] == 16
    watcher.close()


@pytest.mark.gen_test(timeout=120)
async def test_a_request_stuck_past_the_drain_time_does_not_hold_the_exit(server_db, redis_url):
    """DADASHOP_DRAIN_TIME bounds a shutdown even when a request never ends on its own (here: held in
    the database far longer than the drain time)."""
    proc, port = start_server(server_db, redis_url, "--no-jobs",
                              extra_env={"DADASHOP_DRAIN_TIME": "3", "DADASHOP_MYSQL_STATEMENT_TIMEOUT": "60"})
    target = config_module.parse_mysql_url(server_db)
    holder = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                             database=target.db, autocommit=True)
    client = AsyncHTTPClient(force_instance=True)
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLES user_profile READ")
        stuck = client.fetch(f"http://127.0.0.1:{port}/v1/users", method="POST", raise_error=False,
                             body=json.dumps({"uname": "stuck_1", "password": "secret123"}), request_timeout=60)
        while waiting_registrations(holder) < 1:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
        stopped_after = time.monotonic() - started
        with pytest.raises(HTTPStreamClosedError):  # closed at the deadline: the client knows it got no answer
            await stuck
    finally:
        holder.close()
        client.close()
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read()
    assert exit_code == 0, output
    # within the drain time (a margin for a loaded machine; the request alone would hold it 60 s)
    assert stopped_after < 3 + 5, (stopped_after, output)
    assert "drain time over, closing 1 connection(s)" in output, output


def waiting_registrations(conn):
    """Registrations inside a worker, waiting in the database (MariaDB's processlist, this database only)."""
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() "
                    "AND id <> CONNECTION_ID() AND LEFT(info, 24) = 'INSERT INTO user_profile'")
        return cur.fetchone()[0]


def test_demo_store_loads_once_and_a_second_start_changes_nothing(server_db, redis_url):
    for _ in range(2):
        proc, port = start_server(server_db, redis_url, "--demo", "--no-jobs")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        output = proc.stdout.read()
    assert "demo / demo12345" in output and "migration applied" not in output
    target = config_module.parse_mysql_url(server_db)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT spu_id) FROM sku")
        skus, spus = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM sale_attr_value")
        attrs = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM user_profile WHERE username='demo'")
        demo_users = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM address")
        addresses = cur.fetchone()[0]
        cur.execute("SELECT default_image_url FROM sku")
        images = {row[0] for row in cur.fetchall()}
    conn.close()
    assert (skus, spus, demo_users, addresses) == (21, 6, 1, 1) and attrs >= 21
    assert all((ROOT / "static" / "images" / image).is_file() for image in images)
