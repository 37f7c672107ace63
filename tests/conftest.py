"""Test harness: real MariaDB and Redis, isolated per run.

Each pytest run creates its own database (dropped at the end) and takes a Redis database index
of its own (locked in db 0, flushed before and after), so a run never touches other data and two
runs can share a machine. pytest-tornado gives each test a fresh IOLoop, so pools and the Alipay
sandbox are opened per test inside it.
"""
import dataclasses
import json
import os
import uuid
from decimal import Decimal

import pymysql
import pytest
import redis
import redis.asyncio
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

import config as config_module
import db
from db import Q
from store.auth import hash_password, make_token

from tests.helpers import ADMIN_KEY, PASSWORD, REDIS_URL, mysql_url_of

PASSWORD_HASH = hash_password(PASSWORD)  # once per run: scrypt is slow on purpose


@pytest.fixture(scope="session")
def database_url():
    name = f"dadashop_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = mysql_url_of(name)
    target = config_module.parse_mysql_url(url)
    db.apply_migrations(target)  # creates the database too
    yield url
    db.drop_database(target)


@pytest.fixture
def server_db(database_url):
    """A database of its own for a server process the test starts (created by it, dropped here)."""
    url = database_url + "_proc"
    yield url
    db.drop_database(config_module.parse_mysql_url(url))


@pytest.fixture(scope="session")
def redis_url():
    """A Redis database index (1..15) no other test run holds, flushed before and after."""
    lock_client = redis.Redis.from_url(REDIS_URL + "/0")
    token = uuid.uuid4().hex
    for index in range(1, 16):
        if lock_client.set(f"dadashop:test-run-lock:{index}", token, nx=True, ex=6 * 3600):
            break
    else:
        pytest.exit("no free Redis database index for the tests (1..15 all locked by other runs)")
    url = f"{REDIS_URL}/{index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
    if lock_client.get(f"dadashop:test-run-lock:{index}") == token.encode():
        lock_client.delete(f"dadashop:test-run-lock:{index}")
    lock_client.close()


@pytest.fixture
def sandbox(io_loop):
    from alipay_sandbox import start_sandbox
    box = io_loop.run_sync(lambda: start_sandbox(port=0, notify_scale=0.0005))
    yield box
    io_loop.run_sync(box.aclose)


@pytest.fixture
def config(database_url, redis_url, sandbox, http_port):
    return dataclasses.replace(
        config_module.load(environ={}, env_file="/nonexistent"),
        mysql_url=database_url, redis_url=redis_url, admin_key=ADMIN_KEY,
        public_url=f"http://127.0.0.1:{http_port}",
        alipay_gateway=sandbox.gateway_url, mysql_pool_size=40, sweep_interval=3600)


def clean_database(url):
    target = config_module.parse_mysql_url(url)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                           database=target.db, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
                        " AND table_type = 'BASE TABLE'", (target.db,))  # sequences cannot be emptied
            tables = [row[0] for row in cur.fetchall() if row[0] != "schema_version"]
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            for table in tables:
                cur.execute(f"DELETE FROM `{table}`")
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")
    finally:
        conn.close()


@pytest.fixture
def services(io_loop, config):
    """The process's resources (pools, clients, configuration) over emptied data, bound to this test's IOLoop."""
    import server
    clean_database(config.mysql_url)
    redis.Redis.from_url(config.redis_url).flushdb()
    made = io_loop.run_sync(lambda: server.open_services(config))
    yield made
    io_loop.run_sync(lambda: server.close_services(made))


@pytest.fixture
def app(services):
    """The real application (pytest-tornado serves it on `http_port`)."""
    import server
    return server.App(services)


class Api:
    """A tiny JSON client for the app under test: returns (http_status, parsed body)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.client = AsyncHTTPClient(force_instance=True, max_clients=400)

    async def request(self, method, path, *, json_body=None, body=None, token=None, headers=None, params=None):
        url = self.base_url + path
        if params:
            from urllib.parse import urlencode
            url += ("&" if "?" in url else "?") + urlencode(params)
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = token
        if json_body is not None:
            body = json.dumps(json_body)
        if method in ("POST", "PUT") and body is None:
            body = ""
        request = HTTPRequest(url, method=method, body=body, headers=all_headers, request_timeout=120,
                              follow_redirects=False, allow_nonstandard_methods=True)
        response = await self.client.fetch(request, raise_error=False)
        text = response.body.decode() if response.body else ""
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return response.code, parsed

    async def get(self, path, **kw):
        return await self.request("GET", path, **kw)

    async def post(self, path, **kw):
        return await self.request("POST", path, **kw)

    async def put(self, path, **kw):
        return await self.request("PUT", path, **kw)

    async def delete(self, path, **kw):
        return await self.request("DELETE", path, **kw)


@pytest.fixture
def api(http_server, base_url):
    client = Api(base_url)
    yield client
    client.client.close()


class Shop:
    """Factories that write test data straight into the test database (fast, no scrypt per user)."""

    def __init__(self, services):
        self.services = services
        self.pool = services.pool
        self.counter = 0

    def unique(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}_{uuid.uuid4().hex[:4]}"

    async def user(self, username=None, *, with_address=True):
        username = username or self.unique("u")
        async with self.pool.acquire() as conn:
            user_id = await Q.create_user(conn, username=username, password_hash=PASSWORD_HASH, email="", phone="")
            address_id = None
            if with_address:
                address_id = await Q.add_address(conn, user_id=user_id, receiver="张三", receiver_mobile="13600000000",
                                                 address="北京市东城区珍贝大厦", postcode="100010", tag="家",
                                                 is_default=1)
        return {"id": user_id, "username": username, "address_id": address_id,
                "token": make_token(username, self.services.config.jwt_secret, user_id=user_id)}

    async def sku(self, *, price="100.00", stock=10, launched=True, attrs=(("颜色", "红色"),), name=None):
        async with self.pool.acquire() as conn:
            spu_id = await Q.create_spu(conn, name=name or self.unique("spu"), caption="")
            sku_id = await Q.create_sku(conn, spu_id=spu_id, name=name or self.unique("商品"), caption="",
                                        price=Decimal(price), stock=stock, is_launched=int(launched),
                                        default_image_url="x.svg")
            for sort, (attr, value) in enumerate(attrs):
                attr_id = await Q.create_spu_sale_attr(conn, spu_id=spu_id, name=attr, sort=sort)
                await Q.create_sale_attr_value(conn, sku_id=sku_id, spu_sale_attr_id=attr_id, name=value)
        return sku_id

    async def put_in_cart(self, user, sku_id, count=1, selected=1):
        await self.services.redis.hset(f"cart_{user['id']}", str(sku_id),
                                       json.dumps({"count": count, "selected": selected}))

    async def fetchone(self, sql, *args):
        async with self.pool.acquire() as conn:
            async with conn.cursor(db.aiomysql.DictCursor) as cur:
                await cur.execute(sql, args)
                return await cur.fetchone()

    async def fetchall(self, sql, *args):
        async with self.pool.acquire() as conn:
            async with conn.cursor(db.aiomysql.DictCursor) as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall())  # aiomysql gives () for no rows

    async def execute(self, sql, *args):
        async with self.pool.acquire() as conn:
            async with conn.cursor() as cur:
                return await cur.execute(sql, args)


@pytest.fixture
def shop(services):
    return Shop(services)
