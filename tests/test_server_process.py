"""The server as a real process: forked workers sharing the port, graceful shutdown, demo shop."""
import asyncio
import json
import signal

import pymysql
import pytest
from tornado.httpclient import AsyncHTTPClient

import config as config_module
import db
from tests.helpers import ROOT, start_server


@pytest.fixture
def server_db(database_url):
    url = database_url + "_proc"
    yield url
    db.drop_database(config_module.parse_mysql_url(url))


@pytest.mark.gen_test(timeout=120)
async def test_sigterm_lets_requests_in_flight_finish_across_workers(server_db, redis_url):
    # 16 registrations at once from one address: no rate limit, and as many hashes at once
    proc, port = start_server(server_db, redis_url, "--processes", "2", "--no-jobs",
                              extra_env={"DADASHOP_RATE_LIMITS": "0", "DADASHOP_MAX_CONCURRENT_HASHES": "16"})
    client = AsyncHTTPClient(force_instance=True, max_clients=50)
    try:
        # registrations are slow on purpose (scrypt): these are still running when SIGTERM comes
        requests = [client.fetch(f"http://127.0.0.1:{port}/v1/users", method="POST", raise_error=False,
                                 body=json.dumps({"uname": f"graceful_{i}", "password": "secret123"}))
                    for i in range(16)]
        await asyncio.sleep(0.15)
        proc.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*requests)
        assert [a.code for a in answers] == [200] * 16
        assert await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60) == 0
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read()
    assert output.count("stopping; finishing requests in flight") == 2, output  # both workers drained
    target = config_module.parse_mysql_url(server_db)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM user_profile WHERE username LIKE 'graceful%%'")
        assert cur.fetchone()[0] == 16
    conn.close()


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
