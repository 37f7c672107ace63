"""The buyer's and the merchant's order lists, whose orders MariaDB shapes as JSON
(sql/fragments/listed_order_json.sql, merchant_order_json.sql): every field of every kind of order,
checked against values written out by hand — money to 2 places, times in Shanghai time (cut, not
rounded), sale attributes in their SPU's order, fields that only some statuses have, and names that
JSON must escape."""
import json
from datetime import datetime
from decimal import Decimal

import pytest

from db import Q
from tests.helpers import ADMIN_KEY, P

ADMIN = {"X-Admin-Key": ADMIN_KEY}
# a name JSON must escape: quotes, a backslash, a newline, a control character, non-BMP, "</script>"
AWKWARD = '他说"好"\\ 第二行\n\x01 😀 </script>'
ADDRESS = {"title": "家", "address": "北京市东城区珍贝大厦", "mobile": "13600000000", "receiver": "张三"}


async def make_sku(shop, name, price, attrs):
    """A SKU whose sale attributes are created in the order given, each with the given sort."""
    async with shop.pool.acquire() as conn:
        spu_id = await Q.create_spu(conn, name=shop.unique("spu"), caption="")
        sku_id = await Q.create_sku(conn, spu_id=spu_id, name=name, caption="", price=Decimal(price), stock=10,
                                    is_launched=1, default_image_url="img/x.svg")
        for attr, value, sort in attrs:
            attr_id = await Q.create_spu_sale_attr(conn, spu_id=spu_id, name=attr, sort=sort)
            await Q.create_sale_attr_value(conn, sku_id=sku_id, spu_sale_attr_id=attr_id, name=value)
    return sku_id


async def make_order(shop, user, order_id, created, lines, **facts):
    """An order written directly: `lines` are (sku_id, count, price); `facts` the columns a status
    change sets."""
    amount = sum(Decimal(price) * count for _, count, price in lines) + Decimal("10.00")
    async with shop.pool.acquire() as conn:
        await Q.insert_order(conn, order_id=order_id, user_id=user["id"], address_id=user["address_id"],
                             receiver="张三", receiver_mobile="13600000000", address="北京市东城区珍贝大厦", tag="家",
                             total_count=sum(count for _, count, _ in lines), total_amount=amount,
                             freight=Decimal("10.00"), idempotency_key=None, created_time=created,
                             pay_deadline=created.replace(minute=created.minute + 15))
    for sku_id, count, price in lines:
        await shop.execute("INSERT INTO order_goods (order_id, sku_id, count, price) VALUES (%s, %s, %s, %s)",
                           order_id, sku_id, count, Decimal(price))
    for column, value in facts.items():
        await shop.execute(f"UPDATE order_info SET {column} = %s WHERE order_id = %s", value, order_id)


async def make_history(shop):
    user = await shop.user()
    # attributes created out of their sort order: the list follows sort, not creation
    shirt = await make_sku(shop, AWKWARD, "12.34", [("尺码", "XL", 2), ("颜色", "红色", 1)])
    plain = await make_sku(shop, "无规格商品", "0.05", [])
    # created 16:30:45.987654 UTC = 00:30:45 next day in Shanghai (the fraction is cut, not rounded)
    day = datetime(2026, 3, 1, 16, 30, 45, 987654)
    await make_order(shop, user, "2026030200300001", day, [(shirt, 3, "12.34"), (plain, 1, "0.05")])
    await make_order(shop, user, "2026030200310002", day.replace(minute=31), [(plain, 2, "0.05")],
                     status=2, trade_no="T2", paid_time=day.replace(minute=33))
    await make_order(shop, user, "2026030200320003", day.replace(minute=32), [(shirt, 1, "12.34")],
                     status=3, trade_no="T3", paid_time=day.replace(minute=34), carrier="顺丰速运",
                     tracking_no="SF1", shipped_time=day.replace(hour=23, minute=59, second=59))
    await make_order(shop, user, "2026030200330004", day.replace(minute=33), [(plain, 1, "0.05")],
                     status=5, closed_time=day.replace(minute=50), close_reason="timeout")
    return user, shirt, plain


def expected_orders(shirt, plain):
    """The four orders of `history`, newest first, as the buyer's list shows them."""
    plain_line = {"id": plain, "name": "无规格商品", "default_image_url": "img/x.svg", "price": "0.05", "count": 1,
                  "total_amount": "0.05", "sku_sale_attr_names": [], "sku_sale_attr_vals": []}
    shirt_line = {"id": shirt, "name": AWKWARD, "default_image_url": "img/x.svg", "price": "12.34", "count": 1,
                  "total_amount": "12.34", "sku_sale_attr_names": ["颜色", "尺码"], "sku_sale_attr_vals": ["红色", "XL"]}

    def order(order_id, minute, status, total_count, amount, lines, **more):
        return {"order_id": order_id, "order_total_count": total_count, "order_total_amount": amount,
                "order_freight": "10.00", "status": status, "order_time": f"2026-03-02 00:{minute}:45",
                "address": ADDRESS, "order_sku": lines, **more}

    return [
        order("2026030200330004", 33, 5, 1, "10.05", [plain_line]),
        order("2026030200320003", 32, 3, 1, "22.34", [shirt_line], paid_time="2026-03-02 00:34:45",
              logistics={"carrier": "顺丰速运", "tracking_no": "SF1", "shipped_time": "2026-03-02 07:59:59"}),
        order("2026030200310002", 31, 2, 2, "10.10", [dict(plain_line, count=2, total_amount="0.10")],
              paid_time="2026-03-02 00:33:45"),
        order("2026030200300001", 30, 1, 4, "47.07",
              [dict(shirt_line, count=3, total_amount="37.02"), plain_line], pay_deadline="2026-03-02 00:45:45"),
    ]


@pytest.mark.gen_test
async def test_the_buyers_list_shows_every_field_of_every_kind_of_order(api, shop):
    user, shirt, plain = await make_history(shop)
    expected = expected_orders(shirt, plain)
    _, body = await api.get(P, params={"status": 1, "page_size": 10}, token=user["token"])
    assert body["data"] == {"orders_list": expected, "total": 4, "page": 1, "page_size": 10}
    _, paid = await api.get(P, params={"status": 1, "order_status": 2}, token=user["token"])
    assert paid["data"]["orders_list"] == [expected[2]] and paid["data"]["total"] == 1
    _, second = await api.get(P, params={"status": 1, "page": 2, "page_size": 3}, token=user["token"])
    assert second["data"] == {"orders_list": [expected[3]], "total": 4, "page": 2, "page_size": 3}
    _, past_the_end = await api.get(P, params={"status": 1, "page": 3, "page_size": 3}, token=user["token"])
    assert past_the_end["data"] == {"orders_list": [], "total": 4, "page": 3, "page_size": 3}


@pytest.mark.gen_test
async def test_the_merchant_sees_the_buyers_view_and_every_payment_and_shipping_fact(api, shop):
    user, shirt, plain = await make_history(shop)
    closed, shipped, paid, unpaid = expected_orders(shirt, plain)

    def merchant(order, **facts):
        every = {"user_id": user["id"], "username": user["username"], "trade_no": None, "paid_time": None,
                 "shipped_time": None, "received_time": None, "closed_time": None, "close_reason": None}
        minute = int(order["order_time"][-5:-3])
        return {**order, **every, "pay_deadline": f"2026-03-02 00:{minute + 15}:45", **facts}

    expected = [merchant(closed, closed_time="2026-03-02 00:50:45", close_reason="timeout"),
                merchant(shipped, trade_no="T3", paid_time="2026-03-02 00:34:45",
                         shipped_time="2026-03-02 07:59:59"),
                merchant(paid, trade_no="T2", paid_time="2026-03-02 00:33:45"),
                merchant(unpaid)]
    _, body = await api.get("/v1/admin/orders", headers=ADMIN)
    assert body["data"] == {"orders": expected, "total": 4, "page": 1, "page_size": 20}
    _, detail = await api.get("/v1/admin/orders/2026030200320003", headers=ADMIN)
    assert detail["data"] == dict(expected[1], payment_events=[], refunds=[])


@pytest.mark.gen_test(timeout=60)
async def test_an_order_of_thousands_of_lines_is_listed_whole(api, shop):
    """Each order's lines are one JSON_ARRAYAGG, which MariaDB cuts at group_concat_max_len (1 MB
    unless the connection raises it): 3000 lines of long names would have been broken JSON."""
    user = await shop.user()
    async with shop.pool.acquire() as conn:
        spu_id = await Q.create_spu(conn, name=shop.unique("spu"), caption="")
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO sku (spu_id, name, caption, price, stock, is_launched, default_image_url) "
                "VALUES (%s, %s, '', 1.00, 10, 1, 'img/long-enough-to-count.svg')",
                [(spu_id, f"{n:05d}" + "长" * 59) for n in range(3000)])
            await cur.execute("SELECT id FROM sku WHERE spu_id = %s ORDER BY id", (spu_id,))
            sku_ids = [row[0] for row in await cur.fetchall()]
    day = datetime(2026, 3, 1, 16, 30, 45)
    await make_order(shop, user, "2026030200300009", day, [])
    await shop.execute("INSERT INTO order_goods (order_id, sku_id, count, price) SELECT %s, id, 1, 1.00 "
                       "FROM sku WHERE spu_id = %s", "2026030200300009", spu_id)
    _, body = await api.get(P, params={"status": 1}, token=user["token"])
    [order] = body["data"]["orders_list"]
    assert [line["id"] for line in order["order_sku"]] == sku_ids
    assert len(json.dumps(order["order_sku"], ensure_ascii=False).encode()) > 1024 * 1024
