"""The catalog: GET /v1/goods/skus (paginated) and GET /v1/goods/skus/<sku_id>."""
from handlers import views
from handlers.base import BaseHandler
from handlers.urls import IMAGE_BASE
from store import catalog


class SkuListHandler(BaseHandler):
    async def get(self):
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=50)
        skus, total = await catalog.list_launched(self.services, page, page_size)
        self.ok({"skus": [views.sku(s) for s in skus], "total": total, "page": page, "page_size": page_size},
                base_url=IMAGE_BASE)


class SkuHandler(BaseHandler):
    async def get(self, sku_id):
        self.ok(views.sku(await catalog.launched_sku(self.services, int(sku_id))), base_url=IMAGE_BASE)


class SpuListHandler(BaseHandler):
    """GET /v1/goods/spus?page=&page_size=&q=&category=: one entry per product, and the categories."""

    async def get(self):
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=50)
        q = self.query_str("q", required=False, default="", max_length=32)
        category = self.query_str("category", required=False, default="", max_length=32)
        products, total = await catalog.list_products(self.services, q, category, page, page_size)
        self.ok({"spus": [views.product_summary(p) for p in products], "total": total, "page": page,
                 "page_size": page_size, "categories": await catalog.categories(self.services)},
                base_url=IMAGE_BASE)


class SpuHandler(BaseHandler):
    """GET /v1/goods/spus/<spu_id>: the product with its sale attributes and every SKU."""

    async def get(self, spu_id):
        self.ok(views.product(await catalog.product(self.services, int(spu_id))), base_url=IMAGE_BASE)
