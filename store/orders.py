"""The order module's work: settle items, create orders under contention, list, and move orders
through the status machine. Plain async functions over a pool or connection; handlers and
background jobs call them.
"""
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pymysql

from db import Q, after_commit, is_duplicate_key, rows, run_compound_transaction, run_transaction
from store import cart
from store.catalog import load_skus
from store.errors import (BAD_ADDRESS, BAD_STATUS, IN_PROGRESS, NO_ADDRESS, NOTHING_TO_SETTLE, ORDER_NOT_FOUND,
                          OUT_OF_STOCK, BusinessError)
from store.money import money

log = logging.getLogger("dadashop.orders")

SHANGHAI = ZoneInfo("Asia/Shanghai")
AWAITING_PAYMENT, AWAITING_SHIPMENT, AWAITING_RECEIPT, COMPLETED, CLOSED = 1, 2, 3, 4, 5
SELLER_NAME = "达达商城"
MAX_BUY_NUM = cart.MAX_COUNT_PER_ITEM
IN_PROGRESS_TTL = 30  # seconds an idempotency key stays "in progress" if its request dies
_DELETE_IF_OURS = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
# MYSQL_ERRNO of the SIGNAL in sql/orders.sql deduct_stock_or_signal (PyMySQL reads the error
# number as a signed 16-bit value: it must stay below 32768)
OUT_OF_STOCK_SIGNAL = 30103


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def shanghai_time_text(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def new_order_id(user_id: int) -> str:
    """Unique and valid as Alipay's out_trade_no: Shanghai time, the buyer, and 40 random bits.

    The UNIQUE key on order_info.order_id backs it: a collision is retried, never merged.
    """
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d%H%M%S")
    return f"{stamp}{user_id % 1_000_000:06d}{secrets.token_hex(5)}"


@dataclass(frozen=True)
class Line:
    sku_id: int
    count: int
    price: Decimal
    name: str
    image: str
    attr_names: list
    attr_vals: list

    @property
    def amount(self) -> Decimal:
        return self.price * self.count

    def json(self):
        return {"id": self.sku_id, "name": self.name, "default_image_url": self.image,
                "price": money(self.price), "count": self.count, "total_amount": money(self.amount),
                "sku_sale_attr_names": self.attr_names, "sku_sale_attr_vals": self.attr_vals}


# ---------------------------------------------------------------- settling (confirm and create)

async def wanted_items(redis, user_id, settlement_type, sku_id=None, buy_num=None) -> dict:
    """{sku_id: count} the buyer is about to order: settlement_type 0: the cart's selected items;
    1: buy now (`sku_id` × `buy_num`). A bad selection or count is a 50101."""
    if settlement_type == 0:
        wanted = {sid: item["count"] for sid, item in (await cart.read_cart(redis, user_id)).items()
                  if item["selected"]}
        if not wanted:
            raise BusinessError(NOTHING_TO_SETTLE, "购物车中没有选中的商品")
    else:
        if sku_id is None or buy_num is None:
            raise BusinessError(NOTHING_TO_SETTLE, "立即购买需要 sku_id 和 buy_num")
        wanted = {sku_id: buy_num}
    for sid, count in wanted.items():
        if not 1 <= count <= MAX_BUY_NUM:
            raise BusinessError(NOTHING_TO_SETTLE, f"商品[{sid}]的购买数量应在1到{MAX_BUY_NUM}之间")
    return wanted


async def settle_lines(conn, redis, user_id, settlement_type, sku_id=None, buy_num=None) -> list:
    """The lines a buyer is about to order, at today's prices, sorted by SKU id.

    Anything that cannot be ordered is a 50101 naming it.
    """
    wanted = await wanted_items(redis, user_id, settlement_type, sku_id, buy_num)
    return lines_of(wanted, await load_skus(conn, wanted))


def lines_of(wanted, skus) -> list:
    lines = []
    for sid in sorted(wanted):
        sku = skus.get(sid)
        if sku is None or not sku["is_launched"]:
            raise BusinessError(NOTHING_TO_SETTLE, f"商品[{sid}]不存在或已下架")
        lines.append(Line(sid, wanted[sid], sku["price"], sku["name"], sku["default_image_url"],
                          sku["attr_names"], sku["attr_vals"]))
    return lines


def totals(lines, freight):
    goods = sum((line.amount for line in lines), Decimal("0"))
    return {"total_count": sum(line.count for line in lines), "total_amount": goods,
            "transit": freight, "payment_amount": goods + freight}


def address_for_confirm(row):
    return {"id": row["id"], "name": row["receiver"], "mobile": row["receiver_mobile"], "title": row["tag"],
            "address": row["address"], "is_default": bool(row["is_default"])}


async def confirm(pool, redis, user_id, freight, settlement_type, sku_id=None, buy_num=None):
    """GET status=0: the addresses (default first) and what would be ordered, with totals."""
    async with pool.acquire() as conn:
        addresses = await rows(Q.list_addresses(conn, user_id=user_id))
        lines = await settle_lines(conn, redis, user_id, settlement_type, sku_id, buy_num)
    sums = totals(lines, freight)
    data = {"addresses": [address_for_confirm(a) for a in addresses], "sku_list": [line.json() for line in lines],
            "total_count": sums["total_count"], "total_amount": money(sums["total_amount"]),
            "transit": money(freight), "payment_amount": money(sums["payment_amount"])}
    if not addresses:
        raise BusinessError(NO_ADDRESS, "请先添加收货地址", data=data)
    return data


# ---------------------------------------------------------------- sold-out marks
#
# A sold-out SKU draws the most requests of a flash sale, all of them doomed. The mark
# `sold_out:<sku_id>` in Redis lets create answer 50103 without touching the database. Redis never
# decides who gets a unit: the mark is set only after the database said the stock is 0, it only
# ever refuses, and it goes away when stock comes back (after the commit that returned it), or
# by its TTL whatever happens (e.g. stock edited in the database by hand).

SOLD_OUT_TTL = 30


def sold_out_key(sku_id) -> str:
    return f"sold_out:{sku_id}"


class RedisMarks:
    """The process's Redis client for code that runs inside a transaction and sees none: clearing
    sold-out marks once returned stock is committed, and telling the order-list cache that a
    buyer's orders changed. Set by server.App when it starts; without it both are no-ops."""
    redis = None

    async def clear_sold_out(self, sku_ids):
        if self.redis is not None and sku_ids:
            await self.redis.delete(*[sold_out_key(i) for i in sku_ids])

    async def orders_changed(self, user_id):
        if self.redis is not None:
            await orders_changed(self.redis, user_id)


redis_marks = RedisMarks()


async def first_sold_out(redis, sku_ids):
    """The lowest id among `sku_ids` that carries a sold-out mark, or None."""
    ids = sorted(sku_ids)
    marks = await redis.mget([sold_out_key(i) for i in ids])
    return next((i for i, mark in zip(ids, marks) if mark), None)


async def mark_sold_out(pool, redis, sku_id):
    """Set the mark of an SKU the database just reported at stock 0, then read the stock again:
    if a unit came back meanwhile (its clear may have run before our set), take the mark away."""
    await redis.set(sold_out_key(sku_id), "1", ex=SOLD_OUT_TTL)
    async with pool.acquire() as conn:
        stock = await Q.get_sku_stock(conn, sku_id=sku_id)
    if stock != 0:
        await redis.delete(sold_out_key(sku_id))


async def create_order(pool, redis, *, user_id, address_id, settlement_type, freight, timeout,
                       sku_id=None, buy_num=None, idempotency_key=None) -> dict:
    """POST status=0. Returns the order row (order_id, total_amount, pay_deadline).

    Everything that can be read is read before the transaction; inside it the stock rows are
    locked in ascending SKU id order and held only until COMMIT.
    """
    if idempotency_key:
        existing = await order_with_key(pool, user_id, idempotency_key)
        if existing:
            return existing
        lock_key, lock_token = f"order_submit:{user_id}:{idempotency_key}", secrets.token_hex(8)
        if not await redis.set(lock_key, lock_token, nx=True, ex=IN_PROGRESS_TTL):
            existing = await order_with_key(pool, user_id, idempotency_key)
            if existing:
                return existing
            raise BusinessError(IN_PROGRESS, "订单正在提交中, 请勿重复提交")
        try:
            # the holder before us may have finished between our first look and our lock
            return (await order_with_key(pool, user_id, idempotency_key)
                    or await _create_order(pool, redis, user_id, address_id, settlement_type, freight, timeout,
                                           sku_id, buy_num, idempotency_key))
        finally:
            # only our own lock: past its TTL it may already be another request's
            await redis.eval(_DELETE_IF_OURS, 1, lock_key, lock_token)
    return await _create_order(pool, redis, user_id, address_id, settlement_type, freight, timeout,
                               sku_id, buy_num, None)


async def order_with_key(pool, user_id, idempotency_key):
    """The buyer's order made under this idempotency key, or None."""
    async with pool.acquire() as conn:
        return await Q.get_order_by_idempotency_key(conn, user_id=user_id, idempotency_key=idempotency_key)


async def _create_order(pool, redis, user_id, address_id, settlement_type, freight, timeout, sku_id, buy_num,
                        idempotency_key):
    wanted = await wanted_items(redis, user_id, settlement_type, sku_id, buy_num)
    marked = await first_sold_out(redis, wanted)
    if marked is not None:  # the database said 0 a moment ago: no need to ask it again
        raise BusinessError(OUT_OF_STOCK, f"商品[{marked}]库存不足")
    async with pool.acquire() as conn:
        address = await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)
        if address is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        skus = {row["id"]: dict(row, attr_names=[], attr_vals=[])
                for row in await rows(Q.get_skus_for_order(conn, ids=sorted(wanted)))}
    lines = lines_of(wanted, skus)
    # Shed what the database already says cannot be sold (a consistent read, no lock taken): the
    # same answer the UPDATE would give, without queueing for the hot row.
    for line in lines:
        if skus[line.sku_id]["stock"] < line.count:
            if skus[line.sku_id]["stock"] == 0:
                await mark_sold_out(pool, redis, line.sku_id)
            raise BusinessError(OUT_OF_STOCK, f"商品[{line.sku_id}]库存不足")
    sums = totals(lines, freight)
    now = utcnow()
    order = {
        "order_id": new_order_id(user_id), "user_id": user_id, "address_id": address["id"],
        "receiver": address["receiver"], "receiver_mobile": address["receiver_mobile"],
        "address": address["address"], "tag": address["tag"], "total_count": sums["total_count"],
        "total_amount": sums["payment_amount"], "freight": freight, "idempotency_key": idempotency_key,
        "created_time": now, "pay_deadline": now + timedelta(seconds=timeout),
    }

    def statements():
        # One statement, one round trip: MariaDB holds the stock row locks only while it runs the
        # rest of the block server-side, never across a round trip to this (busy) event loop.
        # The order row first: it locks no SKU. Then ascending SKU id: two orders never wait on
        # each other in a circle. A deduction that finds too little stock stops it all (50103).
        yield Q.insert_order, order
        for line in lines:
            yield Q.deduct_stock_or_signal, {"sku_id": line.sku_id, "count": line.count}
        for line in lines:
            yield Q.insert_order_line, {"order_id": order["order_id"], "sku_id": line.sku_id,
                                        "count": line.count, "price": line.price}

    for attempt in range(3):
        try:
            await run_compound_transaction(pool, list(statements()))
            break
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == OUT_OF_STOCK_SIGNAL:
                short = int(exc.args[1])
                async with pool.acquire() as conn:
                    left = await Q.get_sku_stock(conn, sku_id=short)
                if left == 0:
                    await mark_sold_out(pool, redis, short)
                raise BusinessError(OUT_OF_STOCK, f"商品[{short}]库存不足") from None
            if not is_duplicate_key(exc):
                raise
            if idempotency_key and "idempotency" in str(exc):
                return await order_with_key(pool, user_id, idempotency_key)
            if attempt == 2:
                raise
            order["order_id"] = new_order_id(user_id)  # an order id collision: draw another
    # one round trip: the bought items leave the cart, and the buyer's order lists are stale
    async with redis.pipeline(transaction=False) as pipe:
        if settlement_type == 0:
            pipe.hdel(cart.cart_key(user_id), *[str(line.sku_id) for line in lines])
        pipe.set(orders_version_key(user_id), secrets.token_hex(8), ex=ORDERS_VERSION_TTL)
        await pipe.execute()
    return {"order_id": order["order_id"], "total_amount": order["total_amount"],
            "pay_deadline": order["pay_deadline"], "status": AWAITING_PAYMENT}


# ---------------------------------------------------------------- reading

async def list_orders(pool, user_id, order_status, page, page_size):
    """GET status=1: one page, newest first; two queries whatever the number of orders and lines
    (three for a page past the end, which must still tell the total)."""
    offset = (page - 1) * page_size
    async with pool.acquire() as conn:
        orders = await rows(Q.list_orders_page(conn, user_id=user_id, order_status=order_status,
                                               limit=page_size, offset=offset))
        lines = []
        if orders:
            total = orders[0]["total"]
            lines = await rows(Q.get_lines_with_attrs_of_orders(conn, order_ids=[o["order_id"] for o in orders]))
        elif order_status == 0:
            total = await Q.count_orders(conn, user_id=user_id)
        else:
            total = await Q.count_orders_in_status(conn, user_id=user_id, status=order_status)
    by_order, by_line = {}, {}
    for line in lines:
        item = by_line.get((line["order_id"], line["sku_id"]))
        if item is None:
            item = by_line[line["order_id"], line["sku_id"]] = {
                "id": line["sku_id"], "default_image_url": line["default_image_url"], "name": line["name"],
                "price": money(line["price"]), "count": line["count"],
                "total_amount": money(line["price"] * line["count"]),
                "sku_sale_attr_names": [], "sku_sale_attr_vals": []}
            by_order.setdefault(line["order_id"], []).append(item)
        if line["attr_name"] is not None:
            item["sku_sale_attr_names"].append(line["attr_name"])
            item["sku_sale_attr_vals"].append(line["attr_value"])
    return {
        "orders_list": [{
            "order_id": o["order_id"], "order_total_count": o["total_count"],
            "order_total_amount": money(o["total_amount"]), "order_freight": money(o["freight"]),
            "status": o["status"], "order_time": shanghai_time_text(o["created_time"]),
            "address": {"title": o["tag"], "address": o["address"], "mobile": o["receiver_mobile"],
                        "receiver": o["receiver"]},
            "order_sku": by_order.get(o["order_id"], []),
        } for o in orders],
        "total": total, "page": page, "page_size": page_size,
    }


# ---------------------------------------------------------------- the order-list cache
#
# Order lists are read far more often than orders change. A page is cached in Redis as JSON under
# the buyer's current "orders version", a random token replaced after the commit of every change
# to the buyer's orders (create, pay, ship, receive, cancel, timeout close). A page cached under
# an older version is never served; a lost version key (eviction, restart) only means misses. The
# database stays the truth: a miss reads it, and the TTL bounds what a hand edit in the database
# (which changes no version) can leave stale.

LIST_CACHE_TTL = 60
ORDERS_VERSION_TTL = 24 * 3600


def orders_version_key(user_id) -> str:
    return f"orders_version:{user_id}"


def order_list_key(user_id, order_status, page, page_size) -> str:
    return f"order_list:{user_id}:{order_status}:{page}:{page_size}"


async def orders_changed(redis, user_id):
    await redis.set(orders_version_key(user_id), secrets.token_hex(8), ex=ORDERS_VERSION_TTL)


def order_changed_after_commit(conn, user_id):
    """Inside a transaction that changed an order of `user_id`: new version once committed."""
    if user_id is not None:
        after_commit(conn, lambda: redis_marks.orders_changed(user_id))


async def list_orders_json(pool, redis, user_id, order_status, page, page_size) -> str:
    """list_orders as JSON text, from the cache when it is current."""
    page_key = order_list_key(user_id, order_status, page, page_size)
    version, cached = await redis.mget([orders_version_key(user_id), page_key])
    if version is None:  # first read, or the key was lost: start a version (another reader may win)
        await redis.set(orders_version_key(user_id), secrets.token_hex(8), nx=True, ex=ORDERS_VERSION_TTL)
        version = await redis.get(orders_version_key(user_id))
    elif cached is not None:
        cached_version, _, text = cached.partition("|")
        if cached_version == version:
            return text
    # the version was read BEFORE the database: a change committed meanwhile has replaced it,
    # so what we store now can only be served if nothing changed since
    text = json.dumps(await list_orders(pool, user_id, order_status, page, page_size), ensure_ascii=False,
                      separators=(",", ":"))
    await redis.set(page_key, f"{version}|{text}", ex=LIST_CACHE_TTL)
    return text


async def get_own_order(pool, user_id, order_id):
    """The caller's own order, or 50106 — the same answer whether it exists for someone else or not."""
    async with pool.acquire() as conn:
        order = await Q.get_own_order(conn, order_id=order_id, user_id=user_id)
    if order is None:
        raise BusinessError(ORDER_NOT_FOUND, "订单不存在")
    return order


# ---------------------------------------------------------------- status machine

async def explain_lost_transition(pool, user_id, order_id, action):
    """After a conditional UPDATE changed nothing: 50106 if not the caller's, else 50107."""
    order = await get_own_order(pool, user_id, order_id)
    raise BusinessError(BAD_STATUS, f"订单当前状态({order['status']})不能{action}")


async def confirm_receipt(pool, user_id, order_id):
    async def work(conn):
        changed = await Q.mark_received(conn, order_id=order_id, user_id=user_id, now=utcnow())
        if changed == 1:
            after_commit(conn, lambda: redis_marks.orders_changed(user_id))
        return changed

    if await run_transaction(pool, work) != 1:
        await explain_lost_transition(pool, user_id, order_id, "确认收货")


async def close_in_transaction(conn, order_id, reason) -> bool:
    """1 -> 5 and the stock back, inside the caller's transaction. False if the order was not awaiting payment."""
    if await Q.mark_closed(conn, order_id=order_id, reason=reason, now=utcnow()) != 1:
        return False
    returned = []
    for line in await rows(Q.get_order_lines(conn, order_id=order_id)):  # ascending SKU id, as create locks
        await Q.return_stock(conn, sku_id=line["sku_id"], count=line["count"])
        returned.append(line["sku_id"])
    # once committed, the units can be bought again: no sold-out mark may turn buyers away
    after_commit(conn, lambda: redis_marks.clear_sold_out(returned))
    order_changed_after_commit(conn, await Q.get_order_owner(conn, order_id=order_id))
    return True


async def cancel(pool, user_id, order_id):
    """POST status=2: the buyer cancels an unpaid order; stock comes back in the same transaction."""
    await get_own_order(pool, user_id, order_id)

    async def work(conn):
        return await close_in_transaction(conn, order_id, "cancel")

    if not await run_transaction(pool, work):
        await explain_lost_transition(pool, user_id, order_id, "取消")


async def order_to_pay(pool, user_id, order_id):
    """POST status=1: the caller's own order, awaiting payment and not past its deadline."""
    order = await get_own_order(pool, user_id, order_id)
    if order["status"] != AWAITING_PAYMENT:
        raise BusinessError(BAD_STATUS, "订单不是待付款状态")
    if order["pay_deadline"] <= utcnow():
        raise BusinessError(BAD_STATUS, "订单已超过支付期限")
    return order


async def ship(pool, order_id):
    """The merchant ships: 2 -> 3. Returns False when the order is not awaiting shipment."""
    async def work(conn):
        changed = await Q.mark_shipped(conn, order_id=order_id, now=utcnow())
        if changed == 1:
            order_changed_after_commit(conn, await Q.get_order_owner(conn, order_id=order_id))
        return changed

    return await run_transaction(pool, work) == 1


async def order_awaiting_payment(pool, order_id):
    """The order if it can still be paid (status 1, before its deadline), else None."""
    order = await get_order(pool, order_id)
    if order is None or order["status"] != AWAITING_PAYMENT or order["pay_deadline"] <= utcnow():
        return None
    return order


async def mark_pay_started(pool, order_id):
    """Remember that the buyer went to the cashier: reconciliation asks Alipay about these orders."""
    async def work(conn):
        await Q.mark_pay_started(conn, order_id=order_id, now=utcnow())

    await run_transaction(pool, work)


async def get_order(pool, order_id):
    """Any order by id (for Alipay's callbacks and the merchant), or None."""
    async with pool.acquire() as conn:
        return await Q.get_order(conn, order_id=order_id)
