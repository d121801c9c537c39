-- The ten costliest APIs of the latest month, against the month before.
WITH monthly AS (
    SELECT billing_period, api_id, api_type, SUM(unblended_cost) AS cost
    FROM api_gateway
    WHERE api_id IS NOT NULL
    GROUP BY billing_period, api_id, api_type
),
latest AS (
    SELECT MAX(billing_period) AS period FROM monthly
),
this_month AS (
    SELECT m.api_id, m.api_type, m.cost FROM monthly m JOIN latest l ON m.billing_period = l.period
),
last_month AS (
    SELECT m.api_id, m.cost FROM monthly m JOIN latest l ON m.billing_period < l.period
)
SELECT
    t.api_id,
    t.api_type,
    t.cost,
    p.cost AS previous_cost,
    t.cost - p.cost AS change
FROM this_month t
LEFT JOIN last_month p ON t.api_id = p.api_id
ORDER BY t.cost DESC, t.api_id
LIMIT 10
