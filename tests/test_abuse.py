"""Abuse resistance (issue 12): each probe of the issue as a test that failed before.

Rate limits per IP/account/buyer in Redis (429 / 50110 with Retry-After), bounded concurrent
password hashing, body limits enforced before the body is read (413 / 50109), JSON depth (400),
bounded records of forged Alipay callbacks, secure start-up outside the sandbox, forwarded client
addresses trusted only when configured, idle connections cut off.
"""
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis.asyncio
from Crypto.PublicKey import RSA
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.netutil import bind_sockets
from tornado.tcpclient import TCPClient

import alipay_sandbox as dev
import config as config_module
from alipay import signer
from store import auth
from store.rate_limits import RateLimiter
from tests.helpers import P, buy_now, free_port, wait_until_answers

ROOT = Path(__file__).resolve().parent.parent
S = "/v1/orders/success/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def configure(services, **changes):
    """Change this test's configuration before its first request (the limiter reads it on first use)."""
    services.config = dataclasses.replace(services.config, **changes)
    services.__dict__.pop("rate_limiter", None)


def login(api, username, password="wrong-password", headers=None):
    return api.post("/v1/tokens", json_body={"username": username, "password": password}, headers=headers)


def assert_429(status, body, headers=None):
    assert status == 429 and body["code"] == 50110, (status, body)


# ---------------------------------------------------------------- rate limits

@pytest.mark.gen_test(timeout=60)
async def test_a_login_flood_from_one_address_is_answered_429_beyond_the_limit(api, services, shop):
    configure(services, limit_login_per_ip="5/minute", limit_login_per_account="100/minute",
              max_concurrent_hashes=16)
    answers = [await login(api, f"nobody{i}") for i in range(8)]
    assert [body["code"] for _, body in answers] == [10102] * 5 + [50110] * 3
    for status, body in answers[5:]:
        assert_429(status, body)


@pytest.mark.gen_test(timeout=60)
async def test_429_carries_retry_after_in_seconds(http_server, base_url, services):
    configure(services, limit_login_per_ip="1/minute")
    client = AsyncHTTPClient(force_instance=True)
    try:
        responses = [await client.fetch(HTTPRequest(base_url + "/v1/tokens", method="POST", body=json.dumps(
            {"username": "x_user", "password": "secret123"})), raise_error=False) for _ in range(2)]
    finally:
        client.close()
    assert [r.code for r in responses] == [200, 429]
    assert "Retry-After" not in responses[0].headers
    assert 1 <= int(responses[1].headers["Retry-After"]) <= 60


@pytest.mark.gen_test(timeout=60)
async def test_logins_to_one_account_are_limited_whatever_the_address(api, services, shop):
    configure(services, limit_login_per_ip="100/minute", limit_login_per_account="3/minute")
    user = await shop.user()
    codes = [(await login(api, user["username"]))[1]["code"] for _ in range(4)]
    assert codes == [10102, 10102, 10102, 50110]
    # the right password too, once the account is over its limit; another account is not affected
    assert (await login(api, user["username"].upper(), "secret123"))[1]["code"] == 50110
    other = await shop.user()
    assert (await login(api, other["username"], "secret123"))[1]["code"] == 200


@pytest.mark.gen_test(timeout=60)
async def test_registrations_from_one_address_are_limited(api, services):
    configure(services, limit_register_per_ip="2/minute", max_concurrent_hashes=16)
    codes = [(await api.post("/v1/users", json_body={"uname": f"reg_{i}", "password": "secret123"}))[1]["code"]
             for i in range(3)]
    assert codes == [200, 200, 50110]


@pytest.mark.gen_test(timeout=60)
async def test_create_pay_and_cancel_are_limited_per_buyer(api, services, shop):
    configure(services, limit_orders_per_buyer="3/minute")
    buyer, other = await shop.user(), await shop.user()
    sku = await shop.sku(stock=10)
    status, body = await buy_now(api, buyer, sku)
    assert body["code"] == 200
    order_id = body["data"]["order_id"]
    assert (await api.post(P, json_body={"status": 1, "order_id": order_id}, token=buyer["token"]))[1]["code"] == 200
    assert (await api.post(P, json_body={"status": 2, "order_id": order_id}, token=buyer["token"]))[1]["code"] == 200
    status, body = await buy_now(api, buyer, sku)
    assert_429(status, body)
    assert (await buy_now(api, other, sku))[1]["code"] == 200  # per buyer, not per address
    rows = await shop.fetchall("SELECT order_id FROM order_info WHERE user_id=%s", buyer["id"])
    assert len(rows) == 1  # the refused create made nothing


@pytest.mark.gen_test(timeout=60)
async def test_rate_limits_0_turns_every_limit_off(api, services, shop):
    off = config_module.load(environ={"DADASHOP_RATE_LIMITS": "0"}, env_file="/nonexistent")
    assert off.rate_limits is False and config_module.load(environ={}, env_file="/nonexistent").rate_limits
    configure(services, rate_limits=False, limit_login_per_ip="1/minute", limit_login_per_account="1/minute",
              max_concurrent_hashes=16)
    codes = [(await login(api, "same_name"))[1]["code"] for _ in range(4)]
    assert codes == [10102] * 4


@pytest.mark.gen_test(timeout=30)
async def test_the_moving_window_refuses_until_the_oldest_hit_leaves_it(services):
    config = dataclasses.replace(services.config, limit_login_per_ip="2/2 second")
    limiter = RateLimiter(services.redis, config)
    assert await limiter.retry_after("login_ip", "203.0.113.9") is None
    assert await limiter.retry_after("login_ip", "203.0.113.9") is None
    wait = await limiter.retry_after("login_ip", "203.0.113.9")
    assert wait in (1, 2)
    assert await limiter.retry_after("login_ip", "203.0.113.10") is None  # another key has its own window
    await asyncio.sleep(2.1)  # the window, not a measured duration
    assert await limiter.retry_after("login_ip", "203.0.113.9") is None


@pytest.mark.gen_test(timeout=30)
async def test_a_redis_failure_in_the_limiter_lets_requests_through(services, caplog):
    dead = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    limiter = RateLimiter(dead, dataclasses.replace(services.config, limit_login_per_ip="1/minute"))
    try:
        assert [await limiter.retry_after("login_ip", "198.51.100.1") for _ in range(3)] == [None] * 3
    finally:
        await dead.aclose()
    assert "rate limits not enforced" in caplog.text


# ---------------------------------------------------------------- bounded password hashing

def wait_for_file(path, timeout=60):
    """Run in a hashing process: holds its slot until the test creates `path`."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.gen_test(timeout=90)
async def test_password_hashes_beyond_the_bound_are_refused_at_once(api, services, shop, tmp_path):
    configure(services, max_concurrent_hashes=2, rate_limits=False)
    user = await shop.user()
    release = tmp_path / "release"
    loop = asyncio.get_running_loop()
    busy = [loop.create_task(auth.HASH_SLOTS.run(2, wait_for_file, str(release))) for _ in range(2)]
    await asyncio.sleep(0)  # both slots taken
    try:
        assert auth.HASH_SLOTS.running == 2
        status, body = await login(api, user["username"], "secret123")
        assert_429(status, body)
        status, body = await api.post("/v1/users", json_body={"uname": "while_busy", "password": "secret123"})
        assert_429(status, body)
    finally:
        release.touch()
        await asyncio.gather(*busy)
    assert auth.HASH_SLOTS.running == 0
    assert (await login(api, user["username"], "secret123"))[1]["code"] == 200
    assert await shop.fetchone("SELECT id FROM user_profile WHERE username='while_busy'") is None


# ---------------------------------------------------------------- bounded input

async def raw_request(port, head: bytes, body: bytes = b"") -> bytes:
    """Send a request (maybe only the start of its body) and read what comes back until close."""
    stream = await TCPClient().connect("127.0.0.1", port)
    try:
        await stream.write(head + body)
        return await asyncio.wait_for(stream.read_until_close(), 20)
    finally:
        stream.close()


def parse_response(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.mark.gen_test(timeout=60)
async def test_a_90_mb_body_is_refused_413_before_it_is_read(http_server, http_port, services):
    # only the headers and 1 KB of the announced 90 MB are sent: the answer comes without the rest
    head = (b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 94371840\r\n\r\n")
    status, body = parse_response(await raw_request(http_port, head, b"{" + b" " * 1024))
    assert status == 413 and body["code"] == 50109 and "65536" in body["errmsg"], body


@pytest.mark.gen_test(timeout=60)
async def test_body_limits_are_per_endpoint(api, services, shop):
    user = await shop.user()
    just_under = {"username": "a" * 10, "password": "p" * 10, "pad": "x" * 60_000}
    status, body = await api.post("/v1/tokens", json_body=just_under)
    assert status == 200 and body["code"] == 10102  # read and answered as usual
    status, body = await api.post(P, json_body={"status": 0, "pad": "x" * 70_000}, token=user["token"])
    assert status == 413 and body["code"] == 50109
    # the notify endpoint takes what Alipay sends (32 KB), not more: a 1 MB field is a 413, never a 500
    status, body = await api.post(S, body=urlencode({"out_trade_no": "1", "subject": "x" * (1 << 20)}),
                                  headers=FORM)
    assert status == 413 and body["code"] == 50109 and "32768" in body["errmsg"]
    status, body = await api.post(S, body=urlencode({"out_trade_no": "1", "subject": "x" * 40_000}),
                                  headers=FORM)
    assert status == 413


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("depth", [9, 1000, 30_000])
async def test_deeply_nested_json_is_400_not_500(api, services, shop, depth):
    user = await shop.user()
    nested = "[" * (depth - 1) + "]" * (depth - 1)
    status, body = await api.post(P, body='{"status": 0, "x": %s}' % nested, token=user["token"])
    assert status == 400 and body["code"] == 50109 and "嵌套" in body["errmsg"], body


@pytest.mark.gen_test(timeout=60)
async def test_json_within_the_depth_limit_is_read(api, services, shop):
    nested = {"a": [{"b": [1, 2, {"c": []}]}]}  # 6 levels with the body itself
    status, body = await api.post("/v1/tokens", json_body={"username": "nobody", "password": "secret123",
                                                           "cart": nested})
    assert body["code"] == 10102


# ---------------------------------------------------------------- forged Alipay callbacks

async def forged_notify(api, order_id, size, ip_headers=None):
    params = {"notify_id": "forged", "app_id": dev.APP_ID, "out_trade_no": order_id, "trade_status": "TRADE_SUCCESS",
              "total_amount": "0.01", "trade_no": "2026", "sign_type": "RSA2", "sign": "AAAA",
              "body": "x" * size}
    return await api.post(S, body=urlencode(params), headers={**FORM, **(ip_headers or {})})


@pytest.mark.gen_test(timeout=90)
async def test_forged_notifies_with_huge_fields_are_kept_as_bounded_summaries(api, services, shop):
    configure(services, limit_bad_callbacks_per_ip="20/minute")
    answers = [await forged_notify(api, f"2026120100000{i:03d}", 30_000) for i in range(20)]
    assert {a for a in answers} == {(200, "fail")}
    rows = await shop.fetchall("SELECT verified, outcome, order_id, notify_id, params FROM payment_event")
    assert len(rows) == 20
    for row in rows:
        assert row["verified"] == 0 and row["outcome"] == "bad_signature" and row["notify_id"] is None
        assert len(row["params"].encode()) < 1024
        summary = json.loads(row["params"])
        assert summary["summary"] and summary["reason"] == "bad_signature"
        assert summary["client_ip"] == "127.0.0.1" and summary["out_trade_no"] == row["order_id"]
        assert summary["size"] > 30_000 and len(summary["excerpt"]) <= 256
    # past the limit: 429 and nothing more written
    status, body = await forged_notify(api, "20261201000099", 10)
    assert_429(status, body)
    assert len(await shop.fetchall("SELECT id FROM payment_event")) == 20


@pytest.mark.gen_test(timeout=60)
async def test_forged_returns_are_summarised_and_limited_too(api, services, shop):
    configure(services, limit_bad_callbacks_per_ip="2/minute")
    query = urlencode({"out_trade_no": "2026120100000001", "sign": "AAAA", "subject": "y" * 5000})
    statuses = [(await api.get(S + "?" + query))[0] for _ in range(3)]
    assert statuses == [400, 400, 429]
    rows = await shop.fetchall("SELECT source, params FROM payment_event")
    assert [r["source"] for r in rows] == ["return", "return"]
    assert all(len(r["params"]) < 1024 for r in rows)


def signed(params):
    return signer.sign_callback(params, signer.load_private_key_file(dev.ALIPAY_PRIVATE_KEY_PATH))


@pytest.mark.gen_test(timeout=60)
async def test_a_verified_notify_is_stored_whole_but_bounded(api, services, shop, sandbox):
    user = await shop.user()
    sku = await shop.sku(price="10.00")
    order = (await buy_now(api, user, sku))[1]["data"]
    base = {"notify_id": "n-big", "app_id": dev.APP_ID, "out_trade_no": order["order_id"],
            "trade_status": "TRADE_SUCCESS", "total_amount": order["total_amount"], "trade_no": "2026120122001"}
    # small enough for the endpoint, but JSON-escaped (\u0001 is six bytes) larger than the TEXT column
    status, body = await api.post(S, body=urlencode(signed(dict(base, body="\x01" * 10_500))), headers=FORM)
    assert (status, body) == (200, "success")
    row = await shop.fetchone("SELECT outcome, params FROM payment_event WHERE notify_id='n-big'")
    assert row["outcome"] == "paid" and len(row["params"].encode()) <= 60_000
    assert json.loads(row["params"])["truncated"] is True
    # a statement of normal size is stored exactly as sent
    small = dict(base, notify_id="n-small", out_trade_no="nosuchorder")
    assert (await api.post(S, body=urlencode(signed(small)), headers=FORM))[1] == "fail"
    # (an order not visible yet is kept without its notify_id, so that Alipay's resend is applied)
    row = await shop.fetchone("SELECT params FROM payment_event WHERE order_id='nosuchorder'")
    assert json.loads(row["params"]) == signed(small)


@pytest.mark.gen_test(timeout=60)
async def test_a_verified_notify_with_overlong_ids_is_refused_not_500(api, services, shop, sandbox):
    params = signed({"notify_id": "n" * 300, "app_id": dev.APP_ID, "out_trade_no": "1" * 100,
                     "trade_status": "TRADE_SUCCESS", "total_amount": "1.00", "trade_no": "2" * 100})
    status, body = await api.post(S, body=urlencode(params), headers=FORM)
    assert (status, body) == (200, "fail")
    row = await shop.fetchone("SELECT outcome, order_id, notify_id FROM payment_event")
    assert row["outcome"] == "malformed" and len(row["order_id"]) == 64 and row["notify_id"] is None


# ---------------------------------------------------------------- the HTTP server's own settings

async def serve_app(app, config):
    import server
    http = server.make_http_server(app, config)
    sockets = bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    return http, sockets[0].getsockname()[1]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("trust_proxy", [False, True])
async def test_x_forwarded_for_counts_only_when_a_proxy_is_configured(app, services, trust_proxy):
    configure(services, limit_login_per_ip="2/minute", limit_login_per_account="100/minute", trust_proxy=trust_proxy)
    http, port = await serve_app(app, services.config)
    client = AsyncHTTPClient(force_instance=True)
    try:
        codes = []
        for i in range(4):  # each claims another address
            response = await client.fetch(HTTPRequest(
                f"http://127.0.0.1:{port}/v1/tokens", method="POST",
                headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"203.0.113.{i}"},
                body=json.dumps({"username": f"n{i}", "password": "secret123"})), raise_error=False)
            codes.append(json.loads(response.body)["code"])
    finally:
        client.close()
        http.stop()
        await http.close_all_connections()
    assert codes == ([10102] * 4 if trust_proxy else [10102, 10102, 50110, 50110])


@pytest.mark.gen_test(timeout=60)
async def test_idle_connections_are_closed(app, services):
    configure(services, idle_connection_timeout=0.3)
    http, port = await serve_app(app, services.config)
    try:
        stream = await TCPClient().connect("127.0.0.1", port)
        # says nothing: the server hangs up (Tornado's default would wait an hour)
        assert await asyncio.wait_for(stream.read_until_close(), 20) == b""
    finally:
        http.stop()
        await http.close_all_connections()


@pytest.mark.gen_test(timeout=60)
async def test_a_body_that_never_arrives_is_given_up(app, services):
    configure(services, body_timeout=0.3)
    http, port = await serve_app(app, services.config)
    try:
        head = b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        assert await raw_request(port, head, b"{") == b""  # no answer, the connection closed
    finally:
        http.stop()
        await http.close_all_connections()


def test_settings_come_from_the_environment():
    loaded = config_module.load(environ={
        "DADASHOP_LIMIT_LOGIN_PER_IP": "7/minute;70/hour", "DADASHOP_MAX_CONCURRENT_HASHES": "3",
        "DADASHOP_MAX_BODY_BYTES": "10000", "DADASHOP_IDLE_TIMEOUT": "5", "DADASHOP_TRUST_PROXY": "1",
        "DADASHOP_BIND": "127.0.0.1"}, env_file="/nonexistent")
    assert (loaded.limit_login_per_ip, loaded.max_concurrent_hashes, loaded.max_body_bytes,
            loaded.idle_connection_timeout, loaded.trust_proxy, loaded.bind) == (
        "7/minute;70/hour", 3, 10000, 5.0, True, "127.0.0.1")
    for bad in ({"DADASHOP_LIMIT_ORDERS_PER_BUYER": "lots"}, {"DADASHOP_TRUST_PROXY": "maybe"},
                {"DADASHOP_BODY_TIMEOUT": "0"}):
        with pytest.raises(config_module.ConfigError):
            config_module.load(environ=bad, env_file="/nonexistent")


# ---------------------------------------------------------------- secure start-up

PRODUCTION = "https://openapi.alipay.com/gateway.do"


def run_server(env_changes):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("DADASHOP_") or k.startswith("ALIPAY_"))}
    env.update(env_changes)
    return subprocess.run([sys.executable, "server.py", "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_outside_the_sandbox_the_server_refuses_development_secrets(tmp_path):
    # a copy of the sandbox key under another name is still the sandbox key
    copied = tmp_path / "alipay_public.pem"
    copied.write_text(Path(dev.ALIPAY_PUBLIC_KEY_PATH).read_text())
    finished = run_server({"ALIPAY_GATEWAY": PRODUCTION, "ALIPAY_PUBLIC_KEY": str(copied)})
    assert finished.returncode == 1
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4, finished.stderr
    for name in ("DADASHOP_JWT_SECRET", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY", "DADASHOP_ADMIN_KEY"):
        assert sum(name in line for line in errors) == 1, (name, errors)
    assert "migration" not in finished.stderr  # refused before touching the database


def test_only_the_remaining_problem_is_named(tmp_path):
    private, public = tmp_path / "app_private.pem", tmp_path / "alipay_public.pem"
    private.write_bytes(RSA.generate(2048).export_key())
    public.write_bytes(RSA.generate(2048).publickey().export_key())
    finished = run_server({"ALIPAY_GATEWAY": PRODUCTION, "ALIPAY_APP_PRIVATE_KEY": str(private),
                           "ALIPAY_PUBLIC_KEY": str(public), "DADASHOP_JWT_SECRET": "a-real-secret-" + "x" * 32,
                           "DADASHOP_MYSQL_URL": "mysql://root:@127.0.0.1:1/none"})
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error: ")]
    assert finished.returncode == 1 and len(errors) == 1 and "DADASHOP_ADMIN_KEY" in errors[0], finished.stderr


def test_own_keys_and_secrets_pass_and_the_sandbox_is_never_refused(tmp_path):
    private, public = tmp_path / "app_private.pem", tmp_path / "alipay_public.pem"
    private.write_bytes(RSA.generate(2048).export_key())
    public.write_text(RSA.generate(2048).publickey().export_key().decode())
    own = config_module.load(environ={"ALIPAY_GATEWAY": PRODUCTION, "ALIPAY_APP_PRIVATE_KEY": str(private),
                                      "ALIPAY_PUBLIC_KEY": str(public), "DADASHOP_JWT_SECRET": "s" * 40,
                                      "DADASHOP_ADMIN_KEY": "k" * 24}, env_file="/nonexistent")
    assert config_module.check_safe_for_production(own) == []
    for gateway in (dev.DEFAULT_GATEWAY, "http://127.0.0.1:8097/gateway.do", "http://localhost:9/gateway.do"):
        sandbox = config_module.load(environ={"ALIPAY_GATEWAY": gateway}, env_file="/nonexistent")
        assert config_module.check_safe_for_production(sandbox) == []


@pytest.mark.gen_test(timeout=60)
async def test_hashes_run_in_processes_of_their_own_at_the_lowest_priority(services):
    assert await auth.HASH_SLOTS.run(2, os.getpid) != os.getpid()  # no GIL shared with the event loop
    assert await auth.HASH_SLOTS.run(2, os.nice, 0) == auth.HASH_PROCESS_NICENESS
    stored = await auth.hash_password_async("secret123")
    assert await auth.check_password_async("secret123", stored) and not await auth.check_password_async("x", stored)


def test_the_listen_address_is_a_setting(server_db, redis_url):
    import socket
    port = free_port()
    env = dict(os.environ, DADASHOP_MYSQL_URL=server_db, DADASHOP_REDIS_URL=redis_url, DADASHOP_PORT=str(port),
               DADASHOP_BIND="127.0.0.2")  # loopback too, but not 127.0.0.1
    proc = subprocess.Popen([sys.executable, "server.py", "--no-jobs"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answers(f"http://127.0.0.2:{port}/v1/goods/skus", proc)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.gen_test(timeout=30)
async def test_a_malformed_notify_body_is_a_fail_not_a_500(api, services):
    for content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        status, body = await api.post(S, body=b"\xff\xfe=%%%", headers={"Content-Type": content_type})
        assert (status, body) == (200, "fail")


@pytest.mark.gen_test(timeout=60)
async def test_a_frozen_redis_in_the_limiter_lets_requests_through(services, tmp_path):
    import shutil
    import signal
    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        for _ in range(100):
            try:
                await client.ping()
                break
            except redis.RedisError:
                await asyncio.sleep(0.1)
        limiter = RateLimiter(client, dataclasses.replace(services.config, limit_login_per_ip="1/minute"))
        assert await limiter.retry_after("login_ip", "192.0.2.1") is None
        assert await limiter.retry_after("login_ip", "192.0.2.1") is not None  # counting works
        server.send_signal(signal.SIGSTOP)  # Redis hangs: the limiter gives up and lets the request through
        assert await limiter.retry_after("login_ip", "192.0.2.1") is None
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(10)
        await client.aclose()


@pytest.mark.gen_test(timeout=60)
async def test_nagle_stays_off_on_a_keep_alive_connection_and_answers_are_whole(app, services):
    """Tornado turns TCP_NODELAY on for the end of every answer and off after it (two setsockopt
    calls a request); our server sets it once per connection and leaves it."""
    import re
    import socket
    http, port = await serve_app(app, services.config)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # one keep-alive connection
    try:
        for _ in range(3):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            assert json.loads(await reader.readexactly(length)) == {"code": 200, "data": {"status": "alive"}}
            await asyncio.sleep(0.05)  # the server has finished the request: Tornado would have reset it
            [conn] = http._connections
            assert conn.stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        writer.close()
        http.stop()
        await http.close_all_connections()
