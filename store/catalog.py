"""Reading the catalog: SKUs with their sale attributes, in a fixed number of queries."""
from db import Q, rows
from store.errors import UNKNOWN_SKU, BusinessError


async def skus_by_id(conn, sku_ids, *, with_attrs=True) -> dict:
    """SKUs by id (launched or not), with `attr_names`/`attr_vals` (empty unless `with_attrs`);
    unknown ids are simply absent. One query, two with the attributes, whatever the number of SKUs."""
    ids = tuple(sorted({int(i) for i in sku_ids}))
    if not ids:
        return {}
    skus = {row["id"]: dict(row, attr_names=[], attr_vals=[]) for row in await rows(Q.get_skus_by_ids(conn, ids=ids))}
    if skus and with_attrs:
        for attr in await rows(Q.get_sale_attrs_of_skus(conn, ids=tuple(skus))):
            skus[attr["sku_id"]]["attr_names"].append(attr["attr_name"])
            skus[attr["sku_id"]]["attr_vals"].append(attr["attr_value"])
    return skus


async def load_skus(services, sku_ids) -> dict:
    async with services.pool.acquire() as conn:
        return await skus_by_id(conn, sku_ids)


async def launched_sku(services, sku_id) -> dict:
    """One SKU on sale, or 50101 (HTTP 404)."""
    sku = (await load_skus(services, [sku_id])).get(sku_id)
    if sku is None or not sku["is_launched"]:
        raise BusinessError(UNKNOWN_SKU, "商品不存在或已下架", http_status=404)
    return sku


async def list_launched(services, page, page_size) -> tuple[list, int]:
    """One page of the SKUs on sale, by id, and how many there are."""
    async with services.pool.acquire() as conn:
        total = await Q.count_launched_skus(conn)
        page_rows = await rows(Q.list_launched_skus(conn, limit=page_size, offset=(page - 1) * page_size))
        skus = await skus_by_id(conn, [r["id"] for r in page_rows])
    return [skus[r["id"]] for r in page_rows], total


# ---------------------------------------------------------------- products (SPUs)

def like_pattern(text) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally; '' for no filter."""
    if not text:
        return ""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_products(services, q, category, page, page_size) -> tuple[list, int]:
    """Products with something on sale, by id: price range, stock and image; and how many match."""
    filters = {"q": like_pattern(q), "category": category or ""}
    async with services.pool.acquire() as conn:
        total = await Q.count_spus(conn, **filters)
        products = await rows(Q.list_spus(conn, limit=page_size, offset=(page - 1) * page_size, **filters))
    return products, total


async def categories(services) -> list:
    async with services.pool.acquire() as conn:
        return await rows(Q.list_categories(conn))


async def product(services, spu_id) -> dict:
    """A product with its sale attributes (names, and the values its SKUs use, in SKU order) and
    every SKU (launched or not) with its values; 50101 (HTTP 404) when unknown or nothing is on sale."""
    async with services.pool.acquire() as conn:
        spu = await Q.get_spu(conn, spu_id=spu_id)
        if spu is None:
            raise BusinessError(UNKNOWN_SKU, "商品不存在或已下架", http_status=404)
        attr_names = [a["name"] for a in await rows(Q.get_sale_attrs_of_spu(conn, spu_id=spu_id))]
        skus = await skus_by_id(conn, [r["id"] for r in await rows(Q.get_sku_ids_of_spu(conn, spu_id=spu_id))])
    if not any(s["is_launched"] for s in skus.values()):
        raise BusinessError(UNKNOWN_SKU, "商品不存在或已下架", http_status=404)
    values = {name: [] for name in attr_names}
    for sku in skus.values():
        for name, value in zip(sku["attr_names"], sku["attr_vals"]):
            if value not in values.setdefault(name, []):
                values[name].append(value)
    return dict(spu, sale_attrs=[{"name": name, "values": vals} for name, vals in values.items()],
                skus=[skus[i] for i in sorted(skus)])


# ---- the original pages' catalog: home page by catalog, product page with its sale-attribute selector

async def index(services) -> list:
    """[{catalog_id, catalog_name, skus: [the first three SKUs on sale]}], catalogs by id; catalogs
    with nothing on sale and SPUs in no catalog are not shown."""
    async with services.pool.acquire() as conn:
        found = await rows(Q.index_skus(conn))
    catalogs = {}
    for row in found:
        catalogs.setdefault(row["catalog_id"], {"catalog_id": row["catalog_id"], "catalog_name": row["catalog_name"],
                                                "skus": []})["skus"].append(row)
    return list(catalogs.values())


async def sku_detail(services, sku_id) -> dict | None:
    """One SKU on sale with its catalog and `attrs` (see sale_attrs), or None."""
    async with services.pool.acquire() as conn:
        sku = await Q.get_sku_with_catalog(conn, sku_id=sku_id)
        if sku is None or not sku["is_launched"]:
            return None
        values = await rows(Q.get_sale_attr_values_of_spu(conn, spu_id=sku["spu_id"]))
    return dict(sku, attrs=sale_attrs(values, sku_id))


def sale_attrs(values, sku_id) -> list:
    """The sale attributes of `sku_id`, in the SPU's order: [{id, name, values: {value name: value id},
    chosen: (value id, value name)}]. `values` are the distinct values the SPU's SKUs on sale have,
    each named by the id of its first row (the id a page sends back to POST /v1/goods/sku)."""
    attrs = {}
    for v in values:
        attr = attrs.setdefault(v["attr_id"], {"id": v["attr_id"], "name": v["attr_name"], "values": {},
                                               "chosen": None})
        if v["is_launched"] or v["sku_id"] == sku_id:
            value_id = attr["values"].setdefault(v["value_name"], v["value_id"])
            if v["sku_id"] == sku_id:
                attr["chosen"] = (value_id, v["value_name"])
    return [attr for attr in attrs.values() if attr["chosen"]]


async def sku_with_sale_attrs(services, spu_id, chosen: dict):
    """The SKU on sale of `spu_id` with the chosen values ({attr id: value id}, ids as sale_attrs
    gives them), the lowest id when several fit, or None."""
    async with services.pool.acquire() as conn:
        values = await rows(Q.get_sale_attr_values_of_spu(conn, spu_id=spu_id))
    by_id = {v["value_id"]: v for v in values}
    wanted = {}
    for attr_id, value_id in chosen.items():
        value = by_id.get(value_id)
        if value is None or value["attr_id"] != attr_id:
            return None
        wanted[attr_id] = value["value_name"]
    skus = {}  # SKU on sale -> {attr id: value name}
    for v in values:
        if v["is_launched"]:
            skus.setdefault(v["sku_id"], {})[v["attr_id"]] = v["value_name"]
    fits = [sid for sid, named in skus.items() if all(named.get(a) == name for a, name in wanted.items())]
    return min(fits) if fits and wanted else None
