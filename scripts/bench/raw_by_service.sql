-- Cost by service, straight from the raw files.
SELECT line_item_product_code AS service, sum(line_item_unblended_cost) AS cost
FROM read_parquet('{raw}')
GROUP BY ALL ORDER BY cost DESC;
