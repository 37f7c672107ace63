"""Paying orders through Alipay: the pay link, the signed page-pay URL, and (below) what Alipay tells us."""
import hashlib
import hmac
import logging

from store.money import money
from store.orders import SELLER_NAME

log = logging.getLogger("dadashop.payments")


def pay_link_signature(secret: str, order_id: str) -> str:
    return hmac.new(secret.encode(), f"pay:{order_id}".encode(), hashlib.sha256).hexdigest()[:32]


def pay_link(config, order_id: str) -> str:
    """The `pay_url` handed to the buyer: our own link, which signs the Alipay page-pay URL when the
    buyer actually goes to pay (fresh timestamp, and we learn that the cashier was opened)."""
    return f"{config.base_url}/v1/orders/{order_id}/alipay?sig={pay_link_signature(config.jwt_secret, order_id)}"


def check_pay_link(config, order_id: str, sig: str) -> bool:
    return hmac.compare_digest(pay_link_signature(config.jwt_secret, order_id), sig or "")


def pay_data(config, order) -> dict:
    """The answer of create (POST 0) and pay (POST 1): always the order's stored total."""
    return {"saller": SELLER_NAME, "total_amount": money(order["total_amount"]), "order_id": order["order_id"],
            "pay_url": pay_link(config, order["order_id"])}


def alipay_page_pay_url(alipay, config, order) -> str:
    return alipay.page_pay_url(
        out_trade_no=order["order_id"], total_amount=order["total_amount"],
        subject=f"{SELLER_NAME}订单 {order['order_id']}", time_expire=order["pay_deadline"],
        notify_url=f"{config.base_url}/v1/orders/success/", return_url=f"{config.base_url}/static/payResult.html")


async def close_trade_best_effort(alipay, order_id):
    """Close the Alipay trade of a closed order so it can no longer be paid. Best effort: a trade
    that was never opened does not exist, and a payment that still slips through is refunded."""
    try:
        await alipay.trade_close(order_id)
    except Exception as exc:  # noqa: BLE001 - nothing here may fail the buyer's cancel
        log.info("closing Alipay trade %s failed: %s", order_id, exc)
