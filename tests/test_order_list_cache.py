"""The order-list cache: every change to a buyer's orders shows at once in every cached page."""
import pytest

from store import payments
from store.order_list import order_list_key, orders_version_key
from tests.helpers import ADMIN_KEY, P, SHIPMENT, buy_now


async def statuses(api, user, order_status=0):
    _, body = await api.get(P, params={"status": 1, "order_status": order_status}, token=user["token"])
    return [(o["order_id"], o["status"]) for o in body["data"]["orders_list"]], body["data"]["total"]


async def buy(api, user, sku):
    _, body = await buy_now(api, user, sku)
    return body["data"]


@pytest.mark.gen_test(timeout=60)
async def test_every_transition_shows_at_once_in_cached_lists(api, services, shop, sandbox):
    user = await shop.user()
    sku = await shop.sku(stock=10)
    first = await buy(api, user, sku)
    assert await statuses(api, user) == ([(first["order_id"], 1)], 1)
    assert await services.redis.exists(order_list_key(user["id"], 0, 1, 10))  # now served from the cache
    assert await statuses(api, user) == ([(first["order_id"], 1)], 1)

    second = await buy(api, user, sku)                                          # create
    assert await statuses(api, user) == ([(second["order_id"], 1), (first["order_id"], 1)], 2)
    assert await statuses(api, user, 1) == ([(second["order_id"], 1), (first["order_id"], 1)], 2)

    await api.post(P, json_body={"status": 2, "order_id": second["order_id"]}, token=user["token"])  # cancel
    assert await statuses(api, user) == ([(second["order_id"], 5), (first["order_id"], 1)], 2)
    assert await statuses(api, user, 1) == ([(first["order_id"], 1)], 1)

    await sandbox.open_and_pay(first["pay_url"])                                # paid by notify
    await sandbox.wait_for_notifies(10)
    assert await statuses(api, user, 2) == ([(first["order_id"], 2)], 1)
    assert await statuses(api, user, 1) == ([], 0)

    await api.post(f"/v1/admin/orders/{first['order_id']}/ship", headers={"X-Admin-Key": ADMIN_KEY},
                   json_body=SHIPMENT)                                                         # ship
    assert await statuses(api, user, 3) == ([(first["order_id"], 3)], 1)
    await api.get(P, params={"status": 2, "order_id": first["order_id"]}, token=user["token"])        # receive
    assert await statuses(api, user) == ([(second["order_id"], 5), (first["order_id"], 4)], 2)


@pytest.mark.gen_test(timeout=60)
async def test_timeout_close_and_payment_by_query_show_at_once(api, services, shop, sandbox):
    user = await shop.user()
    sku = await shop.sku(stock=10)
    late, queried = await buy(api, user, sku), await buy(api, user, sku)
    assert await statuses(api, user, 1) == ([(queried["order_id"], 1), (late["order_id"], 1)], 2)

    await shop.execute("UPDATE order_info SET pay_deadline = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
                       "WHERE order_id=%s", late["order_id"])
    await payments.close_overdue_orders(services)                                   # the timeout job
    assert await statuses(api, user, 1) == ([(queried["order_id"], 1)], 1)

    row = await shop.fetchone("SELECT order_id, total_amount, pay_deadline FROM order_info WHERE order_id=%s",
                              queried["order_id"])
    url = services.alipay.page_pay_url(out_trade_no=row["order_id"], total_amount=row["total_amount"], subject="x",
                                       time_expire=row["pay_deadline"], notify_url="http://127.0.0.1:9/",
                                       return_url="http://127.0.0.1:9/")
    await sandbox.open_and_pay(url)                                            # its notify is lost
    await payments.confirm_by_query(services, row, "reconcile")                     # the active query
    assert await statuses(api, user, 2) == ([(queried["order_id"], 2)], 1)


@pytest.mark.gen_test
async def test_a_lost_version_key_means_misses_never_stale_pages(api, services, shop):
    user = await shop.user()
    sku = await shop.sku(stock=10)
    order = await buy(api, user, sku)
    assert await statuses(api, user) == ([(order["order_id"], 1)], 1)
    # a change Redis never heard of (a hand edit), and the version key is lost (eviction, restart)
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", order["order_id"])
    await services.redis.delete(orders_version_key(user["id"]))
    assert await statuses(api, user) == ([(order["order_id"], 3)], 1)


@pytest.mark.gen_test
async def test_cached_pages_are_per_buyer_status_and_page(api, shop):
    owner, other = await shop.user(), await shop.user()
    sku = await shop.sku(stock=10)
    orders = [await buy(api, owner, sku) for _ in range(3)]
    assert await statuses(api, other) == ([], 0)
    _, page2 = await api.get(P, params={"status": 1, "order_status": 0, "page": 2, "page_size": 2},
                             token=owner["token"])
    assert [o["order_id"] for o in page2["data"]["orders_list"]] == [orders[0]["order_id"]]
    assert page2["data"]["total"] == 3 and page2["data"]["page"] == 2
    assert await statuses(api, other) == ([], 0)
