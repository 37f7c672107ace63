"""Load scenarios against a running service: `python -m loadtest.run <scenario> [options]`.

Scenarios: flash-sale, hot-sku, steady, read, ceiling (MariaDB alone, no HTTP). Each prepares its
own data directly in the service's database and Redis, runs, prints throughput, latency
percentiles, counts per HTTP status and business code, what the generator itself cost in CPU,
and a correctness check read back from the database. Exit status 1 when a check fails.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import sys
import time

import aiohttp
import aiomysql

import config as config_module
from loadtest import prepare
from loadtest.stats import CpuMeter, Progress, Recorder, print_summary, timeline

P = "/v1/orders/processing/"


# ---------------------------------------------------------------- HTTP

class Client:
    def __init__(self, base_url, concurrency, recorder):
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=3600, force_close=False),
            timeout=aiohttp.ClientTimeout(total=120))

    async def call(self, op, method, path, *, token=None, json_body=None, params=None, data=None,
                   url=None, redirect=False):
        """One request; records (latency, HTTP status, business code). Returns (status, body, headers)."""
        headers = {"authorization": token} if token else None
        t0 = time.perf_counter()
        try:
            async with self.session.request(method, url or self.base_url + path, headers=headers, json=json_body,
                                            params=params, data=data, allow_redirects=redirect) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            self.recorder.error(op, exc)
            return 0, None, {}
        latency = time.perf_counter() - t0
        body = None
        code = status
        if raw[:1] == b"{":
            try:
                body = json.loads(raw)
                code = body.get("code", status)
            except ValueError:
                pass
        self.recorder.add(op, latency, status, code)
        return status, body, resp_headers

    async def close(self):
        await self.session.close()


async def with_progress(coro, recorder, total=None, label=""):
    progress = Progress(recorder, total, label)
    task = asyncio.ensure_future(coro)
    while not task.done():
        await asyncio.wait([task], timeout=1.0)
        progress.tick()
    progress.done()
    return task.result()


async def limited(n, jobs):
    """Run the coroutine factories `jobs` with at most `n` in flight."""
    queue = collections.deque(jobs)

    async def worker():
        while queue:
            await queue.popleft()()
    await asyncio.gather(*[worker() for _ in range(n)])


# ---------------------------------------------------------------- database read-back

def fetch(conn, sql, args=()):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def check_sale(conn, sku_id, stock, buyers, answers):
    """What the database says after a sale on one SKU, compared with what the buyers were told."""
    (left, sales), = fetch(conn, "SELECT stock, sales FROM sku WHERE id=%s", (sku_id,))
    (lines, units), = fetch(conn, "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM order_goods WHERE sku_id=%s",
                            (sku_id,))
    user_ids = [b["id"] for b in buyers]
    (orders, distinct_ids, distinct_buyers), = fetch(
        conn, "SELECT COUNT(*), COUNT(DISTINCT order_id), COUNT(DISTINCT user_id) FROM order_info "
              "WHERE user_id BETWEEN %s AND %s", (min(user_ids), max(user_ids)))
    told_ok = [b["data"]["order_id"] for b in answers if b and b.get("code") == 200]
    result = {
        "stock_left": left, "sales": sales, "order_lines": lines, "units_in_lines": int(units), "orders": orders,
        "oversold": max(0, int(units) - stock) + max(0, sales - stock),
        "duplicate_order_ids": (orders - distinct_ids) + (len(told_ok) - len(set(told_ok))),
        "orders_per_buyer_max_exceeded": orders - distinct_buyers,
        "stock_conserved": left + sales == stock,
        "answers_200_match_db": len(told_ok) == orders == lines,
    }
    result["ok"] = (result["oversold"] == 0 and result["duplicate_order_ids"] == 0 and result["stock_conserved"]
                    and result["answers_200_match_db"] and result["orders_per_buyer_max_exceeded"] == 0)
    return result


# ---------------------------------------------------------------- scenarios

async def sale(args, *, hot):
    """flash-sale / hot-sku: every buyer creates one order of the one SKU in the cart."""
    stock = args.stock if not hot else max(args.stock or 0, args.buyers)
    conn = prepare.connect(args.mysql_url)
    tag = prepare.new_tag()
    t = time.perf_counter()
    buyers = prepare.make_buyers(conn, tag, args.buyers, args.jwt_secret)
    sku_id, = prepare.make_skus(conn, tag, 1, stock)
    prepare.fill_carts(args.redis_url, buyers, lambda b: [sku_id])
    print(f"prepared {len(buyers)} buyers, SKU {sku_id} with stock {stock}, carts "
          f"({time.perf_counter() - t:.1f}s)")

    recorder = Recorder()
    client = Client(args.base_url, args.concurrency, recorder)
    answers = [None] * len(buyers)

    def job(i, b):
        async def run():
            body = {"status": 0, "address_id": b["address_id"], "settlement_type": 0}
            if args.keys:  # as the storefront sends its Idempotency-Key (the body's request_id is the same)
                body["request_id"] = f"lt{tag}-{i}"
            _, body, _ = await client.call("create", "POST", P, token=b["token"], json_body=body)
            answers[i] = body
        return run

    recorder.start = time.perf_counter()
    with CpuMeter(args.service_pid) as cpu:
        await with_progress(limited(args.concurrency, [job(i, b) for i, b in enumerate(buyers)]), recorder,
                            len(buyers), "hot-sku" if hot else "flash-sale")
    await client.close()

    summary = recorder.summary()
    s = summary.get("create", {})
    samples = [x for x in recorder.samples if x[0] == "create"]
    ok_times = [x[1] for x in samples if x[4] == 200]
    last_ok = max(ok_times) if ok_times else 0.0
    sold_out_after = [x for x in samples if x[4] == 50103 and x[1] > last_ok]
    end = max((x[1] for x in samples), default=0.0)
    report = {
        "scenario": "hot-sku" if hot else "flash-sale", "buyers": len(buyers), "stock": stock,
        "concurrency": args.concurrency, "wall_s": recorder.elapsed(),
        "requests_per_s": s.get("rate", 0.0),
        "orders": len(ok_times), "orders_per_s": len(ok_times) / last_ok if last_ok else 0.0,
        "sold_out_answers_after_last_unit": len(sold_out_after),
        "sold_out_per_s": len(sold_out_after) / (end - last_ok) if end > last_ok and sold_out_after else 0.0,
        "latency_ms": {k: s.get(k) for k in ("p50", "p95", "p99", "max")},
        "latency_ms_orders": latencies([x for x in samples if x[4] == 200]),
        "latency_ms_sold_out": latencies(sold_out_after),
        "http": s.get("http"), "codes": s.get("codes"), "errors": dict(recorder.errors),
        "answered": sum(1 for a in answers if a is not None), "cpu_cores": cpu.report(),
        "timeline": timeline(recorder, cpu),
    }
    report["check"] = check_sale(conn, sku_id, stock, buyers, answers)
    report["check"]["every_buyer_answered"] = report["answered"] == len(buyers)
    report["check"]["no_50104_or_5xx"] = not any(
        c == 50104 for c in s.get("codes", {})) and not any(h >= 500 or h == 0 for h in s.get("http", {}))
    # every answer is an order or "sold out" (a 401 from a wrong JWT secret is no passed run), and
    # with stock for every buyer (hot-sku) every buyer has an order
    report["check"]["only_orders_or_sold_out"] = set(s.get("codes", {})) <= {200, 50103}
    report["check"]["every_buyer_ordered"] = not hot or len(ok_times) == len(buyers)
    report["check"]["ok"] = all(report["check"][name] for name in (
        "ok", "every_buyer_answered", "no_50104_or_5xx", "only_orders_or_sold_out", "every_buyer_ordered"))
    conn.close()
    print_summary(summary)
    return report


def latencies(samples):
    from loadtest.stats import percentile
    lat = sorted(x[2] * 1000 for x in samples)
    return {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
            "max": lat[-1] if lat else 0.0}


async def read(args, *, cached=True):
    """Order list pages for buyers with `orders_per_buyer` orders each. `read`: one page of
    `page_size`, asked over and over as a storefront does (served from the order-list cache after
    each buyer's first, unmeasured, visit). `read-uncached`: every request asks a page never asked
    before (buyer × page size 1..50), so every one is a cache miss served by the database."""
    conn = prepare.connect(args.mysql_url)
    tag = prepare.new_tag()
    t = time.perf_counter()
    buyers = prepare.make_buyers(conn, tag, args.buyers, args.jwt_secret)
    sku_ids = prepare.make_skus(conn, tag, 20, 1000)
    prepare.make_order_history(conn, tag, buyers, sku_ids, args.orders_per_buyer)
    print(f"prepared {len(buyers)} buyers with {args.orders_per_buyer} orders each ({time.perf_counter() - t:.1f}s)")

    recorder = Recorder()
    client = Client(args.base_url, args.concurrency, recorder)

    def params(page_size):
        return {"status": "1", "order_status": "0", "page": "1", "page_size": str(page_size)}

    if cached:
        # each buyer's first page is read once before the clock starts, as a buyer's earlier visits
        # would have: the measured reads are served from the order-list cache
        await limited(args.concurrency, [lambda b=b: client.call("warm", "GET", P, token=b["token"],
                                                                 params=params(args.page_size))
                                         for b in buyers])
        recorder.samples.clear()
        asks = None
    else:  # every (buyer, page size) once, in an order that spreads buyers and sizes
        asks = [(b, size) for size in range(1, MAX_PAGE_SIZE + 1) for b in buyers]
        random.Random(7).shuffle(asks)
    bad_pages = []
    deadline = time.perf_counter() + args.duration

    async def worker(k):
        i = k
        while time.perf_counter() < deadline:
            if asks is None:
                b, size = buyers[i % len(buyers)], args.page_size
                i += args.concurrency
            elif asks:
                b, size = asks.pop()
            else:
                return  # every page asked once: no request may be a hit
            _, body, _ = await client.call("list", "GET", P, token=b["token"], params=params(size))
            if body and body.get("code") == 200 and (len(body["data"]["orders_list"]) != min(
                    size, args.orders_per_buyer) or body["data"]["total"] != args.orders_per_buyer):
                bad_pages.append(body["data"]["total"])

    recorder.start = time.perf_counter()
    name = "read" if cached else "read-uncached"
    with CpuMeter(args.service_pid) as cpu:
        await with_progress(asyncio.gather(*[worker(k) for k in range(args.concurrency)]), recorder, None, name)
    await client.close()
    conn.close()
    summary = recorder.summary()
    print_summary(summary)
    s = summary.get("list", {})
    return {"scenario": name, "buyers": len(buyers), "orders_per_buyer": args.orders_per_buyer,
            "page_size": args.page_size if cached else f"1-{MAX_PAGE_SIZE}", "concurrency": args.concurrency,
            "pages_per_s": s.get("rate", 0.0),
            "latency_ms": {k: s.get(k) for k in ("p50", "p95", "p99", "max")}, "http": s.get("http"),
            "codes": s.get("codes"), "errors": dict(recorder.errors), "cpu_cores": cpu.report(),
            "timeline": timeline(recorder, cpu),
            "check": {"pages_with_wrong_content": len(bad_pages), "ok": not bad_pages and set(s.get("codes", {}))
                      == {200}}}


MAX_PAGE_SIZE = 50  # the service's own limit on page_size


async def steady(args):
    """A mixed storefront for `duration` seconds over many SKUs: each virtual buyer confirms, creates an
    order, lists orders, asks for the pay URL, follows it to the sandbox cashier and pays there (the
    sandbox then notifies the service), refills the cart, and starts again."""
    conn = prepare.connect(args.mysql_url)
    tag = prepare.new_tag()
    buyers = prepare.make_buyers(conn, tag, args.buyers, args.jwt_secret)
    sku_ids = prepare.make_skus(conn, tag, args.skus, args.stock or 100_000)
    initial = args.stock or 100_000

    def cart_of(b):
        return [sku_ids[(b["id"] * 7 + k) % len(sku_ids)] for k in range(1 + b["id"] % 3)]

    prepare.fill_carts(args.redis_url, buyers, cart_of)
    print(f"prepared {len(buyers)} buyers, {len(sku_ids)} SKUs with stock {initial}")

    import redis_client
    rds = await redis_client.connect(args.redis_url)  # one server or a Redis Cluster
    recorder = Recorder()
    client = Client(args.base_url, args.concurrency, recorder)
    created, paid_at_sandbox = [], []
    deadline = time.perf_counter() + args.duration

    async def shopper(k):
        i = k
        while time.perf_counter() < deadline:
            b = buyers[i % len(buyers)]
            i += args.concurrency
            tok = b["token"]
            await client.call("confirm", "GET", P, token=tok, params={"status": "0", "settlement_type": "0"})
            _, body, _ = await client.call("create", "POST", P, token=tok, json_body={
                "status": 0, "address_id": b["address_id"], "settlement_type": 0})
            if not body or body.get("code") != 200:
                continue
            order_id = body["data"]["order_id"]
            created.append(order_id)
            await client.call("list", "GET", P, token=tok, params={"status": "1", "page": "1", "page_size": "10"})
            _, body, _ = await client.call("pay", "POST", P, token=tok, json_body={"status": 1, "order_id": order_id})
            if body and body.get("code") == 200:
                status, _, headers = await client.call("pay_link", "GET", None, url=body["data"]["pay_url"])
                if status == 302:
                    cashier, _, _ = await client.call("cashier", "GET", None, url=headers["Location"])
                    if cashier == 200:
                        ok, _, _ = await client.call("sandbox_pay", "POST", None, url=args.sandbox_url.rstrip("/")
                                                     + "/sandbox/api/pay", data={"out_trade_no": order_id})
                        if ok == 200:
                            paid_at_sandbox.append(order_id)
            await rds.hset(f"cart_{b['id']}", mapping={str(s): prepare.CART_ITEM for s in cart_of(b)})

    recorder.start = time.perf_counter()
    with CpuMeter(args.service_pid) as cpu:
        await with_progress(asyncio.gather(*[shopper(k) for k in range(args.concurrency)]), recorder, None,
                            "steady")
    await client.close()
    await rds.aclose()
    summary = recorder.summary()
    print_summary(summary)

    # the sandbox notifies asynchronously: give it a moment, then read back what was paid
    wait_until = time.perf_counter() + 30
    while True:
        ids = [b["id"] for b in buyers]
        (orders, paid), = fetch(conn, "SELECT COUNT(*), COALESCE(SUM(status = 2), 0) FROM order_info "
                                      "WHERE user_id BETWEEN %s AND %s", (min(ids), max(ids)))
        if paid >= len(paid_at_sandbox) or time.perf_counter() > wait_until:
            break
        time.sleep(0.5)
    rows = fetch(conn, "SELECT s.id, s.stock, s.sales, COALESCE((SELECT SUM(count) FROM order_goods g "
                       "WHERE g.sku_id = s.id), 0) FROM sku s WHERE s.id BETWEEN %s AND %s",
                 (min(sku_ids), max(sku_ids)))
    conn.close()
    conserved = all(stock + sales == initial and sales == int(lines) for _, stock, sales, lines in rows)
    total = sum(v["count"] for v in summary.values())
    check = {"orders_created": len(created), "orders_in_db": orders, "paid_at_sandbox": len(paid_at_sandbox),
             "paid_in_db": int(paid), "stock_plus_sales_conserved": conserved,
             "duplicate_order_ids": len(created) - len(set(created))}
    check["ok"] = (conserved and orders == len(created) and int(paid) == len(paid_at_sandbox)
                   and check["duplicate_order_ids"] == 0
                   and not any(h >= 500 or h == 0 for v in summary.values() for h in v["http"]))
    return {"scenario": "steady", "buyers": len(buyers), "skus": len(sku_ids), "concurrency": args.concurrency,
            "duration_s": args.duration, "requests_per_s": total / recorder.elapsed(),
            "orders_per_s": len(created) / recorder.elapsed(), "operations": summary,
            "errors": dict(recorder.errors), "cpu_cores": cpu.report(), "timeline": timeline(recorder, cpu),
            "check": check}


async def ceiling(args):
    """MariaDB alone: C connections each BEGIN; UPDATE the hot SKU; INSERT a row; COMMIT — tx/s."""
    conn = prepare.connect(args.mysql_url)
    tag = prepare.new_tag()
    sku_id, = prepare.make_skus(conn, tag, 1, 1_000_000_000)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS loadtest_ceiling (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, "
                    "sku_id INT UNSIGNED NOT NULL, order_id VARCHAR(64) NOT NULL, count INT UNSIGNED NOT NULL, "
                    "price DECIMAL(10,2) NOT NULL) ENGINE=InnoDB")
    target = config_module.parse_mysql_url(args.mysql_url)
    pool = await aiomysql.create_pool(minsize=args.concurrency, maxsize=args.concurrency, host=target.host,
                                      port=target.port, user=target.user, password=target.password, db=target.db,
                                      autocommit=True)
    recorder = Recorder()
    deadline = time.perf_counter() + args.duration
    failed = 0

    async def worker(k):
        nonlocal failed
        n = 0
        async with pool.acquire() as c:
            async with c.cursor() as cur:
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    await c.begin()
                    changed = await cur.execute("UPDATE sku SET stock = stock - 1, sales = sales + 1 "
                                                "WHERE id = %s AND stock >= 1", (sku_id,))
                    await cur.execute("INSERT INTO loadtest_ceiling (sku_id, order_id, count, price) "
                                      "VALUES (%s, %s, 1, 9.90)", (sku_id, f"{tag}-{k}-{n}"))
                    await c.commit()
                    n += 1
                    failed += changed != 1
                    recorder.add("tx", time.perf_counter() - t0, 200, 200)

    recorder.start = time.perf_counter()
    with CpuMeter(args.service_pid) as cpu:
        await with_progress(asyncio.gather(*[worker(k) for k in range(args.concurrency)]), recorder, None,
                            "ceiling")
    pool.close()
    await pool.wait_closed()
    (stock, sales), = fetch(conn, "SELECT stock, sales FROM sku WHERE id=%s", (sku_id,))
    conn.close()
    summary = recorder.summary()
    print_summary(summary)
    s = summary["tx"]
    return {"scenario": "ceiling", "concurrency": args.concurrency, "tx_per_s": s["rate"],
            "latency_ms": {k: s[k] for k in ("p50", "p95", "p99", "max")}, "cpu_cores": cpu.report(),
            "timeline": timeline(recorder, cpu),
            "check": {"sales": sales, "transactions": s["count"], "ok": sales == s["count"] - failed and failed == 0
                      and stock + sales == 1_000_000_000}}


SCENARIOS = {"flash-sale": lambda a: sale(a, hot=False), "hot-sku": lambda a: sale(a, hot=True),
             "steady": steady, "read": read, "read-uncached": lambda a: read(a, cached=False), "ceiling": ceiling}

DEFAULTS = {  # per scenario: buyers, stock, concurrency, duration
    "flash-sale": dict(buyers=2000, stock=500, concurrency=64),
    "hot-sku": dict(buyers=4000, stock=None, concurrency=64),
    "steady": dict(buyers=1000, stock=None, concurrency=32, duration=30),
    "read": dict(buyers=200, concurrency=32, duration=15),
    "read-uncached": dict(buyers=200, concurrency=32, duration=8),
    "ceiling": dict(concurrency=64, duration=10),
}


def parse_args(argv=None):
    env = {**config_module.read_env_file(), **os.environ}
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--base-url", default=env.get("LOADTEST_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--mysql-url", default=env.get("DADASHOP_MYSQL_URL", config_module.Config.mysql_url))
    parser.add_argument("--redis-url", default=env.get("DADASHOP_REDIS_URL", config_module.Config.redis_url))
    parser.add_argument("--jwt-secret", default=env.get("DADASHOP_JWT_SECRET", config_module.DEV_JWT_SECRET))
    parser.add_argument("--sandbox-url", default=env.get("LOADTEST_SANDBOX_URL", "http://127.0.0.1:8090"),
                        help="steady: the Alipay sandbox the service uses (for /sandbox/api/pay)")
    parser.add_argument("--buyers", "-B", type=int)
    parser.add_argument("--stock", "-S", type=int)
    parser.add_argument("--concurrency", "-C", type=int, help="requests (or ceiling: connections) in flight")
    parser.add_argument("--duration", "-T", type=float, help="seconds (steady, read, ceiling)")
    parser.add_argument("--skus", type=int, default=200, help="steady: number of SKUs")
    parser.add_argument("--orders-per-buyer", type=int, default=20, help="read")
    parser.add_argument("--page-size", type=int, default=20, help="read")
    parser.add_argument("--keys", action="store_true",
                        help="flash-sale, hot-sku: every create carries an idempotency key, as the storefront's do")
    parser.add_argument("--service-pid", type=int, action="append", default=[],
                        help="count this process's CPU as the service's (repeatable)")
    parser.add_argument("--json", help="also write the report as JSON to this file, and as HTML with plots beside it")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS[args.scenario].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def print_report(report):
    print(json.dumps({k: v for k, v in report.items() if k != "timeline"}, indent=2, default=str))
    print(f"==> {report['scenario']}: check {'OK' if report['check']['ok'] else 'FAILED'}")


def main(argv=None):
    args = parse_args(argv)
    report = asyncio.run(SCENARIOS[args.scenario](args))
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
        from loadtest.report import write_html
        print(f"report: {write_html(report, os.path.splitext(args.json)[0] + '.html')}")
    return 0 if report["check"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
