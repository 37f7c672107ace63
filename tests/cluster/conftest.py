"""The scale-out topology of scripts/cluster.sh, brought up once per test session.

Galera (3 nodes), HAProxy for SQL and HTTP, a Redis Cluster (3 + 3) and two service instances,
all on loopback ports of their own, data in a temporary folder; `down` at the end. The tests
skip, with the reason, when the cluster's packages (galera-4, mariadb-backup, haproxy, redis)
are missing and cannot be installed here (not root, no apt).
"""
import os
import random
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest


ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"
JWT_SECRET = "cluster-test-secret-of-enough-length"
INSTANCES = 2


@dataclass
class Cluster:
    dir: Path
    env: dict
    urls: dict
    up_seconds: float

    def run(self, *args, check=True, timeout=180):
        """scripts/cluster.sh ARGS against this cluster: the CompletedProcess (stdout + stderr as text)."""
        result = subprocess.run([str(SCRIPT), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"cluster.sh {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    @property
    def mysql_url(self):
        return self.urls["MYSQL_URL"]

    @property
    def http_url(self):
        return self.urls["HTTP_URL"]

    @property
    def base_port(self):
        return int(self.urls["MYSQL_URL"].rsplit(":", 1)[1].split("/")[0])

    def node_port(self, n):
        return self.base_port + 10 + n

    def redis_port(self, n):
        return self.base_port + 59 + n

    def instance_port(self, n):
        return self.base_port + 79 + n

    def connect(self, port=None, database="dadashop", **kwargs):
        """A PyMySQL connection through the SQL proxy, or straight to a node's port."""
        return pymysql.connect(host="127.0.0.1", port=port or self.base_port, user="root", password="",
                               database=database, autocommit=True, charset="utf8mb4", **kwargs)

    def pids(self):
        """The PIDs cluster.sh recorded, by name."""
        pids = {}
        for file in (self.dir / "pids").glob("*"):
            pids[file.name] = int(file.read_text().split()[0])
        return pids


def free_block():
    """The first port of a block of 100 free loopback ports, starting at a random place in 20000-32599:
    below Linux's ephemeral range (32768-60999), where any outgoing connection of the run could take
    one of the block's ports after it was checked (a CI run saw an instance fail to bind so)."""
    for _ in range(50):
        base = random.randrange(20000, 32600, 100)
        if all(port_free(p) for p in range(base, base + 100)):
            return base
    raise AssertionError("no block of 100 free ports")


def port_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def parse_urls(text):
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"[A-Z_]+_URL=", line))


@pytest.fixture(scope="session")
def cluster():
    # a short path: MariaDB's unix sockets live under it (108 bytes at most)
    directory = Path(tempfile.mkdtemp(prefix="dcl-"))
    directory.rmdir()  # cluster.sh makes it (and refuses a folder it did not make)
    # every instance sweeps every 2 s (the jobs test), against an Alipay gateway nobody listens on
    # a random block of ports, so that two test runs on one machine do not take the same one the
    # moment the other's `down` frees it
    env = dict(os.environ, CLUSTER_DIR=str(directory), DADASHOP_JWT_SECRET=JWT_SECRET,
               CLUSTER_BASE_PORT=str(free_block()),
               DADASHOP_RATE_LIMITS="0", DADASHOP_SWEEP_INTERVAL="2", ALIPAY_GATEWAY="http://127.0.0.1:9/gateway.do")
    env.pop("DADASHOP_PUBLIC_URL", None)
    missing = subprocess.run([str(SCRIPT), "prerequisites"], cwd=ROOT, env=env, capture_output=True, text=True)
    if missing.returncode == 3:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", missing.stderr).strip()
        pytest.skip(f"the cluster cannot be built here: {reason}")
    assert missing.returncode == 0, missing.stderr
    started = time.monotonic()
    up = subprocess.run([str(SCRIPT), "up", "--instances", str(INSTANCES)], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
    if up.returncode != 0:
        subprocess.run([str(SCRIPT), "down"], cwd=ROOT, env=env, capture_output=True)
        raise AssertionError(f"cluster.sh up failed:\n{up.stdout}\n{up.stderr}")
    cluster = Cluster(dir=directory, env=env, urls=parse_urls(up.stdout), up_seconds=time.monotonic() - started)
    print(f"\ncluster up in {cluster.up_seconds:.1f} s: {cluster.urls}")
    yield cluster
    if directory.exists():
        cluster.run("down", check=False)


@pytest.fixture
def healthy_cluster(cluster):
    """The cluster, healthy (waits for it: a test before may have killed something)."""
    cluster.run("wait-healthy", "90")
    return cluster
