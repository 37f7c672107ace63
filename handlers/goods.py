"""The catalog: GET /v1/goods/skus (paginated) and GET /v1/goods/skus/<sku_id>."""
from handlers import views
from handlers.base import BaseHandler
from handlers.urls import image_base
from store import catalog


class SkuListHandler(BaseHandler):
    async def get(self):
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=50)
        skus, total = await catalog.list_launched(self.services, page, page_size)
        self.ok({"skus": [views.sku(s) for s in skus], "total": total, "page": page, "page_size": page_size},
                base_url=image_base(self.config))


class SkuHandler(BaseHandler):
    async def get(self, sku_id):
        self.ok(views.sku(await catalog.launched_sku(self.services, int(sku_id))), base_url=image_base(self.config))
