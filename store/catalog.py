"""Reading the catalog: SKUs with their sale attributes, in a fixed number of queries."""
from db import Q, rows
from store.money import money


async def load_skus(conn, sku_ids) -> dict:
    """SKUs by id (launched or not) with `attr_names`/`attr_vals`; unknown ids are simply absent.

    Two queries whatever the number of SKUs.
    """
    ids = tuple(sorted({int(i) for i in sku_ids}))
    if not ids:
        return {}
    skus = {row["id"]: dict(row, attr_names=[], attr_vals=[]) for row in await rows(Q.get_skus_by_ids(conn, ids=ids))}
    if skus:
        for attr in await rows(Q.get_sale_attrs_of_skus(conn, ids=tuple(skus))):
            skus[attr["sku_id"]]["attr_names"].append(attr["attr_name"])
            skus[attr["sku_id"]]["attr_vals"].append(attr["attr_value"])
    return skus


def sku_json(sku) -> dict:
    """The catalog's public view of one SKU."""
    return {
        "id": sku["id"], "spu_id": sku["spu_id"], "name": sku["name"], "caption": sku["caption"],
        "price": money(sku["price"]), "stock": sku["stock"], "sales": sku["sales"],
        "is_launched": bool(sku.get("is_launched", 1)),
        "default_image_url": sku["default_image_url"],
        "sku_sale_attr_names": sku["attr_names"], "sku_sale_attr_vals": sku["attr_vals"],
    }


async def list_launched(conn, page, page_size):
    total = await Q.count_launched_skus(conn)
    page_rows = await rows(Q.list_launched_skus(conn, limit=page_size, offset=(page - 1) * page_size))
    skus = await load_skus(conn, [r["id"] for r in page_rows])
    return [sku_json(skus[r["id"]]) for r in page_rows], total
