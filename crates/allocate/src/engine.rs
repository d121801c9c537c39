//! Allocation over the store: every API Gateway line gets an owner, shared lines are split,
//! and the totals are kept beside the result so reconciliation can prove nothing was lost.

use std::collections::{BTreeMap, HashMap};

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use chrono::DateTime;
use curwatch_schema::columns as col;
use curwatch_schema::intern::Interner;
use curwatch_store::{PeriodRange, Store, StoreError};

use crate::classify::{ApiLine, ApiType, ApiTypes, Component, classify_line, region_of_usage_type};
use crate::rules::{LineFacts, Rules, Split};
use crate::split::split_proportionally;

const API_GATEWAY: &str = "AmazonApiGateway";
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The team of spend no tag, rule or account mapping claims.
pub const UNALLOCATED: &str = "unallocated";

/// Cost in money units (10⁻¹⁰) for each metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Costs {
    pub unblended: i128,
    pub net: i128,
    pub amortized: i128,
}

impl Costs {
    fn add(&mut self, other: Costs) {
        self.unblended += other.unblended;
        self.net += other.net;
        self.amortized += other.amortized;
    }
}

/// One allocated slice of API Gateway cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocatedRow {
    pub billing_period: String,
    /// Usage day, `YYYY-MM-DD`.
    pub day: String,
    pub account: Option<String>,
    /// From the usage type's billing code, else the product region.
    pub region: Option<String>,
    pub usage_type: Option<String>,
    pub resource_id: Option<String>,
    pub charge_class: String,
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub api_type: ApiType,
    pub component: Component,
    pub team: String,
    /// `tag`, `rule:<name>`, `account`, `unallocated`, or `shared:<split>` for a share of a shared line.
    pub owner_source: String,
    pub labels: BTreeMap<String, String>,
    pub costs: Costs,
    pub usage_amount: f64,
}

#[derive(Debug, Default)]
pub struct Allocation {
    pub rows: Vec<AllocatedRow>,
    /// Source totals of API Gateway lines per (billing period, account), before allocation.
    pub source_totals: BTreeMap<(String, Option<String>), Costs>,
    /// Rules that matched no line in scope.
    pub unmatched_rules: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AllocateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store has a column of an unexpected type: {0}")]
    Schema(&'static str),
}

/// Grouping key of raw lines: period, day, account, region, usage type, resource, charge class,
/// line item type, tags (canonical text).
type RawKey = [u32; 9];

#[derive(Default, Clone, Copy)]
struct RawSums {
    costs: Costs,
    usage: f64,
}

/// Allocates API Gateway cost in the given billing periods, keeping every allocated row.
pub fn allocate(store: &Store, periods: PeriodRange, rules: &Rules) -> Result<Allocation, AllocateError> {
    let mut rows = Vec::new();
    let mut allocation = allocate_each(store, periods, rules, &mut |row| rows.push(row))?;
    allocation.rows = rows;
    Ok(allocation)
}

/// Allocates API Gateway cost, handing each allocated row to `sink` as it is made instead of
/// keeping them: a caller that only sums rows by a few dimensions holds its groups, not the
/// rows. The returned allocation carries the source totals and unmatched rules, no rows.
pub fn allocate_each(
    store: &Store,
    periods: PeriodRange,
    rules: &Rules,
    sink: &mut dyn FnMut(AllocatedRow),
) -> Result<Allocation, AllocateError> {
    let (groups, strings) = scan(store, periods)?;
    let text = |id: u32| strings.get(id).map(str::to_owned);

    // Pass 1: classify every distinct line shape; API types need all of them.
    let mut types = ApiTypes::default();
    let mut classified: HashMap<(u32, u32), ApiLine> = HashMap::new();
    for key in groups.keys() {
        classified.entry((key[5], key[4])).or_insert_with(|| {
            let line = classify_line(strings.get(key[5]), strings.get(key[4]));
            types.observe(&line);
            line
        });
    }

    let mut allocation = Allocation::default();
    let mut matched = vec![false; rules.rules.len()];
    let mut weights: BTreeMap<(u32, u32), BTreeMap<String, i128>> = BTreeMap::new();
    let mut shared: Vec<(RawKey, RawSums)> = Vec::new();
    let mut keys: Vec<&RawKey> = groups.keys().collect();
    keys.sort_unstable();
    for key in keys {
        let sums = groups[key];
        let [period, day, account, product_region, usage_type, resource, charge_class, _, tags] = *key;
        allocation.source_totals.entry((text(period).unwrap_or_default(), text(account))).or_default().add(sums.costs);
        let line = &classified[&(resource, usage_type)];
        let class = strings.get(charge_class).unwrap_or("other");
        if line.api_id.is_none() && class != "usage" {
            shared.push((*key, sums));
            continue;
        }
        // Pass 2: ownership — owner tag, then the first matching rule, then the account, else unallocated.
        let tag_pairs = parse_tags(strings.get(tags));
        let region = strings.get(usage_type).and_then(region_of_usage_type).or(strings.get(product_region));
        let api_type = types.resolve(line);
        let facts = LineFacts {
            account: strings.get(account),
            region,
            api_id: line.api_id.as_deref(),
            stage: line.stage.as_deref(),
            api_type: api_type.as_str(),
            usage_type: strings.get(usage_type),
            tags: &tag_pairs,
        };
        let rule = rules.rules.iter().position(|r| r.matches(&facts));
        if let Some(index) = rule {
            matched[index] = true;
        }
        let rule = rule.map(|i| &rules.rules[i]);
        let owner_tag = tag_pairs.iter().find(|(k, _)| *k == rules.owner_tag).map(|(_, v)| v.clone());
        let (team, owner_source) = if let Some(team) = owner_tag {
            (team, "tag".to_owned())
        } else if let Some(team) = rule.and_then(|r| r.team.clone()) {
            (team, format!("rule:{}", rule.expect("matched").name))
        } else if let Some(team) = facts.account.and_then(|a| rules.accounts.get(a)) {
            (team.clone(), "account".to_owned())
        } else {
            (UNALLOCATED.to_owned(), UNALLOCATED.to_owned())
        };
        if class == "usage" {
            *weights.entry((period, account)).or_default().entry(team.clone()).or_default() += sums.costs.unblended;
        }
        sink(AllocatedRow {
            billing_period: text(period).unwrap_or_default(),
            day: day_text(day),
            account: text(account),
            region: region.map(str::to_owned),
            usage_type: text(usage_type),
            resource_id: text(resource),
            charge_class: class.to_owned(),
            api_id: line.api_id.clone(),
            stage: line.stage.clone(),
            api_type,
            component: line.component.unwrap_or(Component::Other),
            team,
            owner_source,
            labels: rule.map(|r| r.labels.clone()).unwrap_or_default(),
            costs: sums.costs,
            usage_amount: sums.usage,
        });
    }

    for (key, sums) in shared {
        let [period, day, account, product_region, usage_type, resource, charge_class, line_item_type, _] = key;
        let class = strings.get(charge_class).unwrap_or("other");
        let decision = rules.shared.decide(strings.get(account), class, strings.get(line_item_type));
        let usage = weights.get(&(period, account));
        let recipients: Vec<(String, i128)> = match decision.split {
            Split::Proportional => usage.map(|u| u.iter().map(|(t, w)| (t.clone(), *w)).collect()).unwrap_or_default(),
            Split::Even => usage.map(|u| u.keys().map(|t| (t.clone(), 1)).collect()).unwrap_or_default(),
            Split::Fixed => {
                decision.fixed.map(|f| f.iter().map(|(t, p)| (t.clone(), i128::from(*p))).collect()).unwrap_or_default()
            }
            Split::Owner => decision.owner.map(|o| vec![(o.to_owned(), 1)]).unwrap_or_default(),
        };
        let weights_only: Vec<i128> = recipients.iter().map(|(_, w)| *w).collect();
        let shares = |amount: i128| split_proportionally(amount, &weights_only);
        let (recipients, unblended, net, amortized, source) =
            match (shares(sums.costs.unblended), shares(sums.costs.net), shares(sums.costs.amortized)) {
                (Some(u), Some(n), Some(a)) => (recipients, u, n, a, format!("shared:{}", decision.split.as_str())),
                // No usage to split by: the line stays visible as unallocated rather than vanishing.
                _ => (
                    vec![(UNALLOCATED.to_owned(), 1)],
                    vec![sums.costs.unblended],
                    vec![sums.costs.net],
                    vec![sums.costs.amortized],
                    UNALLOCATED.to_owned(),
                ),
            };
        for (i, (team, _)) in recipients.into_iter().enumerate() {
            sink(AllocatedRow {
                billing_period: text(period).unwrap_or_default(),
                day: day_text(day),
                account: text(account),
                region: strings
                    .get(usage_type)
                    .and_then(region_of_usage_type)
                    .or(strings.get(product_region))
                    .map(str::to_owned),
                usage_type: text(usage_type),
                resource_id: text(resource),
                charge_class: class.to_owned(),
                api_id: None,
                stage: None,
                api_type: ApiType::Unknown,
                component: Component::Other,
                team,
                owner_source: source.clone(),
                labels: BTreeMap::new(),
                costs: Costs { unblended: unblended[i], net: net[i], amortized: amortized[i] },
                usage_amount: 0.0,
            });
        }
    }
    allocation.unmatched_rules =
        rules.rules.iter().zip(matched).filter(|(_, m)| !m).map(|(r, _)| r.name.clone()).collect();
    Ok(allocation)
}

fn day_text(day: u32) -> String {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0).map(|t| t.date_naive().to_string()).unwrap_or_default()
}

/// Tags travel through grouping as `key=value` lines, sorted; this reads them back.
fn parse_tags(text: Option<&str>) -> Vec<(String, String)> {
    text.map(|t| {
        t.split('\n').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    })
    .unwrap_or_default()
}

const COLUMNS: [&str; 14] = [
    col::BILLING_PERIOD,
    col::USAGE_START,
    col::ACCOUNT_ID,
    col::REGION,
    col::USAGE_TYPE,
    col::RESOURCE_ID,
    col::CHARGE_CLASS,
    col::LINE_ITEM_TYPE,
    col::SERVICE,
    col::TAGS,
    col::UNBLENDED_COST,
    col::NET_UNBLENDED_COST,
    col::AMORTIZED_COST,
    col::USAGE_AMOUNT,
];

/// Streams the store's API Gateway rows into groups of identical shape.
fn scan(store: &Store, periods: PeriodRange) -> Result<(HashMap<RawKey, RawSums>, Interner), AllocateError> {
    let mut strings = Interner::default();
    let mut groups: HashMap<RawKey, RawSums> = HashMap::new();
    for batch in store.scan(&COLUMNS, periods)? {
        let batch = batch?;
        let service = dictionary(&batch, col::SERVICE)?;
        let service_values = service.values().as_string::<i32>();
        let Some(gateway) = (0..service_values.len()).find(|&i| service_values.value(i) == API_GATEWAY) else {
            continue;
        };
        let mut ids = |name: &'static str| -> Result<Vec<u32>, AllocateError> {
            let dict = dictionary(&batch, name)?;
            let values = dict.values().as_string::<i32>();
            let value_ids: Vec<u32> =
                (0..values.len()).map(|i| strings.id(values.is_valid(i).then(|| values.value(i)))).collect();
            Ok(dict.keys().iter().map(|k| k.map_or(0, |k| value_ids[k as usize])).collect())
        };
        let period = ids(col::BILLING_PERIOD)?;
        let account = ids(col::ACCOUNT_ID)?;
        let region = ids(col::REGION)?;
        let usage_type = ids(col::USAGE_TYPE)?;
        let resource = ids(col::RESOURCE_ID)?;
        let charge_class = ids(col::CHARGE_CLASS)?;
        let line_item_type = ids(col::LINE_ITEM_TYPE)?;
        let starts = batch
            .column_by_name(col::USAGE_START)
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or(AllocateError::Schema(col::USAGE_START))?;
        let decimals = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
                .ok_or(AllocateError::Schema(name))
        };
        let (unblended, net, amortized) =
            (decimals(col::UNBLENDED_COST)?, decimals(col::NET_UNBLENDED_COST)?, decimals(col::AMORTIZED_COST)?);
        let usage = batch
            .column_by_name(col::USAGE_AMOUNT)
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or(AllocateError::Schema(col::USAGE_AMOUNT))?;
        let tags =
            batch.column_by_name(col::TAGS).and_then(|c| c.as_map_opt()).ok_or(AllocateError::Schema(col::TAGS))?;
        let (tag_keys, tag_values, offsets) =
            (tags.keys().as_string::<i32>(), tags.values().as_string::<i32>(), tags.value_offsets());
        let mut tag_text = String::new();
        for row in 0..batch.num_rows() {
            if service.is_null(row) || service.keys().value(row) as usize != gateway {
                continue;
            }
            tag_text.clear();
            let mut pairs: Vec<(&str, &str)> = (offsets[row] as usize..offsets[row + 1] as usize)
                .filter(|&i| tag_values.is_valid(i))
                .map(|i| (tag_keys.value(i), tag_values.value(i)))
                .collect();
            pairs.sort_unstable();
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    tag_text.push('\n');
                }
                tag_text.push_str(k);
                tag_text.push('=');
                tag_text.push_str(&v.replace('\n', " "));
            }
            let day = starts.value(row).div_euclid(MICROS_PER_DAY) as u32;
            let key: RawKey = [
                period[row],
                day,
                account[row],
                region[row],
                usage_type[row],
                resource[row],
                charge_class[row],
                line_item_type[row],
                strings.id(Some(&tag_text)),
            ];
            let unblended = if unblended.is_valid(row) { unblended.value(row) } else { 0 };
            let sums = groups.entry(key).or_default();
            sums.costs.add(Costs {
                unblended,
                net: if net.is_valid(row) { net.value(row) } else { unblended },
                amortized: if amortized.is_valid(row) { amortized.value(row) } else { 0 },
            });
            sums.usage += if usage.is_valid(row) { usage.value(row) } else { 0.0 };
        }
    }
    Ok((groups, strings))
}

fn dictionary<'a>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a arrow_array::DictionaryArray<Int32Type>, AllocateError> {
    batch.column_by_name(name).and_then(|c| c.as_dictionary_opt::<Int32Type>()).ok_or(AllocateError::Schema(name))
}
