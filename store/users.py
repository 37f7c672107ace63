"""Buyers: register, log in, and the user id behind a token."""
import os

import pymysql

from db import Q
from store.auth import HASH_SLOTS, check_password_async, hash_password, hash_password_async, make_token
from store import cart
from store.catalog import load_skus
from store.errors import BAD_LOGIN, USERNAME_TAKEN, BusinessError

# A real hash of a random password, checked when the user does not exist.
DUMMY_HASH = hash_password(os.urandom(12).hex())
MAX_CACHED_USER_IDS = 200_000


def refuse_if_busy(services):
    """429 at once when this process already runs as many password hashes as it may: checked first,
    so a refused login costs neither a rate-limit count nor a database lookup."""
    HASH_SLOTS.refuse_if_full(services.config.max_concurrent_hashes)


async def register(services, username, password, email, phone) -> str:
    """A new buyer; returns a login token. A taken name is 10101."""
    password_hash = await hash_password_async(password, services.config.max_concurrent_hashes)
    try:
        async with services.pool.acquire() as conn:
            user_id = await Q.create_user(conn, username=username, password_hash=password_hash, email=email,
                                          phone=phone)
    except pymysql.err.IntegrityError:
        raise BusinessError(USERNAME_TAKEN, "用户名已存在") from None
    return make_token(username, services.config.jwt_secret, user_id=user_id)


async def log_in(services, username, password) -> str:
    """A login token; 10102 for a wrong name or password (the same answer, in about the same time)."""
    refuse_if_busy(services)  # before the lookup: a flood costs nothing
    async with services.pool.acquire() as conn:
        user = await Q.get_user_by_name(conn, username=username)
    stored = user["password_hash"] if user else DUMMY_HASH
    if not await check_password_async(password, stored, services.config.max_concurrent_hashes) or user is None:
        raise BusinessError(BAD_LOGIN, "用户名或密码错误")
    return make_token(username, services.config.jwt_secret, user_id=user["id"])


async def user_id_of(services, username):
    """The id of a user named in an older token (without `uid`), or None; cached per process:
    users are never deleted or renamed, so an entry never goes stale."""
    user_id = services.user_ids.get(username)
    if user_id is None:
        async with services.pool.acquire() as conn:
            user = await Q.get_user_by_name(conn, username=username)
        if user is None:
            return None
        if len(services.user_ids) > MAX_CACHED_USER_IDS:
            services.user_ids.clear()
        user_id = services.user_ids[username] = user["id"]
    return user_id


# Per SKU the larger of the two counts, selected (as the original store merged); a kind the cart
# does not hold yet only while it holds fewer than ARGV[1] (MAX_CART_ITEMS); returns the cart's size.
_MERGE_OFFLINE_CART_SCRIPT = """
for i = 2, #ARGV, 2 do
  local count = tonumber(ARGV[i + 1])
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local held = tonumber(cjson.decode(raw)['count'])
    if held and held > count then count = held end
  end
  if raw or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode({count = count, selected = 1}))
  end
end
return redis.call('HLEN', KEYS[1])
"""


async def merge_offline_cart(services, username, items: dict) -> int:
    """At login, the cart the original pages kept in the browser ({sku_id: count}) joins the buyer's
    cart: SKUs on sale only, each count capped by stock and the per-item limit. Returns how many
    items the cart holds (the login answer's `len`). A full cart (MAX_CART_ITEMS kinds) takes no
    new kind: a login never fails for it."""
    user_id = await user_id_of(services, username)
    skus = await load_skus(services, items) if items else {}
    args = [cart.MAX_CART_ITEMS]
    for sku_id, count in items.items():
        sku = skus.get(sku_id)
        if sku and sku["is_launched"] and sku["stock"] > 0:
            args += [sku_id, min(count, sku["stock"], cart.MAX_COUNT_PER_ITEM)]
    return await services.redis.eval(_MERGE_OFFLINE_CART_SCRIPT, 1, cart.cart_key(user_id), *args)
