"""Trades kept by the sandbox and the business rules Alipay applies to them.

Every method here is synchronous: with asyncio single-threaded, a check and its update can
never be interleaved with another request, so concurrent pays / refunds stay consistent.
"""
import itertools
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_FINISHED = "TRADE_FINISHED"
TRADE_CLOSED = "TRADE_CLOSED"

# The sandbox's one buyer account (Chinese name on purpose: responses carry raw UTF-8).
BUYER_ID = "2088102177891234"
BUYER_LOGON_ID = "sbx***@sandbox.com"
BUYER_NAME = "沙箱买家"

_MSG = {"10000": "Success", "20000": "Service Currently Unavailable",
        "40001": "Missing Required Arguments", "40002": "Invalid Arguments", "40004": "Business Failed"}


class SandboxError(Exception):
    """An Alipay-style failure: code, sub_code, sub_msg (the gateway turns it into a response)."""

    def __init__(self, code, sub_code, sub_msg, extra=None):
        super().__init__("%s %s %s" % (code, sub_code, sub_msg))
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg
        self.extra = extra or {}   # method-specific fields Alipay adds to the answer

    def content(self):
        return {"code": self.code, "msg": _MSG.get(self.code, "Failed"),
                "sub_code": self.sub_code, "sub_msg": self.sub_msg, **self.extra}


def business_error(sub_code, sub_msg):
    return SandboxError("40004", sub_code, sub_msg)


def money(value):
    return "%.2f" % value


def alipay_time(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else None


@dataclass
class Refund:
    out_request_no: str
    refund_amount: Decimal
    refund_reason: str
    gmt_refund: datetime


@dataclass
class NotifyAttempt:
    number: int          # 1..8
    at: float            # loop time when sent (seconds), to check the resend schedule
    http_code: int = None
    answer: str = None   # response body as received (decoded leniently)
    error: str = None    # network error, if any


@dataclass
class Notification:
    notify_id: str
    url: str
    params: dict         # exactly what was POSTed, sign included
    attempts: list = field(default_factory=list)
    delivered: bool = False   # answered exactly "success"
    finished: bool = False    # delivered, or the 8 tries are used up


@dataclass
class Trade:
    out_trade_no: str
    app_id: str
    trade_no: str
    total_amount: Decimal
    subject: str
    gmt_create: datetime
    body: str = None
    time_expire: datetime = None
    notify_url: str = None
    return_url: str = None
    passback_params: str = None
    method: str = "alipay.trade.page.pay"   # or alipay.trade.wap.pay (the phone cashier)
    quit_url: str = None                    # wap: where "back to the shop" goes
    status: str = WAIT_BUYER_PAY
    buyer_id: str = None
    buyer_logon_id: str = None
    gmt_payment: datetime = None
    gmt_close: datetime = None
    refunds: dict = field(default_factory=dict)         # out_request_no -> Refund
    notifications: list = field(default_factory=list)   # Notification, in order sent

    @property
    def refunded_amount(self):
        return sum((r.refund_amount for r in self.refunds.values()), Decimal("0.00"))

    @property
    def payment_notification(self):
        return self.notifications[0] if self.notifications else None

    @property
    def notify_id(self):
        """notify_id of the payment notify (the same on every resend)."""
        n = self.payment_notification
        return n.notify_id if n else None

    @property
    def notify_attempts(self):
        n = self.payment_notification
        return n.attempts if n else []

    def as_json(self):
        return {
            "out_trade_no": self.out_trade_no, "trade_no": self.trade_no, "app_id": self.app_id,
            "status": self.status, "total_amount": money(self.total_amount), "subject": self.subject,
            "method": self.method,
            "buyer_id": self.buyer_id, "buyer_logon_id": self.buyer_logon_id,
            "gmt_create": alipay_time(self.gmt_create), "gmt_payment": alipay_time(self.gmt_payment),
            "gmt_close": alipay_time(self.gmt_close), "time_expire": alipay_time(self.time_expire),
            "notify_url": self.notify_url, "return_url": self.return_url,
            "refunded_amount": money(self.refunded_amount),
            "refunds": [{"out_request_no": r.out_request_no, "refund_amount": money(r.refund_amount),
                         "refund_reason": r.refund_reason, "gmt_refund": alipay_time(r.gmt_refund)}
                        for r in self.refunds.values()],
            "notifications": [{"notify_id": n.notify_id, "trade_status": n.params.get("trade_status"),
                               "delivered": n.delivered, "finished": n.finished,
                               "attempts": [{"number": a.number, "http_code": a.http_code,
                                             "answer": a.answer, "error": a.error} for a in n.attempts]}
                              for n in self.notifications],
        }


class Trades:
    """The trade book. ``clock`` returns an aware datetime; tests may replace it."""

    def __init__(self, clock=None):
        self.trades = {}
        self.clock = clock or (lambda: datetime.now(SHANGHAI))
        # Random start so trade numbers from two sandbox runs do not collide.
        self._serial = itertools.count(random.randrange(10 ** 13))

    def now(self):
        return self.clock().astimezone(SHANGHAI)

    def new_trade_no(self):
        # Alipay-like: 28 digits, date first.
        return "%s2200%016d" % (self.now().strftime("%Y%m%d"), next(self._serial))

    @staticmethod
    def new_notify_id():
        return "%s%s" % (datetime.now(SHANGHAI).strftime("%Y%m%d"), secrets.token_hex(14))

    def get(self, out_trade_no):
        """The trade or None, closing it first if its time_expire has passed (lazy expiry)."""
        trade = self.trades.get(out_trade_no)
        if trade and trade.status == WAIT_BUYER_PAY and trade.time_expire and self.now() >= trade.time_expire:
            trade.status = TRADE_CLOSED
            trade.gmt_close = trade.time_expire
        return trade

    def require(self, out_trade_no):
        trade = self.get(out_trade_no)
        if trade is None:
            raise business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return trade

    def open(self, *, app_id, out_trade_no, total_amount, subject, body=None, time_expire=None,
             notify_url=None, return_url=None, passback_params=None, method="alipay.trade.page.pay",
             quit_url=None):
        """The cashier was opened: create the trade, or show the existing one again."""
        trade = self.get(out_trade_no)
        if trade is None:
            trade = Trade(out_trade_no=out_trade_no, app_id=app_id, trade_no=self.new_trade_no(),
                          total_amount=total_amount, subject=subject, body=body, gmt_create=self.now(),
                          time_expire=time_expire, notify_url=notify_url, return_url=return_url,
                          passback_params=passback_params, method=method, quit_url=quit_url)
            self.trades[out_trade_no] = trade
            self.get(out_trade_no)  # may already be past time_expire
        elif trade.total_amount != total_amount or trade.app_id != app_id:
            raise business_error("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改: 同一订单号的金额不一致")
        return trade

    def _check_payable(self, trade):
        if trade.status in (TRADE_SUCCESS, TRADE_FINISHED):
            raise business_error("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        if trade.status == TRADE_CLOSED:
            raise business_error("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")

    def check_payable(self, out_trade_no):
        trade = self.require(out_trade_no)
        self._check_payable(trade)
        return trade

    def pay(self, out_trade_no):
        trade = self.check_payable(out_trade_no)
        trade.status = TRADE_SUCCESS
        trade.buyer_id = BUYER_ID
        trade.buyer_logon_id = BUYER_LOGON_ID
        trade.gmt_payment = self.now()
        return trade

    def close(self, out_trade_no):
        trade = self.require(out_trade_no)
        if trade.status != WAIT_BUYER_PAY:
            raise business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = TRADE_CLOSED
        trade.gmt_close = self.now()
        return trade

    def refund(self, out_trade_no, refund_amount, out_request_no, refund_reason=None):
        """(trade, refund, fund_change): fund_change "N" when out_request_no was seen before."""
        trade = self.require(out_trade_no)
        earlier = trade.refunds.get(out_request_no)
        if earlier is not None:
            if earlier.refund_amount != refund_amount:
                raise business_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原退款请求不一致")
            return trade, earlier, "N"
        if trade.status != TRADE_SUCCESS:
            raise business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if trade.refunded_amount + refund_amount > trade.total_amount:
            raise business_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        refund = Refund(out_request_no, refund_amount, refund_reason, self.now())
        trade.refunds[out_request_no] = refund
        if trade.refunded_amount == trade.total_amount:
            trade.status = TRADE_CLOSED   # a full refund closes the trade
            trade.gmt_close = refund.gmt_refund
        return trade, refund, "Y"
