//! Allocation over the store: every API Gateway line gets an owner, shared lines are split,
//! and the totals are kept beside the result so reconciliation can prove nothing was lost.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use chrono::DateTime;
use curwatch_schema::columns::{self as col, API_GATEWAY_SERVICE};
use curwatch_schema::intern::{FastMap as HashMap, Interner};
use curwatch_store::{PeriodRange, Store, StoreError};

use crate::classify::{ApiLine, ApiType, ApiTypes, Component, classify_line, region_of_usage_type};
use crate::rules::{LineFacts, Rules, Split};
use crate::split::split_proportionally;

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

/// A shared line's grouping key: period, day, account, product region, usage type, resource,
/// charge class, line item type (interned ids; the day in days since 1970).
type SharedKey = [u32; 8];

/// An owned line's ownership inputs: account, product region, usage type, resource, tags.
/// Lines with the same inputs get the same owner, so it is decided once per shape.
type OwnerKey = [u32; 5];

#[derive(Default, Clone, Copy)]
struct RawSums {
    costs: Costs,
    usage: f64,
}

/// Who owns a line shape, and why.
struct Owner {
    /// The line's classification (it depends only on resource and usage type, part of the shape).
    api: ApiLine,
    team: String,
    owner_source: String,
    labels: BTreeMap<String, String>,
    rule: Option<usize>,
    region: Option<String>,
    api_type: ApiType,
}

/// Allocates API Gateway cost in the given billing periods, keeping every allocated row
/// (rows of identical dimensions merged, in a stable order).
pub fn allocate(store: &Store, periods: PeriodRange, rules: &Rules) -> Result<Allocation, AllocateError> {
    let mut merged: BTreeMap<RowShape, (Costs, f64)> = BTreeMap::new();
    let mut allocation = allocate_each(store, periods, rules, &mut |row| {
        let (costs, usage, shape) = RowShape::of(row);
        let entry = merged.entry(shape).or_default();
        entry.0.add(costs);
        entry.1 += usage;
    })?;
    allocation.rows = merged.into_iter().map(|(shape, (costs, usage))| shape.into_row(costs, usage)).collect();
    Ok(allocation)
}

/// Everything of an allocated row but its amounts, ordered for output.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RowShape {
    billing_period: String,
    day: String,
    account: Option<String>,
    team: String,
    owner_source: String,
    api_id: Option<String>,
    stage: Option<String>,
    api_type: ApiType,
    component: Component,
    region: Option<String>,
    usage_type: Option<String>,
    resource_id: Option<String>,
    charge_class: String,
    labels: BTreeMap<String, String>,
}

impl RowShape {
    fn of(row: AllocatedRow) -> (Costs, f64, RowShape) {
        let shape = RowShape {
            billing_period: row.billing_period,
            day: row.day,
            account: row.account,
            team: row.team,
            owner_source: row.owner_source,
            api_id: row.api_id,
            stage: row.stage,
            api_type: row.api_type,
            component: row.component,
            region: row.region,
            usage_type: row.usage_type,
            resource_id: row.resource_id,
            charge_class: row.charge_class,
            labels: row.labels,
        };
        (row.costs, row.usage_amount, shape)
    }

    fn into_row(self, costs: Costs, usage_amount: f64) -> AllocatedRow {
        AllocatedRow {
            billing_period: self.billing_period,
            day: self.day,
            account: self.account,
            region: self.region,
            usage_type: self.usage_type,
            resource_id: self.resource_id,
            charge_class: self.charge_class,
            api_id: self.api_id,
            stage: self.stage,
            api_type: self.api_type,
            component: self.component,
            team: self.team,
            owner_source: self.owner_source,
            labels: self.labels,
            costs,
            usage_amount,
        }
    }
}

/// Allocates API Gateway cost, handing each allocated row to `sink` as it is made instead of
/// keeping them: a caller that only sums rows by a few dimensions holds its groups, not the
/// rows. The returned allocation carries the source totals and unmatched rules, no rows.
///
/// Memory follows the bill's structure (APIs, usage types, tag sets, accounts), not its
/// length: the store is read twice, first for every API's type (a data-transfer line's type
/// comes from its API's other lines), then to allocate line by line. Only lines that belong
/// to no API are held until the end, when the usage they are split by is known.
pub fn allocate_each(
    store: &Store,
    periods: PeriodRange,
    rules: &Rules,
    sink: &mut dyn FnMut(AllocatedRow),
) -> Result<Allocation, AllocateError> {
    let mut strings = Interner::default();
    let (classified, types) = classify_all(store, periods, &mut strings)?;

    let mut allocation = Allocation::default();
    let mut matched = vec![false; rules.rules.len()];
    let mut weights: BTreeMap<(u32, u32), BTreeMap<String, i128>> = BTreeMap::new();
    let mut shared: BTreeMap<SharedKey, RawSums> = BTreeMap::new();
    // Owners in a vector, the map holding only their index: the map stays compact and fast.
    let mut owners: Vec<Owner> = Vec::new();
    let mut owner_of: HashMap<OwnerKey, u32> = HashMap::default();
    let mut days: HashMap<u32, String> = HashMap::default();
    let mut source_totals: HashMap<(u32, u32), Costs> = HashMap::default();
    scan_lines(store, periods, &mut strings, &mut |strings, line| {
        let RawLine { period, day, account, product_region, usage_type, resource, charge_class, line_item_type, tags } =
            line.key;
        source_totals.entry((period, account)).or_default().add(line.sums.costs);
        // One lookup per line: its shape's classification and owner, decided on first sight.
        let index = *owner_of.entry([account, product_region, usage_type, resource, tags]).or_insert_with(|| {
            owners.push(decide_owner(strings, rules, &types, &classified[&(resource, usage_type)], line.key));
            (owners.len() - 1) as u32
        });
        let owner = &owners[index as usize];
        let api = &owner.api;
        let class = strings.get(charge_class).unwrap_or("other");
        if api.api_id.is_none() && class != "usage" {
            let key = [period, day, account, product_region, usage_type, resource, charge_class, line_item_type];
            let sums = shared.entry(key).or_default();
            sums.costs.add(line.sums.costs);
            sums.usage += line.sums.usage;
            return;
        }
        if let Some(index) = owner.rule {
            matched[index] = true;
        }
        if class == "usage" {
            let teams = weights.entry((period, account)).or_default();
            match teams.get_mut(owner.team.as_str()) {
                Some(weight) => *weight += line.sums.costs.unblended,
                None => {
                    teams.insert(owner.team.clone(), line.sums.costs.unblended);
                }
            }
        }
        sink(AllocatedRow {
            billing_period: strings.get(period).unwrap_or_default().to_owned(),
            day: days.entry(day).or_insert_with(|| day_text(day)).clone(),
            account: strings.get(account).map(str::to_owned),
            region: owner.region.clone(),
            usage_type: strings.get(usage_type).map(str::to_owned),
            resource_id: strings.get(resource).map(str::to_owned),
            charge_class: class.to_owned(),
            api_id: api.api_id.clone(),
            stage: api.stage.clone(),
            api_type: owner.api_type,
            component: api.component.unwrap_or(Component::Other),
            team: owner.team.clone(),
            owner_source: owner.owner_source.clone(),
            labels: owner.labels.clone(),
            costs: line.sums.costs,
            usage_amount: line.sums.usage,
        });
    })?;
    let text = |id: u32| strings.get(id).map(str::to_owned);
    allocation.source_totals = source_totals
        .into_iter()
        .map(|((period, account), costs)| ((text(period).unwrap_or_default(), text(account)), costs))
        .collect();

    for (key, sums) in shared {
        let [period, day, account, product_region, usage_type, resource, charge_class, line_item_type] = key;
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

/// The ownership of one line shape: owner tag, then the first matching rule, then the
/// account, else unallocated.
fn decide_owner(strings: &Interner, rules: &Rules, types: &ApiTypes, api: &ApiLine, line: RawLine) -> Owner {
    let tag_pairs = parse_tags(strings.get(line.tags));
    let region = strings.get(line.usage_type).and_then(region_of_usage_type).or(strings.get(line.product_region));
    let api_type = types.resolve(api);
    let facts = LineFacts {
        account: strings.get(line.account),
        region,
        api_id: api.api_id.as_deref(),
        stage: api.stage.as_deref(),
        api_type: api_type.as_str(),
        usage_type: strings.get(line.usage_type),
        tags: &tag_pairs,
    };
    let rule_index = rules.rules.iter().position(|r| r.matches(&facts));
    let rule = rule_index.map(|i| &rules.rules[i]);
    let owner_tag = tag_pairs.iter().find(|(k, _)| *k == rules.owner_tag).map(|(_, v)| v.clone());
    let (team, owner_source) = if let Some(team) = owner_tag {
        (team, "tag".to_owned())
    } else if let Some((rule, team)) = rule.and_then(|r| r.team.clone().map(|t| (r, t))) {
        (team, format!("rule:{}", rule.name))
    } else if let Some(team) = facts.account.and_then(|a| rules.accounts.get(a)) {
        (team.clone(), "account".to_owned())
    } else {
        (UNALLOCATED.to_owned(), UNALLOCATED.to_owned())
    };
    Owner {
        api: api.clone(),
        team,
        owner_source,
        labels: rule.map(|r| r.labels.clone()).unwrap_or_default(),
        rule: rule_index,
        region: region.map(str::to_owned),
        api_type,
    }
}

/// Classification of each distinct (resource, usage type), keyed by interned ids.
type Classified = HashMap<(u32, u32), ApiLine>;

/// First pass: classifies every distinct resource and usage type of API Gateway lines and
/// settles each API's type from all of them.
fn classify_all(
    store: &Store,
    periods: PeriodRange,
    strings: &mut Interner,
) -> Result<(Classified, ApiTypes), AllocateError> {
    let mut types = ApiTypes::default();
    let mut classified: Classified = HashMap::default();
    let columns = [col::SERVICE, col::RESOURCE_ID, col::USAGE_TYPE];
    for batch in store.scan_service(&columns, periods, API_GATEWAY_SERVICE)? {
        let batch = batch?;
        let Some(rows) = gateway_rows(&batch)? else { continue };
        let resource = ids(&batch, col::RESOURCE_ID, strings)?;
        let usage_type = ids(&batch, col::USAGE_TYPE, strings)?;
        for row in rows {
            let (resource, usage_type) = (resource[row], usage_type[row]);
            classified.entry((resource, usage_type)).or_insert_with(|| {
                let line = classify_line(strings.get(resource), strings.get(usage_type));
                types.observe(&line);
                line
            });
        }
    }
    Ok((classified, types))
}

/// One API Gateway line as the second pass sees it: interned dimensions and its amounts.
#[derive(Clone, Copy)]
struct RawLine {
    period: u32,
    /// Days since 1970-01-01.
    day: u32,
    account: u32,
    product_region: u32,
    usage_type: u32,
    resource: u32,
    charge_class: u32,
    line_item_type: u32,
    /// Tags as sorted `key=value` lines.
    tags: u32,
}

struct LineAmounts {
    key: RawLine,
    sums: RawSums,
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

/// Second pass: hands every API Gateway line of the store to `each`, one at a time.
fn scan_lines(
    store: &Store,
    periods: PeriodRange,
    strings: &mut Interner,
    each: &mut dyn FnMut(&Interner, LineAmounts),
) -> Result<(), AllocateError> {
    for batch in store.scan_service(&COLUMNS, periods, API_GATEWAY_SERVICE)? {
        let batch = batch?;
        let Some(rows) = gateway_rows(&batch)? else { continue };
        let period = ids(&batch, col::BILLING_PERIOD, strings)?;
        let account = ids(&batch, col::ACCOUNT_ID, strings)?;
        let region = ids(&batch, col::REGION, strings)?;
        let usage_type = ids(&batch, col::USAGE_TYPE, strings)?;
        let resource = ids(&batch, col::RESOURCE_ID, strings)?;
        let charge_class = ids(&batch, col::CHARGE_CLASS, strings)?;
        let line_item_type = ids(&batch, col::LINE_ITEM_TYPE, strings)?;
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
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for row in rows {
            tag_text.clear();
            pairs.clear();
            pairs.extend(
                (offsets[row] as usize..offsets[row + 1] as usize)
                    .filter(|&i| tag_values.is_valid(i))
                    .map(|i| (tag_keys.value(i), tag_values.value(i))),
            );
            pairs.sort_unstable();
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    tag_text.push('\n');
                }
                tag_text.push_str(k);
                tag_text.push('=');
                if v.contains('\n') {
                    tag_text.push_str(&v.replace('\n', " "));
                } else {
                    tag_text.push_str(v);
                }
            }
            let unblended = if unblended.is_valid(row) { unblended.value(row) } else { 0 };
            let key = RawLine {
                period: period[row],
                day: starts.value(row).div_euclid(MICROS_PER_DAY) as u32,
                account: account[row],
                product_region: region[row],
                usage_type: usage_type[row],
                resource: resource[row],
                charge_class: charge_class[row],
                line_item_type: line_item_type[row],
                tags: strings.id(Some(&tag_text)),
            };
            let costs = Costs {
                unblended,
                net: if net.is_valid(row) { net.value(row) } else { unblended },
                amortized: if amortized.is_valid(row) { amortized.value(row) } else { 0 },
            };
            let usage = if usage.is_valid(row) { usage.value(row) } else { 0.0 };
            each(strings, LineAmounts { key, sums: RawSums { costs, usage } });
        }
    }
    Ok(())
}

/// The batch's API Gateway rows, or `None` when it has none.
fn gateway_rows(batch: &RecordBatch) -> Result<Option<Vec<usize>>, AllocateError> {
    let service = dictionary(batch, col::SERVICE)?;
    let values = service.values().as_string::<i32>();
    let Some(gateway) = (0..values.len()).find(|&i| values.is_valid(i) && values.value(i) == API_GATEWAY_SERVICE)
    else {
        return Ok(None);
    };
    let keys = service.keys();
    Ok(Some((0..batch.num_rows()).filter(|&row| keys.is_valid(row) && keys.value(row) as usize == gateway).collect()))
}

/// A text column's values as interned ids, row by row (0 for null or empty).
fn ids(batch: &RecordBatch, name: &'static str, strings: &mut Interner) -> Result<Vec<u32>, AllocateError> {
    let dict = dictionary(batch, name)?;
    let values = dict.values().as_string::<i32>();
    let value_ids: Vec<u32> =
        (0..values.len()).map(|i| strings.id(values.is_valid(i).then(|| values.value(i)))).collect();
    Ok(dict.keys().iter().map(|k| k.map_or(0, |k| value_ids[k as usize])).collect())
}

fn dictionary<'a>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a arrow_array::DictionaryArray<Int32Type>, AllocateError> {
    batch.column_by_name(name).and_then(|c| c.as_dictionary_opt::<Int32Type>()).ok_or(AllocateError::Schema(name))
}
