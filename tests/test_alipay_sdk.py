"""The official Alipay SDK (``alipay-sdk-python``, pinned in requirements-dev.txt, test-only) as an
oracle nobody here wrote: our signing strings, signatures and pay URLs equal the SDK's for tricky
inputs; the SDK verifies our pay URLs and the sandbox's returns and notifies; and the SDK, used as
a merchant client, gets verified answers from the sandbox gateway for query / close / refund.

Two things about the SDK shape these tests (both read from its source, 3.7.1411):
- Its top-level package is called ``alipay``, like ours, which comes first on sys.path. It
  installs and imports fine on Python 3.11; ``official_sdk()`` makes its ``alipay.aop``
  reachable by adding the SDK's package directory to our package's search path (ours has no
  ``aop``, so nothing of ours is shadowed).
- Its transport (``WebUtils.do_post``) always connects to port 80/443 and fails on a URL with a
  port, and it stamps ``timestamp`` with the machine's local time (a server in China runs on
  Asia/Shanghai time). So ``sdk_execute`` drives the SDK's own request building, signing and
  response verification, and only the sending is ours: the same absolute-form target, headers
  and body its ``do_post`` would send, to the sandbox's port; and the SDK's clock reads Shanghai
  time (``sdk_clock``).
"""
import asyncio
import http.client
import importlib
import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
import rsa
from tornado.httpclient import AsyncHTTPClient

import alipay
import alipay.client
from alipay import signer
from alipay_sandbox import (ALIPAY_PUBLIC_KEY_PATH, APP_ID, MERCHANT_PRIVATE_KEY_PATH, MERCHANT_PUBLIC_KEY_PATH,
                            start_sandbox)
from alipay_sandbox.testing import query_params, sandbox_client, start_notify_receiver

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SDK_VERSION = "3.7.1411"


def official_sdk():
    """The parts of the official SDK used here (see the module docstring for the path trick)."""
    sdk_dir = str(metadata.distribution("alipay-sdk-python").locate_file("alipay"))
    if sdk_dir not in alipay.__path__:
        alipay.__path__.append(sdk_dir)

    def load(module):
        return importlib.import_module("alipay.aop.api." + module)

    constants = load("constant.CommonConstants")
    sdk = SimpleNamespace(client_module=load("DefaultAlipayClient"),
                          AlipayClientConfig=load("AlipayClientConfig").AlipayClientConfig,
                          SignatureUtils=load("util.SignatureUtils"), WebUtils=load("util.WebUtils"),
                          THREAD_LOCAL=constants.THREAD_LOCAL, VERSION=constants.ALIPAY_SDK_PYTHON_VERSION,
                          ResponseException=load("exception.Exception").ResponseException)
    for name in ("PagePay", "WapPay", "Query", "Close", "Refund", "FastpayRefundQuery"):
        for kind in ("Request", "Response"):
            if name.endswith("Pay") and kind == "Response":
                continue
            class_name = "AlipayTrade%s%s" % (name, kind)
            setattr(sdk, class_name, getattr(load("%s.%s" % (kind.lower(), class_name)), class_name))
    return sdk


SDK = official_sdk()


def bare_key(path):
    """A PEM file's base64 body: the SDK adds its own armour (PKCS#1 private, SPKI public)."""
    with open(path, encoding="ascii") as f:
        return "".join(line for line in f.read().split("\n") if line and not line.startswith("-----"))


MERCHANT_PRIVATE_B64 = bare_key(MERCHANT_PRIVATE_KEY_PATH)   # PKCS#1, as the SDK's rsa.load_pkcs1 wants
MERCHANT_PUBLIC_B64 = bare_key(MERCHANT_PUBLIC_KEY_PATH)
ALIPAY_PUBLIC_B64 = bare_key(ALIPAY_PUBLIC_KEY_PATH)


def sdk_client(gateway, json_format="JSON"):
    config = SDK.AlipayClientConfig()
    config.server_url = gateway
    config.app_id = APP_ID
    config.app_private_key = MERCHANT_PRIVATE_B64
    config.alipay_public_key = ALIPAY_PUBLIC_B64
    # The SDK's default is "json"; ours is "JSON". Signed either way, so the URL comparisons use ours.
    config.format = json_format or config.format
    return SDK.client_module.DefaultAlipayClient(config)


@pytest.fixture
def sdk_clock(monkeypatch):
    """The SDK stamps requests with ``datetime.datetime.now()``: make that Shanghai wall time
    (``set(text)`` pins it to one timestamp, to compare with a URL of ours)."""
    pinned = []

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            if pinned:
                return datetime.strptime(pinned[0], "%Y-%m-%d %H:%M:%S")
            return datetime.now(SHANGHAI).replace(tzinfo=None)

    def pin(text):
        pinned[:] = [text]

    monkeypatch.setattr(SDK.client_module, "datetime", SimpleNamespace(datetime=Clock))
    return SimpleNamespace(set=pin)


def test_the_pinned_official_sdk_is_the_one_imported():
    assert metadata.version("alipay-sdk-python") == SDK_VERSION
    assert SDK.VERSION == "alipay-sdk-python-%s.ALL" % SDK_VERSION
    # Our package is still ours: only the SDK's alipay.aop was added to it.
    assert alipay.__file__ == str(ROOT / "alipay" / "__init__.py") and alipay.client.AlipayClient


# --- signing strings, signatures and pay URLs -----------------------------------------------

TRICKY_ORDERS = [
    # subject, notify_url, return_url, amount, minutes to time_expire
    ("达达商城 订单", "http://shop.example/v1/orders/success/", "http://shop.example/pay/success.html", "88.00", 30),
    ("a=b&c=d e+f%20", "http://shop.example/notify", "http://shop.example/return", "0.01", 1),
    ("两行\n标题\t制表 and \"quotes\" \\ backslash", "http://shop.example/n", "http://shop.example/r", "1.10", 15),
    ("emoji 🎁 全角＆＝", "https://shop.example/notify?from=alipay&x=1", "https://shop.example/r?a=1&b=%E4%B8%AD",
     "100000000.00", 60 * 24),
    ("  leading and trailing spaces  ", "http://127.0.0.1:8000/v1/orders/success/",
     "http://127.0.0.1:8000/pay/success.html", "12.30", 0),
]


@pytest.mark.parametrize("method", ["page_pay_url", "wap_pay_url"])
@pytest.mark.parametrize("subject,notify_url,return_url,amount,minutes", TRICKY_ORDERS)
def test_our_pay_urls_sign_exactly_as_the_sdk_does_and_the_sdk_verifies_them(
        sdk_clock, method, subject, notify_url, return_url, amount, minutes):
    gateway = "https://openapi.alipay.com/gateway.do"
    client = sandbox_client(gateway=gateway)
    url = getattr(client, method)(out_trade_no="SDK_%d" % minutes, total_amount=Decimal(amount), subject=subject,
                                  time_expire=datetime(2026, 11, 25, 10, 30) + timedelta(minutes=minutes),
                                  notify_url=notify_url, return_url=return_url)
    ours = query_params(url)
    assert "%s://%s%s" % urlsplit(url)[:3] == gateway

    # The SDK's verdict on our URL: its signing string is ours, and our signature verifies.
    unsigned = {k: v for k, v in ours.items() if k != "sign"}
    assert SDK.SignatureUtils.get_sign_content(unsigned) == signer.request_sign_string(ours)
    assert SDK.SignatureUtils.verify_with_rsa(MERCHANT_PUBLIC_B64, signer.request_sign_string(ours).encode("utf-8"),
                                              ours["sign"])
    assert SDK.SignatureUtils.sign_with_rsa2(MERCHANT_PRIVATE_B64, signer.request_sign_string(ours),
                                             "utf-8") == ours["sign"]

    # The SDK builds the same order's URL itself, from its own biz model, in the same second:
    # the same parameters, byte for byte (biz_content included), and so the same signature.
    request = (SDK.AlipayTradePagePayRequest if method == "page_pay_url" else SDK.AlipayTradeWapPayRequest)()
    request.biz_content = json.loads(ours["biz_content"])
    request.notify_url = notify_url
    request.return_url = return_url
    sdk_clock.set(ours["timestamp"])
    sdk_url = sdk_client(gateway).page_execute(request, http_method="GET")
    theirs = query_params(sdk_url)
    assert theirs == ours
    biz = json.loads(ours["biz_content"])
    assert biz["subject"] == subject and biz["total_amount"] == amount
    assert biz["product_code"] == ("FAST_INSTANT_TRADE_PAY" if method == "page_pay_url" else "QUICK_WAP_WAY")


@pytest.mark.parametrize("call,biz", [
    ("alipay.trade.query", {"out_trade_no": "SDK_Q"}),
    ("alipay.trade.close", {"out_trade_no": "SDK_C"}),
    ("alipay.trade.refund", {"out_trade_no": "SDK_R", "refund_amount": "10.50", "out_request_no": "SDK_R-1",
                             "refund_reason": "订单已关闭, 款项原路退回 & a=b"}),
    ("alipay.trade.fastpay.refund.query", {"out_trade_no": "SDK_R", "out_request_no": "SDK_R-1"}),
])
def test_our_gateway_calls_are_laid_out_and_signed_as_the_sdks(sdk_clock, call, biz):
    gateway = "https://openapi.alipay.com/gateway.do"
    url, body, headers = sandbox_client(gateway=gateway).build_request(call, biz)
    ours_query = query_params(url)
    ours_form = query_params("?" + body)
    assert set(ours_form) == {"biz_content"}

    request_class = {"alipay.trade.query": SDK.AlipayTradeQueryRequest,
                     "alipay.trade.close": SDK.AlipayTradeCloseRequest,
                     "alipay.trade.refund": SDK.AlipayTradeRefundRequest,
                     "alipay.trade.fastpay.refund.query": SDK.AlipayTradeFastpayRefundQueryRequest}[call]
    request = request_class()
    request.biz_content = biz   # the SDK serialises it through its own model
    sdk_clock.set(ours_query["timestamp"])
    SDK.THREAD_LOCAL.uuid = str(uuid.uuid1())
    query_string, form = sdk_client(gateway)._DefaultAlipayClient__prepare_request(request)
    theirs_query = query_params("?" + query_string)
    assert form == ours_form   # the body: biz_content only, in both
    assert theirs_query == ours_query   # same public parameters in the URL, same signature
    assert headers["Content-Type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert body == SDK.WebUtils.url_encode(form, "utf-8")   # the body bytes the SDK would post


# --- the SDK against the sandbox ----------------------------------------------------------------

@pytest.fixture
def box(io_loop):
    sandbox = io_loop.run_sync(lambda: start_sandbox(port=0, notify_scale=0.0005))
    yield sandbox
    io_loop.run_sync(sandbox.aclose)


@pytest.fixture
def receiver(io_loop):
    started = io_loop.run_sync(start_notify_receiver)
    yield started
    started.stop()


def sdk_verifies_callback(params):
    """How a merchant verifies a return / notify with the official SDK: sign and sign_type dropped,
    the rest sorted into its signing string, checked with Alipay's public key."""
    content = SDK.SignatureUtils.get_sign_content({k: v for k, v in params.items() if k not in ("sign", "sign_type")})
    try:
        return SDK.SignatureUtils.verify_with_rsa(ALIPAY_PUBLIC_B64, content.encode("utf-8"), params["sign"])
    except rsa.VerificationError:   # the SDK raises rather than answering False
        return False


def sdk_execute(box, request, response_class):
    """``DefaultAlipayClient.execute`` with our sending only (its do_post cannot reach a non-default
    port): the SDK builds and signs the request and verifies the answer. Blocking: run in a thread."""
    client = sdk_client(box.gateway_url, json_format=None)   # as the SDK comes: format=json
    SDK.THREAD_LOCAL.uuid = str(uuid.uuid1())
    SDK.THREAD_LOCAL.logger = None
    query_string, params = client._DefaultAlipayClient__prepare_request(request)
    headers = {"Content-type": "application/x-www-form-urlencoded;charset=utf-8", "Cache-Control": "no-cache",
               "Connection": "Keep-Alive", "User-Agent": SDK.VERSION,
               "log-uuid": SDK.THREAD_LOCAL.uuid}
    connection = http.client.HTTPConnection(box.host, box.port, timeout=10)
    try:
        # do_post's absolute-form target: "POST http://host/gateway.do?<public parameters>"
        connection.request("POST", box.gateway_url + "?" + query_string,
                           body=SDK.WebUtils.url_encode(params, "utf-8"), headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        raw = response.read()
    finally:
        connection.close()
    verified = client._DefaultAlipayClient__parse_response(raw)   # raises unless the signature verifies
    answer = response_class()
    answer.parse_response_content(verified)
    return answer


async def sdk_call(box, request_class, response_class, **biz):
    request = request_class()
    request.biz_content = biz
    return await asyncio.get_running_loop().run_in_executor(None, sdk_execute, box, request, response_class)


def sdk_pay_url(request_class, out_trade_no, amount, subject, notify_url, product_code):
    request = request_class()
    request.biz_content = {
        "out_trade_no": out_trade_no, "total_amount": amount, "subject": subject, "product_code": product_code,
        "time_expire": (datetime.now(SHANGHAI) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")}
    request.notify_url = notify_url
    request.return_url = "http://shop.example/pay/success.html"
    return request


@pytest.mark.gen_test
async def test_sdk_pay_urls_open_the_sandbox_and_the_sdk_verifies_returns_and_notifies(sdk_clock, box, receiver):
    for request_class, product_code, out_trade_no in ((SDK.AlipayTradePagePayRequest, "FAST_INSTANT_TRADE_PAY", "S_1"),
                                                      (SDK.AlipayTradeWapPayRequest, "QUICK_WAP_WAY", "S_2")):
        request = sdk_pay_url(request_class, out_trade_no, "0.10", "达达商城 订单 a&b=c", receiver.url, product_code)
        return_url = await box.open_and_pay(sdk_client(box.gateway_url).page_execute(request, http_method="GET"))
        back = query_params(return_url)
        assert sdk_verifies_callback(back) and back["out_trade_no"] == out_trade_no
        assert not sdk_verifies_callback(dict(back, total_amount="0.1"))
    await receiver.wait_for(2)
    for notify in receiver.params:
        assert sdk_verifies_callback(notify) and notify["trade_status"] == "TRADE_SUCCESS"
        assert notify["subject"] == "达达商城 订单 a&b=c"
        assert not sdk_verifies_callback(dict(notify, trade_status="TRADE_FINISHED"))
    # A refund notify and a chosen TRADE_FINISHED notify with Chinese text verify in the SDK too.
    await sandbox_client(box).trade_refund("S_1", Decimal("0.05"), "S_1-R1", refund_reason="部分退款")
    await box.send_notify("S_1", trade_status="TRADE_FINISHED", body="中文 body\n第二行")
    await receiver.wait_for(4)
    assert receiver.params[2]["refund_fee"] == "0.05" and receiver.params[3]["trade_status"] == "TRADE_FINISHED"
    assert all(sdk_verifies_callback(notify) for notify in receiver.params[2:])


@pytest.mark.gen_test
async def test_the_sdks_default_auto_submitting_pay_form_opens_the_sandbox_cashier(sdk_clock, box):
    # page_execute's default: an HTML form POSTing to gateway?<public parameters> with biz_content
    # (Chinese subject) as a hidden field, i.e. the body, decoded with the URL's charset.
    request = sdk_pay_url(SDK.AlipayTradeWapPayRequest, "F_1", "3.30", "手机 \"订单\" a&b=c", None, "QUICK_WAP_WAY")
    form = sdk_client(box.gateway_url).page_execute(request)
    action = re.search(r'<form name="punchout_form" method="post" action="([^"]*)">', form).group(1)
    fields = {name: value.replace("&quot;", '"')   # the only escaping the SDK applies
              for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form)}
    assert set(fields) == {"biz_content"} and "charset=utf-8" in action
    page = await AsyncHTTPClient().fetch(action, method="POST", body=urlencode(fields), raise_error=False)
    assert page.code == 200 and 'id="pay"' in page.body.decode("utf-8")
    assert box.trades["F_1"].subject == '手机 "订单" a&b=c' and box.trades["F_1"].method == "alipay.trade.wap.pay"
    back = query_params(await box.pay("F_1"))
    assert sdk_verifies_callback(back) and back["method"] == "alipay.trade.wap.pay.return"


@pytest.mark.gen_test
async def test_the_sdk_as_a_merchant_client_gets_verified_answers_from_the_sandbox(sdk_clock, box):
    query = await sdk_call(box, SDK.AlipayTradeQueryRequest, SDK.AlipayTradeQueryResponse, out_trade_no="M_1")
    assert not query.is_success() and (query.code, query.sub_code) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert query.out_trade_no == "M_1" and query.buyer_pay_amount == "0.00" and query.receipt_amount == "0.00"
    refund = await sdk_call(box, SDK.AlipayTradeRefundRequest, SDK.AlipayTradeRefundResponse,
                            out_trade_no="M_1", refund_amount="1.00", out_request_no="M_1-R1")
    assert refund.sub_code == "ACQ.TRADE_NOT_EXIST" and refund.refund_fee == "0.00" and refund.send_back_fee == "0.00"

    # Opened but unpaid: query, close, close again.
    request = sdk_pay_url(SDK.AlipayTradePagePayRequest, "M_1", "20.00", "关单测试", None, "FAST_INSTANT_TRADE_PAY")
    page = await AsyncHTTPClient().fetch(sdk_client(box.gateway_url).page_execute(request, http_method="GET"))
    assert 'id="pay"' in page.body.decode("utf-8") and box.trades["M_1"].status == "WAIT_BUYER_PAY"
    query = await sdk_call(box, SDK.AlipayTradeQueryRequest, SDK.AlipayTradeQueryResponse, out_trade_no="M_1")
    assert query.is_success() and query.trade_status == "WAIT_BUYER_PAY" and query.total_amount == "20.00"
    closed = await sdk_call(box, SDK.AlipayTradeCloseRequest, SDK.AlipayTradeCloseResponse, out_trade_no="M_1")
    assert closed.is_success() and closed.code == "10000" and closed.out_trade_no == "M_1"
    closed = await sdk_call(box, SDK.AlipayTradeCloseRequest, SDK.AlipayTradeCloseResponse, out_trade_no="M_1")
    assert closed.sub_code == "ACQ.TRADE_STATUS_ERROR" and closed.out_trade_no == "M_1"
    assert box.trades["M_1"].status == "TRADE_CLOSED"

    # Paid: a refund with Chinese text (the case a body decoded as GBK breaks), repeated, then queried.
    request = sdk_pay_url(SDK.AlipayTradePagePayRequest, "M_2", "88.00", "退款测试", None, "FAST_INSTANT_TRADE_PAY")
    await box.open_and_pay(sdk_client(box.gateway_url).page_execute(request, http_method="GET"))
    query = await sdk_call(box, SDK.AlipayTradeQueryRequest, SDK.AlipayTradeQueryResponse, out_trade_no="M_2")
    assert query.trade_status == "TRADE_SUCCESS" and query.buyer_pay_amount == "88.00"
    assert query.trade_no == box.trades["M_2"].trade_no and query.buyer_user_name == "沙箱买家"
    for fund_change in ("Y", "N"):
        refund = await sdk_call(box, SDK.AlipayTradeRefundRequest, SDK.AlipayTradeRefundResponse,
                                out_trade_no="M_2", refund_amount="8.80", out_request_no="M_2-R1",
                                refund_reason="订单已关闭, 款项原路退回")
        assert refund.is_success() and refund.fund_change == fund_change and refund.refund_fee == "8.80"
    assert box.trades["M_2"].refunds["M_2-R1"].refund_reason == "订单已关闭, 款项原路退回"
    found = await sdk_call(box, SDK.AlipayTradeFastpayRefundQueryRequest, SDK.AlipayTradeFastpayRefundQueryResponse,
                           out_trade_no="M_2", out_request_no="M_2-R1")
    assert found.is_success() and found.refund_status == "REFUND_SUCCESS" and found.refund_amount == "8.80"


def test_the_sdk_rejects_an_answer_signed_with_another_key():
    # The oracle can fail: an answer signed with the merchant key (not Alipay's) is refused.
    raw = '{"code":"10000","msg":"Success","out_trade_no":"A1"}'
    merchant_key = signer.load_private_key_file(MERCHANT_PRIVATE_KEY_PATH)
    body = '{"alipay_trade_query_response":%s,"sign":"%s"}' % (raw, signer.sign(raw, merchant_key))
    SDK.THREAD_LOCAL.uuid = "test"
    SDK.THREAD_LOCAL.logger = None
    with pytest.raises(SDK.ResponseException, match="verify failed"):
        sdk_client("http://127.0.0.1:1/gateway.do")._DefaultAlipayClient__parse_response(body.encode("utf-8"))
