"""The service's CPU per request of one cheap endpoint under wrk: Tornado's and our base handler's
floor, which every other answer pays too. `python -m loadtest.floor [PATH] [NAME=VALUE ...]`

Starts `server.py --processes 0 --no-jobs` on a database and Redis db of its own (the variables
given override the service's environment, e.g. DADASHOP_ACCESS_LOG=errors or
DADASHOP_EVENT_LOOP=asyncio), runs `wrk -t1 -c32 -d8` on PATH (default /healthz), and prints the
rate and the service's CPU milliseconds per request. Needs wrk (Debian package `wrk`).
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
from loadtest.bench import wait_for_port
from loadtest.stats import children_of, process_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
PORT = 8078


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = next((a for a in argv if a.startswith("/")), "/healthz")
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

            before = cpu()
            out = subprocess.run(["wrk", "-t1", "-c32", "-d8", f"http://127.0.0.1:{PORT}{path}"],
                                 capture_output=True, text=True, check=True).stdout
            used = cpu() - before
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(30)
            drop_database(parse_mysql_url(env["DADASHOP_MYSQL_URL"]))
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    print(f"{path} {' '.join(f'{k}={v}' for k, v in overrides.items())}: {rate:.0f} requests/s, "
          f"service CPU {1000 * used / (rate * 8):.3f} ms per request")


if __name__ == "__main__":
    main()
