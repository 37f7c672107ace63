"""The topology itself: replication through the SQL proxy, failover of the writer, IST on rejoin,
promotion of a Redis replica. Figures (failover, promotion) are printed, never asserted."""
import re
import subprocess
import time
import uuid

import pymysql
import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

pytestmark = pytest.mark.cluster


def node_log_since_last_restart(cluster, n):
    text = (cluster.dir / f"db{n}" / "error.log").read_text(errors="replace")
    return text[text.rfind("--- restart"):]


def write_through_proxy(cluster, value):
    """INSERT one probe row through the SQL proxy: the port of the node that took it."""
    conn = cluster.connect(database="cluster_probe", connect_timeout=2, read_timeout=3, write_timeout=3)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO probe (value) VALUES (%s)", (value,))
            cur.execute("SELECT @@port")
            return cur.fetchone()[0]
    finally:
        conn.close()


def visible_on_node(cluster, n, value):
    conn = cluster.connect(port=cluster.node_port(n), database="cluster_probe")
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION wsrep_sync_wait = 1")  # a causal read: wait for the node to apply
            cur.execute("SELECT COUNT(*) FROM probe WHERE value = %s", (value,))
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


@pytest.fixture(scope="module")
def probe_table(cluster):
    conn = cluster.connect(database=None)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS cluster_probe")
        cur.execute("CREATE TABLE IF NOT EXISTS cluster_probe.probe "
                    "(id BIGINT AUTO_INCREMENT PRIMARY KEY, value VARCHAR(64) NOT NULL)")
    conn.close()


def test_topology_comes_up_and_a_write_through_the_proxy_is_on_every_node(healthy_cluster, probe_table):
    cluster = healthy_cluster
    status = cluster.run("status")
    assert status.stdout.count("Synced     cluster_size=3  proxy=UP") == 3, status.stdout
    assert "cluster_state:ok" in status.stdout and status.stdout.rstrip().endswith("HEALTHY"), status.stdout
    assert len(re.findall(r"instance\d  port \d+  running  proxy=UP", status.stdout)) == 2, status.stdout

    value = uuid.uuid4().hex
    assert write_through_proxy(cluster, value) == cluster.node_port(1)  # node 1 is the writer
    for n in (1, 2, 3):
        assert visible_on_node(cluster, n, value), f"node {n} does not have the row"
    # single-writer routing: every new connection lands on the same node
    ports = {write_through_proxy(cluster, "spread") for _ in range(10)}
    assert ports == {cluster.node_port(1)}
    # each node hands out its own auto-increment values (no clash if writes ever spread)
    conn = cluster.connect(port=cluster.node_port(2), database=None)
    with conn.cursor() as cur:
        cur.execute("SELECT @@auto_increment_increment, @@wsrep_sst_method, @@wsrep_on")
        assert cur.fetchone() == (3, "mariabackup", 1)
    conn.close()
    print(f"\nup in {cluster.up_seconds:.1f} s")


def test_writer_killed_the_proxy_fails_over_and_the_node_rejoins_by_ist(healthy_cluster, probe_table):
    cluster = healthy_cluster
    killed = cluster.run("kill", "db-writer").stdout.split()
    assert killed == ["db", "1"]
    start = time.monotonic()
    deadline = start + 60
    value = f"after-kill-{uuid.uuid4().hex[:8]}"
    while True:  # the first write through the proxy that succeeds after the kill
        try:
            port = write_through_proxy(cluster, value)
            break
        except pymysql.MySQLError:
            assert time.monotonic() < deadline, "no write through the SQL proxy for 60 s after the writer died"
            time.sleep(0.1)
    failover = time.monotonic() - start
    assert port in (cluster.node_port(2), cluster.node_port(3))
    status = cluster.run("status", check=False).stdout
    assert "node1  port" in status and "DOWN" in status.split("node2")[0], status

    started = time.monotonic()
    cluster.run("restart", "db-writer")
    rejoin = time.monotonic() - started
    log = node_log_since_last_restart(cluster, 1)
    assert "mariabackup IST completed on joiner" in log, log[-3000:]
    assert "SST completed" not in log
    assert visible_on_node(cluster, 1, value)  # the write it missed came by IST
    cluster.run("wait-healthy", "60")
    assert write_through_proxy(cluster, "back") == cluster.node_port(1)  # the writer is node 1 again
    print(f"\nSQL failover: first write through the proxy {failover:.1f} s after kill -9 of the writer; "
          f"rejoin by IST {rejoin:.1f} s")


def cluster_nodes(port):
    """CLUSTER NODES as redis-cli prints it, as [{port, flags, slots}] (slots: a set of slot numbers)."""
    text = subprocess.run(["redis-cli", "-p", str(port), "cluster", "nodes"], capture_output=True, text=True,
                          timeout=5).stdout
    nodes = []
    for line in text.splitlines():
        fields = line.split()
        slots = set()
        for part in fields[8:]:
            if not part.startswith("["):  # "[slot->-node]": a slot being migrated
                first, _, last = part.partition("-")
                slots.update(range(int(first), int(last or first) + 1))
        nodes.append({"port": int(fields[1].split(":")[1].split("@")[0]), "flags": fields[2], "slots": slots})
    return nodes


def test_redis_master_killed_a_replica_is_promoted(healthy_cluster):
    cluster = healthy_cluster
    killed = int(cluster.run("kill", "redis-master").stdout.split()[1])
    start = time.monotonic()
    killed_port = cluster.redis_port(killed)
    survivor_port = cluster.redis_port(next(n for n in range(1, 7) if n != killed))
    slot = min(next(n for n in cluster_nodes(survivor_port) if n["port"] == killed_port)["slots"])
    deadline = start + 60
    while True:  # until a live master other than the dead one serves the dead one's slots
        owner = next((n for n in cluster_nodes(survivor_port)
                      if slot in n["slots"] and "fail" not in n["flags"] and "master" in n["flags"]), None)
        if owner and owner["port"] != killed_port:
            break
        assert time.monotonic() < deadline, "no replica promoted within 60 s"
        time.sleep(0.1)
    promotion = time.monotonic() - start
    # a cluster client writes and reads a key of that slot on the promoted node
    key = next(k for k in (f"probe:{i}" for i in range(100000)) if key_slot(k.encode()) == slot)
    client = RedisCluster(host="127.0.0.1", port=survivor_port, socket_timeout=2)
    client.set(key, "after-promotion")
    assert client.get(key) == b"after-promotion"
    assert client.get_node_from_key(key).port == owner["port"]
    client.close()

    cluster.run("restart", "redis-master")
    cluster.run("wait-healthy", "60")
    role = redis.Redis(port=killed_port).execute_command("ROLE")
    assert role[0] in (b"slave", "slave"), role  # the old master came back as a replica of its successor
    print(f"\nRedis: replica promoted {promotion:.1f} s after kill -9 of a master")
