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
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

import config as config_module
import db
import jobs
import redis_client as redis_client_module
from alipay.client import AlipayClient
from handlers.addresses import AddressHandler, AddressListHandler
from handlers.admin import AdminOrderHandler, AdminOrderListHandler, ShipOrderHandler
from handlers.base import NotFoundHandler
from handlers.carts import CartHandler
from handlers.goods import (GoodsDetailHandler, GoodsIndexHandler, GoodsSkuHandler, SkuHandler, SkuListHandler,
                            SpuHandler, SpuListHandler)
from handlers.orders import OrderProcessingHandler, PayLinkHandler
from handlers.openapi import SWAGGER_UI_DIR, DocsHandler, OpenApiHandler
from handlers.payments import PaymentResultHandler
from handlers.urls import ORDER_ID, PAY_LINK, PAYMENT_RESULT
from handlers.users import TokensHandler, UsersHandler
from store.services import Services

log = logging.getLogger("dadashop")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
USERNAME = r"([A-Za-z0-9_]{1,32})"


class App(tornado.web.Application):
    """The routes, over the resources one process shares (`services`)."""

    def __init__(self, services, **settings):
        self.services = services
        self.in_flight = 0  # requests being answered, so that a graceful shutdown can wait for them
        routes = [
            (r"/v1/users/?", UsersHandler),
            (r"/v1/tokens/?", TokensHandler),
            (rf"/v1/users/{USERNAME}/address/?", AddressListHandler),
            (rf"/v1/users/{USERNAME}/address/(\d{{1,10}})/?", AddressHandler),
            (r"/v1/goods/skus/?", SkuListHandler),
            (r"/v1/goods/skus/(\d{1,10})/?", SkuHandler),
            (r"/v1/goods/spus/?", SpuListHandler),
            (r"/v1/goods/spus/(\d{1,10})/?", SpuHandler),
            (r"/v1/goods/index/?", GoodsIndexHandler),  # the original pages' catalog
            (r"/v1/goods/detail/(\d{1,10})/?", GoodsDetailHandler),
            (r"/v1/goods/sku/?", GoodsSkuHandler),
            (rf"/v1/carts/{USERNAME}/?", CartHandler),
            (r"/v1/orders/processing/?", OrderProcessingHandler),
            (PAYMENT_RESULT + "?", PaymentResultHandler),
            (PAY_LINK.format(f"({ORDER_ID})"), PayLinkHandler),
            (r"/v1/admin/orders/?", AdminOrderListHandler),
            (rf"/v1/admin/orders/({ORDER_ID})/?", AdminOrderHandler),
            (rf"/v1/admin/orders/({ORDER_ID})/ship/?", ShipOrderHandler),
            (r"/openapi.json", OpenApiHandler),
            (r"/docs/?", DocsHandler),
            (r"/docs/static/(.*)", tornado.web.StaticFileHandler, {"path": SWAGGER_UI_DIR}),
            (r"/", tornado.web.RedirectHandler, {"url": "/static/index.html"}),
        ]
        super().__init__(routes, static_path=STATIC_DIR, default_handler_class=NotFoundHandler, **settings)


def make_alipay_client(config):
    return AlipayClient.from_files(config.alipay_app_id, config.alipay_app_private_key, config.alipay_public_key,
                                   config.alipay_gateway, seller_id=config.alipay_seller_id)


async def open_services(config) -> Services:
    """This process's pools and clients (after the fork: each worker has its own)."""
    pool = await db.create_pool(config.mysql, maxsize=config.mysql_pool_size)
    redis_client = await redis_client_module.connect(config.redis_url)
    return Services(pool=pool, redis=redis_client, alipay=make_alipay_client(config), config=config)


async def close_services(services):
    """Let work started after responses finish, then close the pools."""
    await services.wait_for_tasks()
    services.pool.close()
    await services.pool.wait_closed()
    await services.redis.aclose()


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
        redis_client_module.ping(config.redis_url)
    except redis.RedisError as exc:
        raise SystemExit(f"error: cannot reach Redis at {config.redis_url}: {exc}\n"
                         "Is it running? Set DADASHOP_REDIS_URL to point elsewhere.")


def make_http_server(app, config):
    """The HTTP server with its bounds (issue 12): bodies never larger than the largest endpoint limit
    (each handler sets its own lower one before reading), idle keep-alive connections and slow bodies
    cut off, and forwarded client addresses believed only when a proxy is configured."""
    return tornado.httpserver.HTTPServer(
        app, xheaders=config.trust_proxy, max_body_size=max(config.max_body_bytes, config.max_notify_bytes),
        idle_connection_timeout=config.idle_connection_timeout, body_timeout=config.body_timeout)


def refuse_unsafe_configuration(config):
    """Outside the local sandbox, exit naming each development secret still in use (one line each)."""
    problems = config_module.check_safe_for_production(config)
    if problems:
        raise SystemExit("\n".join(f"error: {problem}" for problem in problems)
                         + f"\nrefusing to start with ALIPAY_GATEWAY={config.alipay_gateway}")


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
    services = await open_services(config)
    app = App(services)
    server = make_http_server(app, config)
    server.add_sockets(sockets)
    background = jobs.start(services) if run_jobs else None
    await stop.wait()

    log.info("pid %d: stopping; finishing requests in flight", os.getpid())
    server.stop()  # no new connections
    if background:
        await background.stop()
    deadline = time.monotonic() + 30
    while app.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await server.close_all_connections()
    await close_services(services)
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
    refuse_unsafe_configuration(config)
    check_services(config)
    if args.demo:
        import demo
        asyncio.run(demo.load(config))
    sockets = tornado.netutil.bind_sockets(config.port, address=config.bind or None)
    processes = args.processes if args.processes > 0 else (os.cpu_count() or 1)
    log.info("serving on http://127.0.0.1:%d with %d process(es)", config.port, processes)
    if processes > 1 and not fork_workers(processes):
        return
    asyncio.run(serve(config, sockets, run_jobs=not args.no_jobs))


if __name__ == "__main__":
    main()
