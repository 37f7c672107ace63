#!/usr/bin/env python3
"""A clustercheck-style health responder for one Galera node, for HAProxy's `option httpchk`.

Answers 200 only when the node says wsrep_local_state = 4 (Synced) and wsrep_ready = ON, 503
otherwise (joining, donor, non-primary, down, or no answer within 2 s). Python stdlib only: it
asks the node through the `mariadb` command-line client over the node's unix socket, so it needs
no driver and no network account. Started by scripts/cluster.sh, one per node:

    clustercheck.py --listen 127.0.0.1:PORT --socket /path/to/mysqld.sock [--user root] [--donor-ok]
"""
import argparse
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYNCED, DONOR = "4", "2"


def node_state(socket_path, user):
    """(wsrep_local_state, wsrep_ready) as strings, or (None, None) when the node does not answer."""
    try:
        out = subprocess.run(
            ["mariadb", "--no-defaults", "-S", socket_path, "-u", user, "--connect-timeout=2", "-N", "-B", "-e",
             "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_ready')"],
            capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    values = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return values.get("wsrep_local_state"), values.get("wsrep_ready")


def make_handler(socket_path, user, donor_ok):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state, ready = node_state(socket_path, user)
            healthy = ready == "ON" and (state == SYNCED or (donor_ok and state == DONOR))
            body = f"wsrep_local_state={state} wsrep_ready={ready}\n".encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):  # HAProxy asks every second: keep the log quiet
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port to answer on")
    parser.add_argument("--socket", required=True, help="the node's unix socket")
    parser.add_argument("--user", default="root")
    parser.add_argument("--donor-ok", action="store_true", help="also 200 while the node is an SST donor")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(args.socket, args.user, args.donor_ok))
    server.serve_forever()


if __name__ == "__main__":
    main()
