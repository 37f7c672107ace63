"""`down` stops every process `up` started and removes the data. Runs last (file order)."""
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster


def running(pid):
    """True when the PID is a live process (a zombie waiting for its parent to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def session_of(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (FileNotFoundError, IndexError):
        return None


def all_pids():
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_down_leaves_no_process_and_no_data(cluster):
    pids = cluster.pids()
    assert len(pids) >= 3 + 3 + 1 + 6 + 1 + 2 + 1, pids  # nodes, responders, SQL proxy, Redis, single Redis, ...
    assert all(running(pid) for pid in pids.values()), pids
    assert all(session_of(pid) == pid for pid in pids.values())  # each leads a session: nothing escapes down
    cluster.run("down")
    assert not cluster.dir.exists()
    assert [name for name, pid in pids.items() if running(pid)] == []
    left = [pid for pid in all_pids() if running(pid) and session_of(pid) in set(pids.values())]
    assert left == []
    assert [port for port in range(cluster.base_port, cluster.base_port + 100) if listening(port)] == []
