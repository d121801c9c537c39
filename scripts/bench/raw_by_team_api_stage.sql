-- API Gateway cost by team tag, API and stage, straight from the raw files. (curwatch's
-- `report --by team,api_id,stage` does more: rules, account mapping, shared-cost splits.)
SELECT
    resource_tags_user_team AS team,
    regexp_extract(line_item_resource_id, '/(?:restapis|apis)/([^/]+)', 1) AS api_id,
    regexp_extract(line_item_resource_id, '/stages/([^/]+)', 1) AS stage,
    sum(line_item_unblended_cost) AS cost
FROM read_parquet('{raw}')
WHERE line_item_product_code = 'AmazonApiGateway'
GROUP BY ALL ORDER BY cost DESC;
