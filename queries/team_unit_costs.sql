-- Per team and billed component: units, cost, and cost per million units.
SELECT
    billing_period,
    team,
    component,
    SUM(usage_amount) AS units,
    SUM(unblended_cost) AS cost,
    CASE WHEN SUM(usage_amount) > 0
         THEN CAST(SUM(unblended_cost) AS DOUBLE) / SUM(usage_amount) * 1000000
    END AS cost_per_million
FROM api_gateway
WHERE charge_class = 'usage' AND component IN ('requests', 'messages', 'connection_minutes')
GROUP BY billing_period, team, component
ORDER BY billing_period, cost DESC, team, component
