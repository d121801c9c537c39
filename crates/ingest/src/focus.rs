//! FOCUS 1.0–1.2 columns to the canonical schema.

use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray};
use curwatch_schema::{BillingPeriod, ChargeClass, Money};

use crate::canonical::{CanonicalColumns, FileContext, map_from_source, text_array};
use crate::error::ErrorKind;
use crate::format::ExportFormat;
use crate::source::{MoneyColumn, RawBatch};

const BILLED_COST: &str = "BilledCost";
const EFFECTIVE_COST: &str = "EffectiveCost";
const BILLING_PERIOD_START: &str = "BillingPeriodStart";
const CHARGE_PERIOD_START: &str = "ChargePeriodStart";
const CHARGE_PERIOD_END: &str = "ChargePeriodEnd";
const CHARGE_CATEGORY: &str = "ChargeCategory";
const BILLING_ACCOUNT: &str = "BillingAccountId";
const SUB_ACCOUNT: &str = "SubAccountId";
const PROVIDER: &str = "ProviderName";
const SERVICE_NAME: &str = "ServiceName";
const SERVICE_CODE: &str = "x_ServiceCode";
const REGION_ID: &str = "RegionId";
const REGION_LEGACY: &str = "Region";
const USAGE_TYPE: &str = "x_UsageType";
const OPERATION: &str = "x_Operation";
const RESOURCE_ID: &str = "ResourceId";
const QUANTITY: &str = "ConsumedQuantity";
const PRICING_UNIT: &str = "PricingUnit";
const CONSUMED_UNIT: &str = "ConsumedUnit";
const CURRENCY: &str = "BillingCurrency";
const COMMITMENT_ID: &str = "CommitmentDiscountId";
const TAGS: &str = "Tags";
const COST_CATEGORIES: &str = "x_CostCategories";

const REQUIRED: [&str; 4] = [BILLED_COST, BILLING_PERIOD_START, CHARGE_PERIOD_START, CHARGE_CATEGORY];
const OPTIONAL: [&str; 19] = [
    EFFECTIVE_COST,
    CHARGE_PERIOD_END,
    BILLING_ACCOUNT,
    SUB_ACCOUNT,
    PROVIDER,
    SERVICE_NAME,
    SERVICE_CODE,
    REGION_ID,
    REGION_LEGACY,
    USAGE_TYPE,
    OPERATION,
    RESOURCE_ID,
    QUANTITY,
    PRICING_UNIT,
    CONSUMED_UNIT,
    CURRENCY,
    COMMITMENT_ID,
    TAGS,
    COST_CATEGORIES,
];

/// Service names AWS's FOCUS export uses, to their CUR product codes.
const AWS_SERVICE_CODES: &[(&str, &str)] = &[
    ("Amazon API Gateway", "AmazonApiGateway"),
    ("Amazon Elastic Compute Cloud", "AmazonEC2"),
    ("Amazon Simple Storage Service", "AmazonS3"),
    ("AWS Lambda", "AWSLambda"),
    ("Amazon DynamoDB", "AmazonDynamoDB"),
    ("Amazon CloudWatch", "AmazonCloudWatch"),
    ("Amazon Relational Database Service", "AmazonRDS"),
    ("Amazon Virtual Private Cloud", "AmazonVPC"),
    ("AWS CloudTrail", "AWSCloudTrail"),
    ("AWS Data Transfer", "AWSDataTransfer"),
    ("Amazon CloudFront", "AmazonCloudFront"),
    ("Amazon Route 53", "AmazonRoute53"),
    ("Amazon Simple Queue Service", "AWSQueueService"),
    ("Amazon Simple Notification Service", "AmazonSNS"),
    ("AWS Key Management Service", "awskms"),
    ("Elastic Load Balancing", "AWSELB"),
    ("AWS Support (Business)", "AWSSupportBusiness"),
    ("AWS Support (Enterprise)", "AWSSupportEnterprise"),
];

/// The CUR product code for a FOCUS service name; other providers' names pass through.
pub fn service_code_for_name(name: &str) -> &str {
    AWS_SERVICE_CODES.iter().find(|(n, _)| *n == name).map_or(name, |(_, code)| code)
}

#[derive(Debug, Clone)]
pub(crate) struct FocusPlan {
    wanted: Vec<String>,
}

impl FocusPlan {
    pub fn new(columns: &[String]) -> Result<Self, ErrorKind> {
        let has = |name: &str| columns.iter().any(|c| c == name);
        for required in REQUIRED {
            if !has(required) {
                return Err(ErrorKind::MissingColumn {
                    format: ExportFormat::Focus.label(),
                    column: required.to_owned(),
                });
            }
        }
        if !has(SERVICE_NAME) && !has(SERVICE_CODE) {
            return Err(ErrorKind::MissingColumn {
                format: ExportFormat::Focus.label(),
                column: SERVICE_NAME.to_owned(),
            });
        }
        let wanted = REQUIRED.iter().chain(OPTIONAL.iter()).filter(|c| has(c)).map(|c| (*c).to_owned()).collect();
        Ok(FocusPlan { wanted })
    }

    pub fn wanted(&self) -> &[String] {
        &self.wanted
    }

    pub fn canonicalize(&self, raw: &RawBatch, ctx: &FileContext) -> Result<RecordBatch, ErrorKind> {
        let len = raw.len();
        let period_start = raw.timestamps(BILLING_PERIOD_START)?.expect("required");
        let charge_start = raw.timestamps(CHARGE_PERIOD_START)?.expect("required");
        let billed = raw.money(BILLED_COST)?.map_or_else(|| vec![Money::ZERO; len], MoneyColumn::or_zero);
        let effective = raw.money(EFFECTIVE_COST)?;
        // Read in place: the column is also handed on as dictionary text below.
        let category = raw.text_in_place(CHARGE_CATEGORY)?.expect("required");
        let commitment = raw.text(COMMITMENT_ID)?;

        let mut billing_period = Vec::with_capacity(len);
        let mut charge_class = Vec::with_capacity(len);
        let mut amortized = Vec::with_capacity(len);
        for (row, &billed) in billed.iter().enumerate() {
            billing_period.push(
                period_start
                    .is_valid(row)
                    .then(|| period_start.value(row))
                    .and_then(BillingPeriod::of_micros)
                    .ok_or_else(|| raw.required_missing(row, BILLING_PERIOD_START))?,
            );
            if charge_start.is_null(row) {
                return Err(raw.required_missing(row, CHARGE_PERIOD_START));
            }
            let buys_commitment = commitment.as_ref().is_some_and(|c| c.is_valid(row) && !c.value(row).is_empty());
            let category = category.get(row).unwrap_or_default();
            charge_class.push(ChargeClass::from_focus_charge_category(category, buys_commitment));
            amortized.push(effective.as_ref().and_then(|e| e.get(row)).unwrap_or(billed));
        }

        let names = raw.text(SERVICE_NAME)?;
        let codes = raw.text(SERVICE_CODE)?;
        let service = text_array(
            (0..len).map(|row| {
                let code = codes.as_ref().filter(|c| c.is_valid(row)).map(|c| c.value(row)).filter(|c| !c.is_empty());
                let name = names.as_ref().filter(|n| n.is_valid(row)).map(|n| n.value(row)).filter(|n| !n.is_empty());
                Some(code.or_else(|| name.map(service_code_for_name)).unwrap_or("unknown"))
            }),
            len,
        );
        // The first of two columns the file has, read as a dictionary where it is one.
        let either = |first: &str, second: &str| raw.dictionary_text(if raw.has(first) { first } else { second });
        let provider = match raw.text(PROVIDER)? {
            Some(p) => text_array(p.iter().map(|p| Some(p.filter(|p| !p.is_empty()).unwrap_or("unknown"))), len),
            None => text_array(std::iter::repeat_n(Some("unknown"), len), len),
        };

        CanonicalColumns {
            billing_period,
            usage_start: charge_start,
            usage_end: raw.timestamps(CHARGE_PERIOD_END)?.unwrap_or_else(|| TimestampMicrosecondArray::new_null(len)),
            payer_account_id: raw.dictionary_text(BILLING_ACCOUNT)?,
            account_id: raw.dictionary_text(SUB_ACCOUNT)?,
            line_item_type: raw.dictionary_text(CHARGE_CATEGORY)?,
            charge_class,
            provider,
            service,
            service_name: raw.dictionary_text(SERVICE_NAME)?,
            region: either(REGION_ID, REGION_LEGACY)?,
            usage_type: raw.dictionary_text(USAGE_TYPE)?,
            operation: raw.dictionary_text(OPERATION)?,
            resource_id: raw.distinct_text(RESOURCE_ID)?,
            usage_amount: raw.float(QUANTITY)?.unwrap_or_else(|| vec![None; len].into()),
            pricing_unit: either(PRICING_UNIT, CONSUMED_UNIT)?,
            currency: raw.dictionary_text(CURRENCY)?,
            unblended_cost: billed,
            net_unblended_cost: None,
            amortized_cost: amortized,
            tags: map_from_source(raw, TAGS)?,
            cost_categories: map_from_source(raw, COST_CATEGORIES)?,
        }
        .into_batch(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_aws_service_names() {
        assert_eq!(service_code_for_name("Amazon API Gateway"), "AmazonApiGateway");
        assert_eq!(service_code_for_name("Virtual Machines"), "Virtual Machines");
    }
}
