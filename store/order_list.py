"""A buyer's orders, page by page, and the Redis cache in front of them.

Order lists are read far more often than orders change. A rendered page is cached in Redis under
the buyer's current "orders version", a random token replaced after the commit of every change to
the buyer's orders (create, pay, ship, receive, cancel, timeout close). A page cached under an
older version is never served; a lost version key (eviction, restart) only means misses. The
database stays the truth: a miss reads it, and the TTL bounds what a hand edit in the database
(which changes no version) can leave stale.
"""
import json
import secrets

from redis.client import NEVER_DECODE

from db import Q, after_commit, rows
from store.batching import pipelined

LIST_CACHE_TTL = 60
ORDERS_VERSION_TTL = 24 * 3600


async def list_orders(services, user_id, order_status, page, page_size) -> dict:
    """One page, newest first: {"orders": [each order's JSON text, as the list shows it], "total",
    "page", "page_size"}.

    One query whatever the number of orders and lines, MariaDB shaping each order as JSON
    (sql/fragments/listed_order_json.sql); two for a page past the end, which must still tell the
    total.
    """
    async with services.pool.acquire() as conn:
        orders = await rows(Q.list_orders_page_json(conn, user_id=user_id, order_status=order_status,
                                                    limit=page_size, offset=(page - 1) * page_size))
        if orders:
            total = orders[0]["total"]
        elif order_status == 0:
            total = await Q.count_orders(conn, user_id=user_id)
        else:
            total = await Q.count_orders_in_status(conn, user_id=user_id, status=order_status)
    return {"orders": [o["order_json"] for o in orders], "total": total, "page": page, "page_size": page_size}


async def list_all_orders(services, status, page, page_size) -> dict:
    """The merchant's list: every buyer's orders (of one status, or all for 0), newest first; the
    same shape as list_orders, each order's JSON that of order_for_merchant."""
    async with services.pool.acquire() as conn:
        orders = await rows(Q.list_all_orders_page(conn, status=status, limit=page_size,
                                                   offset=(page - 1) * page_size))
        if orders:
            total = orders[0]["total"]
        else:
            total = await Q.count_all_orders(conn, status=status)
    return {"orders": [o["order_json"] for o in orders], "total": total, "page": page, "page_size": page_size}


async def order_for_merchant(services, order_id) -> dict | None:
    """One order as the merchant sees it (sql/fragments/merchant_order_json.sql), with what Alipay
    told us about it ("events") and its refunds; None if unknown."""
    async with services.pool.acquire() as conn:
        order_json = await Q.get_order_for_merchant(conn, order_id=order_id)
        if order_json is None:
            return None
        return {"order": json.loads(order_json), "events": await rows(Q.events_of_order(conn, order_id=order_id)),
                "refunds": await rows(Q.refunds_of_order(conn, order_id=order_id))}


# ---------------------------------------------------------------- the cache

# A buyer's version and pages share the hash tag {u<id>}: on a Redis Cluster they live in one slot,
# so reading the version and a page is still one MGET.
def orders_version_key(user_id) -> str:
    return f"orders_version:{{u{user_id}}}"


def order_list_key(user_id, order_status, page, page_size) -> str:
    return f"order_list:{{u{user_id}}}:{order_status}:{page}:{page_size}"


def orders_changed(redis, user_id):
    """The buyer's orders changed (committed): every cached page of theirs is stale.

    Returns the command: await it on a client; on a pipeline it is queued with the others."""
    return redis.set(orders_version_key(user_id), new_orders_version(), ex=ORDERS_VERSION_TTL)


def new_orders_version() -> str:
    return secrets.token_hex(8)


def orders_changed_after_commit(conn, redis, user_id):
    """Inside a transaction that changed an order of `user_id`: a new version once committed."""
    if user_id is not None:
        after_commit(conn, lambda: orders_changed(redis, user_id))


async def cached_page(redis, user_id, order_status, page, page_size) -> tuple[bytes | None, str]:
    """(the cached JSON of this page if it is current, as the bytes Redis holds, else None; the
    version to store a fresh one under).

    Read the version BEFORE the database: a change committed meanwhile replaces it, so a page
    stored under it can only be served if nothing changed since. The page comes back undecoded:
    it is written to the buyer as it is (no UTF-8 decoding and encoding again). Sent with the
    other requests' commands of this turn (store/batching.py).
    """
    version, cached = await pipelined(redis).execute_command(
        "MGET", orders_version_key(user_id), order_list_key(user_id, order_status, page, page_size),
        **{NEVER_DECODE: True})
    if version is None:  # first read, or the key was lost: start a version (another reader may win)
        await redis.set(orders_version_key(user_id), new_orders_version(), nx=True, ex=ORDERS_VERSION_TTL)
        return None, await redis.get(orders_version_key(user_id))
    version = version.decode()
    if cached is not None:
        cached_version, _, text = cached.partition(b"|")
        if cached_version.decode() == version:
            return text, version
    return None, version


async def cache_page(redis, user_id, order_status, page, page_size, version, text):
    await pipelined(redis).execute_command("SET", order_list_key(user_id, order_status, page, page_size),
                                           f"{version}|{text}", "EX", LIST_CACHE_TTL)
