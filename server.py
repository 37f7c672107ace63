"""dadashop orders: the HTTP service. `python server.py [--demo] [--port N] [--processes N]`.

Start-up: read configuration, check that MariaDB and Redis answer (a clear message and exit 1
when not), apply the schema migrations, optionally load the demo store, bind the port, fork
workers; each worker then opens its own pools and serves until SIGTERM/SIGINT, when it stops
accepting, lets in-flight requests finish and closes its pools.
"""
import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
import time

import pymysql
import redis
import redis.asyncio
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

import config as config_module
import db
import jobs
import store.orders
from alipay.client import AlipayClient
from handlers.addresses import AddressHandler, AddressListHandler
from handlers.admin import ShipOrderHandler
from handlers.base import NotFoundHandler
from handlers.carts import CartHandler
from handlers.goods import SkuHandler, SkuListHandler
from handlers.orders import OrderProcessingHandler, PayLinkHandler
from handlers.payments import PaymentResultHandler
from handlers.users import TokensHandler, UsersHandler

log = logging.getLogger("dadashop")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
USERNAME = r"([A-Za-z0-9_]{1,32})"


class App(tornado.web.Application):
    """The application and the resources one process shares: pools, clients, configuration."""

    def __init__(self, config, db_pool, redis_client, alipay, **settings):
        self.config = config
        self.db = db_pool
        self.redis = redis_client
        self.alipay = alipay
        self.in_flight = 0
        self._tasks = set()
        self._user_ids = {}  # username -> id; users are never deleted or renamed, so this never goes stale
        # transactions clear sold-out marks and list caches through this process's client
        store.orders.redis_marks.redis = redis_client
        routes = [
            (r"/v1/users/?", UsersHandler),
            (r"/v1/tokens/?", TokensHandler),
            (rf"/v1/users/{USERNAME}/address/?", AddressListHandler),
            (rf"/v1/users/{USERNAME}/address/(\d{{1,10}})/?", AddressHandler),
            (r"/v1/goods/skus/?", SkuListHandler),
            (r"/v1/goods/skus/(\d{1,10})/?", SkuHandler),
            (rf"/v1/carts/{USERNAME}/?", CartHandler),
            (r"/v1/orders/processing/?", OrderProcessingHandler),
            (r"/v1/orders/success/?", PaymentResultHandler),
            (r"/v1/orders/([A-Za-z0-9_]{1,64})/alipay", PayLinkHandler),
            (r"/v1/admin/orders/([A-Za-z0-9_]{1,64})/ship/?", ShipOrderHandler),
            (r"/", tornado.web.RedirectHandler, {"url": "/static/index.html"}),
        ]
        super().__init__(routes, static_path=STATIC_DIR, default_handler_class=NotFoundHandler, **settings)

    def spawn(self, coroutine):
        """Run work after the response, keeping a reference so the task is not collected midway."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_for_tasks(self, timeout=30):
        """Let work started after responses (e.g. a refund) finish before the pools close."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def user_id_of(self, username):
        user_id = self._user_ids.get(username)
        if user_id is None:
            async with self.db.acquire() as conn:
                user = await db.Q.get_user_by_name(conn, username=username)
            if user is None:
                return None
            if len(self._user_ids) > 200_000:
                self._user_ids.clear()
            user_id = self._user_ids[username] = user["id"]
        return user_id


def make_alipay_client(config):
    return AlipayClient.from_files(config.alipay_app_id, config.alipay_app_private_key, config.alipay_public_key,
                                   config.alipay_gateway, seller_id=config.alipay_seller_id)


async def open_resources(config, *, pool_size=None):
    pool = await db.create_pool(config.mysql, maxsize=pool_size or config.mysql_pool_size)
    redis_client = redis.asyncio.Redis.from_url(config.redis_url, decode_responses=True)
    return pool, redis_client


async def close_resources(pool, redis_client):
    pool.close()
    await pool.wait_closed()
    await redis_client.aclose()


def check_services(config):
    """Fail fast, with the URL, when MariaDB or Redis does not answer; apply migrations."""
    try:
        applied = db.apply_migrations(config.mysql)
    except pymysql.err.OperationalError as exc:
        raise SystemExit(f"error: cannot use MySQL/MariaDB at {config.mysql.url}: {exc.args[-1]}\n"
                         "Is it running? Set DADASHOP_MYSQL_URL to point elsewhere.")
    for name in applied:
        log.info("migration applied: %s", name)
    try:
        client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise SystemExit(f"error: cannot reach Redis at {config.redis_url}: {exc}\n"
                         "Is it running? Set DADASHOP_REDIS_URL to point elsewhere.")


async def serve(config, sockets, *, run_jobs=True):
    """One worker: open pools, serve on the inherited sockets until told to stop, then drain."""
    # signals first: a SIGTERM during start-up still means "stop once ready", not "die midway"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Alipay calls share the IOLoop's client; 10 connections at once (Tornado's default) would
    # queue reconciliation and refunds behind each other
    tornado.httpclient.AsyncHTTPClient.configure(None, max_clients=100)
    pool, redis_client = await open_resources(config)
    app = App(config, pool, redis_client, make_alipay_client(config))
    server = tornado.httpserver.HTTPServer(app, xheaders=True)
    server.add_sockets(sockets)
    background = jobs.start(app) if run_jobs else None
    await stop.wait()

    log.info("pid %d: stopping; finishing requests in flight", os.getpid())
    server.stop()  # no new connections
    if background:
        await background.stop()
    deadline = time.monotonic() + 30
    while app.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await server.close_all_connections()
    await app.wait_for_tasks()
    await close_resources(pool, redis_client)
    log.info("pid %d: stopped", os.getpid())


def fork_workers(count):
    """Fork `count` workers sharing the listening sockets; the parent forwards signals and waits.

    Returns in each child (True); the parent returns False once every child has exited.
    """
    children = set()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            return True
        children.add(pid)

    def forward(signum, _frame):
        for child in list(children):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM, -signal.SIGINT):
            status = 1
            log.error("worker %d exited with %s", pid, os.waitstatus_to_exitcode(code))
    if status:
        sys.exit(status)
    return False


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="dadashop order service")
    parser.add_argument("--port", type=int, help="HTTP port (default: DADASHOP_PORT or 8000)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes; 0 = one per core")
    parser.add_argument("--demo", action="store_true", help="load the demo store when the catalog is empty")
    parser.add_argument("--no-jobs", action="store_true", help="do not run the background jobs in this server")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = config_module.load()
    except config_module.ConfigError as exc:
        raise SystemExit(f"error: {exc}")
    if args.port:
        config = dataclasses.replace(config, port=args.port)
    config_module.warn_about_development_values(config)
    check_services(config)
    if args.demo:
        import demo
        asyncio.run(demo.load(config))
    sockets = tornado.netutil.bind_sockets(config.port, address=os.environ.get("DADASHOP_BIND", ""))
    processes = args.processes if args.processes > 0 else (os.cpu_count() or 1)
    log.info("serving on http://127.0.0.1:%d with %d process(es)", config.port, processes)
    if processes > 1 and not fork_workers(processes):
        return
    asyncio.run(serve(config, sockets, run_jobs=not args.no_jobs))


if __name__ == "__main__":
    main()
