//! The columns each export format writes for a line item.

use std::borrow::Cow;

use chrono::DateTime;
use curwatch_schema::Money;
use curwatch_schema::naming::aws_column_name;

use crate::model::Line;

/// One cell of a line item, before a format encodes it.
pub(crate) enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Float(f64),
    Money(Money),
    /// UTC microseconds.
    Time(i64),
    Map(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Float,
    Money,
    Time,
    Map,
}

type Getter = Box<dyn for<'l, 'm> Fn(&'l Line<'m>) -> Value<'l> + Send + Sync>;

pub(crate) struct Column {
    pub name: String,
    pub kind: Kind,
    pub get: Getter,
}

fn col(name: &str, kind: Kind, get: impl for<'l, 'm> Fn(&'l Line<'m>) -> Value<'l> + Send + Sync + 'static) -> Column {
    Column { name: name.to_owned(), kind, get: Box::new(get) }
}

fn text<'a>(s: &'a str) -> Value<'a> {
    if s.is_empty() { Value::Null } else { Value::Text(Cow::Borrowed(s)) }
}

fn owned(s: String) -> Value<'static> {
    Value::Text(Cow::Owned(s))
}

fn period_bounds(line: &Line) -> (i64, i64) {
    let micros = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros();
    (micros(line.period.first_day()), micros(line.period.next().first_day()))
}

fn iso(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros).expect("in range").format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn region_code<'l>(line: &'l Line<'_>) -> Value<'l> {
    line.region.map_or(Value::Null, |r| text(r.code))
}

fn description(line: &Line) -> String {
    match line.line_type {
        "Tax" => format!("Tax for product code {}", line.service.code),
        "EdpDiscount" => "Enterprise Program Discount".to_owned(),
        "Usage" | "SavingsPlanCoveredUsage" => {
            format!("${} per {} for {}", line.rate, line.unit, line.usage_type)
        }
        other => format!("{other} for {}", line.service.name),
    }
}

/// Columns common to legacy CUR and CUR 2.0, as legacy `category/Name` headers.
fn cur_core(cur2: bool) -> Vec<Column> {
    use Kind::*;
    let mut columns = vec![
        col("identity/LineItemId", Text, |l| owned(format!("{:026x}", u128::from(l.seq) * 0x9e37_79b9_7f4a_7c15))),
        col("identity/TimeInterval", Text, |l| owned(format!("{}/{}", iso(l.start), iso(l.end)))),
        col("bill/InvoiceId", Text, |_| Value::Null),
        col("bill/BillingEntity", Text, |_| text("AWS")),
        col("bill/BillType", Text, |_| text("Anniversary")),
        col("bill/PayerAccountId", Text, |l| text(&l.payer.id)),
        col("bill/BillingPeriodStartDate", Time, |l| Value::Time(period_bounds(l).0)),
        col("bill/BillingPeriodEndDate", Time, |l| Value::Time(period_bounds(l).1)),
        col("lineItem/UsageAccountId", Text, |l| text(&l.account.id)),
        col("lineItem/LineItemType", Text, |l| text(l.line_type)),
        col("lineItem/UsageStartDate", Time, |l| Value::Time(l.start)),
        col("lineItem/UsageEndDate", Time, |l| Value::Time(l.end)),
        col("lineItem/ProductCode", Text, |l| text(l.service.code)),
        col("lineItem/UsageType", Text, |l| text(l.usage_type)),
        col("lineItem/Operation", Text, |l| text(l.operation)),
        col("lineItem/AvailabilityZone", Text, |_| Value::Null),
        col("lineItem/ResourceId", Text, |l| text(l.resource_id)),
        col("lineItem/UsageAmount", Float, |l| Value::Float(l.usage_amount)),
        col("lineItem/NormalizationFactor", Float, |_| Value::Null),
        col("lineItem/CurrencyCode", Text, |_| text("USD")),
        col("lineItem/UnblendedRate", Text, |l| owned(l.rate.to_string())),
        col("lineItem/UnblendedCost", Money, |l| Value::Money(l.unblended)),
        col("lineItem/BlendedRate", Text, |l| owned(l.rate.to_string())),
        col("lineItem/BlendedCost", Money, |l| Value::Money(l.unblended)),
        col("lineItem/NetUnblendedCost", Money, |l| Value::Money(l.net)),
        col("lineItem/LineItemDescription", Text, |l| owned(description(l))),
        col("lineItem/TaxType", Text, |l| if l.line_type == "Tax" { text("VAT") } else { Value::Null }),
        col("lineItem/LegalEntity", Text, |_| text("Amazon Web Services, Inc.")),
        col("product/regionCode", Text, region_code),
        col("product/location", Text, |l| l.region.map_or(Value::Null, |r| text(r.name))),
        col("product/servicecode", Text, |l| text(l.service.code)),
        col("product/usagetype", Text, |l| text(l.usage_type)),
        col("product/operation", Text, |l| text(l.operation)),
        col("product/productFamily", Text, |l| text(l.service.category)),
        col("product/sku", Text, |l| owned(format!("{:016X}", fnv(l.usage_type) ^ fnv(l.service.code)))),
        col("pricing/unit", Text, |l| text(l.unit)),
        col("pricing/term", Text, |l| if l.line_type == "Usage" { text("OnDemand") } else { Value::Null }),
        col("pricing/currency", Text, |_| text("USD")),
        col("pricing/publicOnDemandCost", Money, |l| Value::Money(l.unblended)),
        col("pricing/publicOnDemandRate", Text, |l| owned(l.rate.to_string())),
        col("reservation/ReservationARN", Text, |_| Value::Null),
        col("reservation/EffectiveCost", Money, |_| Value::Null),
        col("savingsPlan/SavingsPlanARN", Text, |l| l.sp_arn.map_or(Value::Null, text)),
        col("savingsPlan/SavingsPlanEffectiveCost", Money, |l| l.sp_effective.map_or(Value::Null, Value::Money)),
        col("savingsPlan/TotalCommitmentToDate", Money, |l| l.sp_commitment.map_or(Value::Null, Value::Money)),
        col("savingsPlan/UsedCommitment", Money, |l| l.sp_used.map_or(Value::Null, Value::Money)),
    ];
    if !cur2 {
        // CUR 2.0 keeps these in its `product` map instead.
        columns.push(col("product/ProductName", Text, |l| text(l.service.name)));
        columns.push(col("product/region", Text, region_code));
    }
    columns
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Product attributes that real CURs carry and curwatch does not read: width, not meaning.
const FILLER: &[&str] = &[
    "product/availability",
    "product/clockSpeed",
    "product/currentGeneration",
    "product/dedicatedEbsThroughput",
    "product/durability",
    "product/ecu",
    "product/enhancedNetworkingSupported",
    "product/eventType",
    "product/feeCode",
    "product/feeDescription",
    "product/fromLocation",
    "product/fromLocationType",
    "product/fromRegionCode",
    "product/group",
    "product/groupDescription",
    "product/instanceFamily",
    "product/instanceType",
    "product/instanceTypeFamily",
    "product/intelAvx2Available",
    "product/intelAvxAvailable",
    "product/intelTurboAvailable",
    "product/licenseModel",
    "product/locationType",
    "product/logsDestination",
    "product/marketoption",
    "product/maxIopsvolume",
    "product/maxThroughputvolume",
    "product/maxVolumeSize",
    "product/memory",
    "product/messageDeliveryFrequency",
    "product/messageDeliveryOrder",
    "product/networkPerformance",
    "product/normalizationSizeFactor",
    "product/operatingSystem",
    "product/physicalProcessor",
    "product/platoclassificationtype",
    "product/preInstalledSw",
    "product/processorArchitecture",
    "product/processorFeatures",
    "product/productType",
    "product/queueType",
    "product/requestDescription",
    "product/requestType",
    "product/servicename",
    "product/storage",
    "product/storageClass",
    "product/storageMedia",
    "product/tenancy",
    "product/toLocation",
    "product/toLocationType",
    "product/toRegionCode",
    "product/transferType",
    "product/vcpu",
    "product/version",
    "product/volumeApiName",
    "product/volumeType",
    "pricing/RateCode",
    "pricing/RateId",
    "pricing/LeaseContractLength",
    "pricing/OfferingClass",
    "pricing/PurchaseOption",
    "reservation/AmortizedUpfrontCostForUsage",
    "reservation/AmortizedUpfrontFeeForBillingPeriod",
    "reservation/EndTime",
    "reservation/ModificationStatus",
    "reservation/NormalizedUnitsPerReservation",
    "reservation/NumberOfReservations",
    "reservation/RecurringFeeForUsage",
    "reservation/StartTime",
    "reservation/SubscriptionId",
    "reservation/TotalReservedNormalizedUnits",
    "reservation/TotalReservedUnits",
    "reservation/UnitsPerReservation",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedNormalizedUnitQuantity",
    "reservation/UnusedQuantity",
    "reservation/UnusedRecurringFee",
    "reservation/UpfrontValue",
    "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod",
    "savingsPlan/RecurringCommitmentForBillingPeriod",
    "savingsPlan/SavingsPlanRate",
    "savingsPlan/StartTime",
    "savingsPlan/EndTime",
    "savingsPlan/OfferingType",
    "savingsPlan/PaymentOption",
    "savingsPlan/PurchaseTerm",
    "savingsPlan/Region",
    "savingsPlan/InstanceTypeFamily",
    "discount/TotalDiscount",
    "discount/EdpDiscount",
];

fn pad(columns: &mut Vec<Column>, width: usize, rename: impl Fn(&str) -> String) {
    let mut extra = FILLER.iter().map(|n| (*n).to_owned()).chain((1..).map(|i| format!("product/attribute{i}")));
    while columns.len() < width {
        let name = rename(&extra.next().expect("endless"));
        let filled = name.contains("servicename") || name.contains("service_name");
        columns.push(if filled {
            col(&name, Kind::Text, |l| text(l.service.name))
        } else {
            col(&name, Kind::Text, |_| Value::Null)
        });
    }
}

/// Legacy CUR: `category/Name` headers (CSV) or their Athena names (Parquet).
pub(crate) fn legacy(width: usize, athena_names: bool) -> Vec<Column> {
    use Kind::*;
    let mut columns = cur_core(false);
    columns.push(col("resourceTags/user:team", Text, |l| tag(l, "user:team")));
    columns.push(col("resourceTags/user:Environment", Text, |l| tag(l, "user:Environment")));
    columns.push(col("resourceTags/aws:createdBy", Text, |l| tag(l, "aws:createdBy")));
    columns.push(col("costCategory/BusinessUnit", Text, |l| text(l.account.business_unit)));
    let rename = |name: &str| {
        if athena_names { aws_column_name(name) } else { name.to_owned() }
    };
    pad(&mut columns, width, rename);
    for column in &mut columns {
        column.name = rename(&column.name);
    }
    columns
}

fn tag<'a>(line: &Line<'a>, key: &str) -> Value<'a> {
    line.tags.iter().find(|(k, _)| *k == key).map_or(Value::Null, |(_, v)| text(v))
}

/// CUR 2.0: snake_case names plus `resource_tags`, `product` and `cost_category` maps.
pub(crate) fn cur2(width: usize) -> Vec<Column> {
    use Kind::*;
    let mut columns = cur_core(true);
    columns.push(col("bill/PayerAccountName", Text, |l| text(&l.payer.name)));
    columns.push(col("lineItem/UsageAccountName", Text, |l| text(&l.account.name)));
    columns.push(col("resource_tags", Map, |l| {
        Value::Map(l.tags.iter().map(|(k, v)| (Cow::Owned(aws_column_name(k)), Cow::Borrowed(v.as_str()))).collect())
    }));
    columns.push(col("product", Map, |l| {
        let mut entries = vec![(Cow::Borrowed("product_name"), Cow::Borrowed(l.service.name))];
        if let Some(region) = l.region {
            entries.push((Cow::Borrowed("region"), Cow::Borrowed(region.code)));
        }
        Value::Map(entries)
    }));
    columns.push(col("cost_category", Map, |l| {
        Value::Map(vec![(Cow::Borrowed("business_unit"), Cow::Borrowed(l.account.business_unit))])
    }));
    pad(&mut columns, width, aws_column_name);
    for column in &mut columns {
        column.name = aws_column_name(&column.name);
    }
    columns
}

/// FOCUS 1.0 with AWS's `x_` extensions.
pub(crate) fn focus(width: usize) -> Vec<Column> {
    use Kind::*;
    let category = |l: &Line| match l.line_type {
        "Tax" => "Tax",
        "Credit" | "EdpDiscount" => "Credit",
        "Refund" => "Adjustment",
        "SavingsPlanRecurringFee" => "Purchase",
        _ => "Usage",
    };
    let mut columns = vec![
        col("BilledCost", Money, |l| Value::Money(l.unblended)),
        col("EffectiveCost", Money, |l| Value::Money(l.amortized)),
        col("ListCost", Money, |l| Value::Money(l.unblended)),
        col("ContractedCost", Money, |l| Value::Money(l.unblended)),
        col("BillingAccountId", Text, |l| text(&l.payer.id)),
        col("BillingAccountName", Text, |l| text(&l.payer.name)),
        col("BillingCurrency", Text, |_| text("USD")),
        col("BillingPeriodStart", Time, |l| Value::Time(period_bounds(l).0)),
        col("BillingPeriodEnd", Time, |l| Value::Time(period_bounds(l).1)),
        col("ChargeCategory", Text, move |l| text(category(l))),
        col("ChargeClass", Text, |_| Value::Null),
        col("ChargeDescription", Text, |l| owned(description(l))),
        col("ChargeFrequency", Text, |l| text(if l.line_type == "Usage" { "Usage-Based" } else { "Recurring" })),
        col("ChargePeriodStart", Time, |l| Value::Time(l.start)),
        col("ChargePeriodEnd", Time, |l| Value::Time(l.end)),
        col("CommitmentDiscountId", Text, |l| l.sp_arn.map_or(Value::Null, text)),
        col("ConsumedQuantity", Float, |l| Value::Float(l.usage_amount)),
        col("ConsumedUnit", Text, |l| text(l.unit)),
        col("InvoiceIssuerName", Text, |_| text("Amazon Web Services, Inc.")),
        col("PricingQuantity", Float, |l| Value::Float(l.usage_amount)),
        col("PricingUnit", Text, |l| text(l.unit)),
        col("ProviderName", Text, |_| text("AWS")),
        col("PublisherName", Text, |_| text("Amazon Web Services, Inc.")),
        col("RegionId", Text, region_code),
        col("RegionName", Text, |l| l.region.map_or(Value::Null, |r| text(r.name))),
        col("ResourceId", Text, |l| text(l.resource_id)),
        col("ServiceCategory", Text, |l| text(l.service.category)),
        col("ServiceName", Text, |l| text(l.service.name)),
        col("SkuId", Text, |l| owned(format!("{:016X}", fnv(l.usage_type)))),
        col("SubAccountId", Text, |l| text(&l.account.id)),
        col("SubAccountName", Text, |l| text(&l.account.name)),
        col("Tags", Map, |l| {
            Value::Map(
                l.tags
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.trim_start_matches("user:")), Cow::Borrowed(v.as_str())))
                    .collect(),
            )
        }),
        col("x_ServiceCode", Text, |l| text(l.service.code)),
        col("x_UsageType", Text, |l| text(l.usage_type)),
        col("x_Operation", Text, |l| text(l.operation)),
        col("x_CostCategories", Map, |l| {
            Value::Map(vec![(Cow::Borrowed("BusinessUnit"), Cow::Borrowed(l.account.business_unit))])
        }),
    ];
    pad(&mut columns, width, |name| format!("x_{}", aws_column_name(name)));
    columns
}
