-- API Gateway cost by team tag, API and stage over curwatch's store.
SELECT
    tags['team'] AS team,
    regexp_extract(resource_id, '/(?:restapis|apis)/([^/]+)', 1) AS api_id,
    regexp_extract(resource_id, '/stages/([^/]+)', 1) AS stage,
    sum(unblended_cost) AS cost
FROM read_parquet('{store}/line_items/*/*.parquet')
WHERE service = 'AmazonApiGateway'
GROUP BY ALL ORDER BY cost DESC;
