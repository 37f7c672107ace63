"""Register (POST /v1/users) and log in (POST /v1/tokens)."""
import re

from handlers.base import BaseHandler, int_param
from store import users
from store.errors import BusinessError

USERNAME = re.compile(r"[A-Za-z0-9_]{3,32}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"1\d{10}")


class UsersHandler(BaseHandler):
    async def post(self):
        username = self.body_str("uname", pattern=USERNAME)
        password = self.body_str("password", min_length=6, max_length=64)
        email = self.body_str("email", required=False, default="", max_length=128, pattern=EMAIL)
        phone = self.body_str("phone", required=False, default="", pattern=PHONE)
        users.refuse_if_busy(self.services)
        await self.rate_limit("register_ip", self.client_ip)
        token = await users.register(self.services, username, password, email, phone)
        self.ok({"token": token}, username=username)


class TokensHandler(BaseHandler):
    async def post(self):
        username = self.body_str("username", max_length=32)
        password = self.body_str("password", max_length=64)
        users.refuse_if_busy(self.services)
        await self.rate_limit("login_ip", self.client_ip)
        await self.rate_limit("login_account", username.lower())
        token = await users.log_in(self.services, username, password)
        # the original login page sends the cart it kept offline, and shows the count it gets back
        count = await users.merge_offline_cart(self.services, username, offline_cart(self.json_body().get("cart")))
        self.ok({"token": token, "len": count}, username=username)


MAX_OFFLINE_CART = 100  # entries of an offline cart looked at


def offline_cart(value) -> dict:
    """{sku_id: count} from the `cart` the original pages keep in localStorage (`[{"id": "12",
    "count": "2", "name": ...}, ...]`). Entries without a positive id and count are skipped: a stale
    offline cart must not stop a login."""
    items = {}
    for entry in value[:MAX_OFFLINE_CART] if isinstance(value, list) else ():
        try:
            sku_id = int_param(entry.get("id"), "id", minimum=1, maximum=2 ** 32 - 1)
            count = int_param(entry.get("count"), "count", minimum=1, maximum=1_000_000)
        except (AttributeError, BusinessError):
            continue
        items[sku_id] = max(items.get(sku_id, 0), count)
    return items
