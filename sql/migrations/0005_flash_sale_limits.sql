-- Flash-sale SKUs (contract, "Additions"): a per-buyer purchase limit and a sale window (UTC).
-- NULL = no limit / always on sale.
ALTER TABLE sku ADD COLUMN IF NOT EXISTS limit_per_buyer INT UNSIGNED NULL,
                ADD COLUMN IF NOT EXISTS sale_start DATETIME NULL,
                ADD COLUMN IF NOT EXISTS sale_end DATETIME NULL;

-- Units of a limited SKU each buyer holds over their orders that are not closed: one row per
-- (buyer, SKU), changed in the create and close transactions, so one buyer's concurrent orders
-- serialise on it and the limit is exact.
CREATE TABLE IF NOT EXISTS buyer_hold (
    user_id  INT UNSIGNED NOT NULL,
    sku_id   INT UNSIGNED NOT NULL,
    held     INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, sku_id),
    CONSTRAINT fk_buyer_hold_user FOREIGN KEY (user_id) REFERENCES user_profile (id),
    CONSTRAINT fk_buyer_hold_sku FOREIGN KEY (sku_id) REFERENCES sku (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
