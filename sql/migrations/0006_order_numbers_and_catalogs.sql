-- What the original dadashop pages need (docs/original-pages.md).

-- Order ids of the seed's shape, 16 digits: the minute (yyMMddHHmm) and the last 6 digits of this
-- sequence (store/create_order.new_order_id). One sequence for every process on every host.
-- INCREMENT BY 0 means "step by auto_increment_increment from auto_increment_offset": 1 on a single
-- server, and on Galera every node draws its own residue class, so two nodes never draw the same
-- number (MariaDB's rule for sequences in multi-primary clusters).
CREATE SEQUENCE IF NOT EXISTS order_number START WITH 1 MINVALUE 1 INCREMENT BY 0 CACHE 1000;

-- The original store's catalogs (类别): the home page shows the first three SKUs on sale of each,
-- a product page links its catalog.
CREATE TABLE IF NOT EXISTS catalog (
    id           INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name         VARCHAR(32)  NOT NULL,
    created_time DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_catalog_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE spu ADD COLUMN IF NOT EXISTS catalog_id INT UNSIGNED NULL AFTER caption,
    ADD KEY IF NOT EXISTS ix_spu_catalog (catalog_id);

ALTER TABLE spu ADD CONSTRAINT fk_spu_catalog FOREIGN KEY IF NOT EXISTS (catalog_id) REFERENCES catalog (id);
