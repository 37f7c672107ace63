"""/v1/orders/processing/ — one URL, the `status` parameter picks the action — and the pay link."""
import asyncio
import re

import metrics
from handlers import views
from handlers.base import BaseHandler, authenticated, int_param, str_param
from handlers.urls import MY_ORDERS_PAGE, ORDER_ID, image_base, notify_url, return_url
from store import order_list, order_status, settle
from store.auth import check_pay_link_signature
from store.create_order import create_order
from store.errors import NO_ADDRESS, ORDER_NOT_FOUND, BusinessError, bad_params
from store.payments import close_trade_best_effort

ORDER_ID_PATTERN = re.compile(ORDER_ID)
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")
# browsers on phones go to Alipay's phone cashier (alipay.trade.wap.pay), the others to the PC one
PHONE_BROWSER = re.compile(r"Mobile|Android|iPhone|iPod|HarmonyOS|Windows Phone", re.IGNORECASE)


class OrderProcessingHandler(BaseHandler):
    @authenticated
    async def get(self):
        actions = {0: self.confirm, 1: self.list_orders, 2: self.confirm_receipt}
        await self.dispatch(actions, self.get_query_argument("status", None))

    @authenticated
    async def post(self):
        actions = {0: self.create, 1: self.pay, 2: self.cancel}
        await self.rate_limit("orders_buyer", self.user["id"])
        await self.dispatch(actions, self.json_body().get("status"))

    async def dispatch(self, actions, status):
        action = actions.get(int_param(status, "status", minimum=0))
        if action is None:
            raise bad_params(f"未知的业务类型码 status={status}")
        await action()

    # ---- GET
    async def confirm(self):
        settlement_type, sku_id, buy_num = self.settlement(self.get_query_argument)
        confirmation = await settle.confirm(self.services, self.user["id"], settlement_type, sku_id, buy_num)
        data = views.confirmation(confirmation)
        if not confirmation.addresses:  # the page then offers the add-address form, with the items (and images)
            return self.reply({"code": NO_ADDRESS, "errmsg": "请先添加收货地址", "data": data,
                               "base_url": image_base(self.config)})
        self.ok(data, base_url=image_base(self.config))

    async def list_orders(self):
        order_status_ = self.query_int("order_status", required=False, default=0, minimum=0, maximum=5)
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=10, minimum=1, maximum=50)
        which = (self.user["id"], order_status_, page, page_size)
        page_json, version = await order_list.cached_page(self.services.redis, *which)
        if page_json is None:
            text = views.order_page_json(await order_list.list_orders(self.services, *which))
            await order_list.cache_page(self.services.redis, *which, version, text)
            page_json = text.encode()
        self.ok_with_json(page_json, base_url=image_base(self.config))

    async def confirm_receipt(self):
        order_id = self.query_str("order_id", max_length=64, pattern=ORDER_ID_PATTERN)
        await order_status.confirm_receipt(self.services, self.user["id"], order_id)
        self.ok()

    # ---- POST
    async def create(self):
        body = self.json_body()
        settlement_type, sku_id, buy_num = self.settlement(lambda name, default=None: body.get(name, default))
        address_id = self.body_int("address_id", minimum=1)
        key = self.request.headers.get("Idempotency-Key") or body.get("request_id")
        key = str_param(key, "Idempotency-Key", required=False, max_length=64, pattern=IDEMPOTENCY_KEY)
        if settlement_type == settle.BUY_NOW and sku_id is None and buy_num is None:
            # the original pages: what this buyer last confirmed with buy-now, as one order however often sent
            remembered = await settle.remembered_buy_now(self.services.redis, self.user["id"])
            sku_id, buy_num = remembered["sku_id"], remembered["buy_num"]
            key = key or remembered["idempotency_key"]
        order = await create_order(self.services, user_id=self.user["id"], address_id=address_id,
                                   settlement_type=settlement_type, sku_id=sku_id, buy_num=buy_num,
                                   idempotency_key=key)
        metrics.order_created()
        self.ok(views.pay_data(self.config, order))

    async def pay(self):
        order = await order_status.order_to_pay(self.services, self.user["id"], self.order_id_from_body())
        self.ok(views.pay_data(self.config, order))

    async def cancel(self):
        order_id = self.order_id_from_body()
        await order_status.cancel(self.services, self.user["id"], order_id)
        await close_trade_best_effort(self.services, order_id)
        self.ok()

    # ---- parameters
    def settlement(self, read):
        settlement_type = int_param(read("settlement_type", None), "settlement_type", minimum=0, maximum=1)
        if settlement_type == settle.CART:
            return settle.CART, None, None
        sku_id = int_param(read("sku_id", None), "sku_id", required=False)
        buy_num = int_param(read("buy_num", None), "buy_num", required=False)
        return settle.BUY_NOW, sku_id, buy_num

    def order_id_from_body(self):
        return self.body_str("order_id", max_length=64, pattern=ORDER_ID_PATTERN)


class PayLinkHandler(BaseHandler):
    """GET /v1/orders/<order_id>/alipay?sig=...: the buyer goes to pay; sign the page-pay URL now.

    A browser navigation (no token header): the HMAC in the link is the authorisation, and the
    link only ever leads to paying that order's stored amount.
    """

    async def get(self, order_id):
        if not check_pay_link_signature(self.config.jwt_secret, order_id, self.get_query_argument("sig", "")):
            raise BusinessError(ORDER_NOT_FOUND, "订单不存在", http_status=404)
        order = await order_status.order_awaiting_payment(self.services, order_id)
        if order is None:  # paid, closed or past its deadline: a browser is better off in "my orders"
            return self.redirect(MY_ORDERS_PAGE)
        await order_status.mark_pay_started(self.services, order_id)
        # RSA-signing the URL costs ~1.1 ms of CPU; pycryptodome releases the GIL in it (two threads
        # sign 1.8x as fast as one), so a worker thread keeps this loop serving other buyers meanwhile
        alipay, config = self.services.alipay, self.config
        trade = dict(out_trade_no=order_id, total_amount=order["total_amount"], subject=views.payment_subject(order_id),
                     time_expire=order["pay_deadline"], notify_url=notify_url(config),
                     return_url=return_url(config, order_id))
        if PHONE_BROWSER.search(self.request.headers.get("User-Agent", "")):
            sign = lambda: alipay.wap_pay_url(**trade, quit_url=config.base_url + MY_ORDERS_PAGE)  # noqa: E731
        else:
            sign = lambda: alipay.page_pay_url(**trade)  # noqa: E731
        self.redirect(await asyncio.get_running_loop().run_in_executor(None, sign))
