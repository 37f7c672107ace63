"""The cart: Redis hash `cart_<user_id>`, field = SKU id, value = JSON {"count": n, "selected": 1|0}.

Redis holds only the buyer's intent; prices, names and stock always come from the database.
"""
import json

from store.errors import NOTHING_TO_SETTLE, OUT_OF_STOCK, BusinessError, bad_params

MAX_COUNT_PER_ITEM = 99

# Add `delta` to one item atomically, capped: returns the new count, or -1 when over the cap.
# (A read-modify-write in Python could lose one of two concurrent adds.)
_ADD_SCRIPT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local item = {count = 0, selected = 1}
if raw then item = cjson.decode(raw) end
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
    items = {}
    for field, raw in (await redis.hgetall(cart_key(user_id))).items():
        try:
            value = json.loads(raw)
            items[int(field)] = {"count": int(value["count"]), "selected": int(value.get("selected", 1))}
        except (ValueError, KeyError, TypeError):
            continue
    return items


def check_can_sell(sku, sku_id, count):
    """An SKU a buyer may put `count` of in a cart: exists, on sale, in stock."""
    if sku is None or not sku["is_launched"]:
        raise BusinessError(NOTHING_TO_SETTLE, f"商品[{sku_id}]不存在或已下架")
    if count > sku["stock"]:
        raise BusinessError(OUT_OF_STOCK, f"商品[{sku_id}]库存不足")


async def add_item(redis, user_id, sku, count, *, select=True):
    """Add `count` to the item (negative: remove some, never below 1); capped by stock and the limit."""
    cap = min(MAX_COUNT_PER_ITEM, sku["stock"])
    new = await redis.eval(_ADD_SCRIPT, 1, cart_key(user_id), sku["id"], count, cap, "1" if select else "0")
    if new == -1:
        if cap < MAX_COUNT_PER_ITEM:
            raise BusinessError(OUT_OF_STOCK, f"商品[{sku['id']}]库存不足")
        raise bad_params(f"每件商品最多购买{MAX_COUNT_PER_ITEM}件")
    return new


async def set_selected(redis, user_id, sku_id, selected: bool) -> bool:
    return bool(await redis.eval(_SELECT_SCRIPT, 1, cart_key(user_id), sku_id, 1 if selected else 0))


async def set_all_selected(redis, user_id, selected: bool):
    await redis.eval(_SELECT_ALL_SCRIPT, 1, cart_key(user_id), 1 if selected else 0)


async def remove_items(redis, user_id, sku_ids):
    if sku_ids:
        await redis.hdel(cart_key(user_id), *[str(i) for i in sku_ids])
