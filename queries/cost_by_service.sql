-- Every service per billing period: usage, the rest (tax, credits, discounts, fees, commitments), total.
SELECT
    billing_period,
    service,
    SUM(CASE WHEN charge_class = 'usage' THEN unblended_cost ELSE 0 END) AS usage_cost,
    SUM(CASE WHEN charge_class <> 'usage' THEN unblended_cost ELSE 0 END) AS other_charges,
    SUM(unblended_cost) AS total_cost
FROM line_items
GROUP BY billing_period, service
ORDER BY billing_period, total_cost DESC, service
