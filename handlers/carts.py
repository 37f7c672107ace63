"""The cart: GET|POST|PUT|DELETE /v1/carts/<username>; each answers the whole cart as `data`."""
from handlers.base import BaseHandler, authenticated
from store import cart
from store.catalog import load_skus
from store.errors import BusinessError, NOTHING_TO_SETTLE, bad_params
from store.money import money

PUT_STATES = {"add", "del", "select", "unselect", "selectall", "unselectall"}


class CartHandler(BaseHandler):
    @authenticated
    async def get(self, username):
        self.check_own_username(username)
        await self.reply_cart()

    @authenticated
    async def post(self, username):
        """Add {"sku_id", "count"} to the cart (added to what is already there)."""
        self.check_own_username(username)
        sku_id = self.body_int("sku_id", minimum=1)
        count = self.body_int("count", minimum=1, maximum=cart.MAX_COUNT_PER_ITEM)
        sku = await self.sellable_sku(sku_id, count)
        await cart.add_item(self.redis, self.user["id"], sku, count)
        await self.reply_cart()

    @authenticated
    async def put(self, username):
        self.check_own_username(username)
        state = self.json_body().get("state")
        if state not in PUT_STATES:
            raise bad_params(f"参数 state 必须是 {'/'.join(sorted(PUT_STATES))} 之一")
        user_id = self.user["id"]
        if state in ("selectall", "unselectall"):
            await cart.set_all_selected(self.redis, user_id, state == "selectall")
        else:
            sku_id = self.body_int("sku_id", minimum=1)
            items = await cart.read_cart(self.redis, user_id)
            if sku_id not in items:
                raise BusinessError(NOTHING_TO_SETTLE, f"购物车中没有商品[{sku_id}]")
            if state == "add":
                sku = await self.sellable_sku(sku_id, items[sku_id]["count"] + 1)
                await cart.add_item(self.redis, user_id, sku, 1, select=False)
            elif state == "del":
                if items[sku_id]["count"] <= 1:
                    raise bad_params("数量不能小于1, 如需移除请删除该商品")
                sku = await self.sellable_sku(sku_id, 0, check_stock=False)
                await cart.add_item(self.redis, user_id, sku, -1, select=False)
            else:
                await cart.set_selected(self.redis, user_id, sku_id, state == "select")
        await self.reply_cart()

    @authenticated
    async def delete(self, username):
        self.check_own_username(username)
        sku_id = self.body_int("sku_id", minimum=1)
        await cart.remove_items(self.redis, self.user["id"], [sku_id])
        await self.reply_cart()

    async def sellable_sku(self, sku_id, count, *, check_stock=True):
        async with self.db.acquire() as conn:
            sku = (await load_skus(conn, [sku_id])).get(sku_id)
        cart.check_can_sell(sku, sku_id, count if check_stock else 0)
        if not check_stock:
            sku = dict(sku, stock=cart.MAX_COUNT_PER_ITEM)  # lowering a count needs no stock
        return sku

    async def reply_cart(self):
        items = await cart.read_cart(self.redis, self.user["id"])
        async with self.db.acquire() as conn:
            skus = await load_skus(conn, items)
        data = []
        for sku_id, item in items.items():
            sku = skus.get(sku_id)
            if sku is None:
                continue  # deleted from the catalog: nothing to show or buy
            data.append({"id": sku_id, "name": sku["name"], "count": item["count"],
                         "selected": item["selected"], "default_image_url": sku["default_image_url"],
                         "price": money(sku["price"]), "stock": sku["stock"], "is_launched": bool(sku["is_launched"]),
                         "sku_sale_attr_name": sku["attr_names"], "sku_sale_attr_val": sku["attr_vals"]})
        data.sort(key=lambda entry: entry["id"])
        self.ok(data)
