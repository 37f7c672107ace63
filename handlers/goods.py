"""The catalog: GET /v1/goods/skus (paginated) and GET /v1/goods/skus/<sku_id>."""
from handlers.base import BaseHandler
from store.catalog import list_launched, load_skus, sku_json
from store.errors import BusinessError, NOTHING_TO_SETTLE

IMAGE_BASE_URL = "/static/images/"


class SkuListHandler(BaseHandler):
    async def get(self):
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=50)
        async with self.db.acquire() as conn:
            skus, total = await list_launched(conn, page, page_size)
        self.ok({"skus": skus, "total": total, "page": page, "page_size": page_size}, base_url=IMAGE_BASE_URL)


class SkuHandler(BaseHandler):
    async def get(self, sku_id):
        async with self.db.acquire() as conn:
            sku = (await load_skus(conn, [int(sku_id)])).get(int(sku_id))
        if sku is None or not sku["is_launched"]:
            raise BusinessError(NOTHING_TO_SETTLE, "商品不存在或已下架", http_status=404)
        self.ok(sku_json(sku), base_url=IMAGE_BASE_URL)
