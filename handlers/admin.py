"""Merchant endpoints, authorised by the admin key from configuration — never by a buyer token."""
import hmac

from handlers.base import BaseHandler
from store import order_status
from store.errors import LOGIN_REQUIRED, BusinessError
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


class ShipOrderHandler(AdminHandler):
    async def post(self, order_id):
        """2 -> 3: the merchant ships a paid order."""
        await order_status.ship(self.services, order_id)
        self.ok({"order_id": order_id, "status": AWAITING_RECEIPT})
