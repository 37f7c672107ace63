"""The service's CPU per request of one cheap endpoint under wrk: Tornado's and our base handler's
floor, which every other answer pays too. `python -m loadtest.floor [PATH|orders] [NAME=VALUE ...]`

Starts `server.py --processes 0 --no-jobs` on a database and Redis db of its own (the variables
given override the service's environment, e.g. DADASHOP_ACCESS_LOG=errors or
DADASHOP_EVENT_LOOP=asyncio), runs `wrk -t1 -c32 -d8` on PATH (default /healthz), and prints the
rate and the service's CPU milliseconds per request. Needs wrk (Debian package `wrk`).

`orders` asks, instead, one buyer's first page of 20 orders (as `bench read` does, but from a
load generator written in C, which leaves the two cores to the service): the cached page's cost.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from config import parse_mysql_url
from db import drop_database
from loadtest import prepare
from loadtest.bench import wait_for_port
from loadtest.stats import children_of, process_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
PORT = 8078
ORDERS_PAGE = "/v1/orders/processing/?status=1&order_status=0&page=1&page_size=20"


def buyer_with_orders(mysql_url, jwt_secret):
    """The wrk options that ask, as a buyer with 20 orders, the page of them `bench read` asks."""
    conn = prepare.connect(mysql_url)
    try:
        tag = prepare.new_tag()
        buyer, = prepare.make_buyers(conn, tag, 1, jwt_secret)
        prepare.make_order_history(conn, tag, [buyer], prepare.make_skus(conn, tag, 20, 1000), 20)
    finally:
        conn.close()
    return ["-H", f"authorization: {buyer['token']}"]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    orders = "orders" in argv
    path = ORDERS_PAGE if orders else next((a for a in argv if a.startswith("/")), "/healthz")
    overrides = dict(a.split("=", 1) for a in argv if "=" in a)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    env = dict(os.environ, DADASHOP_MYSQL_URL="mysql://root:@127.0.0.1:3306/dadashop_floor",
               DADASHOP_REDIS_URL="redis://127.0.0.1:6379/13", DADASHOP_PORT=str(PORT),
               DADASHOP_JWT_SECRET="loadtest-floor-secret-0123456789abcdef", DADASHOP_ADMIN_KEY="loadtest-floor-admin",
               DADASHOP_RATE_LIMITS="0", **overrides)
    with tempfile.TemporaryFile("w+") as log:
        service = subprocess.Popen([sys.executable, "server.py", "--processes", "0", "--no-jobs"], cwd=ROOT, env=env,
                                   stdout=log, stderr=log)
        try:
            wait_for_port(PORT)
            time.sleep(1.0)
            pids = children_of(service.pid) or [service.pid]

            def cpu():
                return sum(process_cpu_seconds(pid) or 0.0 for pid in pids)

            headers = buyer_with_orders(env["DADASHOP_MYSQL_URL"], env["DADASHOP_JWT_SECRET"]) if orders else []
            before = cpu()
            out = subprocess.run(["wrk", "-t1", "-c32", "-d8", *headers, f"http://127.0.0.1:{PORT}{path}"],
                                 capture_output=True, text=True, check=True).stdout
            used = cpu() - before
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(30)
            drop_database(parse_mysql_url(env["DADASHOP_MYSQL_URL"]))
    if "Non-2xx" in out:  # a figure for error answers would be no figure
        raise SystemExit(f"some answers were not 200:\n{out}")
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    print(f"{path} {' '.join(f'{k}={v}' for k, v in overrides.items())}: {rate:.0f} requests/s, "
          f"service CPU {1000 * used / (rate * 8):.3f} ms per request")


if __name__ == "__main__":
    main()
