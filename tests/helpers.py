"""What several test modules share: the test servers' addresses, keys, and the order requests."""
import os
import socket

MYSQL_URL = os.environ.get("DADASHOP_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306/")
REDIS_URL = os.environ.get("DADASHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379")
ADMIN_KEY = "test-admin-key"
PASSWORD = "secret123"
P = "/v1/orders/processing/"
SHIPMENT = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}  # what the merchant ships with


def mysql_url_of(database_name):
    """The URL of a database on the test MySQL server."""
    return MYSQL_URL.rstrip("/") + "/" + database_name


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def create_order(api, user, *, settlement_type=0, key=None, **extra):
    """POST status=0 for `user` to their address: (http status, body). `extra` adds body fields."""
    body = {"status": 0, "address_id": user["address_id"], "settlement_type": settlement_type, **extra}
    headers = {"Idempotency-Key": key} if key else None
    return await api.post(P, json_body=body, token=user["token"], headers=headers)


async def buy_now(api, user, sku_id, count=1, **kw):
    """Create an order of `count` × `sku_id` (buy-now): (http status, body)."""
    return await create_order(api, user, settlement_type=1, sku_id=sku_id, buy_num=count, **kw)
