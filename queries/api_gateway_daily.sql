-- API Gateway cost per day, account, API and component (usage lines only), as the
-- Well-Architected CUR query library's API Gateway query breaks it down.
SELECT
    day,
    account_id,
    api_id,
    api_type,
    component,
    SUM(usage_amount) AS usage_amount,
    SUM(unblended_cost) AS cost
FROM api_gateway
WHERE charge_class = 'usage'
GROUP BY day, account_id, api_id, api_type, component
ORDER BY day, cost DESC, account_id, api_id, component
