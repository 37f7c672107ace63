"""Register (POST /v1/users) and log in (POST /v1/tokens)."""
import re

from handlers.base import BaseHandler
from store import users

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
        self.ok({"token": token}, username=username)
