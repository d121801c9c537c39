//! AWS's column-name rule and the one tag-key form curwatch uses across formats.

/// AWS's rule for turning `category/Name` headers into Athena/Parquet column names:
/// `_` before each uppercase letter, lowercase, non-alphanumerics to `_`, repeated `_`
/// collapsed, `_` trimmed at both ends.
///
/// `lineItem/UsageStartDate` → `line_item_usage_start_date`,
/// `reservation/ReservationARN` → `reservation_reservation_a_r_n`.
pub fn aws_column_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else {
            out.push('_');
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for ch in out.chars() {
        if ch == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(ch);
    }
    collapsed.trim_matches('_').to_owned()
}

/// The normalised key of a resource tag or cost category, whatever format it came from.
///
/// AWS's column-name rule applied to the key, then a `user_` prefix dropped; `aws_`
/// keys keep theirs. So `user:CostCenter` (legacy CSV), `user_cost_center` (legacy
/// Parquet suffix, CUR 2.0 map key) and `CostCenter` (FOCUS) all become `cost_center`,
/// and `aws:createdBy` becomes `aws_created_by`.
pub fn tag_key(raw: &str) -> String {
    let name = aws_column_name(raw);
    match name.strip_prefix("user_") {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_rule_matches_aws_examples() {
        assert_eq!(aws_column_name("lineItem/UsageStartDate"), "line_item_usage_start_date");
        assert_eq!(aws_column_name("resourceTags/user:CostCenter"), "resource_tags_user_cost_center");
        assert_eq!(aws_column_name("resourceTags/aws:createdBy"), "resource_tags_aws_created_by");
        assert_eq!(aws_column_name("reservation/ReservationARN"), "reservation_reservation_a_r_n");
        assert_eq!(aws_column_name("identity/LineItemId"), "identity_line_item_id");
        assert_eq!(aws_column_name("product/region"), "product_region");
        assert_eq!(aws_column_name("line_item_usage_start_date"), "line_item_usage_start_date");
    }

    #[test]
    fn tag_keys_agree_across_formats() {
        for raw in ["user:CostCenter", "user_cost_center", "CostCenter", "cost_center"] {
            assert_eq!(tag_key(raw), "cost_center", "{raw}");
        }
        assert_eq!(tag_key("aws:createdBy"), "aws_created_by");
        assert_eq!(tag_key("aws_created_by"), "aws_created_by");
        assert_eq!(tag_key("user:team"), "team");
        assert_eq!(tag_key("user:"), "user");
    }
}
