"""The gateway protocol on the sandbox side: checking requests, answering methods, building
the signed return URL and notify parameters. Pure functions over ``SandboxState``."""
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote_plus, urlencode

from alipay import signer
from .state import BUYER_NAME, SHANGHAI, TRADE_CLOSED, SandboxError, alipay_time, business_error, money

PAGE_PAY = "alipay.trade.page.pay"
WAP_PAY = "alipay.trade.wap.pay"
# The cashier methods and the product_code each requires.
PAY_METHODS = {PAGE_PAY: "FAST_INSTANT_TRADE_PAY", WAP_PAY: "QUICK_WAP_WAY"}
SERVER_METHODS = ("alipay.trade.query", "alipay.trade.close", "alipay.trade.refund",
                  "alipay.trade.fastpay.refund.query")
METHODS = tuple(PAY_METHODS) + SERVER_METHODS

# Like Alipay's gateway: the body (and query) is decoded with the charset named in the URL
# query, GBK when there is none; the signature is then checked over the string encoded in the
# ``charset`` parameter. A client that sends charset in the body only gets its Chinese text
# decoded as GBK, and fails the signature.
DEFAULT_CHARSET = "gbk"
CHARSETS = ("utf-8", "gbk", "gb2312")

# Required public parameters, with the sub_code Alipay uses when one is missing.
_REQUIRED = (("method", "isv.missing-method"), ("app_id", "isv.missing-app-id"),
             ("sign", "isv.missing-signature"), ("sign_type", "isv.missing-signature-type"),
             ("timestamp", "isv.missing-timestamp"), ("version", "isv.missing-version"))

_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
_MIN_AMOUNT, _MAX_AMOUNT = Decimal("0.01"), Decimal("100000000.00")


def _invalid(sub_code, sub_msg):
    return SandboxError("40002", sub_code, sub_msg)


def _parse_time(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def check_request(state, params):
    """Validate the public parameters and the merchant's signature (request rules:
    ``sign_type`` included). Returns the method; raises SandboxError like Alipay would."""
    for name, sub_code in _REQUIRED:
        if not params.get(name):
            raise SandboxError("40001", sub_code, "缺少必选参数 %s" % name)
    merchant_key = state.apps.get(params["app_id"])
    if merchant_key is None:
        raise _invalid("isv.invalid-app-id", "无效的AppID参数")
    if params["method"] not in METHODS:
        raise _invalid("isv.invalid-method", "不存在的方法名")
    if params.get("format", "JSON").upper() != "JSON":
        raise _invalid("isv.invalid-format", "无效的数据格式")
    charset = params.get("charset", DEFAULT_CHARSET).lower()
    if charset not in CHARSETS:
        raise _invalid("isv.invalid-charset", "字符集错误")
    if params["sign_type"] != "RSA2":
        raise _invalid("isv.invalid-signature-type", "无效的签名类型")
    if params["version"] != "1.0":
        raise _invalid("isv.invalid-version", "无效的版本号")
    try:
        sent = _parse_time(params["timestamp"])
    except ValueError:
        raise _invalid("isv.invalid-timestamp", "非法的时间戳参数") from None
    if abs(datetime.now(SHANGHAI) - sent) > timedelta(seconds=state.timestamp_tolerance):
        raise _invalid("isv.invalid-timestamp", "非法的时间戳参数 (与北京时间相差过大)")
    sign_string = signer.request_sign_string(params)
    if not signer.verify(sign_string, params["sign"], merchant_key, charset):
        # Alipay's own wording, including the string it verified (with & escaped as &amp;).
        raise _invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，"
                       "网关生成的验签字符串为：" + sign_string.replace("&", "&amp;"))
    return params["method"]


def request_charset(params):
    """The charset a (checked or failed) request asked answers in: its ``charset``, else UTF-8."""
    charset = (params or {}).get("charset", "").lower()
    return charset if charset in CHARSETS else "utf-8"


# --- business parameters ------------------------------------------------------------------

def _biz(params):
    try:
        biz = json.loads(params.get("biz_content") or "")
    except ValueError:
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: biz_content 不是 JSON") from None
    if not isinstance(biz, dict):
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: biz_content 不是 JSON 对象")
    return biz


def _required(biz, name):
    value = biz.get(name)
    if not isinstance(value, str) or not value:
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: 缺少 %s" % name)
    return value


def _out_trade_no(biz):
    value = _required(biz, "out_trade_no")
    if not _OUT_TRADE_NO.match(value):
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no")
    return value


def _amount(biz, name):
    value = biz.get(name)
    if not isinstance(value, str) or not _AMOUNT.match(value) \
            or not _MIN_AMOUNT <= Decimal(value) <= _MAX_AMOUNT:
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: %s 必须是 0.01~100000000.00 的金额" % name)
    return Decimal(value).quantize(_MIN_AMOUNT)


def open_page_pay(state, params):
    """alipay.trade.page.pay / alipay.trade.wap.pay: the cashier opens, the trade exists from now on."""
    biz = _biz(params)
    method = params["method"]
    product_code = PAY_METHODS[method]
    if biz.get("product_code") != product_code:
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: product_code 必须是 %s" % product_code)
    subject = _required(biz, "subject")
    if len(subject) > 256:
        raise business_error("ACQ.INVALID_PARAMETER", "参数无效: subject 过长")
    time_expire = biz.get("time_expire")
    if time_expire is not None:
        try:
            time_expire = _parse_time(time_expire)
        except (TypeError, ValueError):
            raise business_error("ACQ.INVALID_PARAMETER", "参数无效: time_expire") from None
    return state.trades.open(
        app_id=params["app_id"], out_trade_no=_out_trade_no(biz), total_amount=_amount(biz, "total_amount"),
        subject=subject, body=biz.get("body"), time_expire=time_expire,
        notify_url=params.get("notify_url"), return_url=params.get("return_url"),
        passback_params=biz.get("passback_params"), method=method, quit_url=biz.get("quit_url"))


# Fields Alipay adds to a 40004 answer of each method (seen in real responses), e.g.
# {"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在",
#  "buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"...","point_amount":"0.00",
#  "receipt_amount":"0.00"}
_FAILURE_FIELDS = {
    "alipay.trade.query": lambda out_trade_no: {
        "buyer_pay_amount": "0.00", "invoice_amount": "0.00", "out_trade_no": out_trade_no,
        "point_amount": "0.00", "receipt_amount": "0.00"},
    "alipay.trade.close": lambda out_trade_no: {"out_trade_no": out_trade_no},
    "alipay.trade.refund": lambda out_trade_no: {"refund_fee": "0.00", "send_back_fee": "0.00"},
}


def call_method(state, method, params):
    """Answer a server-to-server method: the ``_response`` content (code 10000), or SandboxError
    (business failures carry the extra fields Alipay sends with them)."""
    biz = _biz(params)
    out_trade_no = _out_trade_no(biz)
    try:
        return _call_method(state, method, biz, out_trade_no)
    except SandboxError as err:
        if err.code == "40004" and method in _FAILURE_FIELDS:
            err.extra = _FAILURE_FIELDS[method](out_trade_no)
        raise


def _call_method(state, method, biz, out_trade_no):
    trades = state.trades
    if method == "alipay.trade.query":
        return _query_content(trades.require(out_trade_no))
    if method == "alipay.trade.close":
        trade = trades.close(out_trade_no)
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": out_trade_no}
    if method == "alipay.trade.refund":
        out_request_no = _required(biz, "out_request_no")
        trade, refund, fund_change = trades.refund(out_trade_no, _amount(biz, "refund_amount"),
                                                   out_request_no, biz.get("refund_reason"))
        if fund_change == "Y":
            state.after_refund(trade, refund)
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": out_trade_no,
                "buyer_logon_id": trade.buyer_logon_id, "buyer_user_id": trade.buyer_id,
                "fund_change": fund_change, "refund_fee": money(trade.refunded_amount),
                "gmt_refund_pay": alipay_time(refund.gmt_refund),
                "send_back_fee": money(refund.refund_amount)}
    if method == "alipay.trade.fastpay.refund.query":
        out_request_no = _required(biz, "out_request_no")
        trade = trades.require(out_trade_no)
        content = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
                   "out_trade_no": out_trade_no}
        refund = trade.refunds.get(out_request_no)
        if refund is not None:  # Alipay: an answer without refund fields means "no such refund"
            content.update({"out_request_no": out_request_no, "refund_amount": money(refund.refund_amount),
                            "total_amount": money(trade.total_amount), "refund_status": "REFUND_SUCCESS",
                            "refund_reason": refund.refund_reason,
                            "gmt_refund_pay": alipay_time(refund.gmt_refund)})
        return {k: v for k, v in content.items() if v is not None}
    raise _invalid("isv.invalid-method", "不存在的方法名")


def _query_content(trade):
    content = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
               "out_trade_no": trade.out_trade_no, "trade_status": trade.status,
               "total_amount": money(trade.total_amount), "subject": trade.subject}
    if trade.gmt_payment:
        content.update({"buyer_logon_id": trade.buyer_logon_id, "buyer_user_id": trade.buyer_id,
                        "buyer_user_name": BUYER_NAME, "buyer_pay_amount": money(trade.total_amount),
                        "receipt_amount": money(trade.total_amount),
                        "invoice_amount": money(trade.total_amount),
                        "point_amount": "0.00", "send_pay_date": alipay_time(trade.gmt_payment)})
    else:
        content.update({"buyer_pay_amount": "0.00", "receipt_amount": "0.00", "point_amount": "0.00"})
    return content


# --- responses ----------------------------------------------------------------------------

def response_body(state, response_key, content, signed=True, charset="utf-8"):
    """``{"<key>":{...},"sign":"..."}`` in the request's charset, the signature over the exact
    serialized content in that charset."""
    raw = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    body = '{"%s":%s' % (response_key, raw)
    if signed:
        body += ',"sign":"%s"' % signer.sign(raw, state.alipay_signing, charset)
    return (body + "}").encode(charset)


# --- return and notify --------------------------------------------------------------------

def return_url(state, trade):
    """The browser redirect after paying, with Alipay-signed parameters (no trade_status)."""
    params = {
        "app_id": trade.app_id, "auth_app_id": trade.app_id, "charset": "utf-8",
        "method": trade.method + ".return", "out_trade_no": trade.out_trade_no,
        "seller_id": state.seller_id, "sign_type": "RSA2", "timestamp": alipay_time(state.trades.now()),
        "total_amount": money(trade.total_amount), "trade_no": trade.trade_no, "version": "1.0",
    }
    params = signer.sign_callback(params, state.alipay_signing)
    separator = "&" if "?" in trade.return_url else "?"
    return trade.return_url + separator + urlencode(params, quote_via=quote_plus)


def notify_params(state, trade, notify_id, trade_status=None, refund=None, **overrides):
    """Signed notify fields for the trade (``overrides`` replace fields before signing)."""
    amount = money(trade.total_amount)
    params = {
        "notify_time": alipay_time(state.trades.now()), "notify_type": "trade_status_sync",
        "notify_id": notify_id, "app_id": trade.app_id, "auth_app_id": trade.app_id, "charset": "utf-8",
        "version": "1.0", "sign_type": "RSA2", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
        "buyer_id": trade.buyer_id, "buyer_logon_id": trade.buyer_logon_id, "seller_id": state.seller_id,
        "seller_email": state.seller_email, "trade_status": trade_status or trade.status,
        "total_amount": amount, "receipt_amount": amount, "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00", "subject": trade.subject, "body": trade.body,
        "gmt_create": alipay_time(trade.gmt_create), "gmt_payment": alipay_time(trade.gmt_payment),
        "gmt_close": alipay_time(trade.gmt_close) if trade.status == TRADE_CLOSED else None,
        "fund_bill_list": json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}],
                                     separators=(",", ":")),
        "passback_params": trade.passback_params,
    }
    if refund is not None:
        params.update({"refund_fee": money(trade.refunded_amount), "out_biz_no": refund.out_request_no,
                       "gmt_refund": refund.gmt_refund.strftime("%Y-%m-%d %H:%M:%S.") +
                       "%03d" % (refund.gmt_refund.microsecond // 1000)})
    params.update(overrides)
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return signer.sign_callback(params, state.alipay_signing)
