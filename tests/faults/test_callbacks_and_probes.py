"""Callbacks under faults (a notify before its order is visible, refunds raced by several runners)
and the probes a load balancer uses (/healthz, /readyz)."""
import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from alipay.signer import load_private_key_file, sign_callback
from alipay_sandbox import ALIPAY_PRIVATE_KEY_PATH
from db import Q
from store import payments
from store.clock import utcnow
from tests.helpers import buy_now

NOTIFY = "/v1/orders/success/"


async def post_notify(api, params):
    signed = sign_callback(params, load_private_key_file(ALIPAY_PRIVATE_KEY_PATH))
    return await api.post(NOTIFY, body=urlencode(signed),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


@pytest.mark.gen_test(timeout=60)
async def test_a_notify_for_an_order_not_yet_visible_is_applied_when_resent(api, services, shop):
    user = await shop.user()
    order_id = "20261201120000000001deadbeef00"
    params = {"out_trade_no": order_id, "trade_no": "2026120122001400000000000001", "trade_status": "TRADE_SUCCESS",
              "total_amount": "110.00", "app_id": services.config.alipay_app_id, "notify_id": "early-notify-1",
              "notify_time": "2026-12-01 12:00:05", "gmt_payment": "2026-12-01 12:00:04", "charset": "utf-8",
              "sign_type": "RSA2", "version": "1.0"}
    assert await post_notify(api, params) == (200, "fail")  # no such order (yet): Alipay will resend
    now = utcnow()
    async with services.pool.acquire() as conn:  # the order becomes visible (e.g. its commit lands)
        await Q.insert_order(conn, order_id=order_id, user_id=user["id"], address_id=user["address_id"],
                             receiver="x", receiver_mobile="13600000000", address="x", tag="", total_count=1,
                             total_amount=Decimal("110.00"), freight=Decimal("10.00"), idempotency_key=None,
                             created_time=now, pay_deadline=now + timedelta(minutes=30))
    assert await post_notify(api, params) == (200, "success")  # the resend is applied, not answered from memory
    row = await shop.fetchone("SELECT status, trade_no FROM order_info WHERE order_id=%s", order_id)
    assert row == {"status": 2, "trade_no": params["trade_no"]}
    events = await shop.fetchall("SELECT notify_id, outcome FROM payment_event WHERE order_id=%s ORDER BY id",
                                 order_id)
    assert events == [{"notify_id": None, "outcome": "unknown_order"},
                      {"notify_id": "early-notify-1", "outcome": "paid"}]


@pytest.mark.gen_test(timeout=120)
async def test_refund_runners_racing_send_each_refund_once(api, services, shop, sandbox):
    import server
    user = await shop.user()
    sku = await shop.sku(price="20.00", stock=5)
    _, body = await buy_now(api, user, sku, 1)
    order = body["data"]
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))
    await shop.execute("UPDATE order_info SET status=5 WHERE order_id=%s", order["order_id"])
    real_alipay = services.alipay
    services.alipay = server.make_alipay_client(dataclasses.replace(services.config,
                                                                    alipay_gateway="http://127.0.0.1:9/x"))
    services.alipay.retries = 0
    await sandbox.pay(order["order_id"])  # a late payment: a refund is owed
    await sandbox.wait_for_notifies(10)
    await services.wait_for_tasks()
    due_now = "UPDATE refund SET next_attempt_time = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
    attempts = "SELECT status, attempts FROM refund WHERE order_id=%s"
    before = (await shop.fetchone(attempts, order["order_id"]))["attempts"]
    # six runners (as six processes would) at once, Alipay unreachable: one of them tries, once
    await shop.execute(due_now)
    await asyncio.gather(*[payments.refund_due(services) for _ in range(6)])
    assert await shop.fetchone(attempts, order["order_id"]) == {"status": "pending", "attempts": before + 1}
    services.alipay = real_alipay
    await shop.execute(due_now)
    done = await asyncio.gather(*[payments.refund_due(services) for _ in range(6)])
    assert sum(done) == 1
    assert await shop.fetchone(attempts, order["order_id"]) == {"status": "done", "attempts": before + 2}
    assert str(sandbox.trades[order["order_id"]].refunded_amount) == "30.00"


@pytest.mark.gen_test(timeout=60)
async def test_probes(api, app, services):
    assert await api.get("/healthz") == (200, {"code": 200, "data": {"status": "alive"}})
    status, body = await api.get("/readyz")
    assert (status, body["data"]) == (200, {"mysql": "ok", "redis": "ok", "draining": False})
    app.draining = True  # what a SIGTERM sets first
    status, body = await api.get("/readyz")
    assert (status, body["code"], body["data"]) == (503, 50111, {"draining": True})
    assert await api.get("/healthz") == (200, {"code": 200, "data": {"status": "alive"}})


@pytest.mark.gen_test(timeout=60)
async def test_with_redis_gone_every_committed_change_is_answered_200(api, services, shop):
    """Create (buy-now), pay, cancel and confirm receipt commit in MariaDB; what follows in Redis (cart,
    list version, sold-out marks) is best effort. Redis here: a port nobody listens on."""
    import server
    from tests.helpers import P, free_port
    user = await shop.user()
    sku = await shop.sku(stock=3)
    _, body = await buy_now(api, user, sku, 1)
    shipped = body["data"]["order_id"]
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", shipped)
    real_redis = services.redis
    services.redis = await server.make_redis_client(dataclasses.replace(
        services.config, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        status, created = await buy_now(api, user, sku, 2, key="redis-gone-1")
        assert (status, created["code"]) == (200, 200), created
        order_id = created["data"]["order_id"]
        assert (await api.post(P, json_body={"status": 1, "order_id": order_id}, token=user["token"]))[1]["code"] == 200
        cancelled = await api.post(P, json_body={"status": 2, "order_id": order_id}, token=user["token"])
        assert cancelled == (200, {"code": 200})
        assert await api.get(P, params={"status": 2, "order_id": shipped}, token=user["token"]) == (200, {"code": 200})
        # a repeat with the key answers with the (now cancelled) order, never a second one
        _, again = await buy_now(api, user, sku, 2, key="redis-gone-1")
        assert again["data"]["order_id"] == order_id
    finally:
        await services.redis.aclose()
        services.redis = real_redis
    rows = await shop.fetchall("SELECT order_id, status FROM order_info WHERE user_id=%s ORDER BY id", user["id"])
    assert [(r["order_id"], r["status"]) for r in rows] == [(shipped, 4), (order_id, 5)]
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 2, "sales": 1}


def test_fault_settings_come_from_the_environment():
    import config as config_module
    defaults = config_module.load(environ={}, env_file="/nonexistent")
    assert (defaults.mysql_connect_timeout, defaults.mysql_statement_timeout, defaults.redis_timeout,
            defaults.retry_after, defaults.drain_time) == (3.0, 5.0, 2.0, 2, 20.0)
    chosen = config_module.load(environ={"DADASHOP_MYSQL_CONNECT_TIMEOUT": "1.5",
                                         "DADASHOP_MYSQL_STATEMENT_TIMEOUT": "8", "DADASHOP_REDIS_TIMEOUT": "0.25",
                                         "DADASHOP_RETRY_AFTER": "5", "DADASHOP_DRAIN_TIME": "30"},
                                env_file="/nonexistent")
    assert (chosen.mysql_connect_timeout, chosen.mysql_statement_timeout, chosen.redis_timeout,
            chosen.retry_after, chosen.drain_time) == (1.5, 8.0, 0.25, 5, 30.0)
    for bad in ("0", "-1", "soon"):  # (tests/test_config.py tries more)
        with pytest.raises(config_module.ConfigError, match="DADASHOP_DRAIN_TIME"):
            config_module.load(environ={"DADASHOP_DRAIN_TIME": bad}, env_file="/nonexistent")
