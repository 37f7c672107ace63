"""Catalog by product (SPU): the list with price ranges, search and categories, and the product
page with its sale attributes and every SKU."""
import pytest

from db import Q


async def shop_catalog_id(conn, name):
    """The id of the catalog (类别) of this name, made when missing."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT id FROM catalog WHERE name=%s", (name,))
        row = await cur.fetchone()
    return row[0] if row else await Q.create_catalog(conn, name=name)


async def product(shop, name, category, skus):
    """An SPU with SKUs given as (attribute values, price, stock, launched), attributes 颜色/尺寸."""
    async with shop.pool.acquire() as conn:
        spu_id = await Q.create_spu(conn, name=name, caption=f"{name}的介绍")
        if category:
            found = await shop_catalog_id(conn, category)
            await Q.set_catalog_of_spus_named(conn, catalog_id=found, spu_name=name)
        attrs = [await Q.create_spu_sale_attr(conn, spu_id=spu_id, name=n, sort=i)
                 for i, n in enumerate(("颜色", "尺寸"))]
        ids = []
        for values, price, stock, launched in skus:
            sku_id = await Q.create_sku(conn, spu_id=spu_id, name=f"{name} {' '.join(values)}", caption="",
                                        price=price, stock=stock, is_launched=launched,
                                        default_image_url=f"{values[0]}.svg")
            for attr_id, value in zip(attrs, values):
                await Q.create_sale_attr_value(conn, sku_id=sku_id, spu_sale_attr_id=attr_id, name=value)
            ids.append(sku_id)
    return spu_id, ids


@pytest.mark.gen_test
async def test_products_list_one_entry_each_with_price_range_search_and_categories(api, shop):
    shirt, _ = await product(shop, "纯棉T恤", "服装", [
        (("红色", "M"), "59.00", 5, 1), (("红色", "L"), "65.00", 0, 1), (("白色", "M"), "10.00", 9, 0)])
    bag, _ = await product(shop, "双肩包100%防水", "箱包", [(("黑色", "15寸"), "199.00", 3, 1)])
    await product(shop, "下架商品", "服装", [(("红色", "M"), "1.00", 1, 0)])
    _, body = await api.get("/v1/goods/spus")
    data = body["data"]
    assert [p["id"] for p in data["spus"]] == [shirt, bag] and data["total"] == 2
    assert data["spus"][0] | {"caption": None} == {
        "id": shirt, "name": "纯棉T恤", "caption": None, "category": "服装", "price_min": "59.00",
        "price_max": "65.00", "stock": 5, "default_image_url": "红色.svg"}  # off-shelf SKUs do not count
    assert data["categories"] == [{"name": "服装", "products": 1}, {"name": "箱包", "products": 1}]
    assert body["base_url"]
    _, found = await api.get("/v1/goods/spus", params={"q": "T恤"})
    assert [p["id"] for p in found["data"]["spus"]] == [shirt]
    _, literal = await api.get("/v1/goods/spus", params={"q": "100%"})  # % is a character, not a wildcard
    assert [p["id"] for p in literal["data"]["spus"]] == [bag]
    _, none = await api.get("/v1/goods/spus", params={"q": "1_0"})
    assert none["data"]["spus"] == [] and none["data"]["total"] == 0
    _, bags = await api.get("/v1/goods/spus", params={"category": "箱包"})
    assert [p["id"] for p in bags["data"]["spus"]] == [bag]
    _, page2 = await api.get("/v1/goods/spus", params={"page": 2, "page_size": 1})
    assert [p["id"] for p in page2["data"]["spus"]] == [bag] and page2["data"]["total"] == 2
    for bad in ({"page": 0}, {"page_size": 51}, {"q": "x" * 33}):
        status, body = await api.get("/v1/goods/spus", params=bad)
        assert (status, body["code"]) == (400, 50109), bad


@pytest.mark.gen_test
async def test_product_page_offers_the_sale_attributes_and_every_sku(api, shop):
    spu, (red_m, red_l, white_m) = await product(shop, "纯棉T恤", "服装", [
        (("红色", "M"), "59.00", 5, 1), (("红色", "L"), "65.00", 0, 1), (("白色", "M"), "10.00", 9, 0)])
    _, body = await api.get(f"/v1/goods/spus/{spu}")
    data = body["data"]
    assert data["sale_attrs"] == [{"name": "颜色", "values": ["红色", "白色"]}, {"name": "尺寸", "values": ["M", "L"]}]
    assert [(s["id"], s["sku_sale_attr_vals"], s["price"], s["stock"], s["is_launched"]) for s in data["skus"]] == [
        (red_m, ["红色", "M"], "59.00", 5, True), (red_l, ["红色", "L"], "65.00", 0, True),
        (white_m, ["白色", "M"], "10.00", 9, False)]
    off, _ = await product(shop, "下架商品", "", [(("红色", "M"), "1.00", 1, 0)])
    for missing in (off, 999999):
        status, body = await api.get(f"/v1/goods/spus/{missing}")
        assert (status, body["code"]) == (404, 50101)
