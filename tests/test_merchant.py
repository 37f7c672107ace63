"""The merchant's order list and order page, and shipping with a carrier and tracking number that
the buyer then sees; payment deadlines on what awaits payment."""
import pytest

from store.clock import shanghai_time_text
from tests.helpers import ADMIN_KEY, P, SHIPMENT, buy_now

ADMIN = {"X-Admin-Key": ADMIN_KEY}


@pytest.mark.gen_test(timeout=60)
async def test_merchant_lists_every_buyers_orders_ships_and_the_buyer_sees_the_tracking_number(api, shop, sandbox):
    alice, bob = await shop.user(), await shop.user()
    sku = await shop.sku(price="30.00")
    _, first = await buy_now(api, alice, sku)
    _, second = await buy_now(api, bob, sku, 2)
    await sandbox.open_and_pay(second["data"]["pay_url"])
    await sandbox.wait_for_notifies(10)

    status, body = await api.get("/v1/admin/orders")
    assert status == 401
    _, body = await api.get("/v1/admin/orders", headers=ADMIN)
    listed = body["data"]
    assert [o["order_id"] for o in listed["orders"]] == [second["data"]["order_id"], first["data"]["order_id"]]
    assert listed["total"] == 2 and listed["orders"][0]["username"] == bob["username"]
    assert listed["orders"][0]["trade_no"] and listed["orders"][0]["paid_time"]
    assert listed["orders"][0]["order_sku"][0]["count"] == 2 and listed["orders"][0]["address"]["receiver"] == "张三"
    _, to_ship = await api.get("/v1/admin/orders", params={"status": 2}, headers=ADMIN)
    assert [o["order_id"] for o in to_ship["data"]["orders"]] == [second["data"]["order_id"]]

    order_id = second["data"]["order_id"]
    _, shipped = await api.post(f"/v1/admin/orders/{order_id}/ship", json_body=SHIPMENT, headers=ADMIN)
    assert shipped["code"] == 200
    _, mine = await api.get(P, params={"status": 1, "order_status": 3}, token=bob["token"])
    [entry] = mine["data"]["orders_list"]
    assert entry["logistics"]["carrier"] == "顺丰速运" and entry["logistics"]["tracking_no"] == "SF1234567890"
    assert entry["logistics"]["shipped_time"]

    _, detail = await api.get(f"/v1/admin/orders/{order_id}", headers=ADMIN)
    events = detail["data"]["payment_events"]
    assert detail["data"]["logistics"]["tracking_no"] == "SF1234567890" and detail["data"]["refunds"] == []
    assert any(e["source"] == "notify" and e["outcome"] == "paid" and e["verified"] for e in events)
    status, missing = await api.get("/v1/admin/orders/nosuchorder", headers=ADMIN)
    assert (status, missing["code"]) == (404, 50106)
    status, bad = await api.get("/v1/admin/orders", params={"status": 9}, headers=ADMIN)
    assert (status, bad["code"]) == (400, 50109)


@pytest.mark.gen_test
async def test_pay_deadline_on_create_pay_and_listed_unpaid_orders_only(api, shop):
    user = await shop.user()
    sku = await shop.sku()
    _, created = await buy_now(api, user, sku)
    row = await shop.fetchone("SELECT pay_deadline FROM order_info WHERE order_id=%s", created["data"]["order_id"])
    deadline = shanghai_time_text(row["pay_deadline"])
    assert created["data"]["pay_deadline"] == deadline
    _, paying = await api.post(P, json_body={"status": 1, "order_id": created["data"]["order_id"]},
                               token=user["token"])
    assert paying["data"]["pay_deadline"] == deadline
    _, listed = await api.get(P, params={"status": 1}, token=user["token"])
    assert listed["data"]["orders_list"][0]["pay_deadline"] == deadline
    await api.post(P, json_body={"status": 2, "order_id": created["data"]["order_id"]}, token=user["token"])
    _, closed = await api.get(P, params={"status": 1}, token=user["token"])
    assert "pay_deadline" not in closed["data"]["orders_list"][0]
