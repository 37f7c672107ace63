"""The local Alipay sandbox, driven through our own client: cashier, return, notify (and its
resend schedule), query / close / refund, rejections, concurrency, time_expire."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.netutil import bind_sockets
from tornado.tcpclient import TCPClient

from alipay import signer
from alipay.client import AlipayClient, shanghai_time
from alipay_sandbox import (ALIPAY_PRIVATE_KEY_PATH, ALIPAY_PUBLIC_KEY_PATH, APP_ID, MERCHANT_PRIVATE_KEY_PATH,
                            MERCHANT_PUBLIC_KEY_PATH, SELLER_ID, SandboxError, start_sandbox)
from alipay_sandbox.notifier import RESEND_DELAYS
from alipay_sandbox.testing import query_params, sandbox_client, start_notify_receiver

MERCHANT_PRIVATE = signer.load_private_key_file(MERCHANT_PRIVATE_KEY_PATH)
MERCHANT_PUBLIC = signer.load_public_key_file(MERCHANT_PUBLIC_KEY_PATH)
ALIPAY_PRIVATE = signer.load_private_key_file(ALIPAY_PRIVATE_KEY_PATH)
ALIPAY_PUBLIC = signer.load_public_key_file(ALIPAY_PUBLIC_KEY_PATH)
RETURN_URL = "http://shop.example/pay/success.html"
RETURN_KEYS = {"app_id", "auth_app_id", "charset", "method", "out_trade_no", "seller_id", "sign", "sign_type",
               "timestamp", "total_amount", "trade_no", "version"}


@pytest.fixture
def start(io_loop):
    """``box = await start(notify_scale=...)``; everything started is stopped afterwards."""
    started = []

    async def start_one(**options):
        options.setdefault("notify_scale", 0.0005)
        thing = await start_sandbox(port=0, **options)
        started.append(thing)
        return thing

    yield start_one
    for thing in started:
        io_loop.run_sync(thing.aclose)


@pytest.fixture
def receivers(io_loop):
    started = []

    async def start_one(answers=()):
        receiver = await start_notify_receiver(answers)
        started.append(receiver)
        return receiver

    yield start_one
    for receiver in started:
        receiver.stop()


def pay_url(client, out_trade_no, amount="88.00", notify_url=None, expires=timedelta(minutes=30),
            subject="达达商城订单 & 测试"):
    return client.page_pay_url(out_trade_no=out_trade_no, total_amount=Decimal(amount), subject=subject,
                               time_expire=datetime.now(timezone.utc) + expires, notify_url=notify_url,
                               return_url=RETURN_URL)


async def fetch(url, **kw):
    response = await AsyncHTTPClient().fetch(url, raise_error=False, follow_redirects=False, **kw)
    return response.code, (response.body or b"").decode("utf-8")


def signed_request(method, biz, **overrides):
    """Hand-made request parameters, for what our client refuses to send."""
    params = {"app_id": APP_ID, "method": method, "format": "JSON", "charset": "utf-8", "sign_type": "RSA2",
              "timestamp": shanghai_time(), "version": "1.0",
              "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":"))}
    params.update(overrides)
    return signer.sign_request(params, MERCHANT_PRIVATE)


async def post_gateway(box, params):
    code, body = await fetch(box.gateway_url, method="POST", body=urlencode(params))
    assert code == 200
    return body


# --- the happy path -----------------------------------------------------------------------

@pytest.mark.gen_test
async def test_round_trip_pay_url_cashier_return_and_notify_all_verify(start, receivers):
    box = await start()
    receiver = await receivers()
    client = sandbox_client(box)
    return_url = await box.open_and_pay(pay_url(client, "RT_1", "0.10", notify_url=receiver.url))

    trade = box.trades["RT_1"]
    assert trade.status == "TRADE_SUCCESS" and trade.total_amount == Decimal("0.10")
    assert len(trade.trade_no) == 28 and trade.trade_no.isdigit() and trade.buyer_id.startswith("2088")

    assert return_url.startswith(RETURN_URL + "?")
    back = query_params(return_url)
    assert set(back) == RETURN_KEYS   # no trade_status on the return
    assert back["method"] == "alipay.trade.page.pay.return" and back["total_amount"] == "0.10"
    assert back["trade_no"] == trade.trade_no and back["seller_id"] == SELLER_ID and back["app_id"] == APP_ID
    assert client.verify_callback(back)
    assert not client.verify_callback(dict(back, total_amount="0.1"))
    assert not signer.verify_callback(back, MERCHANT_PUBLIC)   # the merchant's own key is the wrong one

    await receiver.wait_for(1)
    notify = receiver.params[0]
    assert client.verify_callback(notify)
    assert not client.verify_callback(dict(notify, trade_status="TRADE_FINISHED"))
    assert notify["notify_type"] == "trade_status_sync" and notify["trade_status"] == "TRADE_SUCCESS"
    assert notify["notify_id"] == trade.notify_id and notify["out_trade_no"] == "RT_1"
    assert notify["total_amount"] == notify["receipt_amount"] == notify["buyer_pay_amount"] == "0.10"
    assert notify["app_id"] == APP_ID and notify["seller_id"] == SELLER_ID and notify["trade_no"] == trade.trade_no
    assert notify["subject"] == "达达商城订单 & 测试" and notify["buyer_id"] == trade.buyer_id
    assert json.loads(notify["fund_bill_list"]) == [{"amount": "0.10", "fundChannel": "ALIPAYACCOUNT"}]
    for key in ("notify_time", "gmt_create", "gmt_payment", "charset", "version", "sign_type", "buyer_logon_id"):
        assert notify[key]
    await box.wait_for_notifies()
    assert [a.answer for a in trade.notify_attempts] == ["success"]


@pytest.mark.gen_test
async def test_query_answers_are_signed_over_raw_utf8_with_chinese(start):
    box = await start()
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "Q_1", "88.00", subject="中文标题"))
    result = await client.trade_query("Q_1")
    assert result["code"] == "10000" and result["trade_status"] == "TRADE_SUCCESS"
    assert result["total_amount"] == "88.00" and result["subject"] == "中文标题"
    assert result["buyer_user_name"] == "沙箱买家" and result["send_pay_date"]
    raw_body = await post_gateway(box, signed_request("alipay.trade.query", {"out_trade_no": "Q_1"}))
    assert "沙箱买家" in raw_body   # raw UTF-8, not \u escapes
    assert signer.verify_response(raw_body, "alipay.trade.query", ALIPAY_PUBLIC)["out_trade_no"] == "Q_1"
    assert signer.verify_response(raw_body, "alipay.trade.query", MERCHANT_PUBLIC) is None


# --- notify resends -----------------------------------------------------------------------

@pytest.mark.gen_test
async def test_notify_is_resent_on_the_schedule_until_the_body_is_exactly_success(start, receivers):
    scale = 0.0002   # 4m, 10m, 10m → 48 ms, 120 ms, 120 ms
    box = await start(notify_scale=scale)
    receiver = await receivers(["fail", "seccess", "success\n"])
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "N_1", notify_url=receiver.url))
    await box.wait_for_notifies()
    await asyncio.sleep(0.3)   # nothing more comes after "success"

    assert len(receiver.received) == 4
    assert len({p["notify_id"] for p in receiver.params}) == 1
    assert all(p == receiver.params[0] for p in receiver.params)   # the same signed notify each time
    gaps = [b - a for a, b in zip(receiver.times, receiver.times[1:])]
    for gap, delay in zip(gaps, RESEND_DELAYS[1:4]):
        assert delay * scale * 0.9 <= gap < delay * scale + 0.1
    attempts = box.trades["N_1"].notify_attempts
    assert [a.answer for a in attempts] == ["fail", "seccess", "success\n", "success"]
    assert box.trades["N_1"].payment_notification.delivered


@pytest.mark.gen_test(timeout=15)
async def test_notify_gives_up_after_8_tries(start, receivers):
    box = await start(notify_scale=0.00001)   # the whole 24.4 h schedule in ~0.9 s
    receiver = await receivers(["fail"] * 20)
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "N_2", notify_url=receiver.url))
    await box.wait_for_notifies()
    notification = box.trades["N_2"].payment_notification
    assert len(receiver.received) == len(notification.attempts) == len(RESEND_DELAYS) == 8
    assert notification.finished and not notification.delivered
    assert sum(RESEND_DELAYS) == (4 + 10 + 10 + 60 + 120 + 360 + 900) * 60


@pytest.mark.gen_test
async def test_unreachable_notify_url_is_recorded_as_failed_tries(start):
    box = await start(notify_scale=0.00001)
    sockets = bind_sockets(0, "127.0.0.1")
    dead = "http://127.0.0.1:%d/notify" % sockets[0].getsockname()[1]
    sockets[0].close()
    await box.open_and_pay(pay_url(sandbox_client(box), "N_3", notify_url=dead))
    await box.wait_for_notifies()
    attempts = box.trades["N_3"].notify_attempts
    assert len(attempts) == 8 and all(a.error and a.answer is None for a in attempts)


@pytest.mark.gen_test
async def test_send_notify_with_chosen_fields_is_signed_after_the_changes(start, receivers):
    box = await start()
    receiver = await receivers()
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "N_4", notify_url=receiver.url))
    await receiver.wait_for(1)
    await box.send_notify("N_4", trade_status="TRADE_FINISHED", total_amount="1.00")
    await receiver.wait_for(2)
    finished = receiver.params[1]
    assert finished["trade_status"] == "TRADE_FINISHED" and finished["total_amount"] == "1.00"
    assert client.verify_callback(finished)
    assert finished["notify_id"] != receiver.params[0]["notify_id"]
    assert box.trades["N_4"].status == "TRADE_SUCCESS"   # the trade itself is unchanged


# --- rejections ---------------------------------------------------------------------------

@pytest.mark.gen_test
async def test_gateway_rejects_requests_signed_with_the_wrong_key(start):
    box = await start()
    swapped = AlipayClient(app_id=APP_ID, app_private_key=ALIPAY_PRIVATE, alipay_public_key=ALIPAY_PUBLIC,
                           gateway=box.gateway_url)
    result = await swapped.trade_query("X_1")
    assert (result["code"], result["sub_code"]) == ("40002", "isv.invalid-signature")
    code, page = await fetch(pay_url(swapped, "X_1"))
    assert code == 400 and "isv.invalid-signature" in page
    assert "X_1" not in box.trades


@pytest.mark.gen_test
async def test_gateway_rejects_a_tampered_pay_url(start):
    box = await start()
    url = pay_url(sandbox_client(box), "X_2", "88.00")
    assert "88.00" in url
    code, page = await fetch(url.replace("88.00", "0.01"))
    assert code == 400 and "isv.invalid-signature" in page
    assert "X_2" not in box.trades
    code, page = await fetch(url)
    assert code == 200 and 'id="pay"' in page


@pytest.mark.gen_test
async def test_gateway_rejects_a_request_signed_by_the_callback_rule(start):
    box = await start()
    params = signed_request("alipay.trade.query", {"out_trade_no": "X_3"})
    params["sign"] = signer.sign(signer.callback_sign_string(params), MERCHANT_PRIVATE)   # sign_type left out
    body = await post_gateway(box, params)
    assert "isv.invalid-signature" in body


@pytest.mark.gen_test
async def test_gateway_public_parameter_errors(start):
    box = await start()
    query = {"out_trade_no": "X_4"}
    cases = [
        ({"app_id": "2021999999999999"}, "40002", "isv.invalid-app-id", False),
        ({"timestamp": shanghai_time(datetime.now(timezone.utc) - timedelta(hours=1))},
         "40002", "isv.invalid-timestamp", True),
        ({"timestamp": "2026/11/25 10:00:00"}, "40002", "isv.invalid-timestamp", True),
        ({"sign_type": "RSA"}, "40002", "isv.invalid-signature-type", True),
    ]
    for overrides, code, sub_code, signed in cases:
        body = await post_gateway(box, signed_request("alipay.trade.query", query, **overrides))
        answer = json.loads(body)
        assert answer["alipay_trade_query_response"]["code"] == code
        assert answer["alipay_trade_query_response"]["sub_code"] == sub_code
        assert ("sign" in answer) == signed
        if signed:
            assert signer.verify_response(body, "alipay.trade.query", ALIPAY_PUBLIC)["sub_code"] == sub_code

    unsigned = signed_request("alipay.trade.query", query)
    del unsigned["sign"]
    answer = json.loads(await post_gateway(box, unsigned))["alipay_trade_query_response"]
    assert (answer["code"], answer["sub_code"]) == ("40001", "isv.missing-signature")

    no_method = signed_request("alipay.trade.query", query)
    del no_method["method"]
    answer = json.loads(await post_gateway(box, no_method))["error_response"]
    assert (answer["code"], answer["sub_code"]) == ("40001", "isv.missing-method")

    answer = json.loads(await post_gateway(box, signed_request("alipay.trade.nope", query)))["error_response"]
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-method")

    # An unknown app gets an unsigned answer, which the client accepts only as a failure.
    stranger = sandbox_client(box)
    stranger.app_id = "2021999999999999"
    assert (await stranger.trade_query("X_4"))["sub_code"] == "isv.invalid-app-id"


@pytest.mark.gen_test
async def test_gateway_accepts_get_and_post_with_query_and_form_merged(start):
    box = await start()
    params = signed_request("alipay.trade.query", {"out_trade_no": "X_5"})
    biz = {"biz_content": params.pop("biz_content")}
    code, body = await fetch(box.gateway_url + "?" + urlencode(params), method="POST", body=urlencode(biz))
    assert json.loads(body)["alipay_trade_query_response"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    code, body = await fetch(box.gateway_url + "?" + urlencode(dict(params, **biz)))
    assert json.loads(body)["alipay_trade_query_response"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.gen_test
async def test_page_pay_rejects_bad_amounts_and_parameters(start):
    box = await start()
    good = {"out_trade_no": "X_6", "total_amount": "1.00", "subject": "s", "product_code": "FAST_INSTANT_TRADE_PAY"}
    bad_cases = [{"total_amount": amount} for amount in ("0.00", "1.001", "-1.00", "abc", "100000000.01", 12, "")]
    bad_cases += [{"out_trade_no": "has space"}, {"out_trade_no": "x" * 65}, {"subject": ""},
                  {"product_code": "QUICK_MSECURITY_PAY"}, {"time_expire": "tomorrow"}]
    for change in bad_cases:
        params = signed_request("alipay.trade.page.pay", dict(good, **change), return_url=RETURN_URL)
        code, page = await fetch(box.gateway_url + "?" + urlencode(params))
        assert code == 400 and "ACQ.INVALID_PARAMETER" in page, change
    assert "X_6" not in box.trades
    for amount in ("0.01", "100000000.00", "7"):
        biz = dict(good, out_trade_no="OK_" + amount.replace(".", "_"), total_amount=amount)
        params = signed_request("alipay.trade.page.pay", biz)
        code, page = await fetch(box.gateway_url + "?" + urlencode(params))
        assert code == 200 and 'id="pay"' in page, amount


# --- the cashier --------------------------------------------------------------------------

@pytest.mark.gen_test
async def test_cashier_page_shows_the_order_and_reopens_the_same_trade(start):
    box = await start()
    client = sandbox_client(box)
    url = pay_url(client, "C_1", "12.30", subject="小米 <手机>")
    code, page = await fetch(url)
    assert code == 200
    for text in ('id="pay"', 'id="cancel"', "达达商城 sandbox", APP_ID, "C_1", "12.30", "小米 &lt;手机&gt;"):
        assert text in page
    trade_no = box.trades["C_1"].trade_no
    code, page = await fetch(pay_url(client, "C_1", "12.30"))
    assert code == 200 and box.trades["C_1"].trade_no == trade_no

    code, page = await fetch(pay_url(client, "C_1", "12.31"))
    assert code == 400 and "ACQ.CONTEXT_INCONSISTENT" in page
    assert box.trades["C_1"].total_amount == Decimal("12.30")

    await box.pay("C_1")
    code, page = await fetch(url)
    assert code == 409 and "ACQ.TRADE_HAS_SUCCESS" in page and "交易已被支付" in page


@pytest.mark.gen_test
async def test_cancel_leaves_the_trade_payable(start):
    box = await start()
    client = sandbox_client(box)
    await fetch(pay_url(client, "C_2"))
    code, page = await fetch(box.base_url + "/cashier/cancel", method="POST", body="out_trade_no=C_2")
    assert code == 200 and "已取消" in page and 'href="/cashier/C_2"' in page
    assert box.trades["C_2"].status == "WAIT_BUYER_PAY"
    assert (await client.trade_query("C_2"))["trade_status"] == "WAIT_BUYER_PAY"
    code, page = await fetch(box.base_url + "/cashier/C_2")
    assert code == 200 and 'id="pay"' in page
    code, _ = await fetch(box.base_url + "/cashier/pay", method="POST", body="out_trade_no=C_2")
    assert code == 302 and box.trades["C_2"].status == "TRADE_SUCCESS"


@pytest.mark.gen_test
async def test_pay_errors(start):
    box = await start()
    with pytest.raises(SandboxError) as err:
        await box.pay("never_opened")
    assert err.value.sub_code == "ACQ.TRADE_NOT_EXIST"
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "P_1"))
    with pytest.raises(SandboxError) as err:
        await box.pay("P_1")
    assert err.value.sub_code == "ACQ.TRADE_HAS_SUCCESS"
    with pytest.raises(SandboxError) as err:
        await box.open_and_pay(pay_url(client, "P_1"))
    assert err.value.sub_code == "ACQ.TRADE_HAS_SUCCESS"


# --- query / close / refund ---------------------------------------------------------------

@pytest.mark.gen_test
async def test_query_and_close(start):
    box = await start()
    client = sandbox_client(box)
    for call in (client.trade_query, client.trade_close):
        result = await call("Z_1")
        assert (result["code"], result["sub_code"], result["sub_msg"]) == ("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")

    await fetch(pay_url(client, "Z_1"))
    query = await client.trade_query("Z_1")
    assert query["trade_status"] == "WAIT_BUYER_PAY" and query["trade_no"] == box.trades["Z_1"].trade_no
    closed = await client.trade_close("Z_1")
    assert closed["code"] == "10000" and closed["out_trade_no"] == "Z_1"
    assert (await client.trade_query("Z_1"))["trade_status"] == "TRADE_CLOSED"
    assert (await client.trade_close("Z_1"))["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    with pytest.raises(SandboxError):
        await box.pay("Z_1")

    await box.open_and_pay(pay_url(client, "Z_2"))
    assert (await client.trade_close("Z_2"))["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert box.trades["Z_2"].status == "TRADE_SUCCESS"


@pytest.mark.gen_test
async def test_refunds_partial_idempotent_bounded_and_full_closes(start):
    box = await start()
    client = sandbox_client(box)
    await fetch(pay_url(client, "R_1", "88.00"))
    assert (await client.trade_refund("R_1", Decimal("1"), "R_1-a"))["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    await box.pay("R_1")

    first = await client.trade_refund("R_1", Decimal("30"), "R_1-a", refund_reason="缺货")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "30.00")
    again = await client.trade_refund("R_1", Decimal("30"), "R_1-a")
    assert (again["fund_change"], again["refund_fee"]) == ("N", "30.00")
    assert (await client.trade_refund("R_1", Decimal("31"), "R_1-a"))["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (await client.trade_refund("R_1", Decimal("58.01"), "R_1-b"))["sub_code"] == \
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert box.trades["R_1"].status == "TRADE_SUCCESS"

    rest = await client.trade_refund("R_1", Decimal("58.00"), "R_1-b")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "88.00")
    assert (await client.trade_query("R_1"))["trade_status"] == "TRADE_CLOSED"
    assert (await client.trade_refund("R_1", Decimal("0.01"), "R_1-c"))["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert (await client.trade_refund("R_1", Decimal("30"), "R_1-a"))["fund_change"] == "N"

    found = await client.refund_query("R_1", "R_1-a")
    assert (found["refund_status"], found["refund_amount"], found["total_amount"]) == \
        ("REFUND_SUCCESS", "30.00", "88.00")
    assert found["refund_reason"] == "缺货"
    unknown = await client.refund_query("R_1", "R_1-zzz")
    assert unknown["code"] == "10000" and "refund_amount" not in unknown and "refund_status" not in unknown
    assert (await client.refund_query("R_none", "x"))["sub_code"] == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.gen_test
async def test_refunds_are_notified_like_alipay_does(start, receivers):
    box = await start()
    receiver = await receivers()
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "R_2", "10.00", notify_url=receiver.url))
    await client.trade_refund("R_2", Decimal("4.00"), "R_2-a")
    await client.trade_refund("R_2", Decimal("4.00"), "R_2-a")   # no money moves: no notify
    await client.trade_refund("R_2", Decimal("6.00"), "R_2-b")
    await receiver.wait_for(3)
    await box.wait_for_notifies()
    paid, partial, full = receiver.params
    assert all(client.verify_callback(p) for p in (paid, partial, full))
    assert (partial["trade_status"], partial["refund_fee"], partial["out_biz_no"]) == ("TRADE_SUCCESS", "4.00", "R_2-a")
    assert (full["trade_status"], full["refund_fee"], full["out_biz_no"]) == ("TRADE_CLOSED", "10.00", "R_2-b")
    assert partial["gmt_refund"] and full["gmt_close"] and "refund_fee" not in paid
    assert len(receiver.received) == 3


# --- concurrency and time -----------------------------------------------------------------

@pytest.mark.gen_test(timeout=20)
async def test_50_concurrent_refunds_with_one_request_number_refund_once(start):
    box = await start()
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "K_1", "100.00"))
    results = await asyncio.gather(*[client.trade_refund("K_1", Decimal("10"), "K_1-once") for _ in range(50)])
    assert sorted(r["fund_change"] for r in results) == ["N"] * 49 + ["Y"]
    assert {r["refund_fee"] for r in results} == {"10.00"}
    assert box.trades["K_1"].refunded_amount == Decimal("10.00") and len(box.trades["K_1"].refunds) == 1


@pytest.mark.gen_test
async def test_concurrent_pays_of_one_trade_pay_once(start, receivers):
    box = await start()
    receiver = await receivers()
    await fetch(pay_url(sandbox_client(box), "K_2", notify_url=receiver.url))
    answers = await asyncio.gather(*[fetch(box.base_url + "/sandbox/api/pay", method="POST",
                                           body="out_trade_no=K_2") for _ in range(20)])
    codes = sorted(code for code, _ in answers)
    assert codes == [200] + [409] * 19
    paid = [json.loads(body) for code, body in answers if code == 200][0]
    assert paid["trade_no"] == box.trades["K_2"].trade_no
    assert sandbox_client(box).verify_callback(query_params(paid["return_url"]))
    await box.wait_for_notifies()
    assert len(receiver.received) == 1 and len(box.trades["K_2"].notifications) == 1


@pytest.mark.gen_test
async def test_time_expire_closes_the_trade(start):
    box = await start()
    client = sandbox_client(box)
    code, page = await fetch(pay_url(client, "T_1", expires=timedelta(seconds=-1)))
    assert code == 409 and "ACQ.TRADE_HAS_CLOSE" in page
    assert (await client.trade_query("T_1"))["trade_status"] == "TRADE_CLOSED"

    await fetch(pay_url(client, "T_2", expires=timedelta(minutes=30)))
    assert (await client.trade_query("T_2"))["trade_status"] == "WAIT_BUYER_PAY"
    real_clock = box.state.trades.clock
    box.state.trades.clock = lambda: real_clock() + timedelta(minutes=30, seconds=1)
    assert box.trades["T_2"].status == "TRADE_CLOSED"
    assert (await client.trade_query("T_2"))["trade_status"] == "TRADE_CLOSED"
    with pytest.raises(SandboxError) as err:
        await box.pay("T_2")
    assert err.value.sub_code == "ACQ.TRADE_HAS_CLOSE"


# --- HTTP helpers and the command line ----------------------------------------------------

@pytest.mark.gen_test
async def test_http_inspection_pay_and_notify_endpoints(start, receivers):
    box = await start()
    receiver = await receivers()
    client = sandbox_client(box)
    code, body = await fetch(box.base_url + "/sandbox/api/trades/H_1")
    assert code == 404 and json.loads(body)["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    await fetch(pay_url(client, "H_1", "5.50", notify_url=receiver.url))
    code, body = await fetch(box.base_url + "/sandbox/api/trades/H_1")
    assert code == 200 and json.loads(body)["status"] == "WAIT_BUYER_PAY"

    code, body = await fetch(box.base_url + "/sandbox/api/pay", method="POST",
                             headers={"Content-Type": "application/json"}, body='{"out_trade_no": "H_1"}')
    assert code == 200 and client.verify_callback(query_params(json.loads(body)["return_url"]))
    code, body = await fetch(box.base_url + "/sandbox/api/notify", method="POST",
                             body="out_trade_no=H_1&trade_status=TRADE_FINISHED")
    assert code == 200
    await receiver.wait_for(2)
    assert sorted(p["trade_status"] for p in receiver.params) == ["TRADE_FINISHED", "TRADE_SUCCESS"]
    code, body = await fetch(box.base_url + "/sandbox/api/trades/H_1")
    shown = json.loads(body)
    assert shown["status"] == "TRADE_SUCCESS" and shown["total_amount"] == "5.50" and shown["buyer_id"]
    assert len(shown["notifications"]) == 2
    code, body = await fetch(box.base_url + "/sandbox/api/trades")
    assert [t["out_trade_no"] for t in json.loads(body)] == ["H_1"]


def test_command_line_serves_the_gateway():
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    sockets[0].close()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen([sys.executable, "-m", "alipay_sandbox", "--port", str(port), "--notify-scale", "0.01"],
                               cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                      "http://127.0.0.1:%d/gateway.do" % port], capture_output=True, text=True)
                if out.stdout == "200":
                    break
            except FileNotFoundError:   # no curl: starting without crashing is all we check
                break
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=5)


# --- as strict as the real gateway (issue 18) -----------------------------------------------

def refund_request(reason="订单已关闭, 款项原路退回", **overrides):
    return signed_request("alipay.trade.refund", {"out_trade_no": "G_1", "refund_amount": "1.00",
                                                  "out_request_no": "G_1-R1", "refund_reason": reason}, **overrides)


def split_public(params):
    """(query, form) laid out as the official SDKs send them."""
    query = {k: v for k, v in params.items() if k != "biz_content"}
    return urlencode(query), urlencode({"biz_content": params["biz_content"]})


@pytest.mark.gen_test
async def test_the_body_is_decoded_with_the_url_charset_so_chinese_sent_the_old_way_fails(start):
    box = await start()
    # Everything in the body, charset too, nothing in the URL: the gateway decodes the body as GBK
    # and the Chinese refund_reason no longer matches its signature.
    body = await post_gateway(box, refund_request())
    answer = signer.verify_response(body, "alipay.trade.refund", ALIPAY_PUBLIC)
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")
    assert "网关生成的验签字符串为：app_id=%s&amp;biz_content=" % APP_ID in answer["sub_msg"]
    # The same request with charset in the URL query passes the signature check.
    query, form = split_public(refund_request())
    code, body = await fetch(box.gateway_url + "?" + query, method="POST", body=form)
    answer = signer.verify_response(body, "alipay.trade.refund", ALIPAY_PUBLIC)
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    # The old way still works for ASCII-only text (GBK and UTF-8 agree there), as on Alipay.
    body = await post_gateway(box, refund_request(reason="out of stock"))
    assert json.loads(body)["alipay_trade_refund_response"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    # Our client, which puts the public parameters in the URL, gets through with Chinese text.
    client = sandbox_client(box)
    await box.open_and_pay(pay_url(client, "G_1", "1.00"))
    refunded = await client.trade_refund("G_1", Decimal("1.00"), "G_1-R1", refund_reason="订单已关闭, 款项原路退回")
    assert refunded["code"] == "10000" and refunded["fund_change"] == "Y"
    assert box.trades["G_1"].refunds["G_1-R1"].refund_reason == "订单已关闭, 款项原路退回"


@pytest.mark.gen_test
async def test_a_gbk_client_is_verified_and_answered_in_gbk(start):
    box = await start()
    await box.open_and_pay(pay_url(sandbox_client(box), "G_2", "1.00", subject="中文标题"))
    params = {"app_id": APP_ID, "method": "alipay.trade.query", "format": "JSON", "charset": "GBK",
              "sign_type": "RSA2", "timestamp": shanghai_time(), "version": "1.0",
              "biz_content": '{"out_trade_no":"G_2","备注":"中文"}'}
    params["sign"] = signer.sign(signer.request_sign_string(params), MERCHANT_PRIVATE, "gbk")
    query = urlencode({k: v for k, v in params.items() if k != "biz_content"})
    form = urlencode({"biz_content": params["biz_content"]}, encoding="gbk")
    response = await AsyncHTTPClient().fetch(box.gateway_url + "?" + query, method="POST", body=form)
    assert response.headers["Content-Type"] == "application/json; charset=gbk"
    text = response.body.decode("gbk")
    raw, sign = signer.extract_response(text, "alipay.trade.query")
    assert signer.verify(raw, sign, ALIPAY_PUBLIC, "gbk") and not signer.verify(raw, sign, ALIPAY_PUBLIC)
    assert json.loads(raw)["subject"] == "中文标题"
    # An unknown charset in the URL is refused before anything else (nothing can be read).
    code, body = await fetch(box.gateway_url + "?charset=latin-9&" + query, method="POST", body=form)
    assert json.loads(body) == {"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                   "sub_code": "isv.invalid-charset", "sub_msg": "字符集错误"}}


@pytest.mark.gen_test
async def test_absolute_form_request_targets_are_accepted(start):
    # What the official Python SDK sends: "POST http://host/gateway.do?<public parameters>".
    box = await start()
    query, form = split_public(signed_request("alipay.trade.query", {"out_trade_no": "G_3"}))
    stream = await TCPClient().connect(box.host, box.port)
    await stream.write((
        "POST %s?%s HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
        % (box.gateway_url, query, len(form), form)).encode("ascii"))
    response = (await stream.read_until_close()).decode("utf-8")
    head, body = response.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200")
    answer = signer.verify_response(body, "alipay.trade.query", ALIPAY_PUBLIC)
    assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.gen_test
async def test_business_failures_carry_the_fields_alipay_sends_with_them(start):
    box = await start()
    client = sandbox_client(box)
    base = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}
    assert await client.trade_query("E_1") == dict(
        base, buyer_pay_amount="0.00", invoice_amount="0.00", out_trade_no="E_1", point_amount="0.00",
        receipt_amount="0.00")
    assert await client.trade_close("E_1") == dict(base, out_trade_no="E_1")
    assert await client.trade_refund("E_1", Decimal("1.00"), "E_1-R1") == dict(
        base, refund_fee="0.00", send_back_fee="0.00")
    await box.open_and_pay(pay_url(client, "E_2"))
    assert await client.trade_close("E_2") == {"code": "40004", "msg": "Business Failed", "out_trade_no": "E_2",
                                               "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"}


# --- the phone cashier (alipay.trade.wap.pay) -------------------------------------------------

def wap_url(client, out_trade_no, amount="88.00", notify_url=None, quit_url="http://shop.example/pay/quit"):
    return client.wap_pay_url(out_trade_no=out_trade_no, total_amount=Decimal(amount), subject="达达商城订单 手机",
                              time_expire=datetime.now(timezone.utc) + timedelta(minutes=30),
                              notify_url=notify_url, return_url=RETURN_URL, quit_url=quit_url)


@pytest.mark.gen_test
async def test_wap_pay_opens_a_phone_cashier_that_pays_like_the_pc_one(start, receivers):
    box = await start()
    receiver = await receivers()
    client = sandbox_client(box)
    url = wap_url(client, "W_1", "9.90", notify_url=receiver.url)
    sent = query_params(url)
    assert sent["method"] == "alipay.trade.wap.pay"
    assert json.loads(sent["biz_content"])["product_code"] == "QUICK_WAP_WAY"
    assert json.loads(sent["biz_content"])["quit_url"] == "http://shop.example/pay/quit"
    assert signer.verify(signer.request_sign_string(sent), sent["sign"], MERCHANT_PUBLIC)

    code, page = await fetch(url)
    assert code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'id="pay"' in page and 'id="cancel"' in page and 'href="http://shop.example/pay/quit"' in page
    code, pc_page = await fetch(pay_url(client, "W_2"))
    assert 'name="viewport"' not in pc_page and 'id="quit"' not in pc_page

    return_url = await box.open_and_pay(url)   # reopening the same trade, then pressing pay
    back = query_params(return_url)
    assert set(back) == RETURN_KEYS and back["method"] == "alipay.trade.wap.pay.return"
    assert client.verify_callback(back) and back["total_amount"] == "9.90"
    await receiver.wait_for(1)
    assert client.verify_callback(receiver.params[0]) and receiver.params[0]["trade_status"] == "TRADE_SUCCESS"
    assert (await client.trade_query("W_1"))["trade_status"] == "TRADE_SUCCESS"
    assert box.trades["W_1"].method == "alipay.trade.wap.pay"


@pytest.mark.gen_test
async def test_each_cashier_method_requires_its_own_product_code(start):
    box = await start()
    for method, wrong in (("alipay.trade.wap.pay", "FAST_INSTANT_TRADE_PAY"),
                          ("alipay.trade.page.pay", "QUICK_WAP_WAY")):
        params = signed_request(method, {"out_trade_no": "W_3", "total_amount": "1.00", "subject": "s",
                                         "product_code": wrong})
        code, page = await fetch(box.gateway_url + "?" + urlencode(params))
        assert code == 400 and "ACQ.INVALID_PARAMETER" in page
    assert "W_3" not in box.trades
