"""The cart: GET|POST|PUT|DELETE /v1/carts/<username>; each answers the whole cart as `data`."""
from handlers import views
from handlers.base import BaseHandler, authenticated
from store import cart
from store.errors import BAD_PARAMS, OUT_OF_STOCK, UNKNOWN_SKU, BusinessError, bad_params

PUT_STATES = {"add", "del", "select", "unselect", "selectall", "unselectall"}

# The cart module's own codes (the original cart API, which the original cart page reads: 30103);
# the HTTP status stays the service's (a malformed request is still a 400).
CART_CODES = {UNKNOWN_SKU: 30101, BAD_PARAMS: 30102, OUT_OF_STOCK: 30103}


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
        sku = await cart.sellable_sku(self.services, sku_id, count)
        await cart.add_item(self.services.redis, self.user["id"], sku, count)
        await self.reply_cart()

    @authenticated
    async def put(self, username):
        self.check_own_username(username)
        state = self.json_body().get("state")
        if not isinstance(state, str) or state not in PUT_STATES:
            raise bad_params(f"参数 state 必须是 {'/'.join(sorted(PUT_STATES))} 之一")
        redis, user_id = self.services.redis, self.user["id"]
        if state in ("selectall", "unselectall"):
            await cart.set_all_selected(redis, user_id, state == "selectall")
        else:
            sku_id = self.body_int("sku_id", minimum=1)
            items = await cart.read_cart(redis, user_id)
            if sku_id not in items:
                raise BusinessError(UNKNOWN_SKU, f"购物车中没有商品[{sku_id}]")
            if state == "add":
                sku = await cart.sellable_sku(self.services, sku_id, items[sku_id]["count"] + 1)
                await cart.add_item(redis, user_id, sku, 1, select=False)
            elif state == "del":
                # never below 1 (removing is DELETE); at 1 the cart stays as it is, as the original's did:
                # its cart page sends "del" also when the count shows 1
                if items[sku_id]["count"] > 1:
                    sku = await cart.sellable_sku(self.services, sku_id, 0, check_stock=False)
                    await cart.add_item(redis, user_id, sku, -1, select=False)
            else:
                await cart.set_selected(redis, user_id, sku_id, state == "select")
        await self.reply_cart()

    @authenticated
    async def delete(self, username):
        self.check_own_username(username)
        sku_id = self.body_int("sku_id", minimum=1)
        await cart.remove_items(self.services.redis, self.user["id"], [sku_id])
        await self.reply_cart()

    async def reply_cart(self):
        self.ok(views.cart(await cart.cart_lines(self.services, self.user["id"])))

    def answer_business_error(self, exc):
        if exc.code in CART_CODES:
            exc.code = CART_CODES[exc.code]
        super().answer_business_error(exc)
