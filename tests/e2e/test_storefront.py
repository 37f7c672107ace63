"""The storefront in a real browser against the real service and the Alipay sandbox.

Each test is one shopper's story, told through the pages (the API and the database only set the
scene or check the outcome). Screenshots of every page land in screenshots/ (git-ignored).
"""
from decimal import Decimal

import pytest

from .conftest import PHONE
from .helpers import money, on_cashier, pay_on_cashier, pick_skus

pytestmark = pytest.mark.browser


def test_purchase_from_login_to_paid_order_awaiting_shipment(shopper, backend):
    buyer = backend.buyer()
    first, second = pick_skus(backend, 2)

    # log in through the login page, sent there by the cart
    shopper.open("/static/cart.html")
    shopper.wait_url("/static/login.html?next=")
    shopper.shot("01-login")
    shopper.type("#username", buyer["username"])
    shopper.type("#password", "wrong-password")
    shopper.click("#login-btn")
    shopper.wait_text("#notice", "用户名或密码错误")
    shopper.type("#password", buyer["password"])
    shopper.click("#login-btn")
    shopper.wait_url("/static/cart.html")  # back where the shopper was going
    assert shopper.wait_text("#cart-lines", "购物车还是空的")

    # two items from the product list
    shopper.open("/static/index.html")
    shopper.visible(f'.product[data-sku-id="{first["id"]}"]')
    assert shopper.text_of("#current-user") == buyer["username"]
    shopper.shot("02-product-list")
    for sku in (first, second):
        shopper.click(f'.product[data-sku-id="{sku["id"]}"] .add-cart')
        shopper.wait_text("#toast", sku["name"])
    shopper.wait_text("#cart-count", "2")  # the header counts what is in the cart
    shopper.shot("03-product-list-added-to-cart")

    # the cart: both lines selected, one of them twice
    shopper.click("#nav-cart")
    shopper.visible(f'.line[data-sku-id="{second["id"]}"]')
    shopper.click(f'.line[data-sku-id="{first["id"]}"] .plus')
    shopper.wait_text(f'.line[data-sku-id="{first["id"]}"] .count', "2")
    goods = Decimal(first["price"]) * 2 + Decimal(second["price"])
    shopper.wait_text("#cart-total", money(goods))
    assert shopper.text_of("#selected-count") == "3"
    shopper.shot("04-cart")
    shopper.click("#go-buy")

    # confirm: the default address chosen, the lines with their sale attributes, freight
    shopper.wait_url("/static/orderConfirm.html?settlement_type=0")
    shopper.visible('.address.selected input[type="radio"]:checked')
    assert "王小二" in shopper.text_of(".address.selected")
    line = shopper.text_of(f'#sku-lines .line[data-sku-id="{first["id"]}"]')
    assert first["name"] in line and first["sku_sale_attr_vals"][0] in line
    assert shopper.text_of("#total-count") == "3"
    assert shopper.text_of("#total-amount") == money(goods)
    assert shopper.text_of("#transit") == money("10.00")
    assert shopper.text_of("#payment-amount") == money(goods + 10)
    shopper.full_shot("05-order-confirm")
    shopper.click("#go-pay")

    # straight on to Alipay's cashier (no second 确认支付 step), with the whole amount
    on_cashier(shopper, goods + 10)
    pay_on_cashier(shopper, goods + 10, "07")
    order_id = shopper.text_of("#order-id")
    assert [o["order_id"] for o in backend.orders(buyer)] == [order_id]

    # back twice (result → cashier → payment page): the paid order is good news, not an error
    shopper.driver.back()
    shopper.driver.back()
    shopper.wait_url("/static/payment.html?")
    shopper.until(lambda: shopper.find("#settled").get_attribute("data-state") == "paid", "not shown as paid")
    assert shopper.text_of("#settled-title") == "订单已支付"
    assert not shopper.find("#notice").is_displayed()
    assert not shopper.find("#pay-details").is_displayed()
    shopper.shot("06-payment-after-back-paid")
    shopper.driver.forward()
    shopper.driver.forward()
    shopper.wait_url("/static/payResult.html?")
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "paid", "paid no more")

    # my orders: under 待发货, paid (实付), nothing to do but buy again; the tab counts it
    shopper.click("#to-orders")
    shopper.wait_url("/static/myOrders.html?tab=2")
    card = f'.order[data-order-id="{order_id}"]'
    assert shopper.text_of(f"{card} .status") == "待发货"
    assert shopper.text_of(f"{card} .amount-label") == "实付"
    assert "active" in shopper.find("#tab-2").get_attribute("class")
    assert [b.text for b in shopper.find_all(f"{card} .foot button")] == ["再次购买"]
    shopper.wait_text("#count-2", "(1)")
    assert shopper.text_of("#count-0") == "(1)" and shopper.find("#count-1").text == ""
    shopper.full_shot("08-my-orders-awaiting-shipment")
    assert [o["status"] for o in backend.orders(buyer)] == [2]
    assert backend.call("GET", f"/v1/carts/{buyer['username']}", token=buyer["token"])[1]["data"] == []


def test_no_address_shows_the_form_then_the_order_goes_through(shopper, backend):
    buyer = backend.buyer(with_address=False)
    sku = pick_skus(backend, 1)[0]
    shopper.log_in_with_token(buyer)

    shopper.open("/static/index.html")
    shopper.click(f'.product[data-sku-id="{sku["id"]}"] .buy-now')
    shopper.wait_url("/static/orderConfirm.html?settlement_type=1")
    shopper.visible("#address-form")
    assert "还没有收货地址" in shopper.text_of("#no-address-hint")
    assert sku["name"] in shopper.text_of("#sku-lines")  # the goods are shown all the same
    assert not shopper.find("#go-pay").is_enabled()
    shopper.full_shot("10-order-confirm-no-address")

    from selenium.webdriver.support.ui import Select
    shopper.type("#addr-receiver", "李四")
    shopper.type("#addr-phone", "12345")
    shopper.type("#addr-address", "体育西路 1 号")
    shopper.click("#save-address")
    assert "11位手机号" in shopper.text_of("#addr-error")
    shopper.until(lambda: len(Select(shopper.find("#addr-province")).options) > 30, "the region picker has no data")
    for css, value in (("#addr-province", "广东省"), ("#addr-city", "广州市"), ("#addr-district", "天河区")):
        Select(shopper.find(css)).select_by_visible_text(value)
    shopper.type("#addr-phone", "13711112222")
    shopper.type("#addr-tag", "公司")
    shopper.click("#save-address")
    shopper.wait_text(".address.selected", "李四")
    assert not shopper.find("#address-form").is_displayed()
    shopper.shot("11-order-confirm-address-added")

    shopper.click("#go-pay")
    on_cashier(shopper, Decimal(sku["price"]) + 10)
    orders = backend.orders(buyer)
    assert len(orders) == 1 and orders[0]["status"] == 1
    assert orders[0]["address"]["receiver"] == "李四"
    assert orders[0]["address"]["address"] == "广东省广州市天河区 体育西路 1 号"


def test_out_of_stock_names_the_item(shopper, backend):
    buyer = backend.buyer()
    name = "限量版键盘 e2e"
    sku_id = backend.new_sku(name, stock=1)
    backend.add_to_cart(buyer, sku_id)
    shopper.log_in_with_token(buyer)

    shopper.open("/static/cart.html")
    shopper.visible(f'.line[data-sku-id="{sku_id}"]')
    assert not shopper.find(f'.line[data-sku-id="{sku_id}"] .plus').is_enabled()  # only one left
    shopper.click("#go-buy")
    shopper.visible(f'#sku-lines .line[data-sku-id="{sku_id}"]')

    backend.set_stock(sku_id, 0)  # someone else bought the last one meanwhile
    shopper.click("#go-pay")
    message = shopper.wait_text("#notice", "已售罄")
    assert f"「{name}」已售罄" in message and f"[{sku_id}]" not in message
    assert "减少购买数量" not in message  # fewer would not help: there are none
    assert shopper.find("#back-cart").is_displayed()
    assert not shopper.find("#pay-details").is_displayed()
    shopper.shot("20-payment-out-of-stock")
    assert backend.orders(buyer) == []

    # the cart now says so too, next to the item, and no longer counts it
    shopper.click("#back-cart")
    shopper.wait_text(f'#unavailable-lines .line[data-sku-id="{sku_id}"] .warn', "已售罄")
    assert not shopper.find(f'.line[data-sku-id="{sku_id}"] .select').is_selected()
    assert not shopper.find("#go-buy").is_enabled()
    shopper.shot("21-cart-sold-out")


def test_cancel_an_unpaid_order_from_my_orders(shopper, backend):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    stock_before = backend.sku(sku["id"])["stock"]
    order = backend.create_order(buyer, sku["id"], buy_num=2)
    assert backend.sku(sku["id"])["stock"] == stock_before - 2
    shopper.log_in_with_token(buyer)

    shopper.open("/static/myOrders.html?tab=1")
    card = f'.order[data-order-id="{order["order_id"]}"]'
    assert shopper.text_of(f"{card} .status") == "待付款"
    assert shopper.find(f"{card} .pay-order").is_displayed()
    shopper.full_shot("30-my-orders-awaiting-payment")
    assert shopper.text_of(f"{card} .amount-label") == "应付"

    # the dialog: focus on the safe button, Tab stays inside, Esc keeps the order
    from selenium.webdriver.common.keys import Keys
    shopper.click(f"{card} .cancel-order")
    shopper.visible('[role="dialog"][aria-modal="true"]')
    focused = shopper.driver.switch_to.active_element
    assert focused.get_attribute("id") == "dialog-cancel" and focused.text == "暂不取消"
    assert shopper.text_of("#dialog-ok") == "确定取消"
    shopper.shot("31-my-orders-cancel-dialog")
    for _ in range(3):
        focused.send_keys(Keys.TAB)
        focused = shopper.driver.switch_to.active_element
        assert focused.get_attribute("id") in ("dialog-ok", "dialog-cancel")
    focused.send_keys(Keys.ESCAPE)
    shopper.until(lambda: not shopper.find_all(".dialog"), "Esc did not close the dialog")
    assert [o["status"] for o in backend.orders(buyer)] == [1]
    shopper.click(f"{card} .cancel-order")
    shopper.click("#dialog-ok")
    shopper.wait_text("#toast", "订单已取消")
    shopper.wait_text("#orders", "暂无「待付款」的订单")

    shopper.click("#tab-5")
    shopper.wait_url("tab=5")
    assert shopper.text_of(f"{card} .status") == "已关闭"
    assert shopper.text_of(f"{card} .amount-label") == "应付"  # never paid
    assert [b.text for b in shopper.find_all(f"{card} .foot button")] == ["再次购买"]
    shopper.shot("32-my-orders-closed")
    assert backend.sku(sku["id"])["stock"] == stock_before  # the stock came back


def test_pay_from_my_orders_then_confirm_receipt_after_shipping(shopper, backend):
    buyer = backend.buyer()
    sku = pick_skus(backend, 2)[1]
    order = backend.create_order(buyer, sku["id"])
    order_id = order["order_id"]
    card = f'.order[data-order-id="{order_id}"]'
    shopper.log_in_with_token(buyer)

    # pay an existing order: my orders → 去支付 → payment (status 1) → cashier → result
    shopper.open("/static/myOrders.html?tab=1")
    shopper.click(f"{card} .pay-order")
    on_cashier(shopper, order["total_amount"])
    pay_on_cashier(shopper, order["total_amount"], "40")
    assert shopper.text_of("#order-id") == order_id

    # the merchant ships; the shopper confirms receipt
    backend.ship(order_id)
    shopper.open("/static/myOrders.html?tab=3")
    assert shopper.text_of(f"{card} .status") == "待收货"
    assert shopper.text_of(f"{card} .amount-label") == "实付"
    shopper.shot("41-my-orders-awaiting-receipt")
    shopper.click(f"{card} .confirm-receipt")
    shopper.click("#dialog-ok")
    shopper.wait_text("#toast", "确认收货成功")
    shopper.wait_text("#orders", "暂无「待收货」的订单")

    shopper.click("#tab-4")
    shopper.wait_url("tab=4")
    assert shopper.text_of(f"{card} .status") == "已完成"
    shopper.click("#tab-0")
    shopper.wait_url("tab=0")
    assert shopper.text_of(f"{card} .status") == "已完成"
    shopper.full_shot("42-my-orders-all")
    assert [o["status"] for o in backend.orders(buyer)] == [4]


def test_reloading_or_double_clicking_never_makes_a_second_order(shopper, backend):
    buyer = backend.buyer()
    first, second = pick_skus(backend, 2)
    backend.add_to_cart(buyer, first["id"])
    backend.add_to_cart(buyer, second["id"])
    shopper.log_in_with_token(buyer)

    shopper.open("/static/orderConfirm.html?settlement_type=0")
    shopper.visible(f'#sku-lines .line[data-sku-id="{second["id"]}"]')
    # a double click: the second click finds the button already disabled; on to the cashier
    shopper.driver.execute_script("var b = document.getElementById('go-pay'); b.click(); b.click();")
    on_cashier(shopper, Decimal(first["price"]) + Decimal(second["price"]) + 10)
    orders = backend.orders(buyer)
    assert len(orders) == 1
    order_id = orders[0]["order_id"]

    shopper.driver.back()  # the payment page again: this time it shows the order and waits
    shopper.wait_url("/static/payment.html?")
    assert shopper.text_of("#order-id") == order_id
    assert shopper.find("#pay-btn").is_enabled()
    payment_url = shopper.url
    shopper.driver.refresh()  # this tab remembers the order: it is paid, not created again
    assert shopper.text_of("#order-id") == order_id
    # a fresh tab on the same URL resends the same submission with the same Idempotency-Key
    shopper.driver.execute_script("sessionStorage.clear()")
    shopper.driver.get(payment_url)
    on_cashier(shopper, orders[0]["order_total_amount"])

    assert [o["order_id"] for o in backend.orders(buyer)] == [order_id]


def test_pages_fit_a_phone_screen(shopper, backend):
    buyer = backend.buyer()
    first, second = pick_skus(backend, 2)
    backend.add_to_cart(buyer, first["id"])
    backend.add_to_cart(buyer, second["id"])
    backend.create_order(buyer, first["id"])
    shopper.driver.set_window_size(*PHONE)
    shopper.log_in_with_token(buyer)

    pages = [("/static/index.html", ".product", "50-phone-product-list"),
             ("/static/cart.html", ".line", "51-phone-cart"),
             ("/static/orderConfirm.html?settlement_type=0", "#sku-lines .line", "52-phone-order-confirm"),
             ("/static/myOrders.html", ".order", "53-phone-my-orders"),
             ("/static/addresses.html", ".address-card", "55-phone-addresses")]
    for path, ready, name in pages:
        shopper.open(path)
        shopper.visible(ready)
        assert shopper.horizontal_overflow() <= 0, f"{path} scrolls sideways on a phone"
        shopper.shot(name)
    shopper.open("/static/login.html")
    shopper.visible("#username")
    shopper.shot("54-phone-login")


def test_an_expired_session_goes_to_login_and_back(shopper, backend):
    buyer = backend.buyer()
    shopper.log_in_with_token(dict(buyer, token=buyer["token"][:-4] + "AAAA"))  # a token that no longer verifies

    shopper.open("/static/myOrders.html?tab=2")
    shopper.wait_url("/static/login.html?next=")
    assert "登录已过期" in shopper.text_of("#notice")
    shopper.shot("60-login-session-expired")
    shopper.type("#username", buyer["username"])
    shopper.type("#password", buyer["password"])
    shopper.click("#login-btn")
    shopper.wait_url("/static/myOrders.html?tab=2")
    shopper.wait_text("#orders", "暂无「待发货」的订单")


def test_result_page_waits_for_an_unconfirmed_payment_and_retries(shopper, backend):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    order = backend.create_order(buyer, sku["id"])
    order_id = order["order_id"]
    shopper.log_in_with_token(buyer)

    # to the cashier, but back on the result page before Alipay has the money (a signed, genuine return)
    shopper.open(f"/static/payment.html?order_id={order_id}")
    on_cashier(shopper, order["total_amount"])
    shopper.open("/static/payResult.html?" + backend.signed_return(order_id))
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "pending", "never pending")
    assert shopper.text_of("#result-title") == "支付结果确认中"
    assert shopper.find("#retry").is_displayed()
    assert shopper.text_of("#order-id") == order_id
    shopper.shot("65-pay-result-not-confirmed-yet")
    assert [o["status"] for o in backend.orders(buyer)] == [1]  # a return alone never marks an order paid

    backend.sandbox_pay(order_id)
    shopper.driver.execute_script("document.getElementById('retry').click()")  # 重新查询支付结果
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "paid", "payment never confirmed")
    assert shopper.text_of("#result-title") == "支付成功"


def test_a_forged_return_is_refused_on_the_result_page(shopper, backend):
    buyer = backend.buyer()
    shopper.log_in_with_token(buyer)
    shopper.open("/static/payResult.html?out_trade_no=nope&total_amount=1.00&sign=Zm9yZ2Vk&sign_type=RSA2")
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "bad", "forged return accepted")
    assert shopper.text_of("#result-title") == "非法访问"
    shopper.shot("70-pay-result-forged")
