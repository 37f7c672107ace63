"""The cart: Redis hash `cart_<user_id>`, field = SKU id, value = JSON {"count": n, "selected": 1|0}.

Redis holds only the buyer's intent; prices, names and stock always come from the database.
"""
import json

from store.batching import pipelined
from store.catalog import load_skus
from store.errors import UNKNOWN_SKU, BusinessError, OutOfStock, bad_params

MAX_COUNT_PER_ITEM = 99
# Kinds of item (SKUs) a cart holds, as real stores cap it: without a cap a bot's cart, and so
# its orders, could hold thousands of lines (a statement and an order-list entry each as large).
MAX_CART_ITEMS = 200

# Add `delta` to one item atomically, capped: returns the new count, -1 when over the count's cap,
# -2 when the item is new and the cart already holds MAX_CART_ITEMS kinds.
# (A read-modify-write in Python could lose one of two concurrent adds.)
_ADD_SCRIPT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local item = {count = 0, selected = 1}
if raw then
  item = cjson.decode(raw)
elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return -2
end
local new = tonumber(item['count']) + tonumber(ARGV[2])
if new > tonumber(ARGV[3]) then return -1 end
if new < 1 then new = 1 end
item['count'] = new
if ARGV[4] == '1' then item['selected'] = 1 end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(item))
return new
"""

_SELECT_SCRIPT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local item = cjson.decode(raw)
item['selected'] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(item))
return 1
"""

_SELECT_ALL_SCRIPT = """
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local item = cjson.decode(all[i + 1])
  item['selected'] = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], all[i], cjson.encode(item))
end
return #all / 2
"""


def cart_key(user_id) -> str:
    return f"cart_{user_id}"


async def read_cart(redis, user_id) -> dict:
    """{sku_id: {"count": n, "selected": 0|1}}; malformed entries are skipped, not fatal."""
    return parse_cart(await redis.hgetall(cart_key(user_id)))


def parse_cart(fields: dict) -> dict:
    items = {}
    for field, raw in fields.items():
        try:
            value = json.loads(raw)
            items[int(field)] = {"count": int(value["count"]), "selected": int(value.get("selected", 1))}
        except (ValueError, KeyError, TypeError):
            continue
    return items


# The cart and, for each of its SKUs, whether the key `<ARGV[1]><sku id>` exists (the sold-out
# marks of store/sold_out.py), in one round trip. The mark keys are not declared in KEYS: fine on
# one Redis server, not on a Redis Cluster (they live in other slots), where the caller reads the
# two apart.
_CART_AND_MARKS_SCRIPT = """
local fields = redis.call('HGETALL', KEYS[1])
local marks = {}
for i = 1, #fields, 2 do
  marks[#marks + 1] = redis.call('EXISTS', ARGV[1] .. fields[i])
end
return {fields, marks}
"""


async def read_cart_and_marks(redis, user_id, mark_prefix) -> tuple[dict, set]:
    """(the cart as read_cart gives it, the ids of its SKUs whose key `mark_prefix<id>` exists).
    One Redis server only (see the script)."""
    # with the other requests' commands of this turn (a flash sale's sold-out answers each make one)
    fields, marks = await pipelined(redis).run_script(_CART_AND_MARKS_SCRIPT, [cart_key(user_id)], [mark_prefix])
    flat = dict(zip(fields[::2], fields[1::2]))
    marked = set()
    for field, mark in zip(fields[::2], marks):
        if mark and field.isdigit():
            marked.add(int(field))
    return parse_cart(flat), marked


def check_can_sell(sku, sku_id, count):
    """An SKU a buyer may put `count` of in a cart: exists, on sale, in stock."""
    if sku is None or not sku["is_launched"]:
        raise BusinessError(UNKNOWN_SKU, f"商品[{sku_id}]不存在或已下架")
    if count > sku["stock"]:
        raise OutOfStock(sku_id)


async def add_item(redis, user_id, sku, count, *, select=True):
    """Add `count` to the item (negative: remove some, never below 1); capped by stock and the limit."""
    cap = min(MAX_COUNT_PER_ITEM, sku["stock"])
    new = await redis.eval(_ADD_SCRIPT, 1, cart_key(user_id), sku["id"], count, cap, "1" if select else "0",
                           MAX_CART_ITEMS)
    if new == -2:
        raise bad_params(f"购物车最多放{MAX_CART_ITEMS}种商品")
    if new == -1:
        if cap < MAX_COUNT_PER_ITEM:
            raise OutOfStock(sku["id"])
        raise bad_params(f"每件商品最多购买{MAX_COUNT_PER_ITEM}件")
    return new


async def set_selected(redis, user_id, sku_id, selected: bool) -> bool:
    return bool(await redis.eval(_SELECT_SCRIPT, 1, cart_key(user_id), sku_id, 1 if selected else 0))


async def set_all_selected(redis, user_id, selected: bool):
    await redis.eval(_SELECT_ALL_SCRIPT, 1, cart_key(user_id), 1 if selected else 0)


async def remove_items(redis, user_id, sku_ids):
    if sku_ids:
        await redis.hdel(cart_key(user_id), *[str(i) for i in sku_ids])


async def sellable_sku(services, sku_id, count, *, check_stock=True) -> dict:
    """The SKU, checked that a buyer may hold `count` of it (stock is not checked when lowering a count)."""
    sku = (await load_skus(services, [sku_id])).get(sku_id)
    check_can_sell(sku, sku_id, count if check_stock else 0)
    if not check_stock:
        sku = dict(sku, stock=MAX_COUNT_PER_ITEM)  # lowering a count needs no stock
    return sku


async def cart_lines(services, user_id) -> list:
    """The cart as (sku, item) pairs by SKU id, with today's SKU data; SKUs gone from the catalog are left out."""
    items = await read_cart(services.redis, user_id)
    skus = await load_skus(services, items)
    return [(skus[sku_id], items[sku_id]) for sku_id in sorted(items) if sku_id in skus]
