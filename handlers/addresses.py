"""The address book: GET|POST /v1/users/<username>/address, PUT|DELETE .../address/<id>."""
import re

from db import Q, rows, run_transaction
from handlers.base import BaseHandler, authenticated
from store.errors import BAD_ADDRESS, BusinessError

MOBILE = re.compile(r"1\d{10}")
POSTCODE = re.compile(r"\d{6}")
MAX_ADDRESSES = 20


def address_json(row):
    return {"id": row["id"], "receiver": row["receiver"], "receiver_mobile": row["receiver_mobile"],
            "address": row["address"], "postcode": row["postcode"], "tag": row["tag"],
            "is_default": bool(row["is_default"])}


class AddressListHandler(BaseHandler):
    @authenticated
    async def get(self, username):
        self.check_own_username(username)
        async with self.db.acquire() as conn:
            found = await rows(Q.list_addresses(conn, user_id=self.user["id"]))
        self.ok([address_json(r) for r in found], addresslist=[address_json(r) for r in found])

    @authenticated
    async def post(self, username):
        self.check_own_username(username)
        fields = dict(
            receiver=self.body_str("receiver", max_length=32),
            receiver_mobile=self.body_str("receiver_phone", pattern=MOBILE),
            address=self.body_str("address", max_length=255),
            postcode=self.body_str("postcode", required=False, default="", pattern=POSTCODE),
            tag=self.body_str("tag", required=False, default="", max_length=16),
        )
        wants_default = self.json_body().get("is_default") in (True, 1, "1", "true")
        user_id = self.user["id"]

        async def add(conn):
            count = await Q.count_alive_addresses(conn, user_id=user_id)
            if count >= MAX_ADDRESSES:
                raise BusinessError(BAD_ADDRESS, f"最多保存{MAX_ADDRESSES}个收货地址")
            is_default = wants_default or count == 0  # the first address is the default
            if is_default:
                await Q.clear_default_address(conn, user_id=user_id)
            new_id = await Q.add_address(conn, user_id=user_id, is_default=int(is_default), **fields)
            return await Q.get_alive_address(conn, address_id=new_id, user_id=user_id)

        row = await run_transaction(self.db, add)
        self.ok(address_json(row))


class AddressHandler(BaseHandler):
    @authenticated
    async def put(self, username, address_id):
        """Make this address the default one."""
        self.check_own_username(username)
        user_id, address_id = self.user["id"], int(address_id)

        async def make_default(conn):
            if await Q.get_alive_address(conn, address_id=address_id, user_id=user_id) is None:
                raise BusinessError(BAD_ADDRESS, "收货地址无效")
            await Q.clear_default_address(conn, user_id=user_id)
            await Q.set_default_address(conn, address_id=address_id, user_id=user_id)

        await run_transaction(self.db, make_default)
        self.ok()

    @authenticated
    async def delete(self, username, address_id):
        """Soft delete: orders keep their snapshot; a deleted default passes to the newest address."""
        self.check_own_username(username)
        user_id, address_id = self.user["id"], int(address_id)

        async def remove(conn):
            row = await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)
            if row is None:
                raise BusinessError(BAD_ADDRESS, "收货地址无效")
            await Q.soft_delete_address(conn, address_id=address_id, user_id=user_id)
            if row["is_default"]:
                newest = await Q.newest_alive_address(conn, user_id=user_id)
                if newest:
                    await Q.set_default_address(conn, address_id=newest, user_id=user_id)

        await run_transaction(self.db, remove)
        self.ok()
