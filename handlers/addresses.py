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
        row = await addresses.add_address(self.services, self.user["id"], address_fields(self),
                                          wants_default(self))
        self.ok(views.address(row))


ADDRESS_FIELDS = ("receiver", "receiver_phone", "address", "postcode", "tag")


def address_fields(handler) -> dict:
    """The address in the request body, checked (the original pages' names)."""
    return dict(
        receiver=handler.body_str("receiver", max_length=32),
        receiver_mobile=handler.body_str("receiver_phone", pattern=MOBILE),
        address=handler.body_str("address", max_length=255),
        postcode=handler.body_str("postcode", required=False, default="", pattern=POSTCODE),
        tag=handler.body_str("tag", required=False, default="", max_length=16),
    )


def wants_default(handler) -> bool:
    return handler.json_body().get("is_default") in (True, 1, "1", "true")


class AddressHandler(BaseHandler):
    @authenticated
    async def put(self, username, address_id):
        """With address fields: edit the address (and make it the default with "is_default");
        without: make it the default."""
        self.check_own_username(username)
        if any(name in self.json_body() for name in ADDRESS_FIELDS):
            row = await addresses.edit_address(self.services, self.user["id"], int(address_id),
                                               address_fields(self), wants_default(self))
            return self.ok(views.address(row))
        await addresses.make_default(self.services, self.user["id"], int(address_id))
        self.ok()

    @authenticated
    async def delete(self, username, address_id):
        self.check_own_username(username)
        await addresses.remove(self.services, self.user["id"], int(address_id))
        self.ok()
