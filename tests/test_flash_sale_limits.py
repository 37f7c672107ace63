"""Flash-sale SKUs: a per-buyer limit and a sale window, enforced inside the create transaction,
exactly, under concurrency — also one buyer firing many orders at once — and returned stock
(cancel, timeout) counting back."""
import asyncio
from datetime import timedelta

import pytest

from db import Q
from store.clock import shanghai_time_text, utcnow
from store.create_order import insert_order_deducting_stock, explain_refusal
from store.errors import NotOnSale, OutOfStock
from store.order_status import close_order
from tests.helpers import P, buy_now


async def flash_sku(shop, *, stock=100, limit=None, opens=None, closes=None):
    sku = await shop.sku(stock=stock)
    async with shop.pool.acquire() as conn:
        await Q.set_flash_sale(conn, sku_id=sku, limit_per_buyer=limit, sale_start=opens, sale_end=closes)
    return sku


async def held(shop, user, sku):
    row = await shop.fetchone("SELECT held FROM buyer_hold WHERE user_id=%s AND sku_id=%s", user["id"], sku)
    return row["held"] if row else 0


@pytest.mark.gen_test(timeout=60)
async def test_the_limit_counts_every_open_order_and_a_cancel_gives_it_back(api, shop):
    user = await shop.user()
    sku = await flash_sku(shop, limit=2)
    assert (await buy_now(api, user, sku))[1]["code"] == 200
    _, over = await buy_now(api, user, sku, 2)
    assert (over["code"], over["errmsg"]) == (50112, f"商品[{sku}]每人限购2件")
    _, second = await buy_now(api, user, sku)
    assert second["code"] == 200
    _, third = await buy_now(api, user, sku)
    assert third["code"] == 50112
    assert await held(shop, user, sku) == 2
    _, cancelled = await api.post(P, json_body={"status": 2, "order_id": second["data"]["order_id"]},
                                  token=user["token"])
    assert cancelled["code"] == 200 and await held(shop, user, sku) == 1
    assert (await buy_now(api, user, sku))[1]["code"] == 200
    other = await shop.user()  # the limit is per buyer
    assert (await buy_now(api, other, sku, 2))[1]["code"] == 200
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 96, "sales": 4}


@pytest.mark.gen_test(timeout=120)
async def test_one_buyer_firing_50_orders_at_once_gets_exactly_the_limit(api, shop):
    buyers = [await shop.user() for _ in range(4)]
    sku = await flash_sku(shop, stock=100, limit=3)
    answers = await asyncio.gather(*[buy_now(api, buyer, sku, key=f"k{i}") for buyer in buyers for i in range(50)])
    codes = [body["code"] for _, body in answers]
    assert all(status == 200 for status, _ in answers)
    assert codes.count(200) == 12 and codes.count(50112) == 188, sorted(set(codes))
    for buyer in buyers:
        row = await shop.fetchone("SELECT COALESCE(SUM(og.count), 0) AS n FROM order_goods og "
                                  "JOIN order_info oi ON oi.order_id = og.order_id WHERE oi.user_id=%s", buyer["id"])
        assert row["n"] == 3 and await held(shop, buyer, sku) == 3
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 88, "sales": 12}


@pytest.mark.gen_test(timeout=60)
async def test_a_timeout_close_counts_back_too(api, services, shop):
    user = await shop.user()
    sku = await flash_sku(shop, limit=1)
    _, first = await buy_now(api, user, sku)
    assert (await buy_now(api, user, sku))[1]["code"] == 50112
    assert await close_order(services, first["data"]["order_id"], "timeout")
    assert await held(shop, user, sku) == 0
    assert (await buy_now(api, user, sku))[1]["code"] == 200


@pytest.mark.gen_test(timeout=60)
async def test_outside_the_window_is_50113_saying_when_it_opens_or_closed(api, shop):
    user = await shop.user()
    now = utcnow().replace(microsecond=0)
    later = await flash_sku(shop, opens=now + timedelta(hours=1), closes=now + timedelta(hours=2))
    over = await flash_sku(shop, opens=now - timedelta(hours=2), closes=now - timedelta(hours=1))
    open_now = await flash_sku(shop, opens=now - timedelta(hours=1), closes=now + timedelta(hours=1))
    _, body = await buy_now(api, user, later)
    assert (body["code"], body["errmsg"]) == (50113, f"商品[{later}]将于{shanghai_time_text(now + timedelta(hours=1))}开售")
    _, body = await buy_now(api, user, over)
    assert body["code"] == 50113 and "结束" in body["errmsg"]
    assert (await buy_now(api, user, open_now))[1]["code"] == 200
    assert await shop.fetchone("SELECT COUNT(*) AS n FROM order_info") == {"n": 1}
    assert (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", later))["stock"] == 100


@pytest.mark.gen_test(timeout=60)
async def test_the_statement_itself_refuses_outside_the_window(services, shop):
    """Even when the early check was passed (the window closed in between), the database refuses."""
    user = await shop.user()
    sku = await flash_sku(shop, opens=utcnow() + timedelta(hours=1))
    now = utcnow()
    order = {"user_id": user["id"], "address_id": user["address_id"], "total_count": 1, "freight": 10,
             "idempotency_key": None, "created_time": now, "pay_deadline": now + timedelta(minutes=30)}
    with pytest.raises(OutOfStock) as refused:
        await insert_order_deducting_stock(services.pool, order, {sku: 1})
    with pytest.raises(NotOnSale):
        await explain_refusal(services, refused.value)
    assert await shop.fetchone("SELECT COUNT(*) AS n FROM order_info") == {"n": 0}


@pytest.mark.gen_test
async def test_the_catalog_shows_the_limit_and_the_window(api, shop):
    now = utcnow().replace(microsecond=0)
    sku = await flash_sku(shop, limit=2, opens=now, closes=now + timedelta(days=1))
    plain = await shop.sku()
    _, body = await api.get(f"/v1/goods/skus/{sku}")
    assert (body["data"]["limit_per_buyer"], body["data"]["sale_start"], body["data"]["sale_end"]) == \
        (2, shanghai_time_text(now), shanghai_time_text(now + timedelta(days=1)))
    _, body = await api.get(f"/v1/goods/skus/{plain}")
    assert (body["data"]["limit_per_buyer"], body["data"]["sale_start"], body["data"]["sale_end"]) == (None,) * 3


@pytest.mark.gen_test(timeout=60)
async def test_a_refused_create_rolls_itself_back_in_the_server(services, shop, monkeypatch):
    """No ROLLBACK round trip after a refusal: the statement rolled back before answering, so its
    connection is out of any transaction and the SKU row is free the moment the refusal arrives."""
    import aiomysql

    import db
    user = await shop.user()
    sku = await shop.sku(stock=1)
    rollbacks = []
    original = aiomysql.Connection.rollback

    async def counted_rollback(conn):
        rollbacks.append(conn)
        return await original(conn)

    monkeypatch.setattr(aiomysql.Connection, "rollback", counted_rollback)
    pool = await db.create_pool(services.config.mysql, maxsize=1)  # one connection: the one that failed
    try:
        now = utcnow()
        order = {"user_id": user["id"], "address_id": user["address_id"], "total_count": 2, "freight": 10,
                 "idempotency_key": None, "created_time": now, "pay_deadline": now + timedelta(minutes=30)}
        with pytest.raises(OutOfStock):
            await insert_order_deducting_stock(pool, order, {sku: 2})
        assert rollbacks == []
        async with pool.acquire() as conn:
            async with conn.cursor() as cur:
                await cur.execute("SELECT @@in_transaction")
                assert (await cur.fetchone())[0] == 0
        async with shop.pool.acquire() as other:
            await other.begin()
            async with other.cursor() as cur:
                await cur.execute("SELECT stock FROM sku WHERE id = %s FOR UPDATE NOWAIT", (sku,))
                assert (await cur.fetchone())[0] == 1
            await other.rollback()
    finally:
        pool.close()
        await pool.wait_closed()
    assert await shop.fetchone("SELECT COUNT(*) AS n FROM order_info") == {"n": 0}
