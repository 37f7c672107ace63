"""Settling: what a buyer is about to order (cart selection or buy-now), at today's prices."""
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

from db import Q, rows
from store import cart
from store.catalog import skus_by_id
from store.errors import NOTHING_TO_SETTLE, UNKNOWN_SKU, BusinessError

MAX_BUY_NUM = cart.MAX_COUNT_PER_ITEM
CART, BUY_NOW = 0, 1  # settlement_type


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


@dataclass(frozen=True)
class Totals:
    count: int
    goods: Decimal
    freight: Decimal

    @property
    def payment(self) -> Decimal:
        """What the buyer pays: goods and freight."""
        return self.goods + self.freight


def buy_now_key(user_id) -> str:
    return f"buy_now:{user_id}"


async def remember_buy_now(services, user_id, sku_id, buy_num):
    """The buyer's last buy-now confirmation, for the payment window: the original pages' create body
    has only `address_id` and `settlement_type`. Each confirmation gets an idempotency key of its own,
    so that creating from it twice (the original payment page creates on every load) is one order."""
    remembered = {"sku_id": sku_id, "buy_num": buy_num, "idempotency_key": f"buy_now:{secrets.token_hex(8)}"}
    await services.redis.set(buy_now_key(user_id), json.dumps(remembered), ex=services.config.order_timeout)


async def remembered_buy_now(redis, user_id) -> dict:
    """{sku_id, buy_num, idempotency_key} of the buyer's last buy-now confirmation; 50101 when none."""
    raw = await redis.get(buy_now_key(user_id))
    try:
        remembered = json.loads(raw) if raw else None
        return {"sku_id": int(remembered["sku_id"]), "buy_num": int(remembered["buy_num"]),
                "idempotency_key": str(remembered["idempotency_key"])}
    except (ValueError, KeyError, TypeError):
        raise BusinessError(NOTHING_TO_SETTLE, "立即购买需要 sku_id 和 buy_num (或先确认立即购买的商品)") from None


async def wanted_items(redis, user_id, settlement_type, sku_id=None, buy_num=None) -> dict:
    """{sku_id: count} the buyer is about to order: the cart's selected items (CART) or
    `sku_id` × `buy_num` (BUY_NOW). A bad selection or count is a 50101."""
    if settlement_type == CART:
        return selected_items(await cart.read_cart(redis, user_id))
    if sku_id is None and buy_num is None:  # the original pages: what the buyer last confirmed
        remembered = await remembered_buy_now(redis, user_id)
        sku_id, buy_num = remembered["sku_id"], remembered["buy_num"]
    if sku_id is None or buy_num is None:
        raise BusinessError(NOTHING_TO_SETTLE, "立即购买需要 sku_id 和 buy_num")
    return checked_counts({sku_id: buy_num})


def selected_items(items) -> dict:
    """{sku_id: count} of a cart's selected items; none selected is a 50101."""
    wanted = {sid: item["count"] for sid, item in items.items() if item["selected"]}
    if not wanted:
        raise BusinessError(NOTHING_TO_SETTLE, "购物车中没有选中的商品")
    return checked_counts(wanted)


def checked_counts(wanted) -> dict:
    if len(wanted) > cart.MAX_CART_ITEMS:  # a cart filled before the cap existed
        raise BusinessError(NOTHING_TO_SETTLE, f"一次最多结算{cart.MAX_CART_ITEMS}种商品")
    for sid, count in wanted.items():
        if not 1 <= count <= MAX_BUY_NUM:
            raise BusinessError(NOTHING_TO_SETTLE, f"商品[{sid}]的购买数量应在1到{MAX_BUY_NUM}之间")
    return wanted


def lines_of(wanted, skus) -> list:
    """Order lines sorted by SKU id; an unknown or off-shelf SKU is a 50101 naming it."""
    lines = []
    for sid in sorted(wanted):
        sku = skus.get(sid)
        if sku is None or not sku["is_launched"]:
            raise BusinessError(UNKNOWN_SKU, f"商品[{sid}]不存在或已下架")
        lines.append(Line(sid, wanted[sid], sku["price"], sku["name"], sku["default_image_url"],
                          sku["attr_names"], sku["attr_vals"]))
    return lines


def totals(lines, freight) -> Totals:
    return Totals(count=sum(line.count for line in lines),
                  goods=sum((line.amount for line in lines), Decimal("0")), freight=freight)


@dataclass(frozen=True)
class Confirmation:
    addresses: list
    lines: list
    totals: Totals


async def confirm(services, user_id, settlement_type, sku_id=None, buy_num=None) -> Confirmation:
    """GET status=0: the buyer's addresses (default first) and what would be ordered."""
    wanted = await wanted_items(services.redis, user_id, settlement_type, sku_id, buy_num)
    async with services.pool.acquire() as conn:
        addresses = await rows(Q.list_addresses(conn, user_id=user_id))
        lines = lines_of(wanted, await skus_by_id(conn, wanted))
    if settlement_type == BUY_NOW and sku_id is not None:  # a new buy-now confirmation: create may follow
        await remember_buy_now(services, user_id, sku_id, buy_num)
    return Confirmation(addresses, lines, totals(lines, services.config.freight))
