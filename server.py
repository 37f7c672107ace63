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
import shutil
import signal
import socket
import sys
import time

import pymysql
import redis
import redis.asyncio.retry
import redis.backoff
import tornado.httpclient
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
import uvloop

import config as config_module
import db
import jobs
import logs
import metrics
import redis_client as redis_client_module
from alipay.client import AlipayClient
from handlers.addresses import AddressHandler, AddressListHandler
from handlers.admin import AdminOrderHandler, AdminOrderListHandler, ShipOrderHandler
from handlers.base import NotFoundHandler
from handlers.carts import CartHandler
from handlers.goods import (GoodsDetailHandler, GoodsIndexHandler, GoodsSkuHandler, SkuHandler, SkuListHandler,
                            SpuHandler, SpuListHandler)
from handlers.health import HealthHandler, MetricsHandler, ReadyHandler
from handlers.orders import OrderProcessingHandler, PayLinkHandler
from handlers.openapi import SWAGGER_UI_DIR, DocsHandler, OpenApiHandler
from handlers.payments import PaymentResultHandler
from handlers.urls import ORDER_ID, PAY_LINK, PAYMENT_RESULT
from handlers.users import TokensHandler, UsersHandler
from store.create_order import BEST_EFFORT_TASK
from store.services import Services

log = logging.getLogger("dadashop")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
USERNAME = r"([A-Za-z0-9_]{1,32})"


class App(tornado.web.Application):
    """The routes, over the resources one process shares (`services`)."""

    def __init__(self, services, **settings):
        self.services = services
        self.in_flight = 0  # requests being answered, so that a graceful shutdown can wait for them
        self.draining = False  # set on SIGTERM: /readyz answers 503 from then on
        routes = [
            # Tornado tries the patterns in order, one regex each: the flash-sale path first
            (r"/v1/orders/processing/?", OrderProcessingHandler),
            (r"/healthz", HealthHandler),
            (r"/readyz", ReadyHandler),
            (r"/metrics", MetricsHandler),
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
        settings.setdefault("log_function", logs.log_request)
        super().__init__(routes, static_path=STATIC_DIR, default_handler_class=NotFoundHandler, **settings)


def make_alipay_client(config):
    return AlipayClient.from_files(config.alipay_app_id, config.alipay_app_private_key, config.alipay_public_key,
                                   config.alipay_gateway, seller_id=config.alipay_seller_id,
                                   observe=metrics.alipay_call)


async def open_services(config) -> Services:
    """This process's pools and clients (after the fork: each worker has its own).

    Every wait on MariaDB and Redis is bounded (config: *_timeout), so a dependency that is down
    or frozen gives a quick 503, never a hang; both pools heal by themselves when it is back.
    """
    pool = await db.create_pool(config.mysql, maxsize=config.mysql_pool_size,
                                connect_timeout=config.mysql_connect_timeout,
                                statement_timeout=config.mysql_statement_timeout)
    return Services(pool=pool, redis=await make_redis_client(config), alipay=make_alipay_client(config),
                    config=config)


async def make_redis_client(config):
    options = dict(socket_timeout=config.redis_timeout, socket_connect_timeout=config.redis_timeout,
                   # a pooled connection idle this long is pinged before use: a Redis restarted
                   # meanwhile costs a reconnect, not a failed request
                   health_check_interval=5)
    if not redis_client_module.is_cluster(config.redis_url):  # a cluster client retries by its own rules
        # one immediate retry on a fresh connection when a pooled one turns out dead; none after
        # a timeout (a frozen Redis would only double the wait)
        options["retry"] = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 1,
                                                     supported_errors=(redis.ConnectionError,))
    return await redis_client_module.connect(config.redis_url, **options)


async def close_services(services, *, timeout=30):
    """Let work started after responses finish (at most `timeout` seconds), then close the pools."""
    for task in list(services.tasks):  # retries of best-effort steps: not worth delaying a shutdown
        if task.get_name() == BEST_EFFORT_TASK:
            task.cancel()
    await services.wait_for_tasks(timeout=timeout)
    for task in list(services.tasks):  # still running past the timeout: nothing may use the pools after this
        task.cancel()
    services.pool.close()
    try:
        await asyncio.wait_for(services.pool.wait_closed(), 1)
    except TimeoutError:  # a connection never given back (a request cut off mid-way): close it anyway
        services.pool.terminate()
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


class DrainingHTTPServer(tornado.httpserver.HTTPServer):
    """An HTTPServer that knows which keep-alive connections are idle, so that a shutdown loses no
    request: a busy connection answers its request with `Connection: close` and closes; an idle
    one is closed once it has stayed idle IDLE_GRACE (a request already on its way still gets in)."""

    def initialize(self, *args, **kwargs):
        super().initialize(*args, **kwargs)
        self.draining_since = None
        self.request_conns = {}  # server connection -> the HTTP1Connection reading its next request
        self.idle_since = {}     # server connection -> when it last finished a response (absent: busy)

    def handle_stream(self, stream, address):
        # Tornado turns Nagle's algorithm off at the end of every answer and on again once it is
        # written: two setsockopt calls a request. Every answer is written in one go, so Nagle
        # has nothing to gather: it is turned off once, for the whole connection.
        stream.set_nodelay(True)
        stream.set_nodelay = _leave_nodelay_on
        super().handle_stream(stream, address)

    def start_request(self, server_conn, request_conn):
        self.request_conns[server_conn] = request_conn
        self.idle_since[server_conn] = time.monotonic()
        return _WatchRequest(self, server_conn, request_conn, super().start_request(server_conn, request_conn))

    def on_close(self, server_conn):
        self.request_conns.pop(server_conn, None)
        self.idle_since.pop(server_conn, None)
        super().on_close(server_conn)

    def start_draining(self):
        self.draining_since = time.monotonic()
        for server_conn, request_conn in self.request_conns.items():
            if server_conn not in self.idle_since:
                close_after_this_answer(request_conn)

    def close_idle_connections(self):
        now = time.monotonic()
        for server_conn, since in list(self.idle_since.items()):
            if now - max(since, self.draining_since) >= IDLE_GRACE and not has_unread_bytes(server_conn.stream):
                server_conn.stream.close()

    @property
    def open_connections(self):
        return len(self._connections)


def _leave_nodelay_on(value):
    pass


def has_unread_bytes(stream):
    """A request may have arrived that this (busy) process has not read yet: not idle after all."""
    if stream.closed():
        return False
    if stream._read_buffer_size:
        return True
    try:
        return bool(stream.socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False


def close_after_this_answer(request_conn):
    # Tornado's own switch for "not keep-alive": the answer then carries `Connection: close`
    # (HTTP/1.1) and the connection is closed once it is written
    request_conn._disconnect_on_finish = True


class _WatchRequest(tornado.httputil.HTTPMessageDelegate):
    """Passes a request through, noting on its first bytes that its connection is busy."""

    def __init__(self, server, server_conn, request_conn, delegate):
        self.server, self.server_conn, self.request_conn, self.delegate = server, server_conn, request_conn, delegate

    def headers_received(self, start_line, headers):
        self.server.idle_since.pop(self.server_conn, None)
        if self.server.draining_since is not None:
            close_after_this_answer(self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        return self.delegate.finish()

    def on_connection_close(self):
        return self.delegate.on_connection_close()


IDLE_GRACE = 1.0  # seconds an idle keep-alive connection may still send a request once draining


def make_http_server(app, config):
    """The HTTP server with its bounds (issue 12): bodies never larger than the largest endpoint limit
    (each handler sets its own lower one before reading), idle keep-alive connections and slow bodies
    cut off, and forwarded client addresses believed only when a proxy is configured."""
    return DrainingHTTPServer(
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
    log.info("pid %d: serving", os.getpid())
    await stop.wait()
    await drain(config, app, server, background)


async def drain(config, app, server, background):
    """Stop taking work, answer every request in flight, close every connection, then the pools;
    all within config.drain_time (docs/faults.md)."""
    deadline = time.monotonic() + config.drain_time
    # the last part of the drain time is kept for handlers cut off from their clients, and the pools
    close_connections_by = deadline - min(3.0, config.drain_time / 4)
    app.draining = True
    log.info("pid %d: stopping; finishing requests in flight", os.getpid())
    server.stop()  # no new connections
    server.start_draining()
    if background:
        await background.stop()
    while (server.open_connections or app.in_flight) and time.monotonic() < close_connections_by:
        server.close_idle_connections()
        await asyncio.sleep(0.05)
    if server.open_connections:
        log.warning("pid %d: drain time over, closing %d connection(s)", os.getpid(), server.open_connections)
    await server.close_all_connections()
    # a handler still running past the drain time (its client is gone) must not find the pools closed
    while app.in_flight and time.monotonic() < deadline - 1:
        await asyncio.sleep(0.05)
    await close_services(app.services, timeout=max(0.1, deadline - time.monotonic() - 0.5))
    log.info("pid %d: stopped", os.getpid())
    metrics.flush()  # the samples and lines batched for this loop, before it ends
    logs.flush()


def fork_workers(count, sockets=()):
    """Fork `count` workers sharing the listening sockets and keep `count` of them running: a worker
    that dies is replaced (after a pause that grows while replacements keep dying young).
    On SIGTERM/SIGINT the parent forwards the signal and waits for every worker to finish.

    Returns in each child (True); the parent returns False once every child has exited.
    """
    children = {}  # pid -> when it started
    stopping = []

    def start_worker():
        pid = os.fork()
        if pid == 0:
            # the parent's handlers are not the worker's: serve() installs its own
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            return True
        children[pid] = time.monotonic()
        return False

    for _ in range(count):
        if start_worker():
            return True

    def forward(signum, _frame):
        stopping.append(signum)
        for sock in sockets:  # no more replacements: once the workers close theirs, connecting is refused
            sock.close()
        for child in list(children):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    backoff = RESTART_BACKOFF_MIN
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None:
            continue
        metrics.process_dead(pid)
        exit_code = os.waitstatus_to_exitcode(code)
        if stopping:
            if exit_code not in (0, -signal.SIGTERM, -signal.SIGINT):
                status = 1
                log.error("worker %d exited with %s while stopping", pid, exit_code)
            continue
        # a worker that served a while before dying is replaced at once; one dying young, slower and slower
        backoff = RESTART_BACKOFF_MIN if time.monotonic() - started > 30 else min(backoff * 2, RESTART_BACKOFF_MAX)
        log.error("worker %d exited with %s; starting a replacement in %.1fs", pid, exit_code, backoff)
        time.sleep(backoff)
        if stopping:
            continue
        if start_worker():
            return True
    if status:
        sys.exit(status)
    return False


RESTART_BACKOFF_MIN = 0.1  # seconds
RESTART_BACKOFF_MAX = 30.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="dadashop order service")
    parser.add_argument("--port", type=int, help="HTTP port (default: DADASHOP_PORT or 8000)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes; 0 = one per core")
    parser.add_argument("--demo", action="store_true", help="load the demo store when the catalog is empty")
    parser.add_argument("--no-jobs", action="store_true", help="do not run the background jobs in this server")
    return parser.parse_args(argv)


def main(argv=None):
    logs.configure("text")  # until the configuration says which
    args = parse_args(argv)
    try:
        config = config_module.load()
    except config_module.ConfigError as exc:
        raise SystemExit(f"error: {exc}")
    logs.configure(config.log_format, access=config.access_log)
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
    metrics_dir, parent = metrics.setup(), os.getpid()  # before the fork: every worker writes its samples there
    try:
        if processes > 1 and not fork_workers(processes, sockets):
            return  # the parent, once every worker has exited
        run = uvloop.run if config.event_loop == "uvloop" else asyncio.run
        run(serve(config, sockets, run_jobs=not args.no_jobs))
    finally:
        if os.getpid() == parent:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
