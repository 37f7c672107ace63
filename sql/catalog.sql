-- The catalog: SPUs, SKUs and their sale attributes.

-- name: count_launched_skus$
SELECT COUNT(*) FROM sku WHERE is_launched = 1;

-- name: count_skus$
SELECT COUNT(*) FROM sku;

-- name: list_launched_skus
SELECT id, spu_id, name, caption, price, stock, sales, default_image_url
FROM sku
WHERE is_launched = 1
ORDER BY id
LIMIT :limit OFFSET :offset;

-- name: get_skus_by_ids
-- Launched or not: callers decide what an off-shelf SKU means to them.
SELECT id, spu_id, name, caption, price, stock, sales, is_launched, default_image_url,
       limit_per_buyer, sale_start, sale_end
FROM sku
WHERE id IN :ids;

-- name: get_sale_attrs_of_skus
-- The sale attribute names and values of several SKUs in one query, in the SPU's order.
SELECT v.sku_id, a.name AS attr_name, v.name AS attr_value
FROM sale_attr_value v
JOIN spu_sale_attr a ON a.id = v.spu_sale_attr_id
WHERE v.sku_id IN :ids
ORDER BY v.sku_id, a.sort, a.id;

-- name: create_spu<!
INSERT INTO spu (name, caption) VALUES (:name, :caption);

-- name: create_spu_sale_attr<!
INSERT INTO spu_sale_attr (spu_id, name, sort) VALUES (:spu_id, :name, :sort);

-- name: create_sku<!
INSERT INTO sku (spu_id, name, caption, price, stock, sales, is_launched, default_image_url)
VALUES (:spu_id, :name, :caption, :price, :stock, 0, :is_launched, :default_image_url);

-- name: set_flash_sale!
-- A per-buyer limit and a sale window (UTC); NULLs lift them.
UPDATE sku SET limit_per_buyer = :limit_per_buyer, sale_start = :sale_start, sale_end = :sale_end
WHERE id = :sku_id;

-- name: create_sale_attr_value<!
INSERT INTO sale_attr_value (sku_id, spu_sale_attr_id, name) VALUES (:sku_id, :spu_sale_attr_id, :name);
