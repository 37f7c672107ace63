"""alipay.client: page-pay URL construction, response verification and retries (against a
scripted fake gateway; the real round trip with the sandbox is in test_alipay_sandbox.py)."""
import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from alipay import signer
from alipay.client import AlipayClient, AlipayError, format_amount, shanghai_time
from alipay_sandbox import (ALIPAY_PRIVATE_KEY_PATH, ALIPAY_PUBLIC_KEY_PATH, APP_ID,
                            MERCHANT_PRIVATE_KEY_PATH, MERCHANT_PUBLIC_KEY_PATH)
from alipay_sandbox.testing import sandbox_client

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALIPAY_PRIVATE = signer.load_private_key_file(ALIPAY_PRIVATE_KEY_PATH)
MERCHANT_PRIVATE = signer.load_private_key_file(MERCHANT_PRIVATE_KEY_PATH)
MERCHANT_PUBLIC = signer.load_public_key_file(MERCHANT_PUBLIC_KEY_PATH)


def client_for(gateway, **options):
    return sandbox_client(gateway=gateway, **options)


def signed(raw, method="alipay.trade.query", key=ALIPAY_PRIVATE):
    return '{"%s":%s,"sign":"%s"}' % (signer.response_key(method), raw, signer.sign(raw, key))


SUCCESS = ('{"code":"10000","msg":"Success","out_trade_no":"A1","trade_status":"TRADE_SUCCESS",'
           '"total_amount":"88.00"}')
BUSY = '{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"系统繁忙"}'


# --- a scripted gateway -------------------------------------------------------------------

class Script:
    """Answers in turn: a body string (HTTP 200), an (HTTP status, body) pair, "DROP" (close the
    connection without answering) or ("SLEEP", seconds, body)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []   # query and form merged, raw str values
        self.layouts = []    # (query keys, form keys, Content-Type) of each request


class ScriptedHandler(tornado.web.RequestHandler):
    async def post(self):
        script = self.application.settings["script"]
        query = signer.params_from_arguments(self.request.query_arguments)
        form = signer.params_from_arguments(self.request.body_arguments)
        script.requests.append(dict(query, **form))
        script.layouts.append((set(query), set(form), self.request.headers.get("Content-Type")))
        answer = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
        if answer == "DROP":
            self.request.connection.close()
            return
        status = 200
        if isinstance(answer, tuple) and answer[0] == "SLEEP":
            await asyncio.sleep(answer[1])
            answer = answer[2]
        elif isinstance(answer, tuple):
            status, answer = answer
        self.set_status(status)
        self.finish(answer.encode("utf-8"))


async def start_script(*answers):
    script = Script(answers)
    sockets = bind_sockets(0, "127.0.0.1")
    app = tornado.web.Application([(r"/gateway.do", ScriptedHandler)], script=script)
    HTTPServer(app).add_sockets(sockets)
    return script, "http://127.0.0.1:%d/gateway.do" % sockets[0].getsockname()[1]


# --- page pay URL -------------------------------------------------------------------------

def pay_url_params(client, **overrides):
    kwargs = dict(out_trade_no="202611251830001", total_amount=Decimal("88"), subject="达达商城 订单 a&b=c",
                  time_expire=datetime(2026, 11, 25, 10, 30, 0),
                  notify_url="http://shop.example/v1/orders/success/",
                  return_url="http://shop.example/pay/success.html")
    kwargs.update(overrides)
    url = client.page_pay_url(**kwargs)
    parts = urlsplit(url)
    assert "%s://%s%s" % (parts.scheme, parts.netloc, parts.path) == client.gateway
    assert "+" in parts.query and "%E8%BE%BE" in parts.query   # quote_plus: space → +, UTF-8 escapes
    return {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}


def test_page_pay_url_has_the_public_parameters_and_a_valid_request_signature():
    params = pay_url_params(client_for("http://127.0.0.1:1/gateway.do"))
    assert {k: params[k] for k in ("app_id", "method", "format", "charset", "sign_type", "version")} == {
        "app_id": APP_ID, "method": "alipay.trade.page.pay", "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "version": "1.0"}
    assert params["notify_url"] == "http://shop.example/v1/orders/success/"
    assert params["return_url"] == "http://shop.example/pay/success.html"
    # sign_type is part of the signed string for requests; the merchant public key verifies it.
    assert signer.verify(signer.request_sign_string(params), params["sign"], MERCHANT_PUBLIC)
    assert not signer.verify(signer.callback_sign_string(params), params["sign"], MERCHANT_PUBLIC)


def test_page_pay_biz_content_is_compact_utf8_json_with_2_decimal_amount_and_shanghai_expiry():
    params = pay_url_params(client_for("http://127.0.0.1:1/gateway.do"))
    assert params["biz_content"] == (   # keys sorted, as the official SDKs send them
        '{"out_trade_no":"202611251830001","product_code":"FAST_INSTANT_TRADE_PAY","subject":"达达商城 订单 a&b=c",'
        '"time_expire":"2026-11-25 18:30:00","total_amount":"88.00"}')   # naive = UTC


def test_page_pay_timestamp_is_shanghai_time_whatever_the_server_zone():
    params = pay_url_params(client_for("http://127.0.0.1:1/gateway.do"))
    sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    assert abs(datetime.now(timezone.utc) - sent) < timedelta(seconds=5)


def test_times_and_amounts_are_formatted_exactly():
    aware = datetime(2026, 1, 1, 0, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    assert shanghai_time(aware) == "2026-01-01 13:00:00"
    assert shanghai_time(datetime(2026, 6, 30, 20, 0, 5)) == "2026-07-01 04:00:05"
    assert shanghai_time(datetime(2026, 6, 30, 20, 0, 5, tzinfo=SHANGHAI)) == "2026-06-30 20:00:05"
    assert format_amount(Decimal("0.1")) == "0.10"
    assert format_amount(Decimal("100000000")) == "100000000.00"
    assert format_amount(12) == "12.00" and format_amount("3.5") == "3.50"
    with pytest.raises(TypeError):
        format_amount(0.1)
    for bad in (Decimal("1.005"), Decimal("0"), Decimal("-1"), Decimal("100000000.01"), "abc"):
        with pytest.raises(ValueError):
            format_amount(bad)


def test_keys_can_be_given_as_text_or_objects():
    with open(MERCHANT_PRIVATE_KEY_PATH) as f:
        pem = f.read()
    with open(ALIPAY_PUBLIC_KEY_PATH) as f:
        bare = "".join(line for line in f.read().splitlines() if not line.startswith("-----"))
    gateway = "http://x/gateway.do"
    a = AlipayClient(app_id=APP_ID, app_private_key=pem, alipay_public_key=bare, gateway=gateway)
    b = AlipayClient(app_id=APP_ID, app_private_key=MERCHANT_PRIVATE,
                     alipay_public_key=signer.load_public_key(bare), gateway=gateway)
    params = signer.sign_callback({"out_trade_no": "A1", "total_amount": "1.00"}, ALIPAY_PRIVATE)
    assert a.verify_callback(params) and b.verify_callback(params)
    assert not a.verify_callback(dict(params, total_amount="100.00"))
    with pytest.raises(ValueError):   # keys swapped: a public key where the private one goes
        AlipayClient(app_id=APP_ID, app_private_key=bare, alipay_public_key=pem, gateway=gateway)


# --- server-to-server calls ---------------------------------------------------------------

@pytest.mark.gen_test
async def test_query_returns_the_verified_response_and_posts_a_signed_form():
    script, gateway = await start_script(signed(SUCCESS))
    result = await client_for(gateway).trade_query("A1")
    assert result == json.loads(SUCCESS)
    sent = script.requests[0]
    assert sent["method"] == "alipay.trade.query"
    assert json.loads(sent["biz_content"]) == {"out_trade_no": "A1"}
    assert signer.verify(signer.request_sign_string(sent), sent["sign"], MERCHANT_PUBLIC)


@pytest.mark.gen_test
async def test_calls_put_the_public_parameters_in_the_query_and_only_biz_content_in_the_body():
    # As the official SDKs do: the gateway must read charset from the URL before decoding the body.
    script, gateway = await start_script(signed(SUCCESS, "alipay.trade.refund"))
    await client_for(gateway).trade_refund("A1", Decimal("1.00"), "A1-R1", refund_reason="订单已关闭, 款项原路退回")
    query_keys, form_keys, content_type = script.layouts[0]
    assert query_keys == {"app_id", "method", "format", "charset", "sign_type", "timestamp", "version", "sign"}
    assert form_keys == {"biz_content"}
    assert content_type == "application/x-www-form-urlencoded;charset=utf-8"
    sent = script.requests[0]
    assert json.loads(sent["biz_content"])["refund_reason"] == "订单已关闭, 款项原路退回"
    assert signer.verify(signer.request_sign_string(sent), sent["sign"], MERCHANT_PUBLIC)
    # The same call built without sending: the URL carries charset, the body nothing but biz_content.
    url, body, headers = client_for(gateway).build_request("alipay.trade.query", {"out_trade_no": "A1"})
    assert url.startswith(gateway + "?") and "charset=utf-8" in url and "biz_content" not in url
    assert body == "biz_content=%7B%22out_trade_no%22%3A%22A1%22%7D"
    assert headers == {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}


def test_app_auth_token_is_a_signed_public_parameter():
    client = sandbox_client(gateway="http://127.0.0.1:1/gateway.do", app_auth_token="202611BBtoken")
    url, body, _ = client.build_request("alipay.trade.query", {"out_trade_no": "A1"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["app_auth_token"] == "202611BBtoken"
    query["biz_content"] = parse_qs(body)["biz_content"][0]
    assert signer.verify(signer.request_sign_string(query), query["sign"], MERCHANT_PUBLIC)


@pytest.mark.gen_test
async def test_responses_with_whitespace_and_chinese_verify_over_the_raw_bytes():
    raw = '{ "code" : "10000", "msg" : "Success", "sub_msg": "含 } 和 { 的 \\"文本\\"", "x": {"y": ["}"]} }'
    sign = signer.sign(raw, ALIPAY_PRIVATE)
    body = '{\n "alipay_trade_query_response" : %s ,\n "sign" : "%s"\n}' % (raw, sign)
    script, gateway = await start_script(body)
    result = await client_for(gateway).trade_query("A1")
    assert result["sub_msg"] == '含 } 和 { 的 "文本"' and result["x"] == {"y": ["}"]}


@pytest.mark.gen_test
async def test_business_failures_are_returned_not_raised():
    failure = '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}'
    script, gateway = await start_script(signed(failure, "alipay.trade.close"))
    result = await client_for(gateway).trade_close("A1")
    assert result["sub_code"] == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.gen_test
async def test_unsigned_error_bodies_count_only_as_failures():
    unsigned_failure = '{"alipay_trade_query_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}'
    script, gateway = await start_script(unsigned_failure)
    assert (await client_for(gateway).trade_query("A1"))["sub_code"] == "isv.invalid-app-id"
    script, gateway = await start_script('{"alipay_trade_query_response":%s}' % SUCCESS)
    with pytest.raises(AlipayError):
        await client_for(gateway).trade_query("A1")


@pytest.mark.gen_test
async def test_tampered_or_wrongly_signed_responses_raise():
    tampered = signed(SUCCESS).replace('"88.00"', '"0.01"')
    wrong_key = signed(SUCCESS, key=MERCHANT_PRIVATE)
    wrong_method = signed(SUCCESS, method="alipay.trade.close")
    signed_failure_tampered = signed('{"code":"40004","sub_code":"ACQ.X"}').replace("ACQ.X", "ACQ.Y")
    for body in (tampered, wrong_key, wrong_method, signed_failure_tampered, "<html>502</html>", ""):
        script, gateway = await start_script(body)
        with pytest.raises(AlipayError):
            await client_for(gateway).trade_query("A1")
        assert len(script.requests) == 1   # an untrustworthy answer is not retried


@pytest.mark.gen_test
async def test_retries_20000_5xx_and_dropped_connections_then_succeeds():
    script, gateway = await start_script(signed(BUSY), (502, "bad gateway"), "DROP", signed(SUCCESS))
    client = client_for(gateway, retries=3, retry_delay=0.01)
    assert (await client.trade_query("A1"))["trade_status"] == "TRADE_SUCCESS"
    assert len(script.requests) == 4
    # every attempt is freshly signed
    for sent in script.requests:
        assert signer.verify(signer.request_sign_string(sent), sent["sign"], MERCHANT_PUBLIC)


@pytest.mark.gen_test
async def test_retries_are_bounded():
    script, gateway = await start_script(signed(BUSY, "alipay.trade.refund"))
    with pytest.raises(AlipayError, match="20000"):
        await client_for(gateway, retries=2).trade_refund("A1", Decimal("1.00"), "R1")
    assert len(script.requests) == 3
    unsigned_busy = '{"alipay_trade_query_response":%s}' % BUSY
    script, gateway = await start_script(unsigned_busy)
    with pytest.raises(AlipayError):
        await client_for(gateway, retries=1).trade_query("A1")
    assert len(script.requests) == 2


@pytest.mark.gen_test
async def test_network_failures_raise_after_retries():
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    sockets[0].close()   # nothing listens there any more: connection refused
    with pytest.raises(AlipayError, match="3 attempts"):
        await client_for("http://127.0.0.1:%d/gateway.do" % port, retries=2).trade_query("A1")
    script, gateway = await start_script(("SLEEP", 0.5, signed(SUCCESS)))
    with pytest.raises(AlipayError):
        await client_for(gateway, timeout=0.1, retries=1).trade_query("A1")
    assert len(script.requests) == 2


@pytest.mark.gen_test
async def test_refund_and_refund_query_send_the_right_biz_content():
    refund_ok = '{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"10.50"}'
    script, gateway = await start_script(signed(refund_ok, "alipay.trade.refund"))
    result = await client_for(gateway).trade_refund("A1", Decimal("10.5"), "A1-R1", refund_reason="缺货")
    assert result["fund_change"] == "Y"
    assert json.loads(script.requests[0]["biz_content"]) == {
        "out_trade_no": "A1", "refund_amount": "10.50", "out_request_no": "A1-R1", "refund_reason": "缺货"}
    query_ok = '{"code":"10000","msg":"Success","refund_status":"REFUND_SUCCESS"}'
    script, gateway = await start_script(signed(query_ok, "alipay.trade.fastpay.refund.query"))
    assert (await client_for(gateway).refund_query("A1", "A1-R1"))["refund_status"] == "REFUND_SUCCESS"
    assert script.requests[0]["method"] == "alipay.trade.fastpay.refund.query"
    assert json.loads(script.requests[0]["biz_content"]) == {"out_trade_no": "A1", "out_request_no": "A1-R1"}
