"""Async client for Alipay's open-platform gateway: page-pay URLs and server-to-server calls.

Signing uses ``alipay.signer`` (pycryptodome), HTTP uses Tornado's AsyncHTTPClient.
An instance holds only immutable configuration and parsed keys, so one per process is fine.
"""
import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.iostream import StreamClosedError

from . import signer

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("100000000.00")

CHARSET = "utf-8"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
PAGE_PAY = "alipay.trade.page.pay"
WAP_PAY = "alipay.trade.wap.pay"

CODE_SUCCESS = "10000"
CODE_UNKNOWN_ERROR = "20000"  # "service temporarily unavailable": worth retrying


class AlipayError(Exception):
    """The gateway could not give a trustworthy answer: network failure after retries,
    unverifiable response, or code 20000 after retries. ``response`` holds what was seen."""

    def __init__(self, message, response=None):
        super().__init__(message)
        self.response = response


def shanghai_time(moment=None):
    """``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai. Naive datetimes are UTC (the service stores UTC)."""
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def format_amount(amount):
    """A Decimal (or int / decimal string) as Alipay's 2-decimal string. Floats are refused,
    and so are sub-cent values: silently rounding money hides bugs upstream."""
    if isinstance(amount, float):
        raise TypeError("amounts must be Decimal, not float")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError("not an amount: %r" % (amount,)) from None
    cents = value.quantize(CENT)
    if cents != value:
        raise ValueError("amount has more than 2 decimals: %s" % amount)
    if not CENT <= cents <= MAX_AMOUNT:
        raise ValueError("amount out of Alipay's range 0.01 .. 100000000.00: %s" % amount)
    return str(cents)


def _compact_json(value):
    # Exactly as the official SDKs serialise biz_content (sorted keys, compact, raw UTF-8), so a
    # request of ours is byte-identical to theirs for the same order and second.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class AlipayClient:
    def __init__(self, *, app_id, app_private_key, alipay_public_key, gateway,
                 timeout=5.0, retries=2, retry_delay=0.2, seller_id=None, app_auth_token=None, observe=None):
        self.app_id = app_id
        # observe(method, outcome, seconds) after every gateway call, e.g. for metrics; outcome is
        # "ok", "business_error" (a verified failure such as 40004) or "failed" (raised)
        self.observe = observe
        self.app_auth_token = app_auth_token   # only when calling on behalf of another merchant (ISV)
        self.gateway = gateway
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.seller_id = seller_id
        # Parsed once; the pycryptodome scheme objects are stateless and reusable.
        self._signing = signer.signing_scheme(signer.load_private_key(app_private_key))
        self._verifying = signer.verifying_scheme(signer.load_public_key(alipay_public_key))

    @classmethod
    def from_files(cls, app_id, app_private_key_path, alipay_public_key_path, gateway, **kw):
        """Keys from files: merchant private key (PEM), Alipay public key (PEM or bare base64)."""
        return cls(app_id=app_id,
                   app_private_key=signer.load_private_key_file(app_private_key_path),
                   alipay_public_key=signer.load_public_key_file(alipay_public_key_path),
                   gateway=gateway, **kw)

    # --- requests -----------------------------------------------------------------------

    def _signed_params(self, method, biz_content, **extra):
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": CHARSET,
            "sign_type": "RSA2",
            "timestamp": shanghai_time(),
            "version": "1.0",
            "app_auth_token": self.app_auth_token,
            # The exact string signed is the one sent.
            "biz_content": _compact_json({k: v for k, v in biz_content.items() if v not in (None, "")}),
        }
        params.update(extra)
        return signer.sign_request({k: v for k, v in params.items() if v not in (None, "")}, self._signing)

    def _signed_request(self, method, biz_content, **extra):
        """(public parameters for the URL query, form body) of a signed gateway request.

        Laid out as the official SDKs do: everything but ``biz_content`` goes in the query, so
        the gateway reads ``charset`` before it decodes the body (it assumes GBK otherwise,
        and Chinese text in the body would then fail the signature).
        """
        params = self._signed_params(method, biz_content, **extra)
        biz = params.pop("biz_content")
        return params, {"biz_content": biz}

    def _url(self, query):
        return self.gateway + ("&" if "?" in self.gateway else "?") + urlencode(query, quote_via=quote_plus)

    def build_request(self, method, biz_content):
        """(url, body, headers) of a signed server-to-server call, as ``_call`` sends it (POST)."""
        query, form = self._signed_request(method, biz_content)
        return self._url(query), urlencode(form, quote_via=quote_plus), {"Content-Type": FORM_CONTENT_TYPE}

    def _pay_url(self, method, product_code, *, out_trade_no, total_amount, subject, time_expire,
                 notify_url, return_url, **more_biz):
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": format_amount(total_amount),
            "subject": subject,
            "product_code": product_code,
            "time_expire": shanghai_time(time_expire),
            **more_biz,
        }
        query, form = self._signed_request(method, biz, notify_url=notify_url, return_url=return_url)
        # A GET URL for the browser: the public parameters, then biz_content (as the SDKs' GET form).
        return self._url(dict(query, **form))

    def page_pay_url(self, *, out_trade_no, total_amount, subject, time_expire, notify_url, return_url):
        """The PC cashier URL to send the buyer's browser to (alipay.trade.page.pay).

        Synchronous and CPU-bound (~1 ms of RSA); the caller decides where to run it.
        """
        return self._pay_url(PAGE_PAY, "FAST_INSTANT_TRADE_PAY", out_trade_no=out_trade_no,
                             total_amount=total_amount, subject=subject, time_expire=time_expire,
                             notify_url=notify_url, return_url=return_url)

    def wap_pay_url(self, *, out_trade_no, total_amount, subject, time_expire, notify_url, return_url,
                    quit_url=None):
        """The phone cashier URL (alipay.trade.wap.pay, product_code QUICK_WAP_WAY): the same
        signing, return and notify as page pay. ``quit_url``: where the cashier's "back to the
        shop" link goes if the buyer gives up. Synchronous, ~1 ms of RSA."""
        return self._pay_url(WAP_PAY, "QUICK_WAP_WAY", out_trade_no=out_trade_no,
                             total_amount=total_amount, subject=subject, time_expire=time_expire,
                             notify_url=notify_url, return_url=return_url, quit_url=quit_url)

    async def trade_query(self, out_trade_no):
        return await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})

    async def trade_close(self, out_trade_no):
        return await self._call("alipay.trade.close", {"out_trade_no": out_trade_no})

    async def trade_refund(self, out_trade_no, refund_amount, out_request_no, refund_reason=None):
        return await self._call("alipay.trade.refund", {
            "out_trade_no": out_trade_no,
            "refund_amount": format_amount(refund_amount),
            "out_request_no": out_request_no,
            "refund_reason": refund_reason,
        })

    async def refund_query(self, out_trade_no, out_request_no):
        return await self._call("alipay.trade.fastpay.refund.query", {
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
        })

    def verify_callback(self, params):
        """Verify a return or notify (raw str values) with Alipay's public key."""
        return signer.verify_callback(params, self._verifying)

    # --- transport ----------------------------------------------------------------------

    async def _call(self, method, biz_content):
        """The verified ``_response`` dict. Business failures (e.g. 40004) are returned;
        only untrustworthy or unreachable answers raise AlipayError."""
        if self.observe is None:
            return await self._call_with_retries(method, biz_content)
        started, outcome = time.monotonic(), "failed"
        try:
            content = await self._call_with_retries(method, biz_content)
            outcome = "ok" if str(content.get("code")) == "10000" else "business_error"
            return content
        finally:
            self.observe(method, outcome, time.monotonic() - started)

    async def _call_with_retries(self, method, biz_content):
        last_problem = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.retry_delay)
            # Re-signed on each attempt: the timestamp must stay fresh.
            url, body, headers = self.build_request(method, biz_content)
            try:
                body = await self._post(url, body, headers)
            except _Retryable as problem:
                last_problem = str(problem)
                log.warning("alipay %s attempt %d: %s", method, attempt + 1, problem)
                continue
            content = self._read_response(body, method)
            if str(content.get("code")) == CODE_UNKNOWN_ERROR:
                last_problem = "code 20000: %s" % (content.get("sub_msg") or content.get("msg"))
                log.warning("alipay %s attempt %d: %s", method, attempt + 1, last_problem)
                continue
            return content
        raise AlipayError("alipay %s failed after %d attempts: %s"
                          % (method, self.retries + 1, last_problem))

    async def _post(self, url, body, headers):
        request = HTTPRequest(url, method="POST", headers=headers, body=body,
                              connect_timeout=self.timeout, request_timeout=self.timeout)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, StreamClosedError, HTTPClientError) as error:
            raise _Retryable("network: %s" % error) from error
        if response.code >= 500 or response.code == 599:
            raise _Retryable("HTTP %d" % response.code)
        return response.body

    def _read_response(self, body, method):
        content = signer.verify_response(body, method, self._verifying)
        if content is not None:
            return content
        failure = signer.unsigned_failure(body, method)
        if failure is not None:
            return failure  # unsigned: trusted only as "failed"
        raise AlipayError("unverifiable alipay %s response" % method, response=body)


class _Retryable(Exception):
    pass
