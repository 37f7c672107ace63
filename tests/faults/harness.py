"""Fault-injection harness: private MariaDB/Redis instances a test may stop or freeze, the server
as real processes, a keep-alive HTTP load of order creates, and the database read back.

Never the shared MariaDB/Redis: every instance here is started on a free port and stopped by PID.
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import redis

import config as config_module
import db
from store.auth import make_token
from tests.helpers import P, free_port, wait_until_answers

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "fault-test-secret-of-enough-length"


def wait_until(check, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), 30, "private redis")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(30)


class PrivateMariaDB:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dadashop-faults-mariadb-")
        self.port = free_port()
        self.socket = os.path.join(self.dir, "mysqld.sock")
        datadir = os.path.join(self.dir, "data")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.command = ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={self.socket}",
                        f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin",
                        "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2",
                        "--max-connections=300"]
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: pymysql.connect(host="127.0.0.1", port=self.port, user="root").close() or True,
                   60, "private mariadb")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)

    def url(self, name):
        return f"mysql://root:@127.0.0.1:{self.port}/{name}"

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Shop:
    """A flash sale: one SKU with `stock` units, `buyers` buyers each wanting one."""
    db_url: str
    sku_id: int
    stock: int
    buyers: list = field(default_factory=list)  # {id, token, address_id, key}


def connect(db_url):
    target = config_module.parse_mysql_url(db_url)
    return pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                           database=target.db, autocommit=True, cursorclass=pymysql.cursors.DictCursor)


def make_sale(db_url, *, stock, buyers, tag):
    db.apply_migrations(config_module.parse_mysql_url(db_url))
    conn = connect(db_url)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO spu (name, caption) VALUES (%s, '')", (f"sale-{tag}",))
        spu_id = cur.lastrowid
        cur.execute("INSERT INTO sku (spu_id, name, caption, price, stock, sales, is_launched, default_image_url) "
                    "VALUES (%s, %s, '', 10.00, %s, 0, 1, 'x.svg')", (spu_id, f"sale-{tag}", stock))
        shop = Shop(db_url, cur.lastrowid, stock)
        for i in range(buyers):
            username = f"f{tag}_{i}"
            cur.execute("INSERT INTO user_profile (username, password_hash, email, phone) VALUES (%s, 'x', '', '')",
                        (username,))
            user_id = cur.lastrowid
            cur.execute("INSERT INTO address (user_id, receiver, receiver_mobile, address, postcode, tag, is_default) "
                        "VALUES (%s, '张三', '13600000000', '北京', '100010', '家', 1)", (user_id,))
            shop.buyers.append({"id": user_id, "address_id": cur.lastrowid, "key": f"sale-{tag}-{i}",
                                "token": make_token(username, SECRET, user_id=user_id)})
    conn.close()
    return shop


def start_server(db_url, redis_url, *args, **env_extra):
    port = free_port()
    env = dict(os.environ, DADASHOP_MYSQL_URL=db_url, DADASHOP_REDIS_URL=redis_url, DADASHOP_PORT=str(port),
               DADASHOP_JWT_SECRET=SECRET, **{k: str(v) for k, v in env_extra.items()})
    # the log goes to a file: a pipe nobody reads during the sale would fill and stop the server
    log_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "server.py", *args], cwd=ROOT, env=env,
                            stdout=log_file, stderr=subprocess.STDOUT, text=True)
    proc.log_file = log_file
    wait_until_answers(f"http://127.0.0.1:{port}/readyz", proc, timeout=90,
                       ready=lambda: len(workers_of(proc.pid)) >= _workers(args), output=lambda: server_log(proc))
    return proc, port


def get_status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _workers(args):
    """How many worker processes the parent forks (none when it serves alone)."""
    processes = int(args[args.index("--processes") + 1]) if "--processes" in args else 1
    return processes if processes > 1 else 0


def workers_of(parent_pid):
    """PIDs of the live (not zombie) child processes of `parent_pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == parent_pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def stop_server(proc, timeout=60):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return server_log(proc)


def server_log(proc):
    proc.log_file.seek(0)
    return proc.log_file.read()


# ---------------------------------------------------------------- a keep-alive HTTP client

class Reset(Exception):
    """The connection died with a request on it and no (complete) answer."""


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection, one request at a time (enough for the service's answers,
    which always carry Content-Length)."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def request(self, method, path, body=b"", headers=None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            answer_headers = {}
            for line in header_lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    answer_headers[name.strip().lower()] = value.strip()
            payload = await self.reader.readexactly(int(answer_headers.get("content-length", 0)))
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise Reset(repr(exc)) from None
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), answer_headers, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def create_request(buyer, sku_id):
    body = json.dumps({"status": 0, "address_id": buyer["address_id"], "settlement_type": 1, "sku_id": sku_id,
                       "buy_num": 1}).encode()
    return "POST", P, body, {"authorization": buyer["token"], "Idempotency-Key": buyer["key"],
                             "Content-Type": "application/json"}


@dataclass
class Answer:
    buyer: dict
    status: int | None = None
    code: int | None = None
    order_id: str | None = None
    error: str | None = None
    connection_close: bool = False
    retry_after: str | None = None
    phase: str = "before"


async def run_sale(port, shop, *, concurrency, inject=None, heal=None, stop_on_close=False):
    """Every buyer submits once through `concurrency` keep-alive connections, in three phases: the
    first quarter of the buyers before the fault, the second quarter with it (`inject()` awaited
    first), the rest after `heal()` returned. New requests wait while a fault is being injected or
    healed (the requests in flight do not). Returns the answers, each marked with its phase."""
    queue = list(shop.buyers)
    answers = []
    gate = asyncio.Event()
    gate.set()
    phase = ["before"]
    quarter, half = asyncio.Event(), asyncio.Event()

    async def client():
        conn = KeepAliveConnection(port)
        while queue:
            await gate.wait()
            if not queue:
                break
            buyer = queue.pop(0)
            answer = Answer(buyer, phase=phase[0])
            try:
                status, headers, payload = await conn.request(*create_request(buyer, shop.sku_id))
                body = json.loads(payload)
                answer.status, answer.code = status, body.get("code")
                answer.order_id = (body.get("data") or {}).get("order_id")
                answer.retry_after = headers.get("retry-after")
                answer.connection_close = headers.get("connection", "").lower() == "close"
            except Reset as exc:
                answer.error = str(exc)
            except OSError as exc:  # could not connect at all: the request never left
                answer.error = f"refused: {exc!r}"
            answers.append(answer)
            if len(answers) >= len(shop.buyers) // 4:
                quarter.set()
            if len(answers) >= len(shop.buyers) // 2:
                half.set()
            if answer.connection_close and stop_on_close:
                break
        conn.close()

    async def faults():
        if inject is not None:
            await quarter.wait()
            gate.clear()
            await inject()
            phase[0] = "during"
            gate.set()
        if heal is not None:
            await half.wait()
            gate.clear()
            await heal()
            phase[0] = "after"
            gate.set()

    clients = [asyncio.ensure_future(client()) for _ in range(concurrency)]
    await asyncio.gather(faults(), *clients)
    return answers


async def retry_with_same_key(port, shop, buyer):
    conn = KeepAliveConnection(port)
    try:
        status, _, payload = await conn.request(*create_request(buyer, shop.sku_id))
    finally:
        conn.close()
    body = json.loads(payload)
    return status, body.get("code"), (body.get("data") or {}).get("order_id")


async def first_page_of_orders(port, buyer):
    """GET the buyer's order list (it needs Redis: the page cache): (http status, order ids)."""
    conn = KeepAliveConnection(port)
    try:
        status, _, payload = await conn.request("GET", P + "?status=1", headers={"authorization": buyer["token"]})
    finally:
        conn.close()
    body = json.loads(payload)
    return status, [o["order_id"] for o in (body.get("data") or {}).get("orders_list", [])]


def read_back(shop):
    """The database's account of the sale."""
    conn = connect(shop.db_url)
    with conn.cursor() as cur:
        cur.execute("SELECT stock, sales FROM sku WHERE id=%s", (shop.sku_id,))
        sku = cur.fetchone()
        cur.execute("SELECT o.order_id, o.user_id, o.idempotency_key, COALESCE(SUM(g.count), 0) AS units "
                    "FROM order_info o LEFT JOIN order_goods g ON g.order_id = o.order_id "
                    "GROUP BY o.order_id, o.user_id, o.idempotency_key")
        orders = cur.fetchall()
    conn.close()
    return sku, orders


async def check_sale(port, shop, answers):
    """Oversold 0, stock + sales conserved, no order without lines, one order per key, and no
    orphan: every committed order's buyer was told 200 with it, or gets it back with the same key
    at once. Returns a summary for the test's message."""
    sku, orders = read_back(shop)
    assert sku["stock"] >= 0, sku
    assert sku["stock"] + sku["sales"] == shop.stock, sku
    assert sum(int(o["units"]) for o in orders) == sku["sales"], (sku, len(orders))
    assert all(int(o["units"]) == 1 for o in orders), "an order without lines (or with more than bought)"
    by_buyer = {}
    for order in orders:
        assert order["user_id"] not in by_buyer, f"two orders for buyer {order['user_id']}"
        by_buyer[order["user_id"]] = order["order_id"]
    codes = {}
    orphans_recovered = 0
    for answer in answers:
        key = answer.code if answer.error is None else "no answer"
        codes[key] = codes.get(key, 0) + 1
        made = by_buyer.get(answer.buyer["id"])
        if answer.code == 200:
            assert answer.order_id == made, (answer, made)
        elif made is not None:  # committed but the buyer was not told: the same key must give it back now
            status, code, order_id = await retry_with_same_key(port, shop, answer.buyer)
            assert (status, code, order_id) == (200, 200, made), (answer, made, status, code)
            orphans_recovered += 1
        if answer.code == 50111:
            assert answer.status == 503 and answer.retry_after, answer
    assert set(codes) <= {200, 50103, 50111, "no answer"}, codes
    return {"codes": codes, "sold": sku["sales"], "recovered_by_key": orphans_recovered,
            "during": codes_in(answers, "during"), "after": codes_in(answers, "after")}


def codes_in(answers, phase):
    codes = {}
    for answer in answers:
        if answer.phase == phase:
            key = answer.code if answer.error is None else "no answer"
            codes[key] = codes.get(key, 0) + 1
    return codes
