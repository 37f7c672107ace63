"""The store as real processes for tests that need it from outside: the Alipay sandbox and
`server.py --demo`, on free loopback ports, logging to files (a pipe nobody reads would fill up
under load and block the service), stopped by PID."""
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import config as config_module
import db
from tests.helpers import free_port, wait_until_answers

ROOT = Path(__file__).resolve().parent.parent
SECRET = "running-store-test-secret-0123456789abcdef"


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_store(mysql_url, redis_url, log_dir):
    """{base_url, sandbox_url, mysql_url, redis_url, pid, jwt_secret}; the database is dropped afterwards."""
    sandbox_port, port = free_port(), free_port()
    env = dict(os.environ, DADASHOP_MYSQL_URL=mysql_url, DADASHOP_REDIS_URL=redis_url, DADASHOP_PORT=str(port),
               DADASHOP_JWT_SECRET=SECRET, ALIPAY_GATEWAY=f"http://127.0.0.1:{sandbox_port}/gateway.do",
               # load from one address, many buyers registering at once (docs/limits.md)
               DADASHOP_RATE_LIMITS="0", DADASHOP_MAX_CONCURRENT_HASHES="8")
    sandbox_log, service_log = log_dir / "sandbox.log", log_dir / "service.log"
    with open(sandbox_log, "w") as out:
        sandbox = subprocess.Popen([sys.executable, "-m", "alipay_sandbox", "--port", str(sandbox_port),
                                    "--notify-scale", "0.001"], cwd=ROOT, env=env, stdout=out, stderr=out)
    with open(service_log, "w") as out:
        service = subprocess.Popen([sys.executable, "server.py", "--demo", "--no-jobs"], cwd=ROOT, env=env,
                                   stdout=out, stderr=out)
    try:
        wait_until_answers(f"http://127.0.0.1:{sandbox_port}/", sandbox, output=sandbox_log.read_text)
        wait_until_answers(f"http://127.0.0.1:{port}/v1/goods/skus", service, output=service_log.read_text)
        yield {"base_url": f"http://127.0.0.1:{port}", "sandbox_url": f"http://127.0.0.1:{sandbox_port}",
               "port": port, "mysql_url": mysql_url, "redis_url": redis_url, "pid": service.pid,
               "jwt_secret": SECRET}
    finally:
        stop(service)
        stop(sandbox)
        db.drop_database(config_module.parse_mysql_url(mysql_url))
