"""Second-round journeys in a real browser, at desktop (1366×900) and phone (390×844) widths:
sold-out items caught in the cart and on the confirm page, Back after paying, the address book with
its region picker, 再次购买, the login tabs by keyboard, the `next` redirect probes, and axe-core on
every page. The API and the database set the scene (another buyer, a sell-out) and check the outcome.
"""
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from .conftest import DESKTOP, PHONE
from .helpers import money, pay_on_cashier, pick_skus

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])


def tag(size):
    return "phone" if size == PHONE else "desktop"


@SIZES
def test_an_item_sold_out_by_another_buyer_is_caught_in_the_cart(shopper, backend, size):
    buyer, rival = backend.buyer(), backend.buyer()
    scarce = backend.new_sku(f"限量耳机 {tag(size)}", price="300.00", stock=3)
    plenty = pick_skus(backend, 1)[0]
    backend.add_to_cart(buyer, scarce, count=3)
    backend.add_to_cart(buyer, plenty["id"])
    backend.create_order(rival, scarce, buy_num=3)  # another buyer takes all three
    assert backend.sku(scarce)["stock"] == 0
    shopper.driver.set_window_size(*size)
    shopper.log_in_with_token(buyer)

    shopper.open("/static/cart.html")
    line = f'#unavailable-lines .line[data-sku-id="{scarce}"]'
    shopper.wait_text(f"{line} .warn", "已售罄")
    assert "无货" in shopper.text_of("#unavailable-title")
    box = shopper.find(f"{line} .select")
    assert not box.is_selected() and not box.is_enabled()
    assert shopper.find(f'.line[data-sku-id="{plenty["id"]}"] .select').is_selected()
    assert shopper.text_of("#cart-total") == money(plenty["price"])  # the sold-out line is left out
    assert shopper.text_of("#selected-count") == "1"
    shopper.until(lambda: not backend.cart(buyer)[scarce]["selected"], "still ticked on the server")
    shopper.full_shot(f"80-{tag(size)}-cart-sold-out-by-another-buyer")

    # 全选 ticks only what can be bought
    shopper.click(f'.line[data-sku-id="{plenty["id"]}"] .select')
    shopper.until(lambda: not shopper.find("#go-buy").is_enabled(), "去结算 enabled with nothing buyable ticked")
    shopper.click("#select-all")
    shopper.until(lambda: shopper.find("#go-buy").is_enabled(), "全选 did not tick the buyable line")
    assert not shopper.find(f"{line} .select").is_selected()
    shopper.until(lambda: backend.cart(buyer)[plenty["id"]]["selected"] and not backend.cart(buyer)[scarce]["selected"],
                  "全选 left the server's cart wrong")

    # the confirm page settles only the buyable line
    shopper.click("#go-buy")
    shopper.visible(f'#sku-lines .line[data-sku-id="{plenty["id"]}"]')
    assert not shopper.find_all(f'#sku-lines .line[data-sku-id="{scarce}"]')
    assert shopper.text_of("#payment-amount") == money(Decimal(plenty["price"]) + 10)


@SIZES
def test_the_confirm_page_flags_what_ran_out_and_blocks_the_order(shopper, backend, size):
    buyer = backend.buyer()
    name = f"手工陶杯 {tag(size)}"
    sku_id = backend.new_sku(name, price="45.00", stock=5, image="cup_white.svg")
    backend.add_to_cart(buyer, sku_id, count=2)
    shopper.driver.set_window_size(*size)
    shopper.log_in_with_token(buyer)

    backend.set_stock(sku_id, 1)  # fewer left than wanted
    shopper.open("/static/orderConfirm.html?settlement_type=0")
    line = f'#sku-lines .line[data-sku-id="{sku_id}"]'
    shopper.wait_text(f"{line} .warn", "库存不足，仅剩 1 件")
    assert f"「{name}」库存不足" in shopper.text_of("#notice")
    assert shopper.find("#notice").get_attribute("role") == "alert"
    assert not shopper.find("#go-pay").is_enabled()

    backend.set_stock(sku_id, 0)  # and then none
    shopper.driver.refresh()
    shopper.wait_text(f"{line} .warn", "已售罄")
    message = shopper.text_of("#notice")
    assert f"「{name}」已售罄" in message and "减少" not in message
    assert not shopper.find("#go-pay").is_enabled()
    shopper.full_shot(f"81-{tag(size)}-confirm-sold-out")
    assert backend.orders(buyer) == []

    # buy-now of an item sold out meanwhile is flagged the same way
    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={sku_id}&buy_num=1")
    shopper.wait_text(f"{line} .warn", "已售罄")
    assert not shopper.find("#go-pay").is_enabled()


@SIZES
def test_back_after_paying_shows_good_news_never_an_error(shopper, backend, size):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    shopper.driver.set_window_size(*size)
    shopper.log_in_with_token(buyer)

    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={sku['id']}&buy_num=1")
    shopper.click("#go-pay")
    amount = Decimal(sku["price"]) + 10
    pay_on_cashier(shopper, amount, f"82-{tag(size)}")
    order_id = shopper.text_of("#order-id")

    shopper.driver.back()  # the cashier (the sandbox's page)
    shopper.driver.back()  # the payment page: paid, as good news
    shopper.wait_url("/static/payment.html?")
    shopper.until(lambda: shopper.find("#settled").get_attribute("data-state") == "paid", "not shown as paid")
    assert order_id in shopper.text_of("#settled-text")
    assert not shopper.find("#notice").is_displayed()
    shopper.shot(f"83-{tag(size)}-back-on-payment-page-paid")

    shopper.driver.back()  # the confirm page: it says what became of the order, it offers no second one
    shopper.wait_url("/static/orderConfirm.html?")
    notice = shopper.visible("#notice")
    shopper.until(lambda: notice.text, "the confirm page said nothing")
    assert "error" not in notice.get_attribute("class")
    assert not shopper.find("#go-pay").is_enabled()
    shopper.shot(f"84-{tag(size)}-back-on-confirm-page")
    assert [o["status"] for o in backend.orders(buyer)] == [2]


def test_a_closed_order_on_the_payment_page_is_neutral(shopper, backend):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    order = backend.create_order(buyer, sku["id"])
    backend.cancel_order(buyer, order["order_id"])
    shopper.log_in_with_token(buyer)

    shopper.open(f"/static/payment.html?order_id={order['order_id']}")
    shopper.until(lambda: shopper.find("#settled").get_attribute("data-state") == "closed", "not shown as closed")
    assert shopper.text_of("#settled-title") == "订单已关闭"
    assert not shopper.find("#notice").is_displayed()


@SIZES
def test_the_address_book_adds_deletes_and_sets_the_default(shopper, backend, size):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    buyer = backend.buyer(with_address=False)
    shopper.driver.set_window_size(*size)
    shopper.log_in_with_token(buyer)

    shopper.open("/static/addresses.html")
    shopper.wait_text("#address-list", "还没有收货地址")

    def add(receiver, phone, region, detail, *, default=None):
        shopper.click("#add-address")
        shopper.type("#addr-receiver", receiver)
        shopper.type("#addr-phone", phone)
        shopper.until(lambda: len(Select(shopper.find("#addr-province")).options) > 30, "no provinces")
        for css, value in zip(("#addr-province", "#addr-city", "#addr-district"), region):
            Select(shopper.find(css)).select_by_visible_text(value)
        shopper.type("#addr-detail", detail)
        if default is not None and shopper.find("#addr-default").is_selected() != default:
            shopper.click("#addr-default")

    # a missing district is caught before anything is sent
    add("张三", "13800001111", ("上海市", "市辖区"), "世纪大道 100 号")
    shopper.click("#save-address")
    assert shopper.text_of("#addr-error") == "请选择区县"
    Select(shopper.find("#addr-district")).select_by_visible_text("浦东新区")
    assert shopper.find("#addr-default").is_selected()  # the first address becomes the default
    shopper.full_shot(f"85-{tag(size)}-address-form")
    shopper.click("#save-address")
    shopper.wait_text("#address-list", "上海市浦东新区 世纪大道 100 号")
    assert not shopper.find("#form-section").is_displayed()

    add("李四", "13900002222", ("广东省", "广州市", "天河区"), "体育西路 1 号", default=False)
    shopper.type("#addr-tag", "公司")
    shopper.click("#save-address")
    shopper.wait_text("#address-list", "广东省广州市天河区 体育西路 1 号")
    stored = {a["receiver"]: a for a in backend.addresses(buyer)}
    assert stored["张三"]["is_default"] and not stored["李四"]["is_default"]
    assert stored["李四"]["address"] == "广东省广州市天河区 体育西路 1 号" and stored["李四"]["tag"] == "公司"
    assert not shopper.find_all(".address-card .edit")  # no edit until the API can change an address

    # 设为默认
    second = f'.address-card[data-address-id="{stored["李四"]["id"]}"]'
    shopper.click(f"{second} .make-default")
    shopper.wait_text(f"{second} .tag.default", "默认")
    assert shopper.find(".address-card").get_attribute("data-address-id") == str(stored["李四"]["id"])  # first
    assert {a["receiver"]: a["is_default"] for a in backend.addresses(buyer)} == {"张三": False, "李四": True}
    shopper.full_shot(f"86-{tag(size)}-address-book")

    # 删除: the dialog starts on 保留 and Esc keeps the address; then it goes
    first = f'.address-card[data-address-id="{stored["张三"]["id"]}"]'
    shopper.click(f"{first} .delete")
    focused = shopper.driver.switch_to.active_element
    assert focused.text == "保留"
    focused.send_keys(Keys.ESCAPE)
    shopper.until(lambda: not shopper.find_all(".dialog"), "Esc did not close the dialog")
    assert len(backend.addresses(buyer)) == 2
    shopper.click(f"{first} .delete")
    shopper.click("#dialog-ok")
    shopper.until(lambda: not shopper.find_all(first), "the address is still listed")
    assert [a["receiver"] for a in backend.addresses(buyer)] == ["李四"]


def test_buy_again_puts_the_items_back_in_the_cart(shopper, backend):
    buyer = backend.buyer()
    sku = pick_skus(backend, 1)[0]
    scarce = backend.new_sku("复古台灯 e2e", price="120.00", stock=2, image="cup_pink.svg")
    kept = backend.create_order(buyer, sku["id"], buy_num=2)
    gone = backend.create_order(buyer, scarce, buy_num=1)
    backend.cancel_order(buyer, kept["order_id"])
    backend.cancel_order(buyer, gone["order_id"])
    backend.set_stock(scarce, 0)  # sold out since
    shopper.log_in_with_token(buyer)

    shopper.open("/static/myOrders.html?tab=5")
    shopper.wait_text("#count-5", "(2)")
    card = f'.order[data-order-id="{kept["order_id"]}"]'
    assert shopper.text_of(f"{card} .amount-label") == "应付"
    shopper.click(f"{card} .buy-again")
    shopper.wait_url("/static/cart.html")
    shopper.wait_text(f'.line[data-sku-id="{sku["id"]}"] .count', "2")
    assert shopper.find(f'.line[data-sku-id="{sku["id"]}"] .select').is_selected()
    assert backend.cart(buyer)[sku["id"]]["count"] == 2
    shopper.wait_text("#cart-count", "2")

    shopper.open("/static/myOrders.html?tab=5")
    shopper.click(f'.order[data-order-id="{gone["order_id"]}"] .buy-again')
    shopper.wait_url("/static/cart.html")
    shopper.wait_text("#notice", "「复古台灯 e2e」已售罄")
    assert scarce not in backend.cart(buyer)
    shopper.shot("87-cart-after-buy-again")


PROBES = ["//x", "/%5Cx", "/%09/x", "/%0a/x", "https:x", "javascript:alert(1)", "/.//x", "http://x/"]


def test_login_next_never_leaves_the_shop(shopper, backend):
    buyer = backend.buyer()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(backend.base))
    for probe in PROBES:
        shopper.open(f"/static/login.html?next={probe}")
        shopper.type("#username", buyer["username"])
        shopper.type("#password", buyer["password"])
        shopper.click("#login-btn")
        shopper.until(lambda: "/static/login.html" not in shopper.url, f"stuck on login with {probe}")
        assert shopper.url == origin + "/static/index.html", (probe, shopper.url)
        shopper.driver.execute_script("localStorage.clear()")
    # what the page's own check says of each, and that a page of the shop is still a fine target
    shopper.open("/static/login.html")
    for raw in ["//x", "/\\x", "/\t/x", "/\n/x", "https:x", "javascript:alert(1)", "/.//x", "http://x/"]:
        assert shopper.driver.execute_script("return Shop.safeNext(arguments[0])", raw) == "/static/index.html", raw
    assert shopper.driver.execute_script("return Shop.safeNext('/static/cart.html?a=1#b')") == "/static/cart.html?a=1#b"
    shopper.open("/static/login.html?next=%2Fstatic%2FmyOrders.html%3Ftab%3D2")
    shopper.type("#username", buyer["username"])
    shopper.type("#password", buyer["password"])
    shopper.click("#login-btn")
    shopper.wait_url("/static/myOrders.html?tab=2")


def test_login_tabs_work_by_keyboard(shopper, backend):
    from selenium.webdriver.common.keys import Keys
    shopper.open("/static/login.html")
    tab = shopper.visible('#tab-login[role="tab"]')
    assert tab.get_attribute("aria-selected") == "true"
    assert shopper.find('[role="tablist"]').get_attribute("aria-label")
    assert shopper.find("#login-panel").get_attribute("role") == "tabpanel"
    tab.send_keys(Keys.ARROW_RIGHT)
    register = shopper.driver.switch_to.active_element
    assert register.get_attribute("id") == "tab-register" and register.get_attribute("aria-selected") == "true"
    assert shopper.find("#register-form").is_displayed() and not shopper.find("#login-form").is_displayed()
    assert shopper.find("#tab-login").get_attribute("tabindex") == "-1"
    register.send_keys(Keys.ARROW_RIGHT)  # wraps round
    assert shopper.driver.switch_to.active_element.get_attribute("id") == "tab-login"
    assert shopper.find("#login-form").is_displayed()
    assert shopper.text_of("h1")


def test_the_countdown_follows_pay_deadline_and_hides_without_it(shopper, backend):
    """The API does not send `pay_deadline` yet; the pages' countdown takes it when it comes."""
    shopper.open("/static/index.html")
    shown = shopper.driver.execute_script("""
        var el = document.createElement('p'); document.body.appendChild(el);
        var shanghai = new Date(Date.now() + 8 * 3600 * 1000 + 95 * 1000).toISOString();
        Shop.countdown(el, shanghai.slice(0, 19).replace('T', ' '));
        var none = document.createElement('p'); document.body.appendChild(none);
        Shop.countdown(none, undefined);
        var past = document.createElement('p'); document.body.appendChild(past);
        var expired = false;
        Shop.countdown(past, '2000-01-01 00:00:00', function () { expired = true; });
        return [el.hidden, el.textContent, none.hidden, expired];
    """)
    assert shown[0] is False and "1 分" in shown[1] and "完成支付" in shown[1]
    assert shown[2] is True and shown[3] is True


@SIZES
def test_every_page_passes_axe_core(shopper, backend, size):
    """No serious or critical axe-core violation on any page, in the states a shopper sees."""
    buyer = backend.buyer()
    first, second = pick_skus(backend, 2)
    sold_out = backend.new_sku(f"售罄样品 {tag(size)}", stock=1)
    backend.add_to_cart(buyer, first["id"])
    backend.add_to_cart(buyer, sold_out)
    backend.set_stock(sold_out, 0)
    unpaid = backend.create_order(buyer, second["id"])
    closed = backend.create_order(buyer, second["id"])
    backend.cancel_order(buyer, closed["order_id"])
    shopper.driver.set_window_size(*size)

    problems = {}

    def check(name, ready):
        shopper.visible(ready)
        found = shopper.axe_problems()
        if len(shopper.find_all("main h1")) != 1:
            found.append("the page has no single main heading (h1)")
        if found:
            problems[name] = found

    shopper.open("/static/login.html")
    check("login", "#username")
    shopper.click("#tab-register")
    check("login (register tab)", "#reg-username")
    shopper.open("/static/index.html")
    check("product list (logged out)", ".product")
    shopper.log_in_with_token(buyer)
    shopper.open("/static/index.html")
    check("product list", ".product")
    shopper.open("/static/cart.html")
    check("cart with a sold-out line", "#unavailable-lines .line")
    for button in shopper.find_all(".qty button"):  # a finger's worth: 44 × 44 CSS px
        assert button.size["width"] >= 44 and button.size["height"] >= 44, button.size
    shopper.click(f'.line[data-sku-id="{first["id"]}"] .remove')
    check("cart: remove dialog", "#dialog-cancel")
    shopper.click("#dialog-cancel")
    shopper.open("/static/orderConfirm.html?settlement_type=0")
    check("order confirm", "#sku-lines .line")
    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={sold_out}&buy_num=1")
    check("order confirm, sold out", "#sku-lines .line.unavailable")
    shopper.log_in_with_token(backend.buyer(with_address=False))
    shopper.open(f"/static/orderConfirm.html?settlement_type=1&sku_id={first['id']}&buy_num=1")
    check("order confirm, address form", "#addr-province")
    shopper.log_in_with_token(buyer)
    # the payment page as it shows an unpaid order (it went to the cashier once already)
    shopper.driver.execute_script("sessionStorage.setItem(arguments[0], '1')", "dashop_went_" + unpaid["order_id"])
    shopper.open(f"/static/payment.html?order_id={unpaid['order_id']}")
    check("payment", "#pay-btn")
    shopper.open(f"/static/payment.html?order_id={closed['order_id']}")
    check("payment, closed order", "#settled")
    shopper.open("/static/myOrders.html")
    check("my orders", ".order .cancel-order")
    shopper.click(".order .cancel-order")
    check("my orders: cancel dialog", "#dialog-cancel")
    shopper.click("#dialog-cancel")
    shopper.open("/static/addresses.html")
    check("address book", ".address-card")
    shopper.click("#add-address")
    check("address book: form", "#addr-province")
    shopper.open("/static/payResult.html?out_trade_no=nope&total_amount=1.00&sign=Zm9yZ2Vk&sign_type=RSA2")
    shopper.until(lambda: shopper.find("#result").get_attribute("data-state") == "bad", "forged return accepted")
    check("pay result", "#result-title")
    assert shopper.find('link[rel="icon"]').get_attribute("href").endswith("/static/favicon.svg")
    assert backend.call("GET", "/static/favicon.svg")[0] == 200
    assert problems == {}, "\n".join(f"{page}: {line}" for page, found in problems.items() for line in found)
