-- Cost by service over curwatch's store.
SELECT service, sum(unblended_cost) AS cost
FROM read_parquet('{store}/line_items/*/*.parquet')
GROUP BY ALL ORDER BY cost DESC;
