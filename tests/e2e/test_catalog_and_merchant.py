"""Third-round journeys in a real browser, at desktop (1366×900) and phone (390×844, with a phone's
User-Agent) widths: the product list (search, categories) and the product page (sale-attribute
selector → cart → buy, through Alipay's phone cashier on a phone), flash-sale items before, after and
within their window (the per-buyer limit, 50112), the order page, and the merchant page shipping an
order that the buyer then sees with its tracking number. The scene is set through the API and SQL;
outcomes are read back from the API, the database and the Alipay sandbox.
"""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from .conftest import ADMIN_KEY, DESKTOP, PHONE
from .helpers import money, on_cashier, pay_on_cashier, pick_skus

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
PAGE_PAY, WAP_PAY = "alipay.trade.page.pay", "alipay.trade.wap.pay"


def tag(size):
    return "phone" if size == PHONE else "desktop"


def choose(shopper, attr_index, value):
    """Pick a value of the product page's selector as a shopper does: a click on its label."""
    shopper.find(f'#selectors input[name="attr-{attr_index}"][value="{value}"]').find_element(
        "xpath", "..").click()


def value_enabled(shopper, attr_index, value):
    return shopper.find(f'#selectors input[name="attr-{attr_index}"][value="{value}"]').is_enabled()


def chosen_sku(shopper):
    return shopper.find("#product").get_attribute("data-sku-id")


@SIZES
def test_product_page_selector_to_cart_and_to_an_order(shopper, backend, size):
    buyer = backend.buyer()
    name = f"撞色卫衣 {uuid.uuid4().hex[:6]}"
    spu_id, (red_s, red_m, blue_s) = backend.new_product(name, [
        ("100.00", 5, "tshirt_red.svg", {"颜色": "红色", "尺寸": "S"}),
        ("110.00", 0, "tshirt_red.svg", {"颜色": "红色", "尺寸": "M"}),    # sold out
        ("120.00", 3, "tshirt_black.svg", {"颜色": "蓝色", "尺寸": "S"}),  # and there is no 蓝色 M
    ])
    shopper.resize(size)
    shopper.log_in_with_token(buyer)

    # the list: one card for the product, with its price range; the card leads to the product page
    shopper.open(f"/static/index.html?q={name.split()[1]}")
    card = f'.product[data-spu-id="{spu_id}"]'
    assert shopper.text_of(f"{card} .price") == "¥100.00 – ¥120.00"
    assert len(shopper.find_all(".product")) == 1
    shopper.click(card)
    shopper.wait_url(f"/static/product.html?id={spu_id}")

    # the first SKU on offer is chosen; a sold-out combination cannot be chosen
    shopper.until(lambda: chosen_sku(shopper) == str(red_s), "the first SKU on offer is not chosen")
    assert shopper.text_of("h1") == name
    assert shopper.text_of("#sku-price") == "¥100.00" and shopper.text_of("#sku-stock") == "仅剩 5 件"
    assert not value_enabled(shopper, 1, "M")
    shopper.full_shot(f"90-{tag(size)}-product-page")

    # 蓝色: its price and stock; M stays unavailable (no such SKU); the quantity stops at the stock
    choose(shopper, 0, "蓝色")
    shopper.until(lambda: chosen_sku(shopper) == str(blue_s), "蓝色 S not chosen")
    assert shopper.text_of("#sku-price") == "¥120.00" and shopper.text_of("#sku-stock") == "仅剩 3 件"
    assert not value_enabled(shopper, 1, "M")
    for _ in range(3):
        if shopper.find("#qty-plus").is_enabled():
            shopper.find("#qty-plus").click()
    assert shopper.find("#quantity").get_attribute("value") == "3"
    assert not shopper.find("#qty-plus").is_enabled()
    shopper.click("#add-cart")
    shopper.wait_text("#toast", f"{name} 蓝色 S × 3")
    shopper.wait_text("#cart-count", "3")
    assert backend.cart(buyer)[blue_s]["count"] == 3

    # back to 红色, two of them, 立即购买 → confirm → straight to the cashier (a phone's on a phone)
    choose(shopper, 0, "红色")
    shopper.until(lambda: chosen_sku(shopper) == str(red_s), "红色 S not chosen")
    shopper.find("#qty-minus").click()
    assert shopper.find("#quantity").get_attribute("value") == "2"
    shopper.click("#buy-now")
    shopper.wait_url(f"/static/orderConfirm.html?settlement_type=1&sku_id={red_s}&buy_num=2")
    shopper.wait_text(f'#sku-lines .line[data-sku-id="{red_s}"]', "× 2")
    shopper.click("#go-pay")
    on_cashier(shopper, "210.00")
    assert shopper.horizontal_overflow() <= 0, "the cashier scrolls sideways"
    pay_on_cashier(shopper, "210.00", f"91-{tag(size)}")
    order_id = shopper.text_of("#order-id")
    assert backend.trade(order_id)["method"] == (WAP_PAY if size == PHONE else PAGE_PAY)
    order = {o["order_id"]: o for o in backend.orders(buyer)}[order_id]
    assert order["status"] == 2
    assert [(line["id"], line["count"]) for line in order["order_sku"]] == [(red_s, 2)]
    assert backend.cart(buyer)[blue_s]["count"] == 3  # buy-now leaves the cart alone


def test_search_and_category_filter(shopper, backend):
    word = uuid.uuid4().hex[:6]
    category = f"灯具{word}"
    star, _ = backend.new_product(f"星空台灯 {word}", [("39.00", 9, "cup_white.svg", {"颜色": "白色"})],
                                  category=category)
    moon, _ = backend.new_product(f"月光台灯 {word}", [("49.00", 9, "cup_pink.svg", {"颜色": "粉色"})],
                                  category=category)
    other, _ = backend.new_product(f"落地灯 {word}", [("99.00", 9, "cup_green.svg", {"颜色": "绿色"})])
    shopper.open("/static/index.html")
    shopper.visible(".product")

    # search: what matches the word, in the name or the caption
    shopper.type("#search-q", word)
    shopper.click("#search-btn")
    shopper.wait_url(f"q={word}")
    shopper.wait_text("#result-count", "共 3 件商品")
    shown = {int(card.get_attribute("data-spu-id")) for card in shopper.find_all(".product")}
    assert shown == {star, moon, other}
    assert shopper.find("#search-q").get_attribute("value") == word

    # the category (from the answer's categories, with its count) narrows the search
    chip = shopper.visible(f'.chip[data-category="{category}"]')
    assert chip.text == f"{category}（2）"
    chip.click()
    shopper.wait_text("#result-count", "共 2 件商品")
    assert {int(c.get_attribute("data-spu-id")) for c in shopper.find_all(".product")} == {star, moon}
    assert shopper.find(f'.chip[data-category="{category}"]').get_attribute("aria-current") == "page"
    shopper.full_shot("92-product-list-search-and-category")

    # 全部 drops the category, keeps the search; a search that finds nothing says so
    shopper.click('.chip[data-category=""]')
    shopper.wait_text("#result-count", "共 3 件商品")
    shopper.type("#search-q", f"没有这种{word}")
    shopper.click("#search-btn")
    shopper.wait_text("#products", "没有找到")
    assert not shopper.find_all(".product")


@SIZES
def test_a_flash_sale_item_before_and_after_its_window(shopper, backend, size):
    buyer = backend.buyer()
    name = f"秒杀耳机 {tag(size)} {uuid.uuid4().hex[:4]}"
    spu_id, (sku_id,) = backend.new_product(name, [("9.90", 50, "mouse_black.svg", {"颜色": "黑色"})])
    backend.flash_sale(sku_id, starts_in=timedelta(minutes=90), limit=2)
    shopper.resize(size)
    shopper.log_in_with_token(buyer)

    shopper.open(f"/static/product.html?id={spu_id}")
    state = shopper.visible("#sale-state")
    shopper.until(lambda: state.get_attribute("data-state") == "before", "not shown as before the sale")
    assert "距开售还有" in state.text and "01:29:" in state.text  # counting down from 1 h 30 min
    assert shopper.text_of("#sale-limit") == "每人限购 2 件"
    assert not shopper.find("#buy-now").is_enabled() and not shopper.find("#add-cart").is_enabled()
    assert shopper.text_of("#buy-now") == "即将开抢"
    for _ in range(3):  # the quantity stops at the limit
        if shopper.find("#qty-plus").is_enabled():
            shopper.find("#qty-plus").click()
    assert shopper.find("#quantity").get_attribute("value") == "2"
    shopper.full_shot(f"93-{tag(size)}-flash-sale-before")

    # the confirm page, reached by a link, flags it with its opening time and offers no order
    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={sku_id}&buy_num=1")
    shopper.wait_text(f'#sku-lines .line[data-sku-id="{sku_id}"] .warn', "尚未开售")
    assert f"「{name} 黑色」尚未开售" in shopper.text_of("#notice")
    assert not shopper.find("#go-pay").is_enabled()

    # over: 已结束, nothing to buy
    backend.flash_sale(sku_id, starts_in=-timedelta(hours=2), lasts=timedelta(hours=1), limit=2)
    shopper.open(f"/static/product.html?id={spu_id}")
    shopper.until(lambda: shopper.find("#sale-state").get_attribute("data-state") == "ended", "not shown as ended")
    assert shopper.text_of("#sale-state") == "已结束"
    assert not shopper.find("#buy-now").is_enabled() and not shopper.find("#add-cart").is_enabled()
    assert backend.orders(buyer) == []

    # a window about to open: the page opens the buttons by itself when the countdown reaches zero
    backend.flash_sale(sku_id, starts_in=timedelta(seconds=4), limit=2)
    shopper.open(f"/static/product.html?id={spu_id}")
    shopper.until(lambda: shopper.find("#sale-state").get_attribute("data-state") == "open" and
                  shopper.find("#buy-now").is_enabled(), "the sale never opened on the page")
    assert shopper.text_of("#buy-now") == "立即购买"


@SIZES
def test_a_flash_sale_item_past_the_buyers_limit(shopper, backend, size):
    buyer = backend.buyer()
    name = f"秒杀鼠标 {tag(size)} {uuid.uuid4().hex[:4]}"
    spu_id, (sku_id,) = backend.new_product(name, [("19.90", 50, "mouse_black.svg", {"颜色": "白色"})])
    backend.flash_sale(sku_id, starts_in=-timedelta(minutes=1), limit=2)
    held = backend.create_order(buyer, sku_id, buy_num=2)  # unpaid, not closed: it counts
    shopper.resize(size)
    shopper.log_in_with_token(buyer)

    shopper.open(f"/static/product.html?id={spu_id}")
    shopper.until(lambda: shopper.find("#sale-state").get_attribute("data-state") == "open", "not shown as open")
    assert "每人限购 2 件" in shopper.text_of("#sale-limit")
    shopper.click("#buy-now")
    shopper.wait_url("/static/orderConfirm.html?settlement_type=1")
    shopper.click("#go-pay")
    shopper.wait_url("/static/payment.html?")
    message = shopper.wait_text("#notice", "每人限购2件")
    assert f"「{name} 白色」" in message and "商品[" not in message and "已达到上限" in message
    assert shopper.find("#notice").get_attribute("role") == "alert"
    shopper.shot(f"94-{tag(size)}-flash-sale-limit-reached")
    assert [o["order_id"] for o in backend.orders(buyer)] == [held["order_id"]]


@SIZES
def test_the_order_page(shopper, backend, size):
    buyer = backend.buyer()
    first, second = pick_skus(backend, 2)
    shipped = backend.paid_order(buyer, first["id"], buy_num=2)
    backend.ship(shipped)
    unpaid = backend.create_order(buyer, second["id"])
    shopper.resize(size)
    shopper.log_in_with_token(buyer)

    # from my orders to a shipped order: lines, address, payment time, logistics, 实付
    shopper.open("/static/myOrders.html?tab=3")
    shopper.click(f'.order[data-order-id="{shipped}"] .detail-link')
    shopper.wait_url(f"/static/order.html?id={shipped}")
    shopper.wait_text("#order-status", "待收货")
    assert shopper.text_of("#order-id") == shipped
    line = shopper.text_of(f'#sku-lines .line[data-sku-id="{first["id"]}"]')
    assert first["name"] in line and "× 2" in line
    assert "王小二 13912345678" in shopper.text_of("#receiver")
    assert "上海市浦东新区世纪大道 100 号" in shopper.text_of("#address-text")
    listed = {o["order_id"]: o for o in backend.orders(buyer)}[shipped]
    assert shopper.text_of("#paid-time") == listed["paid_time"] and listed["paid_time"]
    assert shopper.text_of("#shipped-time") == listed["logistics"]["shipped_time"]
    assert shopper.text_of("#carrier") == "顺丰速运" and shopper.text_of("#tracking-no") == "SF1234567890"
    assert shopper.text_of("#amount-label") == "实付"
    assert shopper.text_of("#order-amount") == money(Decimal(first["price"]) * 2 + 10)
    assert shopper.find("#countdown").is_displayed() is False
    assert [b.text for b in shopper.find_all("#actions button")] == ["再次购买", "确认收货"]
    shopper.full_shot(f"95-{tag(size)}-order-page-shipped")

    # an unpaid order: 应付, the time left to pay, 去支付
    shopper.open(f"/static/order.html?id={unpaid['order_id']}")
    shopper.wait_text("#order-status", "待付款")
    assert "完成支付" in shopper.text_of("#countdown")
    assert shopper.text_of("#amount-label") == "应付" and shopper.text_of("#paid-time") == "待支付"
    assert not shopper.find("#logistics-section").is_displayed()
    assert shopper.find("#actions .pay-order").get_attribute("href").endswith(
        f"/static/payment.html?order_id={unpaid['order_id']}")
    shopper.shot(f"96-{tag(size)}-order-page-unpaid")

    # an order that is not the buyer's (or does not exist) is not shown
    shopper.open("/static/order.html?id=1234567890123456")
    shopper.wait_text("#notice", "没有找到订单")


@SIZES
def test_the_merchant_ships_and_the_buyer_sees_the_tracking_number(shopper, backend, size):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    order_id = backend.paid_order(buyer, sku["id"])
    tracking = "YT" + uuid.uuid4().hex[:10].upper()
    shopper.resize(size)

    # the key is asked for; a wrong one is refused with a clear message
    shopper.open("/static/admin.html")
    shopper.type("#admin-key", "not-the-key")
    shopper.click("#key-btn")
    shopper.wait_text("#key-error", "管理密钥错误")
    assert not shopper.find("#orders-section").is_displayed()
    shopper.type("#admin-key", ADMIN_KEY)
    shopper.click("#key-btn")

    # 待发货 lists the paid order; a missing tracking number is caught; then it ships
    card = f'.admin-order[data-order-id="{order_id}"]'
    shopper.visible(card)
    assert shopper.find("#tab-2").get_attribute("aria-current") == "page"
    assert buyer["username"] in shopper.text_of(f"{card} .head")
    shopper.full_shot(f"97-{tag(size)}-merchant-awaiting-shipment")
    shopper.click(f"{card} .ship")
    shopper.wait_text(f"{card} .ship-error", "请填写运单号")
    from selenium.webdriver.support.ui import Select
    Select(shopper.find(f"{card} .carrier")).select_by_visible_text("圆通速递")
    shopper.type(f"{card} .tracking-no", tracking)
    shopper.click(f"{card} .ship")
    shopper.until(lambda: not shopper.find_all(card), "the shipped order is still awaiting shipment")
    listed = {o["order_id"]: o for o in backend.orders(buyer)}[order_id]
    assert listed["status"] == 3
    assert (listed["logistics"]["carrier"], listed["logistics"]["tracking_no"]) == ("圆通速递", tracking)

    # 待收货 shows it with the tracking number; its payment events are one click away
    shopper.click("#tab-3")
    shopper.wait_text(f"{card} .logistics", tracking)
    shopper.click(f"{card} .show-details")
    shopper.wait_text(f"{card} .admin-details", "TRADE_SUCCESS")
    assert "没有退款" in shopper.text_of(f"{card} .admin-details")
    assert shopper.find(f"{card} .show-details").get_attribute("aria-expanded") == "true"
    assert shopper.horizontal_overflow() <= 0, "the merchant page scrolls sideways"
    shopper.full_shot(f"98-{tag(size)}-merchant-shipped-with-payment-events")
    shopper.driver.refresh()  # the key is kept for the tab
    shopper.visible(card)
    assert not shopper.find("#key-section").is_displayed()

    # the buyer, in the same browser: 待收货 with the carrier and tracking number, on the list and the order page
    shopper.log_in_with_token(buyer)
    shopper.open("/static/myOrders.html?tab=3")
    buyer_card = f'.order[data-order-id="{order_id}"]'
    shopper.wait_text(f"{buyer_card} .logistics", f"圆通速递 {tracking}")
    shopper.click(f"{buyer_card} .detail-link")
    shopper.wait_text("#tracking-no", tracking)
    assert shopper.text_of("#carrier") == "圆通速递"
    shopper.shot(f"99-{tag(size)}-buyer-sees-tracking-number")

    # 退出后台 forgets the key: the next visit asks again
    shopper.open("/static/admin.html")
    shopper.click("#forget-key")
    shopper.visible("#admin-key")
    assert shopper.driver.execute_script("return sessionStorage.getItem('dashop_admin_key')") is None


def test_the_product_selector_by_keyboard(shopper, backend):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    name = f"帆布包 {uuid.uuid4().hex[:6]}"
    buyer = backend.buyer()
    spu_id, (red, white, black) = backend.new_product(name, [
        ("80.00", 4, "bag_red.svg", {"颜色": "红色"}),
        ("81.00", 0, "bag_blue.svg", {"颜色": "白色"}),   # sold out: the arrow keys pass over it
        ("82.00", 4, "bag_black.svg", {"颜色": "黑色"}),
    ])
    shopper.log_in_with_token(buyer)
    shopper.open(f"/static/product.html?id={spu_id}")
    shopper.until(lambda: chosen_sku(shopper) == str(red), "红色 not chosen")
    assert not value_enabled(shopper, 0, "白色")
    legend = shopper.find("#selectors fieldset legend").text
    assert legend == "颜色"
    shopper.driver.execute_script("document.querySelector('#selectors input:checked').focus()")
    ActionChains(shopper.driver).send_keys(Keys.ARROW_RIGHT).perform()
    shopper.until(lambda: chosen_sku(shopper) == str(black), "the arrow key did not move to 黑色")
    focused = shopper.driver.switch_to.active_element
    assert focused.get_attribute("name") == "attr-0" and focused.get_attribute("value") == "黑色"
    assert shopper.text_of("#sku-price") == "¥82.00"
    assert shopper.url.endswith(f"?id={spu_id}&sku={black}")  # a reload or a shared link keeps the choice
    for _ in range(6):  # on to 立即购买 by Tab, then Enter
        ActionChains(shopper.driver).send_keys(Keys.TAB).perform()
        if shopper.driver.switch_to.active_element.get_attribute("id") == "buy-now":
            break
    ActionChains(shopper.driver).send_keys(Keys.ENTER).perform()
    shopper.wait_url(f"/static/orderConfirm.html?settlement_type=1&sku_id={black}&buy_num=1")


def test_a_sale_that_closes_before_the_order_is_explained(shopper, backend):
    buyer = backend.buyer()
    name = f"秒杀台灯 {uuid.uuid4().hex[:4]}"
    spu_id, (sku_id,) = backend.new_product(name, [("29.90", 20, "cup_green.svg", {"颜色": "绿色"})])
    backend.flash_sale(sku_id, starts_in=-timedelta(hours=1), lasts=timedelta(hours=2))
    shopper.log_in_with_token(buyer)
    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={sku_id}&buy_num=1")
    shopper.visible(f'#sku-lines .line[data-sku-id="{sku_id}"]')
    shopper.until(lambda: shopper.find("#go-pay").is_enabled(), "确认并付款 stays disabled")

    backend.flash_sale(sku_id, starts_in=-timedelta(hours=2), lasts=timedelta(hours=1))  # over meanwhile
    shopper.click("#go-pay")
    shopper.wait_url("/static/payment.html?")
    message = shopper.wait_text("#notice", "结束")
    assert f"「{name} 绿色」的抢购已于" in message and "商品[" not in message
    assert shopper.find("#back-cart").get_attribute("href").endswith("/static/index.html")
    assert backend.orders(buyer) == []
