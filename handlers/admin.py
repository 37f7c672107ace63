"""Merchant endpoints, authorised by the admin key from configuration — never by a buyer token."""
import hmac

from handlers import views
from handlers.base import BaseHandler
from store import order_list, order_status
from store.errors import LOGIN_REQUIRED, ORDER_NOT_FOUND, BusinessError
from store.status import AWAITING_RECEIPT


class AdminHandler(BaseHandler):
    def prepare(self):
        super().prepare()
        configured = self.config.admin_key
        given = self.request.headers.get("X-Admin-Key")
        if not configured:  # no key configured: the merchant endpoints refuse everything
            raise BusinessError(LOGIN_REQUIRED, "管理接口未启用", http_status=403)
        if not given:
            raise BusinessError(LOGIN_REQUIRED, "缺少管理密钥", http_status=401)
        if not hmac.compare_digest(given.encode(), configured.encode()):
            raise BusinessError(LOGIN_REQUIRED, "管理密钥错误", http_status=403)


class AdminOrderListHandler(AdminHandler):
    async def get(self):
        """GET /v1/admin/orders?status=&page=&page_size=: every buyer's orders, newest first."""
        status = self.query_int("status", required=False, default=0, minimum=0, maximum=5)
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=100)
        page_data = await order_list.list_all_orders(self.services, status, page, page_size)
        self.ok_with_json(views.order_page_json(page_data, orders_field="orders").encode())


class AdminOrderHandler(AdminHandler):
    async def get(self, order_id):
        """GET /v1/admin/orders/<order_id>: the order, its payment events and refunds."""
        order = await order_list.order_for_merchant(self.services, order_id)
        if order is None:
            raise BusinessError(ORDER_NOT_FOUND, "订单不存在", http_status=404)
        self.ok(views.merchant_order_detail(order))


class ShipOrderHandler(AdminHandler):
    async def post(self, order_id):
        """2 -> 3: the merchant ships a paid order with {"carrier", "tracking_no"}."""
        carrier = self.body_str("carrier", max_length=32)
        tracking_no = self.body_str("tracking_no", max_length=64)
        await order_status.ship(self.services, order_id, carrier, tracking_no)
        self.ok({"order_id": order_id, "status": AWAITING_RECEIPT, "carrier": carrier, "tracking_no": tracking_no})
