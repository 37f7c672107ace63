"""Payment results and the order lifecycle: notify, return, ship, timeout, late payments, refunds."""
import asyncio
import json
from urllib.parse import urlencode, urlparse

import pytest

from alipay import signer
from alipay_sandbox import ALIPAY_PRIVATE_KEY_PATH, MERCHANT_PRIVATE_KEY_PATH
from store import payments
from store.order_status import close_order
from tests.helpers import ADMIN_KEY, P, SHIPMENT, buy_now

S = "/v1/orders/success/"


async def new_order(api, shop, *, price="10.00", count=1, stock=10, user=None):
    user = user or await shop.user()
    sku = await shop.sku(price=price, stock=stock)
    status, body = await buy_now(api, user, sku, count)
    assert body["code"] == 200, body
    return user, sku, body["data"]


async def order_row(shop, order_id):
    return await shop.fetchone("SELECT status, trade_no, paid_time, close_reason FROM order_info "
                               "WHERE order_id=%s", order_id)


async def events(shop, order_id):
    return await shop.fetchall("SELECT source, notify_id, verified, outcome, repeats FROM payment_event "
                               "WHERE order_id=%s ORDER BY id", order_id)


def signed_notify(params, key_path=ALIPAY_PRIVATE_KEY_PATH):
    return signer.sign_callback(params, signer.load_private_key_file(key_path))


async def post_notify(api, params):
    return await api.post(S, body=urlencode(params), headers={"Content-Type": "application/x-www-form-urlencoded"})


def return_path(return_url):
    """The pay-result page's call: GET /v1/orders/success/ with exactly the return query string."""
    return S + "?" + urlparse(return_url).query


@pytest.mark.gen_test(timeout=60)
async def test_paid_by_notify_then_the_return_just_reads_it(api, app, shop, sandbox):
    _, _, order = await new_order(api, shop, price="0.10", count=3)
    return_url = await sandbox.open_and_pay(order["pay_url"])
    await sandbox.wait_for_notifies(10)
    trade = sandbox.trades[order["order_id"]]
    assert [a.answer for a in trade.payment_notification.attempts] == ["success"]
    row = await order_row(shop, order["order_id"])
    assert row["status"] == 2 and row["trade_no"] == trade.trade_no and row["paid_time"] is not None
    assert [(e["source"], e["outcome"], e["verified"]) for e in await events(shop, order["order_id"])] == \
        [("notify", "paid", 1)]
    # the browser's return after the notify: 200 without asking Alipay again
    status, body = await api.get(return_path(return_url))
    assert status == 200 and body == {"code": 200, "data": {"order_id": order["order_id"], "total_amount": "10.30"}}
    assert len(await events(shop, order["order_id"])) == 1


@pytest.mark.gen_test(timeout=60)
async def test_return_without_notify_is_confirmed_by_an_active_query(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    row = await shop.fetchone("SELECT order_id, total_amount, pay_deadline FROM order_info WHERE order_id=%s",
                              order["order_id"])
    # a pay URL whose notify can never arrive (a dead port): only the return + query can tell
    url = services.alipay.page_pay_url(out_trade_no=row["order_id"], total_amount=row["total_amount"], subject="x",
                                       time_expire=row["pay_deadline"], notify_url="http://127.0.0.1:9/",
                                       return_url=services.config.base_url + "/static/payResult.html")
    # before paying: the return (forged by nobody, signed by Alipay) does not make it paid
    return_url = await sandbox.open_and_pay(url)
    assert (await order_row(shop, order["order_id"]))["status"] == 1
    status, body = await api.get(return_path(return_url))
    assert status == 200 and body["code"] == 200 and body["data"]["total_amount"] == "20.00"
    row = await order_row(shop, order["order_id"])
    assert row["status"] == 2 and row["trade_no"] == sandbox.trades[order["order_id"]].trade_no
    assert [e["source"] for e in await events(shop, order["order_id"])] == ["return_query"]


@pytest.mark.gen_test(timeout=60)
async def test_return_of_an_unpaid_trade_is_50105_and_changes_nothing(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))  # cashier opened, not paid
    params = signed_notify({"app_id": services.config.alipay_app_id, "out_trade_no": order["order_id"],
                            "trade_no": "2026112522000000000000000001", "total_amount": "20.00",
                            "method": "alipay.trade.page.pay.return", "charset": "utf-8", "sign_type": "RSA2",
                            "version": "1.0", "timestamp": "2026-11-25 12:00:00"})
    status, body = await api.get(S + "?" + urlencode(params))
    assert status == 200 and body["code"] == 50105 and body["data"]["order_id"] == order["order_id"]
    assert (await order_row(shop, order["order_id"]))["status"] == 1


@pytest.mark.gen_test
async def test_forged_or_missing_return_signature_is_400_50108(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    base = {"app_id": services.config.alipay_app_id, "out_trade_no": order["order_id"], "total_amount": "20.00",
            "trade_no": "1"}
    forged = signed_notify(base, MERCHANT_PRIVATE_KEY_PATH)  # the merchant's own key is not Alipay's
    for params in (base, forged, dict(signed_notify(base), total_amount="0.01"), {}):
        status, body = await api.get(S + "?" + urlencode(params))
        assert status == 400 and body["code"] == 50108, params
    assert (await order_row(shop, order["order_id"]))["status"] == 1


@pytest.mark.gen_test(timeout=60)
async def test_duplicate_notify_is_applied_once_and_answered_success(api, app, shop, sandbox):
    _, _, order = await new_order(api, shop)
    await sandbox.open_and_pay(order["pay_url"])
    await sandbox.wait_for_notifies(10)
    first = sandbox.trades[order["order_id"]].payment_notification
    # Alipay resends the very same notify (same notify_id), several times, some at once
    answers = await asyncio.gather(*[post_notify(api, first.params) for _ in range(5)])
    assert [body for _, body in answers] == ["success"] * 5
    recorded = await events(shop, order["order_id"])
    assert [(e["outcome"], e["repeats"]) for e in recorded] == [("paid", 5)]
    # a second notify about the same payment (e.g. TRADE_FINISHED later): nothing changes either
    await sandbox.send_notify(order["order_id"], trade_status="TRADE_FINISHED")
    await sandbox.wait_for_notifies(10)
    row = await order_row(shop, order["order_id"])
    assert row["status"] == 2 and row["trade_no"] == sandbox.trades[order["order_id"]].trade_no
    assert [e["outcome"] for e in await events(shop, order["order_id"])] == ["paid", "already_paid"]


@pytest.mark.gen_test
async def test_forged_wrong_amount_wrong_app_and_unknown_order_are_refused(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    good = {"notify_id": "n1", "notify_type": "trade_status_sync", "app_id": services.config.alipay_app_id,
            "out_trade_no": order["order_id"], "trade_no": "2026112522001", "trade_status": "TRADE_SUCCESS",
            "total_amount": "20.00", "gmt_payment": "2026-11-25 12:00:00", "charset": "utf-8", "version": "1.0",
            "sign_type": "RSA2"}
    cases = [
        signed_notify(good, MERCHANT_PRIVATE_KEY_PATH),                        # forged signature
        dict(signed_notify(good), total_amount="2.00"),                         # tampered after signing
        signed_notify(dict(good, notify_id="n2", total_amount="19.99")),         # wrong amount
        signed_notify(dict(good, notify_id="n3", total_amount="20.0")),          # same value, other text: ok?
        signed_notify(dict(good, notify_id="n4", app_id="2021000099999999")),    # not our app
        signed_notify(dict(good, notify_id="n5", out_trade_no="nosuchorder")),   # not our order
        {k: v for k, v in signed_notify(dict(good, notify_id="n6")).items() if k != "sign"},
    ]
    answers = [(await post_notify(api, params))[1] for params in cases]
    # "20.0" is the same amount as a decimal: it is the one genuine payment here
    assert answers == ["fail", "fail", "fail", "success", "fail", "fail", "fail"]
    outcomes = [e["outcome"] for e in await shop.fetchall("SELECT outcome FROM payment_event ORDER BY id")]
    assert outcomes == ["bad_signature", "bad_signature", "wrong_amount", "paid", "wrong_app", "unknown_order",
                        "bad_signature"]
    unverified = await shop.fetchall("SELECT notify_id FROM payment_event WHERE verified = 0")
    assert all(e["notify_id"] is None for e in unverified)


@pytest.mark.gen_test
async def test_forged_notify_changes_nothing(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    forged = signed_notify({"notify_id": "x", "app_id": services.config.alipay_app_id,
                            "out_trade_no": order["order_id"], "trade_no": "1", "trade_status": "TRADE_SUCCESS",
                            "total_amount": "20.00"},
                           MERCHANT_PRIVATE_KEY_PATH)
    status, body = await post_notify(api, forged)
    assert (status, body) == (200, "fail")
    assert (await order_row(shop, order["order_id"]))["status"] == 1


@pytest.mark.gen_test
async def test_ship_needs_the_admin_key_and_a_paid_order(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    path = f"/v1/admin/orders/{order['order_id']}/ship"
    status, _ = await api.post(path)
    assert status == 401
    for key in ("wrong", ADMIN_KEY + "x", ADMIN_KEY[:-1]):
        status, _ = await api.post(path, headers={"X-Admin-Key": key})
        assert status == 403
    buyer = (await shop.fetchone("SELECT u.username FROM user_profile u JOIN order_info o ON o.user_id=u.id "
                                 "WHERE o.order_id=%s", order["order_id"]))
    from store.auth import make_token
    status, _ = await api.post(path, token=make_token(buyer["username"], services.config.jwt_secret))
    assert status == 401  # a buyer token is no merchant key
    _, body = await api.post(path, headers={"X-Admin-Key": ADMIN_KEY}, json_body=SHIPMENT)
    assert body["code"] == 50107  # not paid yet
    assert (await order_row(shop, order["order_id"]))["status"] == 1

    await sandbox.open_and_pay(order["pay_url"])
    await sandbox.wait_for_notifies(10)
    for missing in ({}, {"carrier": "顺丰速运"}, {"tracking_no": "SF1"}, dict(SHIPMENT, tracking_no="x" * 65)):
        status, body = await api.post(path, headers={"X-Admin-Key": ADMIN_KEY}, json_body=missing)
        assert (status, body["code"]) == (400, 50109), missing
    assert (await order_row(shop, order["order_id"]))["status"] == 2
    _, body = await api.post(path, headers={"X-Admin-Key": ADMIN_KEY}, json_body=SHIPMENT)
    assert body["code"] == 200 and (await order_row(shop, order["order_id"]))["status"] == 3
    _, again = await api.post(path, headers={"X-Admin-Key": ADMIN_KEY}, json_body=SHIPMENT)
    assert again["code"] == 50107
    _, unknown = await api.post("/v1/admin/orders/nosuchorder/ship", headers={"X-Admin-Key": ADMIN_KEY},
                                json_body=SHIPMENT)
    assert unknown["code"] == 50106


@pytest.mark.gen_test
async def test_an_unset_admin_key_refuses_everything(api, services, shop):
    import dataclasses
    services.config = dataclasses.replace(services.config, admin_key=None)
    for headers in ({}, {"X-Admin-Key": ""}, {"X-Admin-Key": "None"}, {"X-Admin-Key": ADMIN_KEY}):
        status, _ = await api.post("/v1/admin/orders/x/ship", headers=headers)
        assert status == 403


@pytest.mark.gen_test(timeout=60)
async def test_full_lifecycle_create_pay_ship_receive(api, app, shop, sandbox):
    user, sku, order = await new_order(api, shop, price="99.00", count=2, stock=5)
    return_url = await sandbox.open_and_pay(order["pay_url"])
    await sandbox.wait_for_notifies(10)
    _, body = await api.get(return_path(return_url))
    assert body["code"] == 200
    _, body = await api.post(f"/v1/admin/orders/{order['order_id']}/ship", headers={"X-Admin-Key": ADMIN_KEY},
                             json_body=SHIPMENT)
    assert body["code"] == 200
    _, body = await api.get(P, params={"status": 2, "order_id": order["order_id"]}, token=user["token"])
    assert body["code"] == 200
    _, listed = await api.get(P, params={"status": 1, "order_status": 4}, token=user["token"])
    assert [o["order_id"] for o in listed["data"]["orders_list"]] == [order["order_id"]]
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 3, "sales": 2}


async def make_overdue(shop, order_id):
    await shop.execute("UPDATE order_info SET pay_deadline = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
                       "WHERE order_id=%s", order_id)


@pytest.mark.gen_test(timeout=60)
async def test_timeout_closes_unpaid_orders_with_stock_back_and_leaves_paid_ones(api, services, shop, sandbox):
    user, sku, unpaid = await new_order(api, shop, stock=10, count=3)
    _, _, opened = await new_order(api, shop, user=user)
    _, _, paid = await new_order(api, shop, user=user)
    await api.client.fetch(opened["pay_url"].replace(services.config.base_url, api.base_url))  # cashier opened
    await sandbox.open_and_pay(paid["pay_url"])
    await sandbox.wait_for_notifies(10)
    for order in (unpaid, opened, paid):
        await make_overdue(shop, order["order_id"])

    counts = await payments.close_overdue_orders(services)
    assert counts == {"closed": 2, "paid": 0, "skipped": 0}
    assert (await order_row(shop, unpaid["order_id"]))["close_reason"] == "timeout"
    assert [(await order_row(shop, o["order_id"]))["status"] for o in (unpaid, opened, paid)] == [5, 5, 2]
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 10, "sales": 0}
    assert sandbox.trades[opened["order_id"]].status == "TRADE_CLOSED"  # the Alipay trade is closed too
    # running again (another process, a restart) changes nothing
    assert await payments.close_overdue_orders(services) == {"closed": 0, "paid": 0, "skipped": 0}


@pytest.mark.gen_test(timeout=60)
async def test_timeout_marks_paid_what_alipay_says_was_paid(api, services, shop, sandbox):
    _, sku, order = await new_order(api, shop, stock=4, count=2)
    row = await shop.fetchone("SELECT order_id, total_amount, pay_deadline FROM order_info WHERE order_id=%s",
                              order["order_id"])
    url = services.alipay.page_pay_url(out_trade_no=row["order_id"], total_amount=row["total_amount"], subject="x",
                                       time_expire=row["pay_deadline"], notify_url="http://127.0.0.1:9/",
                                       return_url="http://127.0.0.1:9/")
    await sandbox.open_and_pay(url)  # paid, but the notify is lost
    await make_overdue(shop, order["order_id"])
    assert await payments.close_overdue_orders(services) == {"closed": 0, "paid": 1, "skipped": 0}
    assert (await order_row(shop, order["order_id"]))["status"] == 2
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 2, "sales": 2}


@pytest.mark.gen_test(timeout=60)
async def test_reconciliation_finds_a_payment_whose_notify_was_lost(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    row = await shop.fetchone("SELECT order_id, total_amount, pay_deadline FROM order_info WHERE order_id=%s",
                              order["order_id"])
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url), follow_redirects=False,
                           raise_error=False)
    url = services.alipay.page_pay_url(out_trade_no=row["order_id"], total_amount=row["total_amount"], subject="x",
                                       time_expire=row["pay_deadline"], notify_url="http://127.0.0.1:9/",
                                       return_url="http://127.0.0.1:9/")
    await sandbox.open_and_pay(url)
    assert await payments.reconcile(services) == 0  # the buyer went to pay just now: not yet our business
    await shop.execute("UPDATE order_info SET pay_started_time = pay_started_time - INTERVAL 10 MINUTE "
                       "WHERE order_id=%s", order["order_id"])
    # asked a minute ago (by this or another process): not again before RECONCILE_EVERY
    await shop.execute("UPDATE order_info SET reconciled_time = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE "
                       "WHERE order_id=%s", order["order_id"])
    assert await payments.reconcile(services) == 0
    assert (await order_row(shop, order["order_id"]))["status"] == 1
    await shop.execute("UPDATE order_info SET reconciled_time = UTC_TIMESTAMP(6) - INTERVAL 6 MINUTE "
                       "WHERE order_id=%s", order["order_id"])
    assert await payments.reconcile(services) == 1
    assert (await order_row(shop, order["order_id"]))["status"] == 2
    assert await payments.reconcile(services) == 0


async def pay_after_close(api, services, shop, sandbox):
    """A buyer pays at Alipay an order we closed meanwhile (the trade was opened before the close)."""
    user, sku, order = await new_order(api, shop, stock=5, count=1)
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))  # cashier open
    await shop.execute("UPDATE order_info SET status=5, close_reason='timeout' WHERE order_id=%s",
                       order["order_id"])
    await shop.execute("UPDATE sku SET stock=stock+1, sales=sales-1 WHERE id=%s", sku)
    await sandbox.pay(order["order_id"])
    await sandbox.wait_for_notifies(10)
    return user, sku, order


@pytest.mark.gen_test(timeout=60)
async def test_late_payment_is_recorded_answered_success_and_refunded_once(api, services, shop, sandbox):
    _, sku, order = await pay_after_close(api, services, shop, sandbox)
    trade = sandbox.trades[order["order_id"]]
    assert [a.answer for a in trade.payment_notification.attempts] == ["success"]
    assert (await order_row(shop, order["order_id"]))["status"] == 5  # never resurrected
    await services.wait_for_tasks()  # the refund is started right after the answer
    await payments.refund_due(services)
    # Alipay resends the same notify, and sends another one: still one refund
    for _ in range(3):
        assert (await post_notify(api, trade.payment_notification.params))[1] == "success"
    await sandbox.send_notify(order["order_id"])
    await sandbox.wait_for_notifies(10)
    await payments.refund_due(services)
    refunds = await shop.fetchall("SELECT out_request_no, amount, status, attempts FROM refund WHERE order_id=%s",
                                  order["order_id"])
    assert len(refunds) == 1 and refunds[0]["status"] == "done" and str(refunds[0]["amount"]) == "20.00"
    assert list(trade.refunds) == [refunds[0]["out_request_no"]] and str(trade.refunded_amount) == "20.00"
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 5, "sales": 0}
    outcomes = [e["outcome"] for e in await events(shop, order["order_id"])]
    assert outcomes[0] == "late_payment_refund"


@pytest.mark.gen_test(timeout=60)
async def test_refund_is_retried_until_alipay_takes_it(api, services, shop, sandbox):
    import dataclasses
    import server
    _, _, order = await new_order(api, shop)
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))
    await shop.execute("UPDATE order_info SET status=5 WHERE order_id=%s", order["order_id"])
    real_alipay = services.alipay
    unreachable = dataclasses.replace(services.config, alipay_gateway="http://127.0.0.1:9/x")
    services.alipay = server.make_alipay_client(unreachable)
    services.alipay.retries = 0
    await sandbox.pay(order["order_id"])
    await sandbox.wait_for_notifies(10)
    await payments.refund_due(services)
    row = await shop.fetchone("SELECT status, attempts, last_result FROM refund WHERE order_id=%s", order["order_id"])
    assert row["status"] == "pending" and row["attempts"] >= 1 and "unreachable" in row["last_result"]
    services.alipay = real_alipay
    await shop.execute("UPDATE refund SET next_attempt_time = UTC_TIMESTAMP(6)")
    assert await payments.refund_due(services) == 1
    assert str(sandbox.trades[order["order_id"]].refunded_amount) == "20.00"


@pytest.mark.gen_test(timeout=120)
async def test_notify_racing_the_timeout_close_ends_consistent(api, services, shop, sandbox):
    """Whichever wins: a paid order with its stock sold, or a closed order with stock back and a refund."""
    results = []
    for _ in range(6):
        _, sku, order = await new_order(api, shop, stock=3, count=1)
        await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))
        await sandbox.pay(order["order_id"])  # paid at Alipay; its notify is on the way
        await make_overdue(shop, order["order_id"])
        notify = sandbox.trades[order["order_id"]].payment_notification
        other_process_closes = close_order(services, order["order_id"], "timeout")
        await asyncio.gather(payments.close_overdue_orders(services), post_notify(api, notify.params),
                             other_process_closes)
        await sandbox.wait_for_notifies(10)
        await services.wait_for_tasks()  # the refund the notify handler started
        await payments.refund_due(services)
        row = await order_row(shop, order["order_id"])
        stock = await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku)
        refunds = await shop.fetchall("SELECT status FROM refund WHERE order_id=%s", order["order_id"])
        trade = sandbox.trades[order["order_id"]]
        if row["status"] == 2:
            assert stock == {"stock": 2, "sales": 1} and refunds == [] and trade.refunds == {}
        else:
            assert row["status"] == 5 and stock == {"stock": 3, "sales": 0}
            assert refunds == [{"status": "done"}] and str(trade.refunded_amount) == "20.00"
        results.append(row["status"])
    assert set(results) <= {2, 5}


@pytest.mark.gen_test
async def test_notify_events_keep_the_raw_parameters(api, app, shop, sandbox):
    _, _, order = await new_order(api, shop)
    await sandbox.open_and_pay(order["pay_url"])
    await sandbox.wait_for_notifies(10)
    row = await shop.fetchone("SELECT params FROM payment_event WHERE order_id=%s", order["order_id"])
    params = json.loads(row["params"])
    assert params == sandbox.trades[order["order_id"]].payment_notification.params


@pytest.mark.gen_test
async def test_configured_seller_id_must_match(api, services, shop, sandbox):
    import dataclasses
    services.config = dataclasses.replace(services.config, alipay_seller_id="2088000000000000")
    _, _, order = await new_order(api, shop)
    base = {"notify_id": "s1", "app_id": services.config.alipay_app_id, "out_trade_no": order["order_id"],
            "trade_no": "2026112522009", "trade_status": "TRADE_SUCCESS", "total_amount": "20.00"}
    for params in (base, dict(base, seller_id="2088999999999999")):
        assert (await post_notify(api, signed_notify(params)))[1] == "fail"
    assert (await order_row(shop, order["order_id"]))["status"] == 1
    assert (await post_notify(api, signed_notify(dict(base, seller_id="2088000000000000"))))[1] == "success"
    assert (await order_row(shop, order["order_id"]))["status"] == 2


@pytest.mark.gen_test(timeout=60)
async def test_the_background_jobs_of_a_server_process_close_overdue_orders(api, services, shop, sandbox):
    import dataclasses
    import jobs
    _, sku, order = await new_order(api, shop, stock=2, count=2)
    await make_overdue(shop, order["order_id"])
    services.config = dataclasses.replace(services.config, sweep_interval=0.05)
    background = jobs.start(services)
    try:
        for _ in range(200):  # waits for the sweep; no timing is asserted
            if (await order_row(shop, order["order_id"]))["status"] == 5:
                break
            await asyncio.sleep(0.05)
    finally:
        await background.stop()
    assert (await order_row(shop, order["order_id"]))["status"] == 5
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 2, "sales": 0}


@pytest.mark.gen_test(timeout=60)
async def test_reconciliation_asks_once_per_interval_whatever_the_number_of_processes(api, services, shop, sandbox):
    _, _, order = await new_order(api, shop)
    await api.client.fetch(order["pay_url"].replace(services.config.base_url, api.base_url))  # cashier open, unpaid
    await shop.execute("UPDATE order_info SET pay_started_time = pay_started_time - INTERVAL 10 MINUTE "
                       "WHERE order_id=%s", order["order_id"])
    asked = []
    real_query = services.alipay.trade_query

    async def counting_query(out_trade_no):
        asked.append(out_trade_no)
        return await real_query(out_trade_no)

    services.alipay.trade_query = counting_query
    # three processes sweeping at once, then again at their next tick
    await asyncio.gather(*[payments.reconcile(services) for _ in range(3)])
    await asyncio.gather(*[payments.reconcile(services) for _ in range(3)])
    assert asked == [order["order_id"]]
    assert (await order_row(shop, order["order_id"]))["status"] == 1
