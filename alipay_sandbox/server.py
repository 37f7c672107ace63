"""The sandbox's Tornado application, its state, and the in-process handle used by tests.

Endpoints:
  GET|POST /gateway.do                  the Alipay gateway (page / wap pay → HTML cashier; others → signed JSON)
  GET      /cashier/<out_trade_no>      the cashier page of an existing trade
  POST     /cashier/pay, /cashier/cancel   the cashier's buttons (form field out_trade_no)
  GET      /sandbox/api/trades[/<out_trade_no>]   inspect trades (JSON)
  POST     /sandbox/api/pay             pay without a browser: {"return_url", ...}
  POST     /sandbox/api/notify          (re)send a notify for a trade, optional trade_status
"""
import json
import re
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from alipay import signer
from . import (ALIPAY_PRIVATE_KEY_PATH, APP_ID, DEFAULT_HOST, MERCHANT_PUBLIC_KEY_PATH, SELLER_ID,
               gateway, pages)
from .notifier import Notifier
from .state import Notification, SandboxError, Trade, Trades, business_error

__all__ = ["SandboxState", "SandboxError", "Trade", "Sandbox", "make_app", "start_sandbox"]


class SandboxState:
    """Configuration, trades and notify delivery of one sandbox."""

    def __init__(self, *, app_id=APP_ID, merchant_public_key=None, alipay_private_key=None,
                 seller_id=SELLER_ID, seller_email="sandbox-seller@alipaydev.com", notify_scale=1.0,
                 notify_timeout=10.0, timestamp_tolerance=15 * 60, refund_notify=True, clock=None):
        merchant_public_key = merchant_public_key or signer.load_public_key_file(MERCHANT_PUBLIC_KEY_PATH)
        alipay_private_key = alipay_private_key or signer.load_private_key_file(ALIPAY_PRIVATE_KEY_PATH)
        self.apps = {}  # app_id -> verifier of that merchant's request signatures
        self.add_app(app_id, merchant_public_key)
        self.alipay_signing = signer.signing_scheme(alipay_private_key)
        self.seller_id = seller_id
        self.seller_email = seller_email
        self.timestamp_tolerance = timestamp_tolerance
        self.refund_notify = refund_notify
        self.trades = Trades(clock)
        self.notifier = Notifier(notify_scale, notify_timeout)

    def add_app(self, app_id, merchant_public_key):
        self.apps[app_id] = signer.verifying_scheme(merchant_public_key)

    def complete_payment(self, out_trade_no):
        """Pay the trade (once), start its TRADE_SUCCESS notify; the signed return URL or None."""
        trade = self.trades.pay(out_trade_no)   # synchronous: concurrent pays cannot both pass
        if trade.notify_url:
            self.send_notify(trade)
        return trade, gateway.return_url(self, trade) if trade.return_url else None

    def send_notify(self, trade, trade_status=None, refund=None, resend=True, **overrides):
        """Build, sign and start delivering a notify (a new notify_id, kept across resends)."""
        url = overrides.pop("notify_url", None) or trade.notify_url
        if not url:
            raise business_error("ACQ.INVALID_PARAMETER", "交易没有 notify_url")
        notify_id = self.trades.new_notify_id()
        params = gateway.notify_params(self, trade, notify_id, trade_status, refund, **overrides)
        notification = Notification(notify_id=notify_id, url=url, params=params)
        trade.notifications.append(notification)
        if resend:
            self.notifier.start(notification)
        return notification

    def after_refund(self, trade, refund):
        # Alipay notifies the pay notify_url of refunds: TRADE_SUCCESS (partial) / TRADE_CLOSED (full).
        if self.refund_notify and trade.notify_url:
            self.send_notify(trade, refund=refund)


# --- handlers -----------------------------------------------------------------------------

class _Base(tornado.web.RequestHandler):
    @property
    def state(self):
        return self.application.settings["sandbox_state"]

    def raw_params(self):
        """Query and form merged, values raw (never stripped), decoded as UTF-8."""
        params = {}
        for arguments in (self.request.query_arguments, self.request.body_arguments):
            for key, values in arguments.items():
                if values:
                    params.setdefault(key, values[0].decode("utf-8"))
        return params

    def write_json(self, data, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False))

    def write_page(self, html, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


def _status_for(err):
    return {"ACQ.TRADE_NOT_EXIST": 404, "ACQ.TRADE_HAS_SUCCESS": 409, "ACQ.TRADE_HAS_CLOSE": 409}.get(
        err.sub_code, 400)


class GatewayHandler(_Base):
    def get(self):
        self.handle()

    def post(self):
        self.handle()

    def gateway_params(self):
        """Query and form merged, values raw, decoded with the charset named in the URL query
        (GBK without one), as Alipay's gateway does; None if that charset is unknown."""
        named = self.request.query_arguments.get("charset", [b""])[0].decode("ascii", "replace").strip()
        charset = named.lower() or gateway.DEFAULT_CHARSET
        if charset not in gateway.CHARSETS:
            return None
        params = {}
        for arguments in (self.request.query_arguments, self.request.body_arguments):
            for key, values in arguments.items():
                if values:
                    # Undecodable bytes become U+FFFD: the request then fails its signature check.
                    params.setdefault(key, values[0].decode(charset, "replace"))
        return params

    def handle(self):
        params = self.gateway_params()
        method = (params or {}).get("method")
        if method in gateway.PAY_METHODS:
            return self.page_pay(params)
        key = signer.response_key(method) if method in gateway.METHODS else "error_response"
        charset = gateway.request_charset(params)
        try:
            if params is None:
                raise SandboxError("40002", "isv.invalid-charset", "字符集错误")
            gateway.check_request(self.state, params)
            content = gateway.call_method(self.state, method, params)
        except SandboxError as err:
            # Like Alipay: answers are signed once the app is known, parameter errors otherwise not.
            signed = params is not None and params.get("app_id") in self.state.apps
            return self.write_body(gateway.response_body(self.state, key, err.content(), signed, charset), charset)
        self.write_body(gateway.response_body(self.state, key, content, charset=charset), charset)

    def write_body(self, body, charset):
        self.set_header("Content-Type", "application/json; charset=%s" % charset)
        self.finish(body)

    def page_pay(self, params):
        trade = None
        try:
            gateway.check_request(self.state, params)
            trade = gateway.open_page_pay(self.state, params)
            self.state.trades.check_payable(trade.out_trade_no)   # "already paid" / "closed"
        except SandboxError as err:
            return self.write_page(pages.error(err, trade), _status_for(err))
        self.write_page(pages.cashier(trade))


class CashierHandler(_Base):
    def get(self, out_trade_no):
        trade = None
        try:
            trade = self.state.trades.require(out_trade_no)
            self.state.trades.check_payable(out_trade_no)
        except SandboxError as err:
            return self.write_page(pages.error(err, trade), _status_for(err))
        self.write_page(pages.cashier(trade))


class CashierPayHandler(_Base):
    def post(self):
        try:
            trade, return_url = self.state.complete_payment(self.get_body_argument("out_trade_no", ""))
        except SandboxError as err:
            return self.write_page(pages.error(err), _status_for(err))
        if return_url:
            return self.redirect(return_url)
        self.write_page(pages.paid_without_return(trade))


class CashierCancelHandler(_Base):
    def post(self):
        # The trade stays WAIT_BUYER_PAY: the buyer may still pay before time_expire.
        try:
            trade = self.state.trades.require(self.get_body_argument("out_trade_no", ""))
        except SandboxError as err:
            return self.write_page(pages.error(err), _status_for(err))
        self.write_page(pages.cancelled(trade))


class ApiTradesHandler(_Base):
    def get(self, out_trade_no=None):
        trades = self.state.trades
        if out_trade_no is None:
            return self.write_json([trades.get(no).as_json() for no in list(trades.trades)])
        trade = trades.get(out_trade_no)
        if trade is None:
            return self.write_json({"sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}, 404)
        self.write_json(trade.as_json())


class _ApiAction(_Base):
    def action_params(self):
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(self.request.body or b"{}")
        return self.raw_params()


class ApiPayHandler(_ApiAction):
    def post(self):
        out_trade_no = self.action_params().get("out_trade_no", "")
        try:
            trade, return_url = self.state.complete_payment(out_trade_no)
        except SandboxError as err:
            return self.write_json(err.content(), _status_for(err))
        self.write_json({"out_trade_no": out_trade_no, "trade_no": trade.trade_no,
                         "trade_status": trade.status, "return_url": return_url})


class ApiNotifyHandler(_ApiAction):
    def post(self):
        params = self.action_params()
        try:
            trade = self.state.trades.require(params.get("out_trade_no", ""))
            notification = self.state.send_notify(trade, trade_status=params.get("trade_status"))
        except SandboxError as err:
            return self.write_json(err.content(), _status_for(err))
        self.write_json({"notify_id": notification.notify_id, "params": notification.params})


class IndexHandler(_Base):
    def get(self):
        self.write_page(pages.page("本地网关 Local gateway", (
            "<p>Gateway: <code>%s/gateway.do</code></p><p>%d trade(s). JSON: "
            '<a href="/sandbox/api/trades">/sandbox/api/trades</a></p>'
            % (self.request.protocol + "://" + self.request.host, len(self.state.trades.trades)))))


class _Application(tornado.web.Application):
    def find_handler(self, request, **kwargs):
        # HTTP/1.1 servers must accept the absolute form ("POST http://host/gateway.do?..."), which
        # the official Python SDK sends; Tornado would route on "http://host/gateway.do" and 404.
        if request.path.startswith(("http://", "https://")):
            target = urlsplit(request.uri)
            request.host = target.netloc   # RFC 9112 §3.2.2: the target's host wins over Host
            request.host_name = target.hostname or request.host_name
            request.path = target.path or "/"
            request.uri = request.path + ("?" + target.query if target.query else "")
        return super().find_handler(request, **kwargs)


def make_app(state=None, **settings):
    """The sandbox as a Tornado Application (``state``: a SandboxState, default settings if None)."""
    return _Application([
        (r"/", IndexHandler),
        (r"/gateway\.do", GatewayHandler),
        (r"/cashier/pay", CashierPayHandler),
        (r"/cashier/cancel", CashierCancelHandler),
        (r"/cashier/([^/]+)", CashierHandler),
        (r"/sandbox/api/trades", ApiTradesHandler),
        (r"/sandbox/api/trades/([^/]+)", ApiTradesHandler),
        (r"/sandbox/api/pay", ApiPayHandler),
        (r"/sandbox/api/notify", ApiNotifyHandler),
    ], sandbox_state=state or SandboxState(), **settings)


# --- in-process handle --------------------------------------------------------------------

class _TradeView(Mapping):
    """``sandbox.trades[out_trade_no]``: read access that applies lazy time_expire closing."""

    def __init__(self, trades):
        self._trades = trades

    def __getitem__(self, out_trade_no):
        trade = self._trades.get(out_trade_no)
        if trade is None:
            raise KeyError(out_trade_no)
        return trade

    def __iter__(self):
        return iter(list(self._trades.trades))

    def __len__(self):
        return len(self._trades.trades)


_SUB_CODE = re.compile(r'id="sub-code">([^<]*)<')
_SUB_MSG = re.compile(r'id="sub-msg">([^<]*)<')
_HIDDEN_TRADE = re.compile(r'name="out_trade_no" value="([^"]*)"')


class Sandbox:
    def __init__(self, state, server, host, port):
        self.state = state
        self.server = server
        self.host = host
        self.port = port
        self.base_url = "http://%s:%d" % (host, port)
        self.gateway_url = self.base_url + "/gateway.do"
        self.trades = _TradeView(state.trades)

    async def pay(self, out_trade_no):
        """Pay an existing WAIT_BUYER_PAY trade without a browser; the signed return URL.
        Raises SandboxError (ACQ.TRADE_NOT_EXIST / TRADE_HAS_SUCCESS / TRADE_HAS_CLOSE)."""
        return self.state.complete_payment(out_trade_no)[1]

    async def open_and_pay(self, pay_url):
        """Act as the buyer's browser: open the page-pay URL (creating the trade), press pay,
        and return the redirect target (the signed return URL). Raises SandboxError."""
        client = AsyncHTTPClient()
        page = await client.fetch(pay_url, raise_error=False)
        html = (page.body or b"").decode("utf-8", "replace")
        if page.code != 200:
            raise _page_error(page.code, html)
        out_trade_no = _HIDDEN_TRADE.search(html).group(1)
        paid = await client.fetch(urljoin(page.effective_url, "/cashier/pay"), method="POST",
                                  body="out_trade_no=" + out_trade_no, follow_redirects=False,
                                  raise_error=False)
        if paid.code != 302:
            raise _page_error(paid.code, (paid.body or b"").decode("utf-8", "replace"))
        return paid.headers["Location"]

    async def send_notify(self, out_trade_no, trade_status=None, resend=True, **fields):
        """Send a notify for the trade with chosen fields (e.g. trade_status="TRADE_FINISHED",
        total_amount="1.00", notify_url=...), signed with the Alipay key. Fields are not applied
        to the trade itself. Returns the Notification (attempts fill in as it is delivered)."""
        trade = self.state.trades.require(out_trade_no)
        return self.state.send_notify(trade, trade_status=trade_status, resend=resend, **fields)

    async def wait_for_notifies(self, timeout=10.0):
        await self.state.notifier.wait(timeout)

    def stop(self):
        """Stop listening and cancel notifies in flight (synchronous, for fixtures)."""
        self.state.notifier.stop()
        self.server.stop()

    async def aclose(self):
        """Like stop(), but waits for cancelled notifies and open connections to finish."""
        self.server.stop()
        await self.state.notifier.aclose()
        await self.server.close_all_connections()


def _page_error(status, html):
    sub_code = _SUB_CODE.search(html)
    sub_msg = _SUB_MSG.search(html)
    return SandboxError(str(status), sub_code.group(1) if sub_code else "HTTP %d" % status,
                        sub_msg.group(1) if sub_msg else html[:200])


async def start_sandbox(port=0, host=DEFAULT_HOST, **state_options):
    """Serve a sandbox on the running IOLoop (port 0: any free port) and return its Sandbox.

    ``state_options`` go to SandboxState: notify_scale, timestamp_tolerance, refund_notify,
    app_id, merchant_public_key, alipay_private_key, seller_id, clock, notify_timeout.
    """
    state = SandboxState(**state_options)
    sockets = bind_sockets(port, host)
    server = HTTPServer(make_app(state), xheaders=True)
    server.add_sockets(sockets)
    return Sandbox(state, server, host, sockets[0].getsockname()[1])
