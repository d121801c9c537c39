//! Allocation over the store: every API Gateway line gets an owner, shared lines are split,
//! and the totals are kept beside the result so reconciliation can prove nothing was lost.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::DateTime;
use curwatch_schema::intern::{FastMap as HashMap, Interner};
use curwatch_store::{PeriodRange, Store, StoreError};

use crate::classify::{ApiLine, ApiType, ApiTypes, Component, PairClassifier, classify_line, region_of_usage_type};
use crate::lines::{self, Fingerprint};
use crate::rules::{LineFacts, Rules, Split};
use crate::split::split_proportionally;
/// The team of spend no tag, rule or account mapping claims.
pub const UNALLOCATED: &str = "unallocated";

/// How finely allocated rows are dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Each row carries its line's day.
    Day,
    /// Rows stand for their whole billing period and carry no day. The store's API Gateway
    /// shapes (a month's lines summed per shape) are read where current, so this is much
    /// faster for reports that do not need the day; the totals are the same to the unit.
    Month,
}

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
    /// Usage day, `YYYY-MM-DD`; empty when allocated by month.
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

/// One allocated slice as `allocate_each` hands it over: borrowed, so a caller that only sums
/// a few dimensions pays no allocation per line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllocatedRowRef<'a> {
    pub billing_period: &'a str,
    /// Usage day, `YYYY-MM-DD`; empty when allocated by month.
    pub day: &'a str,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub usage_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub charge_class: &'a str,
    pub api_id: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub api_type: ApiType,
    pub component: Component,
    pub team: &'a str,
    pub owner_source: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub costs: Costs,
    pub usage_amount: f64,
    /// The line shape this row was allocated from, numbered from 0 in order of first sight;
    /// `None` for shares of shared lines. Rows of one shape have the same account, region,
    /// usage type, resource, API, stage, API type, component, team, owner source and labels,
    /// so a caller grouping by those alone can decide a shape's group once.
    pub owner_shape: Option<u32>,
}

impl AllocatedRow {
    pub fn as_row_ref(&self) -> AllocatedRowRef<'_> {
        AllocatedRowRef {
            billing_period: &self.billing_period,
            day: &self.day,
            account: self.account.as_deref(),
            region: self.region.as_deref(),
            usage_type: self.usage_type.as_deref(),
            resource_id: self.resource_id.as_deref(),
            charge_class: &self.charge_class,
            api_id: self.api_id.as_deref(),
            stage: self.stage.as_deref(),
            api_type: self.api_type,
            component: self.component,
            team: &self.team,
            owner_source: &self.owner_source,
            labels: &self.labels,
            costs: self.costs,
            usage_amount: self.usage_amount,
            owner_shape: None,
        }
    }
}

impl AllocatedRowRef<'_> {
    pub fn to_row(&self) -> AllocatedRow {
        AllocatedRow {
            billing_period: self.billing_period.to_owned(),
            day: self.day.to_owned(),
            account: self.account.map(str::to_owned),
            region: self.region.map(str::to_owned),
            usage_type: self.usage_type.map(str::to_owned),
            resource_id: self.resource_id.map(str::to_owned),
            charge_class: self.charge_class.to_owned(),
            api_id: self.api_id.map(str::to_owned),
            stage: self.stage.map(str::to_owned),
            api_type: self.api_type,
            component: self.component,
            team: self.team.to_owned(),
            owner_source: self.owner_source.to_owned(),
            labels: self.labels.clone(),
            costs: self.costs,
            usage_amount: self.usage_amount,
        }
    }
}

/// Labels of a row no rule labelled.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

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

/// An owned line's ownership inputs, interned. Lines with the same inputs get the same
/// owner, so it is decided once per shape.
#[derive(Clone, Copy)]
struct ShapeIds {
    account: u32,
    product_region: u32,
    usage_type: u32,
    resource: u32,
}

#[derive(Default, Clone, Copy)]
struct RawSums {
    costs: Costs,
    usage: f64,
}

/// Who owns a line shape, and why.
struct Owner {
    shape: ShapeIds,
    /// The line's classification (it depends only on resource and usage type, part of the
    /// shape): its place in [`Classified::lines`].
    api: u32,
    team: Rc<str>,
    /// `team` interned: usage weights are summed by it.
    team_id: u32,
    owner_source: Rc<str>,
    /// The matching rule, whose labels the owner's rows carry.
    rule: Option<usize>,
    region: Option<Rc<str>>,
    api_type: ApiType,
}

/// Texts many owners share (team names, owner sources, regions), each kept once: a shape's
/// owner costs no allocation for them after the first.
#[derive(Default)]
struct SharedTexts {
    by_text: HashMap<Box<str>, Rc<str>>,
}

impl SharedTexts {
    fn get(&mut self, text: &str) -> Rc<str> {
        if let Some(shared) = self.by_text.get(text) {
            return Rc::clone(shared);
        }
        let shared: Rc<str> = text.into();
        self.by_text.insert(text.into(), Rc::clone(&shared));
        shared
    }
}

/// Allocates API Gateway cost in the given billing periods, keeping every allocated row
/// (rows of identical dimensions merged, in a stable order).
pub fn allocate(store: &Store, periods: PeriodRange, rules: &Rules) -> Result<Allocation, AllocateError> {
    let mut merged: BTreeMap<RowShape, (Costs, f64)> = BTreeMap::new();
    let mut allocation = allocate_each(store, periods, rules, Granularity::Day, &mut |row| {
        let (costs, usage, shape) = RowShape::of(row.to_row());
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
    granularity: Granularity,
    sink: &mut dyn FnMut(&AllocatedRowRef<'_>),
) -> Result<Allocation, AllocateError> {
    let mut strings = Interner::default();
    let (mut classified, types) = classify_all(store, periods, granularity)?;
    let day_label = |day: u32| if granularity == Granularity::Day { day_text(day) } else { String::new() };

    let mut allocation = Allocation::default();
    let mut matched = vec![false; rules.rules.len()];
    // Usage cost per (period, account, team id): what shared lines are split by.
    let mut usage_weights: HashMap<(u32, u32, u32), i128> = HashMap::default();
    let mut teams = Interner::default();
    let mut shared_texts = SharedTexts::default();
    let mut shared: BTreeMap<SharedKey, RawSums> = BTreeMap::new();
    // Owners in a vector; a shape's owner is found by its number from the decoding threads
    // (per numbering table), and on a table's first sight of it by its fingerprint.
    let mut owners: Vec<Owner> = Vec::new();
    let mut owner_of_fingerprint: HashMap<Fingerprint, u32> = HashMap::default();
    let mut owner_of_number: Vec<Vec<u32>> = Vec::new();
    let mut days: HashMap<u32, String> = HashMap::default();
    let mut source_totals: HashMap<(u32, u32), Costs> = HashMap::default();
    let mut pairs = lines::FingerprintBuilder::default();
    lines::scan_lines(store, periods, granularity, &mut strings, &mut |strings, line| {
        // One index per line: its shape's owner, decided on first sight.
        let numbers = slot(&mut owner_of_number, line.shape.table as usize, Vec::new);
        let known = slot(numbers, line.shape.number as usize, || UNDECIDED);
        if *known == UNDECIDED {
            *known = *owner_of_fingerprint.entry(line.fingerprint).or_insert_with(|| {
                let (resource, usage_type) = (line.resource(), line.usage_type());
                let shape = ShapeIds {
                    account: strings.id(line.account()),
                    product_region: strings.id(line.product_region()),
                    usage_type: strings.id(usage_type),
                    resource: strings.id(resource),
                };
                // A pair the first pass did not see (the store changed between passes) is
                // classified on its own.
                let api = classified.place_of(pairs.pair(resource, usage_type), || classify_line(resource, usage_type));
                let texts = (&mut teams, &mut shared_texts);
                owners.push(decide_owner(strings, texts, rules, &types, (&classified, api), shape, line.tag_pairs()));
                (owners.len() - 1) as u32
            });
        }
        let index = *known;
        let owner = &owners[index as usize];
        let ShapeIds { account, product_region, usage_type, resource, .. } = owner.shape;
        let (period, day, charge_class, line_item_type) =
            (line.period, line.day, line.charge_class, line.line_item_type);
        source_totals.entry((period, account)).or_default().add(line.costs);
        let api = &classified.lines[owner.api as usize];
        let class = strings.get(charge_class).unwrap_or("other");
        if api.api_id.is_none() && class != "usage" {
            let key = [period, day, account, product_region, usage_type, resource, charge_class, line_item_type];
            let sums = shared.entry(key).or_default();
            sums.costs.add(line.costs);
            sums.usage += line.usage;
            return;
        }
        if let Some(index) = owner.rule {
            matched[index] = true;
        }
        if class == "usage" {
            *usage_weights.entry((period, account, owner.team_id)).or_default() += line.costs.unblended;
        }
        sink(&AllocatedRowRef {
            billing_period: strings.get(period).unwrap_or_default(),
            day: days.entry(day).or_insert_with(|| day_label(day)),
            account: strings.get(account),
            region: owner.region.as_deref(),
            usage_type: strings.get(usage_type),
            resource_id: strings.get(resource),
            charge_class: class,
            api_id: api.api_id.as_deref(),
            stage: api.stage.as_deref(),
            api_type: owner.api_type,
            component: api.component.unwrap_or(Component::Other),
            team: &owner.team,
            owner_source: &owner.owner_source,
            labels: owner.rule.map_or(&NO_LABELS, |rule| &rules.rules[rule].labels),
            costs: line.costs,
            usage_amount: line.usage,
            owner_shape: Some(index),
        });
    })?;
    // Teams in name order per (period, account), so shared splits never depend on hashing.
    let mut weights: BTreeMap<(u32, u32), BTreeMap<String, i128>> = BTreeMap::new();
    for ((period, account, team), weight) in usage_weights {
        weights.entry((period, account)).or_default().insert(teams.get(team).unwrap_or_default().to_owned(), weight);
    }
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
        let day = day_label(day);
        for (i, (team, _)) in recipients.iter().enumerate() {
            sink(&AllocatedRowRef {
                billing_period: strings.get(period).unwrap_or_default(),
                day: &day,
                account: strings.get(account),
                region: line_region(&strings, usage_type, product_region),
                usage_type: strings.get(usage_type),
                resource_id: strings.get(resource),
                charge_class: class,
                api_id: None,
                stage: None,
                api_type: ApiType::Unknown,
                component: Component::Other,
                team,
                owner_source: &source,
                labels: &NO_LABELS,
                costs: Costs { unblended: unblended[i], net: net[i], amortized: amortized[i] },
                usage_amount: 0.0,
                owner_shape: None,
            });
        }
    }
    allocation.unmatched_rules =
        rules.rules.iter().zip(matched).filter(|(_, m)| !m).map(|(r, _)| r.name.clone()).collect();
    Ok(allocation)
}

/// Marks a shape number whose owner the allocating thread has not looked up yet.
const UNDECIDED: u32 = u32::MAX;

/// `items[index]`, made (with those before it) by `fill` if the vector is too short.
fn slot<T>(items: &mut Vec<T>, index: usize, fill: impl FnMut() -> T) -> &mut T {
    if items.len() <= index {
        items.resize_with(index + 1, fill);
    }
    &mut items[index]
}

/// A line's region: from its usage type's billing code, else its product region.
fn line_region(strings: &Interner, usage_type: u32, product_region: u32) -> Option<&str> {
    strings.get(usage_type).and_then(region_of_usage_type).or(strings.get(product_region))
}

fn day_text(day: u32) -> String {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0).map(|t| t.date_naive().to_string()).unwrap_or_default()
}

/// The ownership of one line shape: owner tag, then the first matching rule, then the
/// account, else unallocated.
fn decide_owner(
    strings: &Interner,
    (teams, shared): (&mut Interner, &mut SharedTexts),
    rules: &Rules,
    types: &ApiTypes,
    (classified, api_place): (&Classified, u32),
    shape: ShapeIds,
    tag_pairs: Vec<(&str, Cow<'_, str>)>,
) -> Owner {
    let api = &classified.lines[api_place as usize];
    let region = line_region(strings, shape.usage_type, shape.product_region);
    let api_type = types.resolve(api);
    let tags: Vec<(&str, &str)> = tag_pairs.iter().map(|(key, value)| (*key, value.as_ref())).collect();
    let facts = LineFacts {
        account: strings.get(shape.account),
        region,
        api_id: api.api_id.as_deref(),
        stage: api.stage.as_deref(),
        api_type: api_type.as_str(),
        usage_type: strings.get(shape.usage_type),
        tags: &tags,
    };
    let rule_index = rules.rules.iter().position(|r| r.matches(&facts));
    let rule = rule_index.map(|i| &rules.rules[i]);
    let owner_tag = tags.iter().find(|(k, _)| *k == rules.owner_tag).map(|(_, v)| *v);
    let rule_team = rule.and_then(|r| r.team.as_deref().map(|t| (r, t)));
    let (team, owner_source) = if let Some(team) = owner_tag {
        (shared.get(team), shared.get("tag"))
    } else if let Some((rule, team)) = rule_team {
        (shared.get(team), shared.get(&format!("rule:{}", rule.name)))
    } else if let Some(team) = facts.account.and_then(|a| rules.accounts.get(a)) {
        (shared.get(team), shared.get("account"))
    } else {
        (shared.get(UNALLOCATED), shared.get(UNALLOCATED))
    };
    Owner {
        shape,
        api: api_place,
        team_id: teams.id(Some(&team)),
        team,
        owner_source,
        rule: rule_index,
        region: region.map(|r| shared.get(r)),
        api_type,
    }
}

/// Classification of each distinct (resource, usage type): the lines in one vector, found by
/// the pair's fingerprint. Owners refer to a line by its place, so a month's tens of thousands
/// of pairs cost no allocation each beyond their text.
#[derive(Default)]
struct Classified {
    index: HashMap<Fingerprint, u32>,
    lines: Vec<ApiLine>,
}

impl Classified {
    /// The place of a pair's line, classified by `classify` on the pair's first sight.
    fn place_of(&mut self, pair: Fingerprint, classify: impl FnOnce() -> ApiLine) -> u32 {
        *self.index.entry(pair).or_insert_with(|| {
            self.lines.push(classify());
            (self.lines.len() - 1) as u32
        })
    }
}

/// First pass: classifies every distinct resource and usage type of API Gateway lines and
/// settles each API's type from all of them.
fn classify_all(
    store: &Store,
    periods: PeriodRange,
    granularity: Granularity,
) -> Result<(Classified, ApiTypes), AllocateError> {
    let mut classifier = PairClassifier::default();
    let mut classified = Classified::default();
    lines::scan_pairs(store, periods, granularity, &mut |pair| {
        classified.place_of(pair.fingerprint, || classifier.classify(pair.resource, pair.usage_type));
    })?;
    Ok((classified, classifier.into_types()))
}
