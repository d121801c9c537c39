-- API Gateway spend that carries no owner tag: which APIs, and how allocation placed it.
SELECT
    billing_period,
    account_id,
    api_id,
    stage,
    owner_source,
    team,
    SUM(unblended_cost) AS cost
FROM api_gateway
WHERE owner_source <> 'tag'
GROUP BY billing_period, account_id, api_id, stage, owner_source, team
ORDER BY billing_period, cost DESC, account_id, api_id, stage, team
