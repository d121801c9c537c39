//! The dimensions a report can group by.

use std::fmt;
use std::str::FromStr;

use curwatch_schema::columns;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    BillingPeriod,
    /// Usage day (UTC) of the line item's start.
    Day,
    /// Usage hour, `YYYY-MM-DDTHH:00` (UTC), for hourly exports.
    Hour,
    Account,
    Payer,
    Service,
    ServiceName,
    Region,
    UsageType,
    Operation,
    LineItemType,
    ChargeClass,
    ResourceId,
    PricingUnit,
    Provider,
    Export,
    /// API Gateway API id, from the resource ARN (`/restapis/<id>` or `/apis/<id>`).
    ApiId,
    /// `rest`, `http`, `websocket` or `unknown`, from usage types and the API's other lines.
    ApiType,
    /// API Gateway stage, from the resource ARN.
    Stage,
    /// API Gateway charge component: `requests`, `messages`, `connection_minutes`, `cache`,
    /// `data_transfer`, `other`.
    Component,
    /// Owning team after allocation (tag, rule, account mapping, or `unallocated`).
    Team,
    /// How the team was decided: `tag`, `rule:<name>`, `account`, `unallocated`, `shared:<split>`.
    OwnerSource,
    /// A label set by an allocation rule: `label:env`.
    Label(String),
    /// A normalised resource-tag key: `tag:team`.
    Tag(String),
    /// A cost category: `cost_category:business_unit`.
    CostCategory(String),
}

/// The names accepted by `--by`, for help and errors.
pub const DIMENSION_NAMES: &str = "billing_period, day, hour, account, payer, service, service_name, region, \
usage_type, operation, line_item_type, charge_class, resource_id, pricing_unit, provider, export, \
api_id, api_type, stage, component, team, owner_source, label:<name>, tag:<key>, cost_category:<key>";

#[derive(Debug, thiserror::Error)]
#[error("unknown dimension `{0}`; choose from {DIMENSION_NAMES}")]
pub struct UnknownDimension(pub String);

impl Dimension {
    /// The store column the dimension reads.
    pub fn column(&self) -> &'static str {
        match self {
            Dimension::BillingPeriod => columns::BILLING_PERIOD,
            Dimension::Day | Dimension::Hour => columns::USAGE_START,
            Dimension::Account => columns::ACCOUNT_ID,
            Dimension::Payer => columns::PAYER_ACCOUNT_ID,
            Dimension::Service => columns::SERVICE,
            Dimension::ServiceName => columns::SERVICE_NAME,
            Dimension::Region => columns::REGION,
            Dimension::UsageType => columns::USAGE_TYPE,
            Dimension::Operation => columns::OPERATION,
            Dimension::LineItemType => columns::LINE_ITEM_TYPE,
            Dimension::ChargeClass => columns::CHARGE_CLASS,
            Dimension::ResourceId => columns::RESOURCE_ID,
            Dimension::PricingUnit => columns::PRICING_UNIT,
            Dimension::Provider => columns::PROVIDER,
            Dimension::Export => columns::EXPORT,
            Dimension::ApiId | Dimension::ApiType | Dimension::Stage | Dimension::Component => columns::RESOURCE_ID,
            Dimension::Team | Dimension::OwnerSource | Dimension::Label(_) => columns::TAGS,
            Dimension::Tag(_) => columns::TAGS,
            Dimension::CostCategory(_) => columns::COST_CATEGORIES,
        }
    }

    /// Dimensions derived from API Gateway classification rather than read from one column.
    pub fn is_api_gateway(&self) -> bool {
        matches!(self, Dimension::ApiId | Dimension::ApiType | Dimension::Stage | Dimension::Component)
    }

    /// Dimensions that only exist after allocation.
    pub fn is_allocation(&self) -> bool {
        matches!(self, Dimension::Team | Dimension::OwnerSource | Dimension::Label(_))
    }

    /// Parses a comma-separated `--by` list.
    pub fn parse_list(text: &str) -> Result<Vec<Dimension>, UnknownDimension> {
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
    }
}

impl FromStr for Dimension {
    type Err = UnknownDimension;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(key) = text.strip_prefix("tag:").filter(|k| !k.is_empty()) {
            return Ok(Dimension::Tag(curwatch_schema::naming::tag_key(key)));
        }
        if let Some(name) = text.strip_prefix("label:").filter(|k| !k.is_empty()) {
            return Ok(Dimension::Label(name.to_owned()));
        }
        if let Some(key) = text.strip_prefix("cost_category:").filter(|k| !k.is_empty()) {
            return Ok(Dimension::CostCategory(curwatch_schema::naming::tag_key(key)));
        }
        Ok(match text {
            "billing_period" | "month" => Dimension::BillingPeriod,
            "day" => Dimension::Day,
            "hour" => Dimension::Hour,
            "account" => Dimension::Account,
            "payer" => Dimension::Payer,
            "service" => Dimension::Service,
            "service_name" => Dimension::ServiceName,
            "region" => Dimension::Region,
            "usage_type" => Dimension::UsageType,
            "operation" => Dimension::Operation,
            "line_item_type" => Dimension::LineItemType,
            "charge_class" => Dimension::ChargeClass,
            "resource_id" => Dimension::ResourceId,
            "pricing_unit" => Dimension::PricingUnit,
            "provider" => Dimension::Provider,
            "export" => Dimension::Export,
            "api_id" => Dimension::ApiId,
            "api_type" => Dimension::ApiType,
            "stage" => Dimension::Stage,
            "component" => Dimension::Component,
            "team" => Dimension::Team,
            "owner_source" => Dimension::OwnerSource,
            _ => return Err(UnknownDimension(text.to_owned())),
        })
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Tag(key) => write!(f, "tag:{key}"),
            Dimension::Label(name) => write!(f, "label:{name}"),
            Dimension::Team => f.write_str("team"),
            Dimension::OwnerSource => f.write_str("owner_source"),
            Dimension::CostCategory(key) => write!(f, "cost_category:{key}"),
            Dimension::Day => f.write_str("day"),
            Dimension::Hour => f.write_str("hour"),
            Dimension::Account => f.write_str("account"),
            Dimension::Payer => f.write_str("payer"),
            Dimension::ApiId => f.write_str("api_id"),
            Dimension::ApiType => f.write_str("api_type"),
            Dimension::Stage => f.write_str("stage"),
            Dimension::Component => f.write_str("component"),
            other => f.write_str(other.column()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_normalises_tag_keys() {
        let dims = Dimension::parse_list("billing_period, service,tag:CostCenter").unwrap();
        assert_eq!(dims, vec![Dimension::BillingPeriod, Dimension::Service, Dimension::Tag("cost_center".into())]);
        assert_eq!(dims[2].to_string(), "tag:cost_center");
        assert!(Dimension::parse_list("nope").unwrap_err().to_string().contains("billing_period"));
    }
}
