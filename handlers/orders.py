"""/v1/orders/processing/ — one URL, the `status` parameter picks the action."""
import asyncio
import json
import re

from handlers.base import BaseHandler, authenticated, int_param, str_param
from store import orders
from handlers.goods import IMAGE_BASE_URL
from store.errors import ORDER_NOT_FOUND, BusinessError, bad_params
from store.payments import alipay_page_pay_url, check_pay_link, close_trade_best_effort, pay_data

ORDER_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")


class OrderProcessingHandler(BaseHandler):
    @authenticated
    async def get(self):
        actions = {0: self.confirm, 1: self.list_orders, 2: self.confirm_receipt}
        await self.dispatch(actions, self.get_query_argument("status", None))

    @authenticated
    async def post(self):
        actions = {0: self.create, 1: self.pay, 2: self.cancel}
        await self.dispatch(actions, self.json_body().get("status"))

    async def dispatch(self, actions, status):
        action = actions.get(int_param(status, "status", minimum=0))
        if action is None:
            raise bad_params(f"未知的业务类型码 status={status}")
        await action()

    # ---- GET
    async def confirm(self):
        settlement_type, sku_id, buy_num = self.settlement(self.get_query_argument)
        data = await orders.confirm(self.db, self.redis, self.user["id"], self.config.freight,
                                    settlement_type, sku_id, buy_num)
        self.ok(data, base_url=IMAGE_BASE_URL)

    async def list_orders(self):
        order_status = self.query_int("order_status", required=False, default=0, minimum=0, maximum=5)
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=10, minimum=1, maximum=50)
        text = await orders.list_orders_json(self.db, self.redis, self.user["id"], order_status, page, page_size)
        # the cached JSON as it is, inside the envelope
        self.finish('{"code":200,"data":%s,"base_url":%s}' % (text, json.dumps(IMAGE_BASE_URL)))

    async def confirm_receipt(self):
        order_id = self.query_str("order_id", max_length=64, pattern=ORDER_ID)
        await orders.confirm_receipt(self.db, self.user["id"], order_id)
        self.ok()

    # ---- POST
    async def create(self):
        body = self.json_body()
        settlement_type, sku_id, buy_num = self.settlement(lambda name, default=None: body.get(name, default))
        address_id = self.body_int("address_id", minimum=1)
        key = self.request.headers.get("Idempotency-Key") or body.get("request_id")
        key = str_param(key, "Idempotency-Key", required=False, max_length=64, pattern=IDEMPOTENCY_KEY)
        order = await orders.create_order(
            self.db, self.redis, user_id=self.user["id"], address_id=address_id, settlement_type=settlement_type,
            freight=self.config.freight, timeout=self.config.order_timeout, sku_id=sku_id, buy_num=buy_num,
            idempotency_key=key)
        self.ok(pay_data(self.config, order))

    async def pay(self):
        order = await orders.order_to_pay(self.db, self.user["id"], self.order_id_from_body())
        self.ok(pay_data(self.config, order))

    async def cancel(self):
        order_id = self.order_id_from_body()
        await orders.cancel(self.db, self.user["id"], order_id)
        await close_trade_best_effort(self.application.alipay, order_id)
        self.ok()

    # ---- parameters
    def settlement(self, read):
        settlement_type = int_param(read("settlement_type", None), "settlement_type", minimum=0, maximum=1)
        if settlement_type == 0:
            return 0, None, None
        sku_id = int_param(read("sku_id", None), "sku_id", required=False)
        buy_num = int_param(read("buy_num", None), "buy_num", required=False)
        return 1, sku_id, buy_num

    def order_id_from_body(self):
        return self.body_str("order_id", max_length=64, pattern=ORDER_ID)


class PayLinkHandler(BaseHandler):
    """GET /v1/orders/<order_id>/alipay?sig=...: the buyer goes to pay; sign the page-pay URL now.

    A browser navigation (no token header): the HMAC in the link is the authorisation, and the
    link only ever leads to paying that order's stored amount.
    """

    async def get(self, order_id):
        if not check_pay_link(self.config, order_id, self.get_query_argument("sig", "")):
            raise BusinessError(ORDER_NOT_FOUND, "订单不存在", http_status=404)
        order = await orders.order_awaiting_payment(self.db, order_id)
        if order is None:  # paid, closed or past its deadline: a browser is better off in "my orders"
            return self.redirect("/static/myOrders.html")
        await orders.mark_pay_started(self.db, order_id)
        # RSA-signing the URL costs ~1.1 ms of CPU; pycryptodome releases the GIL in it (two threads
        # sign 1.8x as fast as one), so a worker thread keeps this loop serving other buyers meanwhile
        url = await asyncio.get_running_loop().run_in_executor(
            None, alipay_page_pay_url, self.application.alipay, self.config, order)
        self.redirect(url)
