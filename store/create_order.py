"""Creating an order (POST status=0): the one place stock goes down, safe under any contention.

Everything that can be read is read before the transaction. The transaction itself is ONE
MariaDB compound statement (`BEGIN NOT ATOMIC ... COMMIT; END`), so the hot SKU rows are locked
only while MariaDB runs the block server-side, never across a round trip to this (busy) event
loop: insert the order (it locks no SKU), deduct each SKU in ascending id order (two orders never
wait on each other in a circle) or stop it all on the first short one, insert the lines.
"""
import secrets
from datetime import datetime, timedelta

import pymysql

from db import Q, is_duplicate_key, read_fragment, run_compound_transaction
from store import cart
from store.catalog import skus_by_id
from store.clock import SHANGHAI, utcnow
from store.errors import BAD_ADDRESS, IN_PROGRESS, BusinessError, OutOfStock
from store.order_list import orders_changed
from store.settle import CART, lines_of, totals, wanted_items
from store.sold_out import first_sold_out, mark_if_none_left, mark_sold_out
from store.status import AWAITING_PAYMENT

IN_PROGRESS_TTL = 30  # seconds an idempotency key stays "in progress" if its request dies
_DELETE_IF_OURS = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
# The SIGNAL of the deduct fragment: its error number (PyMySQL reads it as a signed 16-bit value,
# so it must stay below 32768) and the SKU id as its message.
OUT_OF_STOCK_ERRNO = 30103
DEDUCT_STOCK_OR_SIGNAL = read_fragment("deduct_stock_or_signal")
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

    With an idempotency key, the buyer's order made under it is returned instead of a new one;
    a repeat while the first is still running is a 50104.
    """
    if not idempotency_key:
        return await _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num, None)
    existing = await order_with_key(services, user_id, idempotency_key)
    if existing:
        return existing
    redis = services.redis
    lock_key, lock_token = f"order_submit:{user_id}:{idempotency_key}", secrets.token_hex(8)
    if not await redis.set(lock_key, lock_token, nx=True, ex=IN_PROGRESS_TTL):
        existing = await order_with_key(services, user_id, idempotency_key)
        if existing:
            return existing
        raise BusinessError(IN_PROGRESS, "订单正在提交中, 请勿重复提交")
    try:
        # the holder before us may have finished between our first look and our lock
        return (await order_with_key(services, user_id, idempotency_key)
                or await _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num,
                                       idempotency_key))
    finally:
        # only our own lock: past its TTL it may already be another request's
        await redis.eval(_DELETE_IF_OURS, 1, lock_key, lock_token)


async def order_with_key(services, user_id, idempotency_key):
    """The buyer's order made under this idempotency key, or None."""
    async with services.pool.acquire() as conn:
        return await Q.get_order_by_idempotency_key(conn, user_id=user_id, idempotency_key=idempotency_key)


async def _create_order(services, user_id, address_id, settlement_type, sku_id, buy_num, idempotency_key):
    wanted = await wanted_items(services.redis, user_id, settlement_type, sku_id, buy_num)
    marked = await first_sold_out(services.redis, wanted)
    if marked is not None:  # the database said 0 a moment ago: no need to ask it again
        raise OutOfStock(marked)
    async with services.pool.acquire() as conn:
        address = await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)
        if address is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        skus = await skus_by_id(conn, wanted, with_attrs=False)  # the answer shows no sale attributes
    lines = lines_of(wanted, skus)
    # Shed what the database already says cannot be sold (a consistent read, no lock taken): the
    # same answer the UPDATE would give, without queueing for the hot row.
    for line in lines:
        if skus[line.sku_id]["stock"] < line.count:
            if skus[line.sku_id]["stock"] == 0:
                await mark_sold_out(services, line.sku_id)
            raise OutOfStock(line.sku_id)
    sums = totals(lines, services.config.freight)
    now = utcnow()
    order = {
        "order_id": await new_order_id(services), "user_id": user_id, "address_id": address["id"],
        "receiver": address["receiver"], "receiver_mobile": address["receiver_mobile"],
        "address": address["address"], "tag": address["tag"], "total_count": sums.count,
        "total_amount": sums.payment, "freight": sums.freight, "idempotency_key": idempotency_key,
        "created_time": now, "pay_deadline": now + timedelta(seconds=services.config.order_timeout),
    }
    for attempt in range(1, ORDER_ID_ATTEMPTS + 1):
        try:
            await insert_order_deducting_stock(services.pool, order, lines)
            break
        except OutOfStock as short:
            await mark_if_none_left(services, short.sku_id)
            raise
        except pymysql.err.IntegrityError as exc:
            if not is_duplicate_key(exc):
                raise
            if idempotency_key and "idempotency" in str(exc):
                return await order_with_key(services, user_id, idempotency_key)
            if attempt == ORDER_ID_ATTEMPTS:
                raise
            order["order_id"] = await new_order_id(services)  # an order id collision: draw another
    # one round trip: the bought items leave the cart, and the buyer's order lists are stale
    async with services.redis.pipeline(transaction=False) as pipe:
        if settlement_type == CART:
            pipe.hdel(cart.cart_key(user_id), *[str(line.sku_id) for line in lines])
        orders_changed(pipe, user_id)
        await pipe.execute()
    return {"order_id": order["order_id"], "total_amount": order["total_amount"],
            "pay_deadline": order["pay_deadline"], "status": AWAITING_PAYMENT}


async def insert_order_deducting_stock(pool, order, lines):
    """The create transaction as one compound statement; OutOfStock(sku_id) on the first short SKU
    (everything rolled back), retried whole on a deadlock or lock wait timeout."""
    statements = [(Q.insert_order.sql, order)]
    statements += [(DEDUCT_STOCK_OR_SIGNAL, {"sku_id": line.sku_id, "count": line.count, "errno": OUT_OF_STOCK_ERRNO})
                   for line in lines]  # ascending SKU id
    statements += [(Q.insert_order_line.sql, {"order_id": order["order_id"], "sku_id": line.sku_id,
                                              "count": line.count, "price": line.price})
                   for line in lines]
    try:
        await run_compound_transaction(pool, statements)
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] == OUT_OF_STOCK_ERRNO:
            raise OutOfStock(int(exc.args[1])) from None
        raise
