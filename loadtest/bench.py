"""One benchmark run, start to finish: `python -m loadtest.bench [scenario ...|all]`.

A fresh database `dadashop_bench` and Redis db 14 (never the tests' or the demo's), the Alipay
sandbox, the service with `--processes 0`, then the scenarios in order (the MariaDB ceiling right
before hot-sku, so that both are measured in the same run), then everything stops again. Each
report is also written as JSON and as HTML with plots under loadtest/out/ (index.html links them),
and a summary table is printed at the end.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import redis

import config as config_module
from loadtest import run as runner
from loadtest.stats import children_of

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "loadtest" / "out"
ORDER = ["ceiling", "hot-sku", "flash-sale", "read", "read-uncached", "steady"]


def wait_for_port(port, proc=None, timeout=30):
    """Until something accepts connections on 127.0.0.1:`port`; fails at once if `proc` (the
    process that should listen there) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the process for port {port} exited with {proc.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def fresh_database(mysql_url):
    target = config_module.parse_mysql_url(mysql_url)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{target.db}`")
    conn.close()


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", default=["all"])
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--sandbox-port", type=int, default=8097)
    parser.add_argument("--mysql", default="mysql://root:@127.0.0.1:3306/dadashop_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--pool-size", type=int, default=None, help="DADASHOP_MYSQL_POOL_SIZE for the service")
    parser.add_argument("--rate-limits", action="store_true",
                        help="rate limits on, as in production (flash-sale, hot-sku, read: no per-IP limited call)")
    parser.add_argument("--profile", action="store_true",
                        help="record py-spy flame graphs of the service workers during each scenario (needs py-spy)")
    args, extra = parser.parse_known_args(argv)  # anything else (e.g. --buyers 5000) goes to every scenario
    scenarios = ORDER if "all" in args.scenarios else args.scenarios
    extra = [a for a in extra if a != "--"]
    python = sys.executable
    secret = "loadtest-bench-secret-0123456789abcdef"  # 32+ bytes: no PyJWT warning

    fresh_database(args.mysql)
    redis.Redis.from_url(args.redis).flushdb()
    OUT.mkdir(exist_ok=True)
    env = dict(os.environ, DADASHOP_MYSQL_URL=args.mysql, DADASHOP_REDIS_URL=args.redis, DADASHOP_JWT_SECRET=secret,
               ALIPAY_GATEWAY=f"http://127.0.0.1:{args.sandbox_port}/gateway.do", DADASHOP_PORT=str(args.port),
               DADASHOP_PUBLIC_URL=f"http://127.0.0.1:{args.port}", DADASHOP_ADMIN_KEY="loadtest-admin",
               # every request comes from one address: per-IP limits would refuse them (--rate-limits:
               # on, as in production, for the scenarios that make no per-IP limited call)
               DADASHOP_RATE_LIMITS="1" if args.rate_limits else "0")
    if args.pool_size:
        env["DADASHOP_MYSQL_POOL_SIZE"] = str(args.pool_size)
    logs = open(OUT / "service.log", "w")
    sandbox = service = None
    reports = []
    try:
        sandbox = subprocess.Popen([python, "-m", "alipay_sandbox", "--port", str(args.sandbox_port),
                                    "--notify-scale", "0.001"], cwd=ROOT, env=env, stdout=logs, stderr=logs)
        service = subprocess.Popen([python, "server.py", "--processes", str(args.processes)], cwd=ROOT, env=env,
                                   stdout=logs, stderr=logs)
        wait_for_port(args.sandbox_port)
        wait_for_port(args.port)
        time.sleep(1.0)  # let every worker open its pools
        workers = children_of(service.pid) or [service.pid]
        print(f"service pid {service.pid}, workers {workers}; sandbox pid {sandbox.pid}")
        for name in scenarios:
            print(f"\n=== {name}")
            cli = [name, "--base-url", f"http://127.0.0.1:{args.port}", "--mysql-url", args.mysql,
                   "--redis-url", args.redis, "--jwt-secret", secret,
                   "--sandbox-url", f"http://127.0.0.1:{args.sandbox_port}",
                   "--json", str(OUT / f"{name}.json")] + extra
            for pid in [service.pid] + workers:  # the same process twice (--processes 1): CpuMeter counts it once
                cli += ["--service-pid", str(pid)]
            spies = []
            if args.profile and name != "ceiling":
                for pid in workers:
                    spy = str(Path(python).parent / "py-spy")
                    spies.append(subprocess.Popen([spy, "record", "-p", str(pid), "-r", "200", "-f", "raw",
                                                   "-o", str(OUT / f"profile-{name}-{pid}.txt")],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            code = runner.main(cli)
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            with open(OUT / f"{name}.json") as f:
                reports.append(json.load(f))
            if code:
                print(f"!!! {name}: correctness check FAILED")
    finally:
        stop(service)
        stop(sandbox)
        logs.close()
    print_table(reports)
    if reports:
        from loadtest.report import write_index
        index = write_index(reports, [f"{r['scenario']}.html" for r in reports], OUT / "index.html")
        print(f"\nHTML reports with plots: {index} (one page per scenario beside its JSON)")
    return 0 if all(r["check"]["ok"] for r in reports) else 1


def operation_rate(report):
    """(operations per second, what one operation is) of a scenario, for CPU per operation."""
    name = report["scenario"]
    if name == "ceiling":
        return report["tx_per_s"], "transaction"
    if name in ("read", "read-uncached"):
        return report["pages_per_s"], "page"
    if name == "hot-sku":
        return report["orders_per_s"], "order"
    return report["requests_per_s"], "request"


def print_table(reports):
    by = {r["scenario"]: r for r in reports}
    print("\n| scenario | throughput | p50 ms | p95 ms | p99 ms | max ms | check | generator CPU (cores) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in reports:
        name = r["scenario"]
        if name == "ceiling":
            tp, lat = f"{r['tx_per_s']:.0f} tx/s", r["latency_ms"]
        elif name in ("hot-sku", "flash-sale"):
            tp, lat = f"{r['orders_per_s']:.0f} orders/s", r["latency_ms"]
        elif name in ("read", "read-uncached"):
            tp, lat = f"{r['pages_per_s']:.0f} pages/s", r["latency_ms"]
        else:
            tp, lat = f"{r['requests_per_s']:.0f} req/s ({r['orders_per_s']:.0f} orders/s)", r["operations"].get(
                "create", {})
        print(f"| {name} | {tp} | {lat.get('p50', 0):.1f} | {lat.get('p95', 0):.1f} | {lat.get('p99', 0):.1f} | "
              f"{lat.get('max', 0):.1f} | {'OK' if r['check']['ok'] else 'FAILED'} | "
              f"{r['cpu_cores'].get('generator', 0):.2f} |")
    print("\nCPU milliseconds per operation (cores used on average / operations per second):")
    print("| scenario | per | service | MariaDB | Redis | generator |")
    print("|---|---|---|---|---|---|")
    for r in reports:
        rate, unit = operation_rate(r)
        per = {part: 1000.0 * r["cpu_cores"].get(part, 0) / max(rate, 1e-9)
               for part in ("service", "mariadb", "redis", "generator")}
        print(f"| {r['scenario']} | {unit} | {per['service']:.2f} | {per['mariadb']:.2f} | {per['redis']:.2f} | "
              f"{per['generator']:.2f} |")
    if "ceiling" in by and "hot-sku" in by:
        ratio = by["hot-sku"]["orders_per_s"] / by["ceiling"]["tx_per_s"]
        print(f"\nhot-sku create-order rate / raw hot-row ceiling = {ratio:.1%}")
    if "flash-sale" in by:
        f = by["flash-sale"]
        print(f"flash-sale: sold-out answers {f['sold_out_per_s']:.0f}/s vs orders {f['orders_per_s']:.0f}/s "
              f"= {f['sold_out_per_s'] / max(f['orders_per_s'], 1e-9):.1f}x")


if __name__ == "__main__":
    sys.exit(main())
