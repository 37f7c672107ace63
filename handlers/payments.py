"""/v1/orders/success/ — what Alipay tells us: the browser's return (GET) and the notify (POST)."""
import logging

import metrics
from alipay.client import AlipayError
from alipay.signer import params_from_arguments
from handlers.base import BaseHandler
from store import payments
from store.errors import ILLEGAL_CALLBACK, NOT_PAID, ORDER_NOT_FOUND, BusinessError
from store.money import money
from store.order_status import get_order
from store.status import is_paid

log = logging.getLogger("dadashop.payments")

# notify outcomes after which Alipay must stop resending
SETTLED = {payments.PAID, payments.ALREADY_PAID, payments.LATE_PAYMENT, payments.NOT_PAID_STATUS}


class PaymentResultHandler(BaseHandler):
    max_body_setting = "max_notify_bytes"

    def raw_params(self, arguments):
        """The raw values as sent (never get_argument: it strips and rewrites characters)."""
        try:
            return params_from_arguments(arguments)
        except UnicodeDecodeError:
            return None

    def refusal(self, params):
        """Why a verified statement is not acted on (not ours, fields too long for us), or None."""
        return payments.check_statement(self.config, params) or payments.check_field_sizes(params)

    async def record_refused(self, source, params, verified, outcome):
        """Keep a refused callback for the operator. One that does not verify costs a bounded summary
        and counts against the sender's address: past the limit, 429 and nothing is written."""
        if not verified:
            await self.rate_limit("bad_callback_ip", self.client_ip)
        await payments.record_unapplied(self.services, source=source, params=params, verified=verified,
                                        outcome=outcome, client_ip=self.client_ip)

    async def get(self):
        """The buyer's browser back from the cashier. Verified, then confirmed by notify or query."""
        params = self.raw_params(self.request.query_arguments)
        if not params:
            raise BusinessError(ILLEGAL_CALLBACK, "非法访问", http_status=400)
        verified = self.services.alipay.verify_callback(params)
        refused = self.refusal(params) if verified else payments.BAD_SIGNATURE
        if refused:
            await self.record_refused("return", params, verified, refused)
            raise BusinessError(ILLEGAL_CALLBACK, "非法访问", http_status=400)
        order_id = params.get("out_trade_no", "")
        order = await get_order(self.services, order_id)
        if order is None:
            raise BusinessError(ORDER_NOT_FOUND, "订单不存在")
        data = {"order_id": order_id, "total_amount": money(order["total_amount"])}
        if is_paid(order["status"]):
            return self.ok(data)
        try:
            outcome = await payments.confirm_by_query(self.services, order, "return_query")
        except AlipayError as exc:
            log.warning("return for %s: Alipay query failed: %s", order_id, exc)
            outcome = None
        if outcome in (payments.PAID, payments.ALREADY_PAID):
            return self.ok(data)
        if outcome == payments.LATE_PAYMENT:
            raise BusinessError(NOT_PAID, "订单已关闭, 支付款项将原路退回", data=data)
        raise BusinessError(NOT_PAID, "支付结果确认中, 请稍后刷新", data=data)

    async def post(self):
        """Alipay's asynchronous notify. Answer `success` only once the outcome is committed."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        params = self.raw_params(self.form_arguments())
        if not params:
            return self.answer_notify("malformed")
        if not self.services.alipay.verify_callback(params):
            await self.record_refused("notify", params, False, payments.BAD_SIGNATURE)
            return self.answer_notify(payments.BAD_SIGNATURE)
        refused = self.refusal(params)
        if refused:
            await self.record_refused("notify", params, True, refused)
            return self.answer_notify(refused)
        if params.get("trade_status") not in payments.PAID_STATUSES:
            # WAIT_BUYER_PAY / TRADE_CLOSED: nothing to apply; keep it for the record
            await payments.record_unapplied(self.services, source="notify", params=params, verified=True,
                                            outcome=payments.NOT_PAID_STATUS)
            return self.answer_notify(payments.NOT_PAID_STATUS)
        outcome = await payments.apply_payment(self.services, source="notify", params=params,
                                               notify_id=params.get("notify_id") or None)
        if outcome == payments.LATE_PAYMENT:
            # refund now, best effort; the refund job retries what does not go through
            self.services.spawn(payments.refund_due(self.services))
        self.answer_notify(outcome)

    def answer_notify(self, outcome):
        """`success` for an outcome after which Alipay may stop resending, else `fail`; counted by outcome."""
        metrics.notify(outcome)
        self.finish("success" if outcome in SETTLED else "fail")
