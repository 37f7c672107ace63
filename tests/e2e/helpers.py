"""Small steps the browser tests share."""
from decimal import Decimal


def money(value):
    return f"¥{Decimal(value):.2f}"


def pick_skus(backend, count, *, min_stock=10):
    """Demo SKUs with stock to spare, of different products (for readable screenshots)."""
    chosen, images = [], set()
    for sku in backend.skus():
        if sku["stock"] >= min_stock and sku["default_image_url"] not in images:
            chosen.append(sku)
            images.add(sku["default_image_url"])
        if len(chosen) == count:
            return chosen
    raise AssertionError("the demo catalog has too few SKUs in stock")


def on_cashier(shopper, amount):
    """Wait for the sandbox cashier (where the payment page goes by itself) showing `amount`."""
    shopper.visible("#pay")
    assert shopper.text_of("#amount").endswith(f"{Decimal(amount):.2f}")


def pay_on_cashier(shopper, amount, prefix):
    """On the sandbox cashier: pay → back on payResult.html, paid."""
    on_cashier(shopper, amount)
    shopper.shot(f"{prefix}-alipay-sandbox-cashier")
    shopper.click("#pay")
    shopper.wait_url("/static/payResult.html?")
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "paid", "payment never confirmed")
    assert shopper.text_of("#result-title") == "支付成功"
    shopper.shot(f"{prefix}-pay-result-paid")
