"""Register (POST /v1/users) and log in (POST /v1/tokens)."""
import os
import re

import pymysql

from db import Q
from handlers.base import BaseHandler
from store.auth import check_password_async, hash_password, hash_password_async, make_token
from store.errors import BusinessError

USERNAME = re.compile(r"[A-Za-z0-9_]{3,32}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"1\d{10}")

USERNAME_TAKEN = 10101
BAD_LOGIN = 10102


class UsersHandler(BaseHandler):
    async def post(self):
        username = self.body_str("uname", pattern=USERNAME)
        password = self.body_str("password", min_length=6, max_length=64)
        email = self.body_str("email", required=False, default="", max_length=128, pattern=EMAIL)
        phone = self.body_str("phone", required=False, default="", pattern=PHONE)
        password_hash = await hash_password_async(password)
        try:
            async with self.db.acquire() as conn:
                user_id = await Q.create_user(conn, username=username, password_hash=password_hash, email=email,
                                              phone=phone)
        except pymysql.err.IntegrityError:
            raise BusinessError(USERNAME_TAKEN, "用户名已存在") from None
        self.ok({"token": make_token(username, self.config.jwt_secret, user_id=user_id)}, username=username)


class TokensHandler(BaseHandler):
    async def post(self):
        username = self.body_str("username", max_length=32)
        password = self.body_str("password", max_length=64)
        async with self.db.acquire() as conn:
            user = await Q.get_user_by_name(conn, username=username)
        # the same answer (and about the same time) for an unknown user and a wrong password
        stored = user["password_hash"] if user else DUMMY_HASH
        if not await check_password_async(password, stored) or user is None:
            raise BusinessError(BAD_LOGIN, "用户名或密码错误")
        self.ok({"token": make_token(username, self.config.jwt_secret, user_id=user["id"])}, username=username)


# A real hash of a random password, checked when the user does not exist.
DUMMY_HASH = hash_password(os.urandom(12).hex())
