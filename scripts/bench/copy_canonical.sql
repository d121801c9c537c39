-- DuckDB writing the columns curwatch's store holds, from the raw legacy CUR Parquet.
COPY (
    SELECT
        strftime(bill_billing_period_start_date, '%Y-%m') AS billing_period,
        line_item_usage_start_date AS usage_start,
        line_item_usage_end_date AS usage_end,
        bill_payer_account_id AS payer_account_id,
        line_item_usage_account_id AS account_id,
        line_item_line_item_type AS line_item_type,
        line_item_product_code AS service,
        product_product_name AS service_name,
        product_region_code AS region,
        line_item_usage_type AS usage_type,
        line_item_operation AS operation,
        line_item_resource_id AS resource_id,
        line_item_usage_amount AS usage_amount,
        pricing_unit,
        line_item_currency_code AS currency,
        line_item_unblended_cost::DECIMAL(18, 10) AS unblended_cost,
        line_item_net_unblended_cost::DECIMAL(18, 10) AS net_unblended_cost,
        map_from_entries([
            ('team', resource_tags_user_team),
            ('environment', resource_tags_user_environment),
            ('aws:createdBy', resource_tags_aws_created_by)
        ]) AS tags
    FROM read_parquet('{raw}')
) TO '{out}' (FORMAT parquet);
