"""The service's own URLs, defined once: server.py routes them, answers and Alipay calls link to them."""
from store.auth import pay_link_signature

ORDER_ID = r"[A-Za-z0-9_]{1,64}"          # also what Alipay accepts as out_trade_no
PAYMENT_RESULT = "/v1/orders/success/"    # Alipay's notify (POST) and the browser's return (GET)
PAY_LINK = "/v1/orders/{}/alipay"         # our link that signs the Alipay cashier URL when followed
PAY_RESULT_PAGE = "/static/payResult.html"
MY_ORDERS_PAGE = "/static/myOrders.html"
IMAGE_BASE = "/static/images/"


def pay_link(config, order_id: str) -> str:
    """The `pay_url` handed to the buyer: our own link, which signs the Alipay page-pay URL when the
    buyer actually goes to pay (fresh timestamp, and we learn that the cashier was opened)."""
    return f"{config.base_url}{PAY_LINK.format(order_id)}?sig={pay_link_signature(config.jwt_secret, order_id)}"


def notify_url(config) -> str:
    return config.base_url + PAYMENT_RESULT


def return_url(config) -> str:
    return config.base_url + PAY_RESULT_PAGE
