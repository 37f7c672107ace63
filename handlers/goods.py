"""The catalog: GET /v1/goods/skus (paginated) and GET /v1/goods/skus/<sku_id>; and the original
pages' GET /v1/goods/index, GET /v1/goods/detail/<sku_id>, POST /v1/goods/sku."""
from handlers import views
from handlers.base import BaseHandler, int_param
from handlers.urls import image_base
from store import catalog
from store.errors import BusinessError, bad_params

# The original goods module's codes, for its endpoints (its pages show `error`).
NO_SUCH_SKU = 40300
NO_SKU_WITH_THESE_ATTRS = 40050


class SkuListHandler(BaseHandler):
    async def get(self):
        page = self.query_int("page", required=False, default=1, minimum=1, maximum=100000)
        page_size = self.query_int("page_size", required=False, default=20, minimum=1, maximum=50)
        skus, total = await catalog.list_launched(self.services, page, page_size)
        self.ok({"skus": [views.sku(s) for s in skus], "total": total, "page": page, "page_size": page_size},
                base_url=image_base(self.config))


class SkuHandler(BaseHandler):
    async def get(self, sku_id):
        sku = await catalog.launched_sku(self.services, int(sku_id))
        self.ok(views.sku(sku), base_url=image_base(self.config))


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
                base_url=image_base(self.config))


class SpuHandler(BaseHandler):
    """GET /v1/goods/spus/<spu_id>: the product with its sale attributes and every SKU."""

    async def get(self, spu_id):
        found = await catalog.product(self.services, int(spu_id))
        self.ok(views.product(found), base_url=image_base(self.config))


class GoodsIndexHandler(BaseHandler):
    """The original home page: every catalog with its first three SKUs on sale."""

    async def get(self):
        self.ok([views.index_catalog(c) for c in await catalog.index(self.services)],
                base_url=image_base(self.config))


class GoodsDetailHandler(BaseHandler):
    """The original product page: the SKU, its catalog, and the selector of its SPU's sale attributes."""

    async def get(self, sku_id):
        detail = await catalog.sku_detail(self.services, int(sku_id))
        if detail is None:
            raise BusinessError(NO_SUCH_SKU, "商品不存在或已下架", http_status=404)
        self.ok(views.sku_detail(detail), base_url=image_base(self.config))


class GoodsSkuHandler(BaseHandler):
    """The original product page's selector: {"spuid": 1, "<attr id>": <value id>, ...} → the SKU's id."""

    async def post(self):
        body = self.json_body()
        spu_id = int_param(body.get("spuid"), "spuid", minimum=1, maximum=2 ** 32 - 1)
        chosen = {}
        for name, value in body.items():
            if name == "spuid":
                continue
            if not (name.isascii() and name.isdigit()) or len(chosen) >= 20:
                raise bad_params(f"参数 {name[:20]} 不是销售属性")
            chosen[int(name)] = int_param(value, name, minimum=1, maximum=2 ** 32 - 1)
        if not chosen:
            raise bad_params("缺少销售属性")
        sku_id = await catalog.sku_with_sale_attrs(self.services, spu_id, chosen)
        if sku_id is None:
            raise BusinessError(NO_SKU_WITH_THESE_ATTRS, "没有这个规格的商品")
        self.ok(sku_id)
