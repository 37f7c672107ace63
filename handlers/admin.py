"""Merchant endpoints, authorised by the admin key from configuration — never by a buyer token."""
import hmac

from handlers.base import BaseHandler
from store import orders
from store.errors import BAD_STATUS, ORDER_NOT_FOUND, BusinessError


class AdminHandler(BaseHandler):
    def prepare(self):
        super().prepare()
        configured = self.config.admin_key
        given = self.request.headers.get("X-Admin-Key")
        if not configured:  # no key configured: the merchant endpoints refuse everything
            raise BusinessError(403, "管理接口未启用", http_status=403)
        if not given:
            raise BusinessError(403, "缺少管理密钥", http_status=401)
        if not hmac.compare_digest(given.encode(), configured.encode()):
            raise BusinessError(403, "管理密钥错误", http_status=403)


class ShipOrderHandler(AdminHandler):
    async def post(self, order_id):
        """2 -> 3: the merchant ships a paid order."""
        if await orders.ship(self.db, order_id):
            return self.ok({"order_id": order_id, "status": orders.AWAITING_RECEIPT})
        order = await orders.get_order(self.db, order_id)
        if order is None:
            raise BusinessError(ORDER_NOT_FOUND, "订单不存在")
        raise BusinessError(BAD_STATUS, f"订单当前状态({order['status']})不能发货")
