"""The demo store: `python server.py --demo` loads it when the catalog is empty.

About 20 SKUs over a few SPUs with sale attributes (颜色/尺寸/容量), images the project ships
(static/images/*.svg, drawn by scripts/make_demo_images.py), and a demo buyer with an address.
"""
import logging
from datetime import timedelta
from decimal import Decimal

import db
from db import Q
from store.auth import hash_password
from store.clock import utcnow

log = logging.getLogger("dadashop.demo")

DEMO_USER, DEMO_PASSWORD = "demo", "demo12345"

# (spu name, caption, [attribute names], [(attribute values, price, stock, image)])
CATALOG = [
    ("纯棉T恤", "100%新疆长绒棉, 透气舒适", ["颜色", "尺寸"], [
        (("红色", "M"), "59.00", 50, "tshirt_red.svg"), (("红色", "L"), "59.00", 50, "tshirt_red.svg"),
        (("白色", "M"), "59.00", 80, "tshirt_white.svg"), (("白色", "L"), "59.00", 80, "tshirt_white.svg"),
        (("黑色", "M"), "65.00", 30, "tshirt_black.svg"), (("黑色", "L"), "65.00", 30, "tshirt_black.svg"),
    ]),
    ("轻薄笔记本电脑", "全天续航, 1.2kg", ["颜色", "尺寸"], [
        (("银色", "13寸"), "4999.00", 20, "laptop_silver.svg"), (("银色", "15寸"), "5999.00", 15, "laptop_silver.svg"),
        (("深空灰", "13寸"), "4999.00", 20, "laptop_gray.svg"), (("深空灰", "15寸"), "5999.00", 10, "laptop_gray.svg"),
    ]),
    ("红袖添香双肩包", "防泼水, 可放15寸电脑", ["颜色", "尺寸"], [
        (("红色", "15寸"), "199.00", 40, "bag_red.svg"), (("蓝色", "15寸"), "199.00", 40, "bag_blue.svg"),
        (("黑色", "15寸"), "209.00", 40, "bag_black.svg"),
    ]),
    ("真空保温杯", "12小时保温", ["颜色", "容量"], [
        (("白色", "350ml"), "89.00", 60, "cup_white.svg"), (("白色", "500ml"), "99.00", 60, "cup_white.svg"),
        (("粉色", "350ml"), "89.00", 60, "cup_pink.svg"), (("粉色", "500ml"), "99.00", 60, "cup_pink.svg"),
        (("绿色", "350ml"), "89.00", 60, "cup_green.svg"), (("绿色", "500ml"), "99.00", 60, "cup_green.svg"),
    ]),
    ("静音无线鼠标", "限量款, 库存紧张", ["颜色"], [
        (("黑色",), "129.00", 3, "mouse_black.svg"),
    ]),
]

# The original pages' home page shows three SKUs of each catalog (类别).
CATALOGS = [("服饰箱包", ["纯棉T恤", "红袖添香双肩包"]), ("数码", ["轻薄笔记本电脑", "静音无线鼠标", "限时秒杀·静音无线鼠标"]),
            ("家居", ["真空保温杯"])]


async def load_catalogs(conn, catalogs=CATALOGS):
    for name, spu_names in catalogs:
        catalog_id = await Q.create_catalog(conn, name=name)
        for spu_name in spu_names:
            await Q.set_catalog_of_spus_named(conn, catalog_id=catalog_id, spu_name=spu_name)


# One flash-sale SKU: 2 per buyer, on sale from two minutes after the demo store is loaded for a week
# (the storefront counts down to the start).
FLASH_SALE = ("限时秒杀·静音无线鼠标", "秒杀价, 每人限购2件", ["颜色"], [(("白色",), "49.00", 100, "mouse_black.svg")])
FLASH_SALE_LIMIT, FLASH_SALE_OPENS_IN, FLASH_SALE_LASTS = 2, timedelta(minutes=2), timedelta(days=7)


async def load_catalog(conn, catalog=CATALOG):
    sku_ids = []
    for spu_name, caption, attr_names, skus in catalog:
        spu_id = await Q.create_spu(conn, name=spu_name, caption=caption)
        attr_ids = [await Q.create_spu_sale_attr(conn, spu_id=spu_id, name=name, sort=i)
                    for i, name in enumerate(attr_names)]
        for values, price, stock, image in skus:
            sku_id = await Q.create_sku(conn, spu_id=spu_id, name=f"{spu_name} {' '.join(values)}", caption=caption,
                                        price=Decimal(price), stock=stock, is_launched=1, default_image_url=image)
            for attr_id, value in zip(attr_ids, values):
                await Q.create_sale_attr_value(conn, sku_id=sku_id, spu_sale_attr_id=attr_id, name=value)
            sku_ids.append(sku_id)
    return sku_ids


async def load(config):
    pool = await db.create_pool(config.mysql, maxsize=2)
    try:
        async with db.transaction(pool) as conn:
            if await Q.count_skus(conn):
                log.info("demo: the catalog is not empty, nothing loaded")
            else:
                await load_catalog(conn)
                sku_ids = await load_catalog(conn, [FLASH_SALE])
                opens = utcnow().replace(microsecond=0) + FLASH_SALE_OPENS_IN
                await Q.set_flash_sale(conn, sku_id=sku_ids[0], limit_per_buyer=FLASH_SALE_LIMIT, sale_start=opens,
                                       sale_end=opens + FLASH_SALE_LASTS)
                log.info("demo: loaded %d SKUs", sum(len(entry[3]) for entry in CATALOG) + 1)
            if not await Q.count_catalogs(conn):
                await load_catalogs(conn)
            if await Q.get_user_by_name(conn, username=DEMO_USER) is None:
                user_id = await Q.create_user(conn, username=DEMO_USER, password_hash=hash_password(DEMO_PASSWORD),
                                              email="demo@example.com", phone="13600000000")
                await Q.add_address(conn, user_id=user_id, receiver="达达", receiver_mobile="13600000000",
                                    address="北京市东城区珍贝大厦 8层", postcode="100010", tag="公司", is_default=1)
    finally:
        pool.close()
        await pool.wait_closed()
    print(f"\n  Demo store ready: open http://127.0.0.1:{config.port}/ and log in as "
          f"{DEMO_USER} / {DEMO_PASSWORD}\n", flush=True)
