"""Order rate with and without a wrong-password login flood, in one run: `python -m loadtest.login_flood`.

Issue 12's first probe: 64 parallel wrong-password logins during a sale took the order rate from
471/s to 37/s, because every login ran scrypt with no bound. This script starts the service (as
loadtest.bench does: database `dadashop_flood`, Redis db 13 locked the way test runs lock theirs,
`server.py --processes 0 --no-jobs`),
then measures, against the same service and data:

1. calm:  B buyers each create one order of the sale SKU, C requests in flight;
2. flood: B other buyers do the same while F connections send wrong-password logins
   (unknown names, so each one would cost a full scrypt) as fast as they are answered;

both twice (`--rounds`), alternating, so that a change in the machine's other load hits both.
It prints both order rates, their ratio, the order latencies and what the logins were answered.
`--flood-with not-found` floods with equally many cheap requests instead: what any flood of
that size costs, the yardstick for the login flood.
Not a test: the figure depends on the machine; the tests prove the mechanisms.

By default the rate limits are off (`DADASHOP_RATE_LIMITS=0`), as for a flood from many
addresses that no per-address limit stops: what protects the order path then is the bound on
concurrent password hashes (`DADASHOP_MAX_CONCURRENT_HASHES`). `--rate-limits on` adds the
per-address login limit (everything here comes from 127.0.0.1); `--max-hashes 1000` shows the
unbounded behaviour of before.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

from loadtest import prepare
from loadtest.bench import fresh_database, stop, wait_for_port
from loadtest.run import P, Client, limited
from loadtest.stats import CpuMeter, Recorder, children_of, print_summary

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "loadtest" / "out"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m loadtest.login_flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8078)
    parser.add_argument("--mysql", default="mysql://root:@127.0.0.1:3306/dadashop_flood")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--processes", type=int, default=0, help="service workers; 0 = one per core")
    parser.add_argument("--buyers", "-B", type=int, default=2000, help="orders per phase")
    parser.add_argument("--rounds", type=int, default=2, help="calm + flood phases, alternating")
    parser.add_argument("--concurrency", "-C", type=int, default=64, help="order requests in flight")
    parser.add_argument("--flood", "-F", type=int, default=64, help="login requests in flight during the flood")
    parser.add_argument("--rate-limits", choices=("on", "off"), default="off")
    parser.add_argument("--max-hashes", type=int, help="DADASHOP_MAX_CONCURRENT_HASHES (default: the service's)")
    parser.add_argument("--flood-with", choices=("login", "not-found"), default="login",
                        help="not-found: a control flood of equally many cheap requests (GET of an unknown URL)")
    parser.add_argument("--service-dir", default=str(ROOT),
                        help="the checkout whose server.py to run (e.g. a worktree of an older commit, to compare)")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    return parser.parse_args(argv)


async def order_phase(args, label, buyers, service_pids):
    recorder = Recorder()
    client = Client(f"http://127.0.0.1:{args.port}", args.concurrency, recorder)

    def job(b):
        async def run():
            await client.call("create", "POST", P, token=b["token"],
                              json_body={"status": 0, "address_id": b["address_id"], "settlement_type": 0})
        return run

    recorder.start = time.perf_counter()
    with CpuMeter(service_pids) as cpu:
        await limited(args.concurrency, [job(b) for b in buyers])
    await client.close()
    samples = [s for s in recorder.samples if s[0] == "create"]
    ok = [s for s in samples if s[4] == 200]
    last = max((s[1] for s in ok), default=0.0)
    summary = recorder.summary()
    print(f"--- {label}")
    print_summary(summary)
    return {"orders": len(ok), "orders_per_s": len(ok) / last if last else 0.0,
            "latency_ms": {k: summary["create"][k] for k in ("p50", "p95", "p99", "max")},
            "http": summary["create"]["http"], "codes": summary["create"]["codes"],
            "errors": dict(recorder.errors), "cpu_cores": cpu.report()}


async def login_flood(args, stop_event, recorder):
    client = Client(f"http://127.0.0.1:{args.port}", args.flood, recorder)
    counter = iter(range(10 ** 9))

    async def attacker():
        while not stop_event.is_set():
            if args.flood_with == "login":
                await client.call("login", "POST", "/v1/tokens",
                                  json_body={"username": f"flood{next(counter)}", "password": "wrong-password"})
            else:
                await client.call("login", "GET", f"/v1/no-such-thing/{next(counter)}")

    await asyncio.gather(*[attacker() for _ in range(args.flood)])
    await client.close()


async def flood_phase(args, label, buyers, service_pids):
    """Orders of `buyers` while the flood runs (started first, so that it is in full swing)."""
    stop_event, logins = asyncio.Event(), Recorder()
    flooding = asyncio.ensure_future(login_flood(args, stop_event, logins))
    await asyncio.sleep(2.0)
    logins.samples.clear()
    logins.start = time.perf_counter()
    report = await order_phase(args, label, buyers, service_pids)
    window = logins.elapsed()
    stop_event.set()
    await flooding
    summary = logins.summary(window=window).get("login", {})
    print_summary({args.flood_with: summary})
    report["flood_requests"] = {"per_s": summary.get("rate", 0.0), "http": summary.get("http"),
                                "codes": summary.get("codes"), "p50_ms": summary.get("p50")}
    return report


def combined(phases):
    """Orders per second over all phases of a kind (orders / the time they took), and the median p50."""
    orders = sum(p["orders"] for p in phases)
    seconds = sum(p["orders"] / p["orders_per_s"] for p in phases if p["orders_per_s"])
    p50s = sorted(p["latency_ms"]["p50"] for p in phases)
    return {"orders": orders, "orders_per_s": orders / seconds if seconds else 0.0, "p50_ms": p50s[len(p50s) // 2]}


async def measure(args, secret, service_pids):
    conn = prepare.connect(args.mysql)
    tag = prepare.new_tag()
    warm, per_phase = 200, args.buyers
    buyers = prepare.make_buyers(conn, tag, warm + 2 * args.rounds * per_phase, secret)
    sku_id, = prepare.make_skus(conn, tag, 1, 10 ** 8)
    prepare.fill_carts(args.redis, buyers, lambda b: [sku_id])
    print(f"prepared {len(buyers)} buyers, SKU {sku_id}")

    await order_phase(args, "warm-up (not counted)", buyers[:warm], service_pids)
    calm, flood = [], []
    groups = [buyers[warm + k * per_phase:warm + (k + 1) * per_phase] for k in range(2 * args.rounds)]
    for r in range(args.rounds):  # calm and flood alternate, so that a change in the machine's load hits both
        calm.append(await order_phase(args, f"round {r + 1}, calm: orders alone", groups[2 * r], service_pids))
        flood.append(await flood_phase(args, f"round {r + 1}, flood: orders during {args.flood} parallel "
                                             f"{args.flood_with} requests", groups[2 * r + 1], service_pids))
    (orders_in_db,), = fetch_one(conn, "SELECT COUNT(*) FROM order_info WHERE user_id BETWEEN %s AND %s",
                                 (buyers[0]["id"], buyers[-1]["id"]))
    conn.close()
    told = warm + sum(p["orders"] for p in calm + flood)
    all_calm, all_flood = combined(calm), combined(flood)
    return {"calm": all_calm, "flood": all_flood, "rounds": {"calm": calm, "flood": flood},
            "round_ratios": [f["orders_per_s"] / c["orders_per_s"] if c["orders_per_s"] else 0.0
                             for c, f in zip(calm, flood)],
            "ratio": all_flood["orders_per_s"] / all_calm["orders_per_s"] if all_calm["orders_per_s"] else 0.0,
            "flood_requests": [f["flood_requests"] for f in flood],
            "check": {"orders_told": told, "orders_in_db": orders_in_db,
                      "ok": orders_in_db == told and told == len(buyers)}}


def fetch_one(conn, sql, args):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [cur.fetchone()]


def main(argv=None):
    args = parse_args(argv)
    python = sys.executable
    secret = "loadtest-flood-secret-0123456789abcdef"
    # the Redis index is flushed: take it the way test runs take theirs, so that none uses it meanwhile
    index = redis.Redis.from_url(args.redis).connection_pool.connection_kwargs.get("db", 0)
    lock_client, lock = redis.Redis.from_url(args.redis.rsplit("/", 1)[0] + "/0"), f"dadashop:test-run-lock:{index}"
    if not lock_client.set(lock, "loadtest.login_flood", nx=True, ex=3600):
        raise SystemExit(f"Redis db {index} is in use by a test run ({lock}): give another with --redis")
    fresh_database(args.mysql)
    redis.Redis.from_url(args.redis).flushdb()
    OUT.mkdir(exist_ok=True)
    env = dict(os.environ, DADASHOP_MYSQL_URL=args.mysql, DADASHOP_REDIS_URL=args.redis, DADASHOP_JWT_SECRET=secret,
               DADASHOP_PORT=str(args.port), DADASHOP_PUBLIC_URL=f"http://127.0.0.1:{args.port}",
               DADASHOP_ADMIN_KEY="loadtest-admin", DADASHOP_RATE_LIMITS="1" if args.rate_limits == "on" else "0")
    if args.max_hashes:
        env["DADASHOP_MAX_CONCURRENT_HASHES"] = str(args.max_hashes)
    logs = open(OUT / "login_flood_service.log", "w")
    service = subprocess.Popen([python, "server.py", "--processes", str(args.processes), "--no-jobs"],
                               cwd=args.service_dir, env=env, stdout=logs, stderr=logs)
    try:
        wait_for_port(args.port)
        time.sleep(1.0)  # let every worker open its pools
        workers = children_of(service.pid) or [service.pid]
        print(f"service {args.service_dir}: pid {service.pid}, workers {workers}; rate limits {args.rate_limits}, "
              f"max concurrent hashes {args.max_hashes or 'default'}, flood with {args.flood_with}")
        report = asyncio.run(measure(args, secret, [service.pid] + workers))
    finally:
        stop(service)
        logs.close()
        lock_client.delete(lock)
    calm, flood = report["calm"], report["flood"]
    print(f"\norders/s calm {calm['orders_per_s']:.0f} (p50 {calm['p50_ms']:.1f} ms), "
          f"during the flood {flood['orders_per_s']:.0f} (p50 {flood['p50_ms']:.1f} ms): "
          f"ratio {report['ratio']:.2f} (per round: {', '.join(f'{r:.2f}' for r in report['round_ratios'])})")
    for k, f in enumerate(report["flood_requests"]):
        print(f"round {k + 1}: {args.flood_with} requests during the flood {f['per_s']:.0f}/s, http {f['http']}, "
              f"codes {f['codes']}")
    print(f"check {'OK' if report['check']['ok'] else 'FAILED'}: {report['check']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
    return 0 if report["check"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
