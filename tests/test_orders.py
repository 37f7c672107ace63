"""/v1/orders/processing/: confirm, create, list, pay, confirm receipt, cancel — and their bad inputs."""
import asyncio
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from db import Q
from tests.helpers import P, create_order as create

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.mark.gen_test
async def test_confirm_from_cart_selected_items_only(api, shop):
    user = await shop.user()
    a = await shop.sku(price="199.00", attrs=(("颜色", "红色"), ("尺寸", "15寸")))
    b = await shop.sku(price="0.10")
    c = await shop.sku(price="5.00")
    await shop.put_in_cart(user, a, 2)
    await shop.put_in_cart(user, b, 3)
    await shop.put_in_cart(user, c, 1, selected=0)
    status, body = await api.get(P, params={"status": 0, "settlement_type": 0}, token=user["token"])
    assert status == 200 and body["code"] == 200
    data = body["data"]
    assert [s["id"] for s in data["sku_list"]] == [a, b]
    assert data["sku_list"][0] | {"name": None} == {
        "id": a, "name": None, "default_image_url": "x.svg", "price": "199.00", "count": 2,
        "total_amount": "398.00", "sku_sale_attr_names": ["颜色", "尺寸"], "sku_sale_attr_vals": ["红色", "15寸"]}
    assert (data["total_count"], data["total_amount"], data["transit"], data["payment_amount"]) == \
        (5, "398.30", "10.00", "408.30")
    assert data["addresses"][0]["is_default"] is True and data["addresses"][0]["name"] == "张三"
    assert body["base_url"]


@pytest.mark.gen_test
async def test_confirm_buy_now_and_its_errors(api, shop):
    user = await shop.user()
    sku, off = await shop.sku(price="12.00"), await shop.sku(launched=False)
    q = {"status": 0, "settlement_type": 1}
    _, body = await api.get(P, params={**q, "sku_id": sku, "buy_num": 3}, token=user["token"])
    assert body["data"]["payment_amount"] == "46.00" and body["data"]["sku_list"][0]["count"] == 3
    for params in ({"sku_id": off, "buy_num": 1}, {"sku_id": 99999, "buy_num": 1}, {"sku_id": sku, "buy_num": 0},
                   {"sku_id": sku, "buy_num": 100}, {"sku_id": sku}):
        status, body = await api.get(P, params={**q, **params}, token=user["token"])
        assert status == 200 and body["code"] == 50101, params
    status, body = await api.get(P, params={**q, "sku_id": sku, "buy_num": "x"}, token=user["token"])
    assert status == 400 and body["code"] == 50109
    # empty cart
    _, body = await api.get(P, params={"status": 0, "settlement_type": 0}, token=user["token"])
    assert body["code"] == 50101


@pytest.mark.gen_test
async def test_confirm_without_address_is_50100_and_still_lists_items(api, shop):
    user = await shop.user(with_address=False)
    sku = await shop.sku()
    await shop.put_in_cart(user, sku)
    status, body = await api.get(P, params={"status": 0, "settlement_type": 0}, token=user["token"])
    assert status == 200 and body["code"] == 50100
    assert body["data"]["addresses"] == [] and [s["id"] for s in body["data"]["sku_list"]] == [sku]


@pytest.mark.gen_test
@pytest.mark.parametrize("method,params", [("GET", {"status": 9}), ("GET", {"status": "x"}), ("GET", {}),
                                           ("POST", {"status": 7}), ("POST", {"status": "zero"}),
                                           ("POST", {"status": None}), ("POST", {"status": True})])
async def test_unknown_or_ill_typed_status_is_400(api, shop, method, params):
    user = await shop.user()
    if method == "GET":
        status, body = await api.get(P, params=params, token=user["token"])
    else:
        status, body = await api.post(P, json_body=params, token=user["token"])
    assert status == 400 and body["code"] == 50109


@pytest.mark.gen_test
async def test_orders_need_a_login(api):
    status, body = await api.get(P, params={"status": 1})
    assert status == 401 and body["code"] == 403


@pytest.mark.gen_test
async def test_create_from_cart_deducts_stock_snapshots_address_and_empties_only_bought_items(api, services, shop):
    user = await shop.user()
    a, b, c = await shop.sku(price="199.00", stock=5), await shop.sku(price="0.10", stock=5), await shop.sku()
    await shop.put_in_cart(user, a, 2)
    await shop.put_in_cart(user, b, 3)
    await shop.put_in_cart(user, c, 1, selected=0)
    status, body = await create(api, user)
    assert status == 200 and body["code"] == 200, body
    data = body["data"]
    assert data["saller"] == "达达商城" and data["total_amount"] == "408.30"
    order_id = data["order_id"]
    assert len(order_id) <= 64 and order_id.replace("_", "").isalnum()
    assert data["pay_url"].startswith(services.config.base_url)

    order = await shop.fetchone("SELECT * FROM order_info WHERE order_id=%s", order_id)
    assert (order["status"], order["total_count"], order["total_amount"], order["freight"]) == \
        (1, 5, Decimal("408.30"), Decimal("10.00"))
    assert (order["receiver"], order["receiver_mobile"], order["tag"]) == ("张三", "13600000000", "家")
    assert 1790 <= (order["pay_deadline"] - order["created_time"]).total_seconds() <= 1810
    lines = await shop.fetchall("SELECT sku_id, count, price FROM order_goods WHERE order_id=%s ORDER BY sku_id",
                                order_id)
    assert [(r["sku_id"], r["count"], r["price"]) for r in lines] == [(a, 2, Decimal("199.00")),
                                                                      (b, 3, Decimal("0.10"))]
    skus = {r["id"]: (r["stock"], r["sales"]) for r in await shop.fetchall("SELECT id, stock, sales FROM sku")}
    assert skus[a] == (3, 2) and skus[b] == (2, 3) and skus[c] == (10, 0)
    assert await services.redis.hkeys(f"cart_{user['id']}") == [str(c)]

    # the address snapshot survives a later change of the address book
    await shop.execute("UPDATE address SET receiver='改名' WHERE id=%s", user["address_id"])
    _, listed = await api.get(P, params={"status": 1, "order_status": 0}, token=user["token"])
    assert listed["data"]["orders_list"][0]["address"]["receiver"] == "张三"


@pytest.mark.gen_test
async def test_pay_link_leads_to_the_signed_alipay_cashier_for_the_stored_total(api, services, shop, sandbox):
    user = await shop.user()
    sku = await shop.sku(price="0.10")
    _, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=3)
    status, _ = await api.get(body["data"]["pay_url"].replace(services.config.base_url, ""))
    assert status == 302
    response = await api.client.fetch(body["data"]["pay_url"].replace(services.config.base_url, api.base_url),
                                      follow_redirects=False, raise_error=False)
    target = response.headers["Location"]
    assert target.startswith(sandbox.gateway_url)
    params = {k: v[0] for k, v in parse_qs(urlparse(target).query).items()}
    assert params["method"] == "alipay.trade.page.pay" and params["sign_type"] == "RSA2"
    assert '"total_amount":"10.30"' in params["biz_content"]
    assert params["notify_url"] == services.config.base_url + "/v1/orders/success/"
    # the sandbox accepts it: the cashier page opens and shows the amount
    cashier = await api.client.fetch(target, raise_error=False)
    assert cashier.code == 200 and "10.30" in cashier.body.decode()
    assert sandbox.trades[body["data"]["order_id"]]
    started = await shop.fetchone("SELECT pay_started_time FROM order_info WHERE order_id=%s",
                                  body["data"]["order_id"])
    assert started["pay_started_time"] is not None
    # a phone's browser goes to Alipay's phone cashier (wap pay), for the same order and amount
    phone = await api.client.fetch(body["data"]["pay_url"].replace(services.config.base_url, api.base_url),
                                   follow_redirects=False, raise_error=False, headers={"User-Agent": IPHONE})
    wap = {k: v[0] for k, v in parse_qs(urlparse(phone.headers["Location"]).query).items()}
    assert wap["method"] == "alipay.trade.wap.pay" and '"product_code":"QUICK_WAP_WAY"' in wap["biz_content"]
    assert '"total_amount":"10.30"' in wap["biz_content"] and '"quit_url":' in wap["biz_content"]
    wap_cashier = await api.client.fetch(phone.headers["Location"], raise_error=False)
    assert wap_cashier.code == 200 and "10.30" in wap_cashier.body.decode()
    # once the order is no longer payable, the link leads back to "my orders", not to the cashier
    await shop.execute("UPDATE order_info SET status=5 WHERE order_id=%s", body["data"]["order_id"])
    response = await api.client.fetch(body["data"]["pay_url"].replace(services.config.base_url, api.base_url),
                                      follow_redirects=False, raise_error=False)
    assert response.code == 302 and response.headers["Location"] == "/static/myOrders.html"
    # a forged link leads nowhere
    status, bad = await api.get(f"/v1/orders/{body['data']['order_id']}/alipay", params={"sig": "0" * 32})
    assert status == 404 and bad["code"] == 50106


@pytest.mark.gen_test
async def test_create_errors_change_nothing(api, services, shop):
    user, other = await shop.user(), await shop.user()
    sku = await shop.sku(stock=2)
    off = await shop.sku(launched=False)
    await shop.put_in_cart(user, sku, 1)
    cases = [
        ({"address_id": other["address_id"]}, 50102),      # someone else's address
        ({"address_id": 999999}, 50102),                   # unknown address
        ({"settlement_type": 1, "sku_id": sku, "buy_num": 3}, 50103),
        ({"settlement_type": 1, "sku_id": off, "buy_num": 1}, 50101),
        ({"settlement_type": 1, "sku_id": sku, "buy_num": -1}, 50101),
    ]
    for change, code in cases:
        status, body = await create(api, user, **change)
        assert status == 200 and body["code"] == code, (change, body)
    status, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=3)
    assert body["errmsg"] == f"商品[{sku}]库存不足"
    for bad in ({"address_id": "one"}, {"settlement_type": 2}, {"settlement_type": "x"}, {"address_id": None}):
        status, body = await create(api, user, **bad)
        assert status == 400 and body["code"] == 50109, bad
    status, body = await api.post(P, body="{not json", token=user["token"])
    assert status == 400 and body["code"] == 50109
    await shop.execute("UPDATE address SET is_alive=0 WHERE id=%s", user["address_id"])
    _, body = await create(api, user)
    assert body["code"] == 50102
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_info"))["n"] == 0
    assert (await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku)) == {"stock": 2, "sales": 0}
    assert await services.redis.hkeys(f"cart_{user['id']}") == [str(sku)]


@pytest.mark.gen_test(timeout=30)
async def test_a_price_changed_while_the_order_is_made_is_the_price_paid(api, services, shop):
    """The lines take the price of the SKU row the create statement has locked: a price change that
    commits before the deduction is what the buyer pays, never a price read earlier."""
    user = await shop.user()
    sku = await shop.sku(price="100.00", stock=5)
    await shop.put_in_cart(user, sku, 2)
    async with shop.pool.acquire() as merchant:  # a price change holding the SKU row
        await merchant.begin()
        async with merchant.cursor() as cur:
            await cur.execute("UPDATE sku SET price = 120.00 WHERE id = %s", (sku,))
        creating = asyncio.ensure_future(create(api, user))
        await asyncio.sleep(0.5)
        assert not creating.done()  # waiting for the row the price change holds
        await merchant.commit()
    status, body = await creating
    assert status == 200 and body["code"] == 200 and body["data"]["total_amount"] == "250.00", body
    order = await shop.fetchone("SELECT total_amount FROM order_info WHERE order_id=%s", body["data"]["order_id"])
    line = await shop.fetchone("SELECT price, count FROM order_goods WHERE order_id=%s", body["data"]["order_id"])
    assert order["total_amount"] == Decimal("250.00") and (line["price"], line["count"]) == (Decimal("120.00"), 2)


@pytest.mark.gen_test
async def test_first_short_sku_rolls_back_the_whole_order(api, shop):
    user = await shop.user()
    plenty, short = await shop.sku(stock=10), await shop.sku(stock=1)
    await shop.put_in_cart(user, plenty, 2)
    await shop.put_in_cart(user, short, 2)
    _, body = await create(api, user)
    assert body["code"] == 50103 and f"[{short}]" in body["errmsg"]
    rows = await shop.fetchall("SELECT id, stock, sales FROM sku ORDER BY id")
    assert [(r["stock"], r["sales"]) for r in rows] == [(10, 0), (1, 0)]
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_goods"))["n"] == 0


@pytest.mark.gen_test
async def test_list_by_status_with_pagination_and_price_paid(api, shop):
    user, other = await shop.user(), await shop.user()
    sku = await shop.sku(price="50.00", stock=100, attrs=(("颜色", "蓝色"),))
    ids = []
    for _ in range(5):
        _, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=1)
        ids.append(body["data"]["order_id"])
    await create(api, other, settlement_type=1, sku_id=sku, buy_num=1)
    await shop.execute("UPDATE sku SET price = 99.00 WHERE id=%s", sku)  # today's price changes later
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", ids[0])

    _, body = await api.get(P, params={"status": 1, "order_status": 0, "page_size": 2}, token=user["token"])
    data = body["data"]
    assert data["total"] == 5 and data["page"] == 1 and data["page_size"] == 2
    assert [o["order_id"] for o in data["orders_list"]] == [ids[4], ids[3]]
    first = data["orders_list"][0]
    assert first["order_total_amount"] == "60.00" and first["order_freight"] == "10.00" and first["status"] == 1
    assert first["order_sku"][0]["price"] == "50.00" and first["order_sku"][0]["sku_sale_attr_vals"] == ["蓝色"]
    assert len(first["order_time"]) == 19
    _, page3 = await api.get(P, params={"status": 1, "order_status": 0, "page_size": 2, "page": 3},
                             token=user["token"])
    assert [o["order_id"] for o in page3["data"]["orders_list"]] == [ids[0]]
    _, shipped = await api.get(P, params={"status": 1, "order_status": 3}, token=user["token"])
    assert [o["order_id"] for o in shipped["data"]["orders_list"]] == [ids[0]] and shipped["data"]["total"] == 1
    _, none = await api.get(P, params={"status": 1, "order_status": 4}, token=user["token"])
    assert none["data"] == {"orders_list": [], "total": 0, "page": 1, "page_size": 10}
    for bad in ({"order_status": 6}, {"order_status": "x"}, {"page": 0}, {"page_size": 51}):
        status, body = await api.get(P, params={"status": 1, **bad}, token=user["token"])
        assert status == 400 and body["code"] == 50109, bad


@pytest.mark.gen_test
async def test_list_uses_a_bounded_number_of_queries(api, shop, monkeypatch):
    """No N+1: the statements per page do not grow with orders or lines."""
    import aiomysql.cursors
    executed = []
    real_execute = aiomysql.cursors.Cursor.execute

    async def counting_execute(self, query, args=None):
        executed.append(query)
        return await real_execute(self, query, args)

    user = await shop.user()
    skus = [await shop.sku(stock=100) for _ in range(4)]

    async def statements_for_one_page():
        executed.clear()
        with monkeypatch.context() as patch:
            patch.setattr(aiomysql.cursors.Cursor, "execute", counting_execute)
            _, body = await api.get(P, params={"status": 1, "order_status": 0, "page_size": 50},
                                    token=user["token"])
        return len(executed), body["data"]["orders_list"]

    for sku in skus:
        await shop.put_in_cart(user, sku, 1)
    await create(api, user)
    few, listed = await statements_for_one_page()
    assert len(listed) == 1 and len(listed[0]["order_sku"]) == 4
    for _ in range(12):
        for sku in skus:
            await shop.put_in_cart(user, sku, 1)
        await create(api, user)
    many, listed = await statements_for_one_page()
    assert len(listed) == 13 and all(len(o["order_sku"]) == 4 for o in listed)
    assert many == few <= 5, (few, many)


@pytest.mark.gen_test
async def test_pay_confirm_receipt_and_cancel_follow_the_status_machine(api, shop, sandbox):
    user = await shop.user()
    sku = await shop.sku(price="20.00", stock=10)
    _, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=2)
    order_id = body["data"]["order_id"]

    _, paid = await api.post(P, json_body={"status": 1, "order_id": order_id}, token=user["token"])
    assert paid["code"] == 200 and paid["data"]["total_amount"] == "50.00" and paid["data"]["order_id"] == order_id

    _, early = await api.get(P, params={"status": 2, "order_id": order_id}, token=user["token"])
    assert early["code"] == 50107  # not shipped yet

    _, cancelled = await api.post(P, json_body={"status": 2, "order_id": order_id}, token=user["token"])
    assert cancelled["code"] == 200
    row = await shop.fetchone("SELECT status, close_reason FROM order_info WHERE order_id=%s", order_id)
    assert row == {"status": 5, "close_reason": "cancel"}
    assert (await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku)) == {"stock": 10, "sales": 0}
    _, twice = await api.post(P, json_body={"status": 2, "order_id": order_id}, token=user["token"])
    assert twice["code"] == 50107
    _, pay_closed = await api.post(P, json_body={"status": 1, "order_id": order_id}, token=user["token"])
    assert pay_closed["code"] == 50107
    assert (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", sku))["stock"] == 10

    # shipped orders can be received, once
    _, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=1)
    second = body["data"]["order_id"]
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", second)
    _, got = await api.get(P, params={"status": 2, "order_id": second}, token=user["token"])
    assert got["code"] == 200
    assert (await shop.fetchone("SELECT status FROM order_info WHERE order_id=%s", second))["status"] == 4
    _, again = await api.get(P, params={"status": 2, "order_id": second}, token=user["token"])
    assert again["code"] == 50107
    _, cancel_done = await api.post(P, json_body={"status": 2, "order_id": second}, token=user["token"])
    assert cancel_done["code"] == 50107


@pytest.mark.gen_test
async def test_pay_refuses_an_order_past_its_deadline(api, shop):
    user = await shop.user()
    sku = await shop.sku()
    _, body = await create(api, user, settlement_type=1, sku_id=sku, buy_num=1)
    await shop.execute("UPDATE order_info SET pay_deadline = UTC_TIMESTAMP() - INTERVAL 1 SECOND "
                       "WHERE order_id=%s", body["data"]["order_id"])
    _, late = await api.post(P, json_body={"status": 1, "order_id": body["data"]["order_id"]}, token=user["token"])
    assert late["code"] == 50107


@pytest.mark.gen_test
async def test_another_buyers_order_is_invisible_and_untouchable(api, shop):
    owner, intruder = await shop.user(), await shop.user()
    sku = await shop.sku(stock=10)
    _, body = await create(api, owner, settlement_type=1, sku_id=sku, buy_num=1)
    order_id = body["data"]["order_id"]
    _, listed = await api.get(P, params={"status": 1, "order_status": 0}, token=intruder["token"])
    assert listed["data"]["total"] == 0 and listed["data"]["orders_list"] == []
    answers = [
        await api.post(P, json_body={"status": 1, "order_id": order_id}, token=intruder["token"]),
        await api.post(P, json_body={"status": 2, "order_id": order_id}, token=intruder["token"]),
        await api.get(P, params={"status": 2, "order_id": order_id}, token=intruder["token"]),
    ]
    missing = [
        await api.post(P, json_body={"status": 1, "order_id": "nosuchorder"}, token=intruder["token"]),
        await api.post(P, json_body={"status": 2, "order_id": "nosuchorder"}, token=intruder["token"]),
        await api.get(P, params={"status": 2, "order_id": "nosuchorder"}, token=intruder["token"]),
    ]
    # the same answer as for an order that does not exist at all
    assert [b for _, b in answers] == [b for _, b in missing]
    assert all(b["code"] == 50106 for _, b in answers)
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", order_id)
    _, body = await api.get(P, params={"status": 2, "order_id": order_id}, token=intruder["token"])
    assert body["code"] == 50106
    assert (await shop.fetchone("SELECT status FROM order_info WHERE order_id=%s", order_id))["status"] == 3
    for bad_id in ("../x", "a" * 65, ""):
        status, body = await api.post(P, json_body={"status": 1, "order_id": bad_id}, token=intruder["token"])
        assert status == 400 and body["code"] == 50109


@pytest.mark.gen_test
async def test_same_idempotency_key_returns_the_same_order(api, shop):
    user = await shop.user()
    sku = await shop.sku(stock=10)
    await shop.put_in_cart(user, sku, 2)
    _, first = await create(api, user, key="visit-1")
    await shop.put_in_cart(user, sku, 2)  # the cart is filled again; the repeat must not buy again
    _, again = await create(api, user, key="visit-1")
    assert again["code"] == 200 and again["data"]["order_id"] == first["data"]["order_id"]
    _, by_body = await create(api, user, request_id="visit-1")
    assert by_body["data"]["order_id"] == first["data"]["order_id"]
    assert (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", sku))["stock"] == 8
    _, other_key = await create(api, user, key="visit-2")
    assert other_key["data"]["order_id"] != first["data"]["order_id"]
    status, bad = await create(api, user, key="bad key with spaces")
    assert status == 400 and bad["code"] == 50109


@pytest.mark.gen_test(timeout=120)
async def test_ten_parallel_submits_with_one_key_make_one_order(api, shop):
    user = await shop.user()
    sku = await shop.sku(stock=100)
    await shop.put_in_cart(user, sku, 3)
    answers = await asyncio.gather(*[create(api, user, key="double-click") for _ in range(10)])
    codes = [body["code"] for _, body in answers]
    assert set(codes) == {200}, codes  # the later ones wait for the first and answer with its order
    order_ids = {body["data"]["order_id"] for _, body in answers if body["code"] == 200}
    assert len(order_ids) == 1
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_info"))["n"] == 1
    assert (await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku)) == {"stock": 97, "sales": 3}


@pytest.mark.gen_test(timeout=120)
async def test_a_submitter_that_dies_mid_create_blocks_no_retry(api, services, shop):
    """A submission that never finishes (its worker killed mid-create) must not block a retry with
    its key: the database holds the key only while that transaction is open, and the server rolls
    back the transaction of a connection that goes away."""
    from store.clock import utcnow
    user = await shop.user()
    sku = await shop.sku(stock=5)
    dying = await services.pool.acquire()
    await dying.begin()
    now = utcnow()
    await Q.insert_order(dying, order_id="dying-submitter-1", user_id=user["id"], address_id=user["address_id"],
                         receiver="x", receiver_mobile="13600000000", address="x", tag="", total_count=1,
                         total_amount=Decimal("110.00"), freight=Decimal("10.00"), idempotency_key="crash-key",
                         created_time=now, pay_deadline=now)
    retry = asyncio.ensure_future(create(api, user, settlement_type=1, sku_id=sku, buy_num=1, key="crash-key"))
    # the retry's insert waits for the key's owner (MariaDB's processlist shows it inside the create statement)
    while not await shop.fetchone("SELECT 1 AS waiting FROM information_schema.processlist WHERE db = DATABASE()"
                                  " AND id <> CONNECTION_ID() AND LEFT(info, 22) = 'INSERT INTO order_info'"):
        assert not retry.done(), retry.result()  # the retry is not refused
        await asyncio.sleep(0.02)
    dying.close()  # the submitter dies: its transaction is rolled back by the server
    services.pool.release(dying)
    _, body = await retry
    assert body["code"] == 200
    orders = await shop.fetchall("SELECT order_id FROM order_info WHERE idempotency_key='crash-key'")
    assert [o["order_id"] for o in orders] == [body["data"]["order_id"]]
    assert (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", sku))["stock"] == 4
