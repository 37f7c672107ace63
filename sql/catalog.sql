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

-- name: list_spus
-- Products with at least one SKU on sale, one row each: price range, stock, and the image of its
-- first SKU; `q` matches name or caption (a LIKE pattern, escaped by the caller), `category` is a
-- catalog's name; '' = all.
SELECT spu.id, spu.name, spu.caption, COALESCE(c.name, '') AS category, MIN(sku.price) AS price_min,
       MAX(sku.price) AS price_max, SUM(sku.stock) AS stock,
       SUBSTRING_INDEX(GROUP_CONCAT(sku.default_image_url ORDER BY sku.id), ',', 1) AS default_image_url
FROM spu JOIN sku ON sku.spu_id = spu.id AND sku.is_launched = 1
LEFT JOIN catalog c ON c.id = spu.catalog_id
WHERE (:q = '' OR spu.name LIKE :q OR spu.caption LIKE :q) AND (:category = '' OR c.name = :category)
GROUP BY spu.id
ORDER BY spu.id
LIMIT :limit OFFSET :offset;

-- name: count_spus$
SELECT COUNT(DISTINCT spu.id)
FROM spu JOIN sku ON sku.spu_id = spu.id AND sku.is_launched = 1
LEFT JOIN catalog c ON c.id = spu.catalog_id
WHERE (:q = '' OR spu.name LIKE :q OR spu.caption LIKE :q) AND (:category = '' OR c.name = :category);

-- name: list_categories
-- The catalogs (类别) with products on sale, for the storefront's filter.
SELECT c.name, COUNT(DISTINCT spu.id) AS products
FROM catalog c JOIN spu ON spu.catalog_id = c.id JOIN sku ON sku.spu_id = spu.id AND sku.is_launched = 1
GROUP BY c.id
ORDER BY c.id;

-- name: get_spu^
SELECT spu.id, spu.name, spu.caption, COALESCE(c.name, '') AS category
FROM spu LEFT JOIN catalog c ON c.id = spu.catalog_id
WHERE spu.id = :spu_id;

-- name: get_sale_attrs_of_spu
SELECT id, name FROM spu_sale_attr WHERE spu_id = :spu_id ORDER BY sort, id;

-- name: get_sku_ids_of_spu
SELECT id FROM sku WHERE spu_id = :spu_id ORDER BY id;

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

-- name: index_skus
-- The original home page: the first three SKUs on sale of every catalog, catalogs by id.
SELECT catalog_id, catalog_name, id, name, caption, price, default_image_url
FROM (
    SELECT c.id AS catalog_id, c.name AS catalog_name, k.id, k.name, k.caption, k.price, k.default_image_url,
           ROW_NUMBER() OVER (PARTITION BY c.id ORDER BY k.id) AS place
    FROM catalog c
    JOIN spu p ON p.catalog_id = c.id
    JOIN sku k ON k.spu_id = p.id AND k.is_launched = 1
) ranked
WHERE place <= 3
ORDER BY catalog_id, id;

-- name: get_sku_with_catalog^
SELECT k.id, k.spu_id, k.name, k.caption, k.price, k.stock, k.is_launched, k.default_image_url,
       p.catalog_id, c.name AS catalog_name
FROM sku k
JOIN spu p ON p.id = k.spu_id
LEFT JOIN catalog c ON c.id = p.catalog_id
WHERE k.id = :sku_id;

-- name: get_sale_attr_values_of_spu
-- Every sale attribute value of every SKU of an SPU, attributes in the SPU's order.
SELECT a.id AS attr_id, a.name AS attr_name, v.id AS value_id, v.name AS value_name, v.sku_id, k.is_launched
FROM spu_sale_attr a
JOIN sale_attr_value v ON v.spu_sale_attr_id = a.id
JOIN sku k ON k.id = v.sku_id
WHERE a.spu_id = :spu_id
ORDER BY a.sort, a.id, v.id;

-- name: create_catalog<!
INSERT INTO catalog (name) VALUES (:name);

-- name: count_catalogs$
SELECT COUNT(*) FROM catalog;

-- name: set_catalog_of_spus_named!
UPDATE spu SET catalog_id = :catalog_id WHERE name = :spu_name;
