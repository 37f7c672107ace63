"""The service's own URLs, defined once: server.py routes them, answers and Alipay calls link to them."""
from store.auth import pay_link_signature

# Today's ids are 16 digits (store/create_order.new_order_id); earlier ones are 30 characters with a hex
# tail: both keep working, and both are what Alipay accepts as out_trade_no.
ORDER_ID = r"[A-Za-z0-9_]{1,64}"
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


def return_url(config, order_id: str) -> str:
    """Where Alipay sends the buyer's browser after paying: DADASHOP_RETURN_URL (its `{order_id}`, if
    any, filled in: the original pay_success.html reads `?order_id=`) or our own result page."""
    if config.return_url:
        return config.return_url.replace("{order_id}", order_id)
    return config.base_url + PAY_RESULT_PAGE


def image_base(config) -> str:
    """The `base_url` of every answer that names images: absolute, so pages on another origin find them."""
    return config.base_url + IMAGE_BASE
