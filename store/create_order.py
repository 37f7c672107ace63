"""Creating an order (POST status=0): the one place stock goes down, safe under any contention.

Everything that can be read is read before the transaction. The transaction itself is ONE
MariaDB compound statement (`BEGIN NOT ATOMIC ... COMMIT; END`), so the hot SKU rows are locked
only while MariaDB runs the block server-side, never across a round trip to this (busy) event
loop: insert the order (it locks no SKU), deduct each SKU in ascending id order (two orders never
wait on each other in a circle) or stop it all on the first short one, insert the lines.
"""
import asyncio
import logging
from datetime import datetime, timedelta

import pymysql

from db import Q, is_duplicate_key, read_fragment, run_compound_transaction
from store import cart
from store.catalog import skus_by_id
from store.clock import SHANGHAI, shanghai_time_text, utcnow
from store.errors import BAD_ADDRESS, BusinessError, NotOnSale, OutOfStock, PurchaseLimitReached
from store.order_list import orders_changed
from store.settle import CART, lines_of, totals, wanted_items
from store.sold_out import first_sold_out, mark_sold_out
from store.status import AWAITING_PAYMENT
from store.unavailable import REDIS_FAILURES

log = logging.getLogger("dadashop.orders")

# after a Redis failure, the cart clean-up and list-version bump are tried again after these pauses
CLEAN_UP_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)
BEST_EFFORT_TASK = "best effort"
# The SIGNALs of the fragments carry one of these error numbers (PyMySQL reads them as signed
# 16-bit values, so they must stay below 32768) and the SKU id as their message.
NOT_DEDUCTED_ERRNO = 30103  # too little stock, off the shelf, or outside the sale window
OVER_LIMIT_ERRNO = 30112    # the buyer's hold would pass the SKU's per-buyer limit
DEDUCT_STOCK_OR_SIGNAL = read_fragment("deduct_stock_or_signal")
HOLD_WITHIN_LIMIT_OR_SIGNAL = read_fragment("hold_within_limit_or_signal")
ORDER_ID_ATTEMPTS = 3


ORDER_NUMBER_DIGITS = 6  # a minute holds 10**6 numbers: 16,666 orders a second before one could repeat


async def new_order_id(services) -> str:
    """16 digits, as the seed shapes them (its example: 2019111811504601), so the original pages can put
    an id unquoted into JavaScript: Shanghai time to the minute (yyMMddHHmm) and the last 6 digits of
    the MariaDB sequence `order_number`, which never gives a number twice to any process on any host.

    Two ids are equal only when numbers 10**6 apart are drawn in the same minute (a million orders in
    a minute); the UNIQUE key on order_info.order_id stops even that, and the caller draws again.
    Below 2**53 (JavaScript's exact integers) until 2089, digits only: a valid Alipay out_trade_no.
    """
    async with services.pool.acquire() as conn:
        number = await Q.next_order_number(conn)
    return order_id_at(datetime.now(SHANGHAI), number)


def order_id_at(moment, number: int) -> str:
    return moment.strftime("%y%m%d%H%M") + f"{number % 10 ** ORDER_NUMBER_DIGITS:0{ORDER_NUMBER_DIGITS}d}"


async def create_order(services, *, user_id, address_id, settlement_type, sku_id=None, buy_num=None,
                       idempotency_key=None) -> dict:
    """Returns the order: {order_id, total_amount, pay_deadline, status}.

    With an idempotency key, the buyer's order made under it is returned instead of a new one.
    The database serialises same-key submissions, not a lock with a TTL: the order row's
    UNIQUE (user_id, idempotency_key) makes a second insert wait for the first transaction, then
    fail as a duplicate (we answer with the first one's order) or go ahead if the first rolled
    back. A submitter that dies mid-way holds nothing: the server rolls its transaction back.
    """
    # No look-up first (a round trip on every create): a repeat of a committed submission fails
    # on the UNIQUE key before any stock is touched, or finds its cart already bought (a business
    # answer), and in both cases the existing order is the answer.
    try:
        return await _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num, idempotency_key)
    except BusinessError:
        # e.g. an empty cart or no stock left: maybe because the same submission, running at the
        # same time, bought it — then its order is the answer
        existing = idempotency_key and await order_with_key(services, user_id, idempotency_key)
        if existing:
            return existing
        raise


async def order_with_key(services, user_id, idempotency_key):
    """The buyer's order made under this idempotency key, or None."""
    async with services.pool.acquire() as conn:
        return await Q.get_order_by_idempotency_key(conn, user_id=user_id, idempotency_key=idempotency_key)


async def _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num, idempotency_key):
    wanted = await wanted_items(services.redis, user_id, settlement_type, sku_id, buy_num)
    marked = await best_effort(first_sold_out(services.redis, wanted), "reading sold-out marks")
    if marked is not None:  # the database said 0 a moment ago: no need to ask it again
        raise OutOfStock(marked)
    async with services.pool.acquire() as conn:
        address = await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)
        if address is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        skus = await skus_by_id(conn, wanted, with_attrs=False)  # the answer shows no sale attributes
    lines = lines_of(wanted, skus)
    now = utcnow()
    # Shed what the database already says cannot be sold (a consistent read, no lock taken): the
    # same answer the statement would give, without queueing for the hot row.
    for line in lines:
        check_sale_window(skus[line.sku_id], now)
        if skus[line.sku_id]["stock"] < line.count:
            if skus[line.sku_id]["stock"] == 0:
                await best_effort(mark_sold_out(services, line.sku_id), "marking sold out")
            raise OutOfStock(line.sku_id)
    sums = totals(lines, services.config.freight)
    order = {
        "order_id": await new_order_id(services), "user_id": user_id, "address_id": address["id"],
        "receiver": address["receiver"], "receiver_mobile": address["receiver_mobile"],
        "address": address["address"], "tag": address["tag"], "total_count": sums.count,
        "total_amount": sums.payment, "freight": sums.freight, "idempotency_key": idempotency_key,
        "created_time": now, "pay_deadline": now + timedelta(seconds=services.config.order_timeout),
    }
    for attempt in range(1, ORDER_ID_ATTEMPTS + 1):
        try:
            await insert_order_deducting_stock(services.pool, order, lines, skus)
            break
        except OutOfStock as refused:
            await explain_refused_deduction(services, refused)
        except pymysql.err.IntegrityError as exc:
            if not is_duplicate_key(exc):
                raise
            if idempotency_key and "idempotency" in str(exc):
                return await order_with_key(services, user_id, idempotency_key)
            if attempt == ORDER_ID_ATTEMPTS:
                raise
            order["order_id"] = await new_order_id(services)  # an order id collision: draw another
    # Committed: from here on the answer is this order, whatever fails (docs/faults.md).
    bought = [line.sku_id for line in lines] if settlement_type == CART else []
    await after_create_best_effort(services, user_id, bought)
    return {"order_id": order["order_id"], "total_amount": order["total_amount"],
            "pay_deadline": order["pay_deadline"], "status": AWAITING_PAYMENT}


def check_sale_window(sku, now):
    """NotOnSale unless `now` is inside the SKU's sale window (no window: always on sale)."""
    if sku["sale_start"] is not None and now < sku["sale_start"]:
        raise NotOnSale(sku["id"], opens=shanghai_time_text(sku["sale_start"]))
    if sku["sale_end"] is not None and now >= sku["sale_end"]:
        raise NotOnSale(sku["id"], closed=shanghai_time_text(sku["sale_end"]))


async def explain_refused_deduction(services, refused):
    """The statement did not deduct an SKU: say why, as the database sees it now — outside its
    sale window (50113), or too little stock (50103, and the sold-out mark when none is left)."""
    async with services.pool.acquire() as conn:
        sku = (await skus_by_id(conn, [refused.sku_id], with_attrs=False)).get(refused.sku_id)
    if sku is not None:
        check_sale_window(sku, utcnow())
        if sku["stock"] == 0:
            await best_effort(mark_sold_out(services, sku["id"]), "marking sold out")
    raise refused


async def insert_order_deducting_stock(pool, order, lines, skus):
    """The create transaction as one compound statement. On the first SKU it cannot take, all is
    rolled back: OutOfStock(sku_id) when the deduction failed, PurchaseLimitReached when the
    buyer's hold would pass the limit. Retried whole on a deadlock or lock wait timeout."""
    statements = [(Q.insert_order.sql, order)]
    # lock order, everywhere: the order row (new, locks nothing), holds, then SKUs, ascending SKU id
    statements += [(HOLD_WITHIN_LIMIT_OR_SIGNAL, {"user_id": order["user_id"], "sku_id": line.sku_id,
                                                  "count": line.count, "errno": OVER_LIMIT_ERRNO})
                   for line in lines if skus[line.sku_id]["limit_per_buyer"] is not None]
    statements += [(DEDUCT_STOCK_OR_SIGNAL, {"sku_id": line.sku_id, "count": line.count, "errno": NOT_DEDUCTED_ERRNO})
                   for line in lines]
    statements += [(Q.insert_order_line.sql, {"order_id": order["order_id"], "sku_id": line.sku_id,
                                              "count": line.count, "price": line.price})
                   for line in lines]
    try:
        await run_compound_transaction(pool, statements)
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] == NOT_DEDUCTED_ERRNO:
            raise OutOfStock(int(exc.args[1])) from None
        if exc.args and exc.args[0] == OVER_LIMIT_ERRNO:
            sku_id = int(exc.args[1])
            raise PurchaseLimitReached(sku_id, skus[sku_id]["limit_per_buyer"]) from None
        raise


async def best_effort(step, what):
    """A Redis step that only saves work (sold-out marks): when Redis fails, the database decides."""
    try:
        return await step
    except REDIS_FAILURES as exc:
        log.warning("%s skipped: %s", what, exc)
        return None


async def after_create_best_effort(services, user_id, bought_sku_ids):
    """After the commit: the bought items leave the cart and the buyer's cached order lists go
    stale, in one round trip. Never fails the create: on a Redis error it is retried in the
    background for about half a minute (a repeat with the same key never buys twice meanwhile)."""
    try:
        await _clean_up(services.redis, user_id, bought_sku_ids)
    except Exception as exc:  # noqa: BLE001 - committed: nothing here may turn the answer into an error
        # (not only Redis errors: redis-py's cluster pipeline has been seen to raise AttributeError
        # while a replica is promoted)
        log.warning("after-create clean-up for buyer %s failed (%r): retrying in the background", user_id, exc)
        task = services.spawn(_retry_clean_up(services.redis, user_id, bought_sku_ids))
        task.set_name(BEST_EFFORT_TASK)  # a shutdown does not wait for it


async def _clean_up(redis, user_id, bought_sku_ids):
    async with redis.pipeline(transaction=False) as pipe:
        if bought_sku_ids:
            pipe.hdel(cart.cart_key(user_id), *[str(sku_id) for sku_id in bought_sku_ids])
        orders_changed(pipe, user_id)
        await pipe.execute()


async def _retry_clean_up(redis, user_id, bought_sku_ids):
    for delay in CLEAN_UP_RETRY_DELAYS:
        await asyncio.sleep(delay)
        try:
            return await _clean_up(redis, user_id, bought_sku_ids)
        except Exception:  # noqa: BLE001 - as above
            continue
    log.error("after-create clean-up for buyer %s given up: cart may still hold SKUs %s", user_id, bought_sku_ids)
