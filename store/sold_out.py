"""Sold-out marks: shed the doomed requests of a flash sale without touching the database.

A sold-out SKU draws the most requests of a flash sale, all of them doomed. The mark
`sold_out:<sku_id>` in Redis lets create answer 50103 without the database. Redis never decides
who gets a unit: the mark is set only after the database said the stock is 0, it only ever
refuses, and it goes away when stock comes back (after the commit that returned it), or by its
TTL whatever happens (e.g. stock edited in the database by hand).
"""
from db import Q
from store.batching import pipelined

SOLD_OUT_TTL = 30


def sold_out_key(sku_id) -> str:
    return f"sold_out:{sku_id}"


async def first_sold_out(redis, sku_ids):
    """The lowest id among `sku_ids` that carries a sold-out mark, or None.

    One GET per key in one round trip, not an MGET: on a Redis Cluster the marks of different SKUs
    live in different slots (a cluster pipeline sends each GET to its node)."""
    ids = sorted(sku_ids)
    if len(ids) == 1:
        # buy-now, most of a flash sale: with the other requests' commands of this turn
        return ids[0] if await pipelined(redis).execute_command("GET", sold_out_key(ids[0])) else None
    async with redis.pipeline(transaction=False) as pipe:
        for i in ids:
            pipe.get(sold_out_key(i))
        marks = await pipe.execute()
    return next((i for i, mark in zip(ids, marks) if mark), None)


async def mark_sold_out(services, sku_id):
    """Set the mark of an SKU the database just reported at stock 0, then read the stock again:
    if a unit came back meanwhile (its clear may have run before our set), take the mark away."""
    await services.redis.set(sold_out_key(sku_id), "1", ex=SOLD_OUT_TTL)
    async with services.pool.acquire() as conn:
        stock = await Q.get_sku_stock(conn, sku_id=sku_id)
    if stock != 0:
        await services.redis.delete(sold_out_key(sku_id))


async def clear_sold_out(redis, sku_ids):
    """Stock came back (committed): these SKUs can be bought again."""
    if sku_ids:
        await redis.delete(*[sold_out_key(i) for i in sku_ids])
