"""What Alipay tells us about payments (notify, return, active query), and the background work
that keeps orders and Alipay in step: closing overdue orders, reconciliation, refunds."""
import json
import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from alipay.client import AlipayError
from db import Q, is_duplicate_key, rows, run_transaction
from store.clock import from_shanghai_text, utcnow
from store.order_list import orders_changed_after_commit
from store.order_status import close_order
from store.status import AWAITING_PAYMENT, CLOSED

log = logging.getLogger("dadashop.payments")

# how long after the buyer went to the cashier we start asking Alipay ourselves, and how often
RECONCILE_AFTER = timedelta(minutes=2)
RECONCILE_EVERY = timedelta(minutes=5)
# past the deadline by this much, an order is closed even while Alipay cannot be asked
ALIPAY_GRACE = timedelta(hours=1)
# a process that claimed a refund has this long to send it before another one may
REFUND_LEASE = timedelta(minutes=5)


async def close_trade_best_effort(services, order_id):
    """Close the Alipay trade of a closed order so it can no longer be paid. Best effort: a trade
    that was never opened does not exist, and a payment that still slips through is refunded."""
    try:
        await services.alipay.trade_close(order_id)
    except Exception as exc:  # noqa: BLE001 - nothing here may fail the buyer's cancel
        log.info("closing Alipay trade %s failed: %s", order_id, exc)


# ---------------------------------------------------------------- what Alipay tells us

PAID_STATUSES = {"TRADE_SUCCESS", "TRADE_FINISHED"}

# outcomes recorded in payment_event
PAID, ALREADY_PAID, LATE_PAYMENT = "paid", "already_paid", "late_payment_refund"
BAD_SIGNATURE, WRONG_APP, UNKNOWN_ORDER, WRONG_AMOUNT = "bad_signature", "wrong_app", "unknown_order", "wrong_amount"
NOT_PAID_STATUS = "not_paid_status"


def parse_amount(text):
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError):
        return None


def check_statement(config, params) -> str | None:
    """Checks on a verified notify/return beyond the signature: ours (app id, seller)? None if fine."""
    if params.get("app_id") != config.alipay_app_id:
        return WRONG_APP
    if config.alipay_seller_id and params.get("seller_id") != config.alipay_seller_id:
        return WRONG_APP
    return None


# What payment_event holds, bounded: the columns' sizes, and the whole statement (TEXT) only for
# verified ones, whose size Alipay's signature vouches for; an unverified one is a short summary.
MALFORMED = "malformed"  # a verified statement with a field longer than we store
COLUMN_SIZES = {"out_trade_no": 64, "trade_no": 64, "trade_status": 32, "total_amount": 32, "notify_id": 128}
MAX_PARAMS_BYTES = 60_000  # below TEXT's 65,535 bytes
EXCERPT_CHARS = 256
SUMMARY_FIELDS = 40


def check_field_sizes(params) -> str | None:
    """MALFORMED when a field we keep in a column or act on is longer than its column, else None."""
    if any(len(params.get(name) or "") > size for name, size in COLUMN_SIZES.items()):
        return MALFORMED
    return None


def bounded_params_json(params) -> str:
    """The statement as JSON, whole when it fits in the column, else with every value cut short."""
    text = json.dumps(params, ensure_ascii=False)
    if len(text.encode()) <= MAX_PARAMS_BYTES:
        return text
    per_value = max(16, MAX_PARAMS_BYTES // (8 * max(1, len(params))))
    cut = {str(k)[:64]: str(v)[:per_value] for k, v in list(params.items())[:500]}
    text = json.dumps({"truncated": True, "params": cut}, ensure_ascii=False)
    return text if len(text.encode()) <= MAX_PARAMS_BYTES else json.dumps({"truncated": True})


def unverified_summary(params, outcome, client_ip) -> str:
    """What is kept of a statement that did not verify: the reason, the order it names, a short
    excerpt and the sender's address — a few hundred bytes, whatever was sent."""
    excerpt = "&".join(f"{k}={v}" for k, v in list(params.items())[:SUMMARY_FIELDS])
    return json.dumps({"summary": True, "reason": outcome, "out_trade_no": (params.get("out_trade_no") or "")[:64],
                       "client_ip": (client_ip or "")[:64], "fields": len(params),
                       "size": sum(len(k) + len(v or "") for k, v in params.items()),
                       "excerpt": excerpt[:EXCERPT_CHARS]}, ensure_ascii=False)


def _column(params, name):
    return (params.get(name) or "")[:COLUMN_SIZES[name]] or None


async def record_event(conn, *, source, params, verified, outcome, notify_id=None, client_ip=None):
    stored = bounded_params_json(params) if verified else unverified_summary(params, outcome, client_ip)
    notify_id = notify_id[:COLUMN_SIZES["notify_id"]] if notify_id else None
    await Q.record_event(conn, source=source, notify_id=notify_id, order_id=_column(params, "out_trade_no"),
                         trade_no=_column(params, "trade_no"), trade_status=_column(params, "trade_status"),
                         total_amount=_column(params, "total_amount"), verified=int(verified),
                         outcome=outcome, params=stored, now=utcnow())


async def record_unapplied(services, *, source, params, verified, outcome, client_ip=None):
    """A statement we do not act on (bad signature, not ours, ...), kept for the operator; one that
    did not verify as a bounded summary only."""
    async with services.pool.acquire() as conn:
        await record_event(conn, source=source, params=params, verified=verified, outcome=outcome,
                           client_ip=client_ip)


async def apply_payment(services, *, source, params, notify_id=None) -> str:
    """A verified Alipay statement that `out_trade_no` was paid (trade_no, total_amount, gmt_payment).

    In one transaction with the order row locked: awaiting payment → paid (1 → 2); paid already →
    nothing; closed meanwhile → a refund is owed (never a silent resurrection); the statement is
    recorded. Returns the outcome. Safe to call any number of times for the same payment.
    """
    order_id = params.get("out_trade_no") or ""
    amount = parse_amount(params.get("total_amount"))
    paid_time = from_shanghai_text(params.get("gmt_payment")) or utcnow()

    async def work(conn):
        seen = notify_id and await Q.get_event_by_notify_id(conn, notify_id=notify_id)
        if seen:  # a resend: it was applied (or refused) once, with the outcome recorded then
            await Q.count_repeat(conn, notify_id=notify_id, now=utcnow())
            return seen["outcome"]
        order = await Q.lock_order(conn, order_id=order_id)
        if order is None:
            # not (yet) visible, e.g. a notify faster than the create's commit, or a database being
            # restored: kept for the operator but not under its notify_id, so that Alipay's resend
            # is applied, not answered from this record
            await record_event(conn, source=source, params=params, verified=True, outcome=UNKNOWN_ORDER)
            return UNKNOWN_ORDER
        if amount is None or amount != order["total_amount"]:
            outcome = WRONG_AMOUNT
        elif order["status"] == AWAITING_PAYMENT:
            await Q.mark_paid(conn, order_id=order_id, trade_no=params.get("trade_no"), paid_time=paid_time)
            orders_changed_after_commit(conn, services.redis, order["user_id"])
            outcome = PAID
        elif order["status"] == CLOSED:
            await Q.add_refund(conn, order_id=order_id, trade_no=params.get("trade_no") or "",
                               out_request_no=late_refund_request_no(order_id), amount=amount,
                               reason="late_payment", now=utcnow())
            outcome = LATE_PAYMENT
        else:
            outcome = ALREADY_PAID
        await record_event(conn, source=source, params=params, verified=True, outcome=outcome, notify_id=notify_id)
        return outcome

    try:
        return await run_transaction(services.pool, work)
    except Exception as exc:
        if notify_id and is_duplicate_key(exc):  # the same notify_id racing itself: the other one applied it
            return ALREADY_PAID
        raise


def late_refund_request_no(order_id):
    """Stable per order: however often the late payment is seen, Alipay refunds it once."""
    return f"{order_id}_late"[:64]


async def payment_from_query(alipay, order) -> dict | None:
    """Ask Alipay about an order; the statement as notify-like params when it says paid, else None.

    Raises AlipayError when Alipay cannot be reached or its answer does not verify.
    """
    answer = await alipay.trade_query(order["order_id"])
    if str(answer.get("code")) != "10000" or answer.get("trade_status") not in PAID_STATUSES:
        return None
    return {"out_trade_no": order["order_id"], "trade_no": answer.get("trade_no"),
            "trade_status": answer.get("trade_status"), "total_amount": answer.get("total_amount"),
            "gmt_payment": answer.get("send_pay_date"), "app_id": alipay.app_id}


async def confirm_by_query(services, order, source) -> str | None:
    """The active query path (return page, reconciliation, timeout): apply a payment Alipay confirms."""
    params = await payment_from_query(services.alipay, order)
    if params is None:
        return None
    outcome = await apply_payment(services, source=source, params=params)
    if outcome == LATE_PAYMENT:
        await refund_due(services)
    return outcome


# ---------------------------------------------------------------- background work

async def close_overdue_orders(services, limit=100) -> dict:
    """Close orders unpaid past their deadline, stock returned — unless Alipay says they were paid.

    Correct with any number of processes: every step is conditional in the database.
    """
    counts = {"closed": 0, "paid": 0, "skipped": 0}
    async with services.pool.acquire() as conn:
        overdue = await rows(Q.overdue_orders(conn, now=utcnow(), limit=limit))
    for order in overdue:
        try:
            if await confirm_by_query(services, order, "timeout_query") == PAID:
                counts["paid"] += 1
                continue
            # closing the Alipay trade first means no payment can start after our check
            closed = await services.alipay.trade_close(order["order_id"])
            if closed.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
                if await confirm_by_query(services, order, "timeout_query") == PAID:
                    counts["paid"] += 1
                    continue
        except AlipayError as exc:
            if order["pay_deadline"] > utcnow() - ALIPAY_GRACE:
                log.warning("order %s overdue, Alipay unreachable (%s): retry later", order["order_id"], exc)
                counts["skipped"] += 1
                continue
            # long past the deadline Alipay has closed the trade itself (time_expire); a payment
            # that still shows up later is refunded like any late payment

        if await close_order(services, order["order_id"], "timeout"):
            counts["closed"] += 1
    return counts


async def reconcile(services, limit=100) -> int:
    """Ask Alipay about orders whose buyer went to the cashier a while ago and that are still unpaid,
    so that a lost notify does not leave a paid order unpaid. Returns how many turned out paid."""
    now = utcnow()
    checked_before = now - RECONCILE_EVERY
    async with services.pool.acquire() as conn:
        waiting = await rows(Q.orders_at_the_cashier(conn, started_before=now - RECONCILE_AFTER, now=now,
                                                     checked_before=checked_before, limit=limit))
    paid = 0
    for order in waiting:
        async with services.pool.acquire() as conn:
            claimed = await Q.claim_reconcile(conn, order_id=order["order_id"], now=now,
                                              checked_before=checked_before)
        if not claimed:
            continue
        try:
            if await confirm_by_query(services, order, "reconcile") == PAID:
                paid += 1
        except AlipayError as exc:
            log.warning("reconcile %s: %s", order["order_id"], exc)
    return paid


async def refund_due(services, limit=50) -> int:
    """Send the refunds we owe; a failure is retried later with backoff. Returns how many completed.

    Any number of processes may run this at once: each refund is claimed first by a conditional
    UPDATE that moves its next attempt REFUND_LEASE ahead, so one process sends it at a time (and a
    process that dies mid-way leaves it due again after the lease, not lost).
    """
    async with services.pool.acquire() as conn:
        due = await rows(Q.due_refunds(conn, now=utcnow(), limit=limit))
    done = 0
    for refund in due:
        if not await _run(services, Q.claim_refund, refund_id=refund["id"], now=utcnow(),
                          lease_until=utcnow() + REFUND_LEASE):
            continue  # another process has it
        try:
            answer = await services.alipay.trade_refund(refund["order_id"], refund["amount"],
                                                        refund["out_request_no"], refund_reason="订单已关闭, 款项原路退回")
            ok = str(answer.get("code")) == "10000"
            result = json.dumps(answer, ensure_ascii=False)[:255]
        except AlipayError as exc:
            ok, result = False, f"unreachable: {exc}"[:255]
        if ok:
            done += await _run(services, Q.finish_refund, refund_id=refund["id"], result=result, now=utcnow())
        else:
            delay = min(3600, 10 * 2 ** min(refund["attempts"], 8))
            await _run(services, Q.postpone_refund, refund_id=refund["id"], result=result,
                       next_attempt_time=utcnow() + timedelta(seconds=delay))
            log.warning("refund %s not done yet: %s", refund["out_request_no"], result)
    return done


async def _run(services, query, **params):
    """One statement in its own transaction, retried on a deadlock or lock wait timeout."""
    async def work(conn):
        return await query(conn, **params)

    return await run_transaction(services.pool, work)


async def pending_refunds(services) -> int:
    """How many refunds we owe that Alipay has not taken yet (for the operator's gauge)."""
    async with services.pool.acquire() as conn:
        return await Q.count_pending_refunds(conn)
