"""Creating an order (POST status=0): the one place stock goes down, safe under any contention.

Two round trips before the answer: one to Redis (the cart and its sold-out marks, one script) and
ONE to MariaDB: a compound statement (`BEGIN NOT ATOMIC ... COMMIT; ... END`) that draws the order
id, inserts the order with the receiver read from the buyer's address, deducts each SKU in
ascending id order (two orders never wait on each other in a circle) or stops it all on the first
one it cannot take, counts limited SKUs into the buyer's hold, inserts the lines at the prices of the
rows it just locked, totals them and answers with the order id and amount. The hot SKU rows are
locked only while MariaDB runs the block server-side, never across a round trip to this (busy)
event loop; a price changed between the buyer's confirmation and the commit is seen. Why a
statement refused is read afterwards, on the refused path only (explain_refusal).
"""
import asyncio
import logging
from datetime import datetime, timedelta

import pymysql

from db import Q, is_duplicate_key, read_fragment, rows, run_compound_transaction
from redis_client import is_cluster_client
from store import cart
from store.batching import Batcher, pipelined
from store.catalog import skus_by_id
from store.clock import SHANGHAI, shanghai_time_text, utcnow
from store.errors import BAD_ADDRESS, UNKNOWN_SKU, BusinessError, NotOnSale, OutOfStock, PurchaseLimitReached
from store.order_list import ORDERS_VERSION_TTL, new_orders_version, orders_changed, orders_version_key
from store.settle import CART, selected_items, wanted_items
from store.sold_out import first_sold_out, mark_sold_out, sold_out_key
from store.status import AWAITING_PAYMENT
from store.unavailable import REDIS_FAILURES

log = logging.getLogger("dadashop.orders")

# after a Redis failure, the cart clean-up and list-version bump are tried again after these pauses
CLEAN_UP_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)
BEST_EFFORT_TASK = "best effort"
# The SIGNALs of the fragments carry one of these error numbers (PyMySQL reads them as signed
# 16-bit values, so they must stay below 32768) and the SKU (or address) id as their message.
NOT_DEDUCTED_ERRNO = 30103  # too little stock, unknown or off the shelf, or outside the sale window
OVER_LIMIT_ERRNO = 30112    # the buyer's hold would pass the SKU's per-buyer limit
BAD_ADDRESS_ERRNO = 30114   # no live address of this buyer with that id
ORDER_ID = read_fragment("order_id")
INSERT_ORDER_AT_ADDRESS_OR_SIGNAL = read_fragment("insert_order_at_address_or_signal")
HOLD_WITHIN_LIMIT_OR_SIGNAL = read_fragment("hold_within_limit_or_signal")
DEDUCT_STOCK_OR_SIGNAL = read_fragment("deduct_stock_or_signal")
INSERT_ORDER_LINE_AT_LOCKED_PRICE = read_fragment("insert_order_line_at_locked_price")
TOTAL_ORDER_AT_LINE_PRICES = read_fragment("total_order_at_line_prices")
ORDER_ID_ATTEMPTS = 3


ORDER_NUMBER_DIGITS = 6  # a minute holds 10**6 numbers: 16,666 orders a second before one could repeat


def order_id_minute(moment) -> str:
    """The first 10 digits of an order id made at `moment`: Shanghai time to the minute."""
    return moment.astimezone(SHANGHAI).strftime("%y%m%d%H%M")


async def new_order_id(services) -> str:
    """One order id drawn on its own (create draws its id inside its statement, from the same
    expression, sql/fragments/order_id.sql): the Shanghai minute and the last 6 digits of the
    MariaDB sequence `order_number`, so the original pages can put an id unquoted into JavaScript.

    Two ids are equal only when numbers 10**6 apart are drawn in the same minute (a million orders in
    a minute); the UNIQUE key on order_info.order_id stops even that, and create draws again.
    Below 2**53 (JavaScript's exact integers) until 2089, digits only: a valid Alipay out_trade_no.
    """
    async with services.pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute(f"SELECT {ORDER_ID}", {"minute": order_id_minute(datetime.now(SHANGHAI))})
            return (await cur.fetchone())[0]


def order_id_at(moment, number: int) -> str:
    """The id the order_id expression gives for sequence number `number` at `moment` (Shanghai time)."""
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
    """The buyer's order made under this idempotency key, or None: asked together with the other
    look-ups of this turn of the event loop (store/batching.py). Keys compare as the column does,
    ignoring case (they are ASCII: IDEMPOTENCY_KEY)."""
    batcher = services.batchers.get("orders_by_key")
    if batcher is None:
        batcher = services.batchers["orders_by_key"] = Batcher(lambda pairs: orders_with_keys(services.pool, pairs))
    order = await batcher.get((user_id, idempotency_key.lower()))
    return dict(order) if order else None  # each caller its own copy


async def orders_with_keys(pool, pairs) -> dict:
    """{(user_id, lower-case key): order} for the orders made under these pairs."""
    async with pool.acquire() as conn:
        found = await rows(Q.get_orders_by_idempotency_keys(conn, pairs=pairs))
    return {(order["user_id"], order["idempotency_key"].lower()): order for order in found}


async def wanted_and_first_sold_out(services, user_id, settlement_type, sku_id, buy_num):
    """({sku_id: count} to order, the lowest of those SKU ids with a sold-out mark or None).

    A cart on one Redis server: one round trip (a script reads the cart and its marks). Otherwise
    the items, then their marks; a failure to read the marks only costs the database the work."""
    if settlement_type == CART and not is_cluster_client(services.redis):
        items, marked = await cart.read_cart_and_marks(services.redis, user_id, sold_out_key(""))
        wanted = selected_items(items)
        return wanted, min((sid for sid in wanted if sid in marked), default=None)
    wanted = await wanted_items(services.redis, user_id, settlement_type, sku_id, buy_num)
    return wanted, await best_effort(first_sold_out(services.redis, wanted), "reading sold-out marks")


async def _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num, idempotency_key):
    wanted, marked = await wanted_and_first_sold_out(services, user_id, settlement_type, sku_id, buy_num)
    if marked is not None:  # the database said 0 a moment ago: no need to ask it again
        raise OutOfStock(marked)
    now = utcnow()
    order = {"user_id": user_id, "address_id": address_id, "total_count": sum(wanted.values()),
             "freight": services.config.freight, "idempotency_key": idempotency_key, "created_time": now,
             "pay_deadline": now + timedelta(seconds=services.config.order_timeout)}
    for attempt in range(1, ORDER_ID_ATTEMPTS + 1):
        try:
            created = await insert_order_deducting_stock(services.pool, order, wanted)
            break
        except OutOfStock as refused:
            await explain_refusal(services, refused)
        except pymysql.err.IntegrityError as exc:
            if not is_duplicate_key(exc):
                raise
            if idempotency_key and "idempotency" in str(exc):
                return await order_with_key(services, user_id, idempotency_key)
            if attempt == ORDER_ID_ATTEMPTS:
                raise
            # an order id collision (the statement draws another when run again)
    # Committed: from here on the answer is this order, whatever fails (docs/faults.md).
    bought = sorted(wanted) if settlement_type == CART else []
    await after_create_best_effort(services, user_id, bought)
    return {"order_id": created["order_id"], "total_amount": created["total_amount"],
            "pay_deadline": order["pay_deadline"], "status": AWAITING_PAYMENT}


def check_sale_window(sku, now):
    """NotOnSale unless `now` is inside the SKU's sale window (no window: always on sale)."""
    if sku["sale_start"] is not None and now < sku["sale_start"]:
        raise NotOnSale(sku["id"], opens=shanghai_time_text(sku["sale_start"]))
    if sku["sale_end"] is not None and now >= sku["sale_end"]:
        raise NotOnSale(sku["id"], closed=shanghai_time_text(sku["sale_end"]))


class Refused(OutOfStock):
    """The statement stopped on an SKU for a reason still to be read (explain_refusal)."""

    def __init__(self, sku_id, over_limit=False):
        super().__init__(sku_id)
        self.over_limit = over_limit


async def explain_refusal(services, refused):
    """The statement did not take an SKU: say why, as the database sees it now, in the order the
    buyer would be told if the SKU were checked alone — unknown or off the shelf (50101), outside
    its sale window (50113), over the buyer's limit (50112), or too little stock (50103, and the
    sold-out mark when none is left)."""
    async with services.pool.acquire() as conn:
        sku = (await skus_by_id(conn, [refused.sku_id], with_attrs=False)).get(refused.sku_id)
    if sku is None or not sku["is_launched"]:
        raise BusinessError(UNKNOWN_SKU, f"商品[{refused.sku_id}]不存在或已下架")
    check_sale_window(sku, utcnow())
    if refused.over_limit:
        raise PurchaseLimitReached(sku["id"], sku["limit_per_buyer"])
    if sku["stock"] == 0:
        await best_effort(mark_sold_out(services, sku["id"]), "marking sold out")
    raise OutOfStock(sku["id"])


async def insert_order_deducting_stock(pool, order, wanted) -> dict:
    """The create transaction as one compound statement; returns {order_id, total_amount}. On the
    first SKU it cannot take, all is rolled back: Refused(sku_id) (over_limit when the buyer's hold
    would pass the limit), or a 50102 when the buyer has no such live address. Retried whole on a
    deadlock or lock wait timeout."""
    # the id is drawn before the transaction: a sequence is not transactional anyway
    prelude = [(f"SET new_order_id = {ORDER_ID}", {"minute": order_id_minute(order["created_time"])})]
    statements = [(INSERT_ORDER_AT_ADDRESS_OR_SIGNAL, dict(order, errno=BAD_ADDRESS_ERRNO))]
    # lock order, everywhere: the order row (new, locks nothing), SKUs in ascending id order, then
    # the buyer's holds. Nothing reads an SKU row before deducting it: a read in a compound
    # statement takes a shared lock, and two orders sharing one and both wanting it exclusively
    # deadlock.
    ids = sorted(wanted)
    statements += [(DEDUCT_STOCK_OR_SIGNAL, {"sku_id": sku_id, "count": wanted[sku_id], "errno": NOT_DEDUCTED_ERRNO})
                   for sku_id in ids]
    statements += [(HOLD_WITHIN_LIMIT_OR_SIGNAL, {"user_id": order["user_id"], "sku_id": sku_id,
                                                  "count": wanted[sku_id], "errno": OVER_LIMIT_ERRNO})
                   for sku_id in ids]
    statements += [(INSERT_ORDER_LINE_AT_LOCKED_PRICE, {"sku_id": sku_id, "count": wanted[sku_id]}) for sku_id in ids]
    statements += [(TOTAL_ORDER_AT_LINE_PRICES, {})]
    answer = ("SELECT order_id, total_amount FROM order_info WHERE order_id = new_order_id", {})
    try:
        return (await run_compound_transaction(pool, statements, declare=["DECLARE new_order_id VARCHAR(64)"],
                                               prelude=prelude, result=answer))[0]
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if code == NOT_DEDUCTED_ERRNO:
            raise Refused(int(exc.args[1])) from None
        if code == OVER_LIMIT_ERRNO:
            raise Refused(int(exc.args[1]), over_limit=True) from None
        if code == BAD_ADDRESS_ERRNO:
            raise BusinessError(BAD_ADDRESS, "收货地址无效") from None
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


# After a create on one Redis server: the bought items out of the cart and a new orders version,
# as one command (a pipeline object costs a third more CPU than a script call). On a Redis
# Cluster the two keys live in different slots: a pipeline sends each to its node.
_CLEAN_UP_SCRIPT = """
if #ARGV > 2 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3)) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return 1
"""


async def _clean_up(redis, user_id, bought_sku_ids):
    fields = [str(sku_id) for sku_id in bought_sku_ids]
    if not is_cluster_client(redis):
        await pipelined(redis).run_script(_CLEAN_UP_SCRIPT, [cart.cart_key(user_id), orders_version_key(user_id)],
                                          [new_orders_version(), ORDERS_VERSION_TTL, *fields])
        return
    async with redis.pipeline(transaction=False) as pipe:
        if fields:
            pipe.hdel(cart.cart_key(user_id), *fields)
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
