"""What several test modules share: the test servers' addresses, keys, and the order requests."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MYSQL_URL = os.environ.get("DADASHOP_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306/")
REDIS_URL = os.environ.get("DADASHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379")
ADMIN_KEY = "test-admin-key"
PASSWORD = "secret123"
ROOT = Path(__file__).resolve().parent.parent
P = "/v1/orders/processing/"
SHIPMENT = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}  # what the merchant ships with


def mysql_url_of(database_name):
    """The URL of a database on the test MySQL server."""
    return MYSQL_URL.rstrip("/") + "/" + database_name


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def create_order(api, user, *, settlement_type=0, key=None, **extra):
    """POST status=0 for `user` to their address: (http status, body). `extra` adds body fields."""
    body = {"status": 0, "address_id": user["address_id"], "settlement_type": settlement_type, **extra}
    headers = {"Idempotency-Key": key} if key else None
    return await api.post(P, json_body=body, token=user["token"], headers=headers)


async def buy_now(api, user, sku_id, count=1, **kw):
    """Create an order of `count` × `sku_id` (buy-now): (http status, body)."""
    return await create_order(api, user, settlement_type=1, sku_id=sku_id, buy_num=count, **kw)


def wait_until_answers(url, proc, *, timeout=60, ready=lambda: True, output=lambda: ""):
    """Until `url` answers 200 and `ready()` holds. Fails (AssertionError with `output()`, what the
    process wrote) as soon as `proc` exits, or after `timeout` seconds: then the process is killed
    first, so that reading its output cannot block."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200 and ready():
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode} before {url} answered:\n{output()}")
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{output()}")


def start_server(db_url, redis_url, *args, extra_env=None, log=None):
    """`python server.py *args` as a real process on a free port, once it answers HTTP: (process, port).

    Its output goes to a pipe the caller reads at the end (fine for a few lines), or to `log`, an
    open file, for a server that will log a lot: a full pipe would block it."""
    port = free_port()
    env = dict(os.environ, DADASHOP_MYSQL_URL=db_url, DADASHOP_REDIS_URL=redis_url, DADASHOP_PORT=str(port),
               DADASHOP_JWT_SECRET="process-test-secret-of-enough-length", **(extra_env or {}))
    proc = subprocess.Popen([sys.executable, "server.py", *args], cwd=ROOT, env=env,
                            stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # ready when it answers HTTP (the port is bound earlier)
    wait_until_answers(f"http://127.0.0.1:{port}/v1/goods/skus", proc,
                       output=lambda: proc.stdout.read() if proc.stdout else "(its log file)")
    return proc, port
