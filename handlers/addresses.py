"""The address book: GET|POST /v1/users/<username>/address, PUT|DELETE .../address/<id>."""
import re

from handlers import views
from handlers.base import BaseHandler, authenticated
from store import addresses

MOBILE = re.compile(r"1\d{10}")
POSTCODE = re.compile(r"\d{6}")


class AddressListHandler(BaseHandler):
    @authenticated
    async def get(self, username):
        self.check_own_username(username)
        found = [views.address(row) for row in await addresses.list_addresses(self.services, self.user["id"])]
        self.ok(found, addresslist=found)

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
        row = await addresses.add_address(self.services, self.user["id"], fields, wants_default)
        self.ok(views.address(row))


class AddressHandler(BaseHandler):
    @authenticated
    async def put(self, username, address_id):
        """Make this address the default one."""
        self.check_own_username(username)
        await addresses.make_default(self.services, self.user["id"], int(address_id))
        self.ok()

    @authenticated
    async def delete(self, username, address_id):
        self.check_own_username(username)
        await addresses.remove(self.services, self.user["id"], int(address_id))
        self.ok()
