//! Reports over allocated API Gateway cost, and reconciliation of allocation to the bill.

use curwatch_allocate::{AllocatedRow, AllocatedRowRef, Costs, Granularity, Rules, allocate_each};
use curwatch_schema::Money;
use curwatch_schema::columns::API_GATEWAY_SERVICE;
use curwatch_schema::intern::{FastMap as HashMap, Interner};
use curwatch_store::{PeriodRange, Store};

use crate::aggregate::{Group, Metric, ReportError, ReportRequest};
use crate::dimension::Dimension;
use crate::render::{Cell, Table};

/// Whether allocated rows carry a dimension.
fn supported(dim: &Dimension) -> bool {
    value(&AllocatedRow::default().as_row_ref(), dim).is_ok()
}

fn unsupported(dim: &Dimension) -> ReportError {
    ReportError::Unsupported(format!(
        "`{dim}` cannot be combined with allocation dimensions; use billing_period, day, account, region, \
         usage_type, resource_id, charge_class, service, api_id, api_type, stage, component, team, \
         owner_source or label:<name>"
    ))
}

fn value<'a>(row: &AllocatedRowRef<'a>, dim: &Dimension) -> Result<Option<&'a str>, ReportError> {
    Ok(match dim {
        Dimension::BillingPeriod => Some(row.billing_period),
        Dimension::Day => Some(row.day),
        Dimension::Account => row.account,
        Dimension::Region => row.region,
        Dimension::UsageType => row.usage_type,
        Dimension::ResourceId => row.resource_id,
        Dimension::ChargeClass => Some(row.charge_class),
        Dimension::Service => Some(API_GATEWAY_SERVICE),
        Dimension::ApiId => row.api_id,
        Dimension::Stage => row.stage,
        Dimension::ApiType => Some(row.api_type.as_str()),
        Dimension::Component => Some(row.component.as_str()),
        Dimension::Team => Some(row.team),
        Dimension::OwnerSource => Some(row.owner_source),
        Dimension::Label(name) => row.labels.get(name).map(String::as_str),
        other => return Err(unsupported(other)),
    })
}

/// Whether every row of one line shape has the same value of `dim` (see
/// `AllocatedRowRef::owner_shape`).
fn fixed_by_shape(dim: &Dimension) -> bool {
    !matches!(dim, Dimension::BillingPeriod | Dimension::Day | Dimension::ChargeClass)
}

fn metric_units(costs: &Costs, metric: Metric) -> i128 {
    match metric {
        Metric::Unblended => costs.unblended,
        Metric::Net => costs.net,
        Metric::Amortized => costs.amortized,
    }
}

/// Groups allocated API Gateway cost by the requested dimensions.
pub(crate) fn by_allocation(store: &Store, request: &ReportRequest) -> Result<(Vec<Group>, Vec<String>), ReportError> {
    if request.service.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case(API_GATEWAY_SERVICE)) {
        return Err(ReportError::Unsupported("allocation dimensions cover AmazonApiGateway only".into()));
    }
    if let Some(dim) = request.dimensions.iter().find(|d| !supported(d)) {
        return Err(unsupported(dim));
    }
    let from = request.from_day.map(|d| d.to_string());
    let to = request.to_day.map(|d| d.to_string());
    // Rows are summed as they are made: memory follows the groups asked for, not the rows.
    // Keys are interned ids, so a row costs a few hash lookups and no allocation; when every
    // dimension is fixed by the line's shape, a shape's group is found once and remembered.
    let by_shape = request.dimensions.iter().all(fixed_by_shape);
    // Without the day in a dimension or a filter, the month's API Gateway shapes answer.
    let granularity = if request.dimensions.contains(&Dimension::Day) || from.is_some() || to.is_some() {
        Granularity::Day
    } else {
        Granularity::Month
    };
    let mut interners: Vec<Interner> = request.dimensions.iter().map(|_| Interner::default()).collect();
    let mut slot_of: HashMap<Box<[u32]>, usize> = HashMap::default();
    let mut groups: Vec<(Box<[u32]>, i128)> = Vec::new();
    let mut slot_of_shape: Vec<Option<usize>> = Vec::new();
    let mut key = vec![0u32; request.dimensions.len()];
    let allocation = allocate_each(store, request.periods, &request.rules, granularity, &mut |row| {
        if from.as_deref().is_some_and(|f| row.day < f) || to.as_deref().is_some_and(|t| row.day > t) {
            return;
        }
        let shape = row.owner_shape.filter(|_| by_shape).map(|s| s as usize);
        let remembered = shape.and_then(|s| slot_of_shape.get(s).copied().flatten());
        let slot = remembered.unwrap_or_else(|| {
            for ((slot, dim), interner) in key.iter_mut().zip(&request.dimensions).zip(&mut interners) {
                // Every dimension was checked by `supported` above.
                *slot = interner.id(value(row, dim).expect("supported"));
            }
            // Looked up by slice: a key is boxed only for a new group.
            let slot = match slot_of.get(key.as_slice()) {
                Some(&slot) => slot,
                None => {
                    groups.push((key.clone().into_boxed_slice(), 0));
                    slot_of.insert(key.clone().into_boxed_slice(), groups.len() - 1);
                    groups.len() - 1
                }
            };
            if let Some(shape) = shape {
                if slot_of_shape.len() <= shape {
                    slot_of_shape.resize(shape + 1, None);
                }
                slot_of_shape[shape] = Some(slot);
            }
            slot
        });
        groups[slot].1 += metric_units(&row.costs, request.metric);
    })?;
    let groups = groups
        .into_iter()
        .map(|(key, units)| {
            let keys = key.iter().zip(&interners).map(|(id, interner)| interner.get(*id).map(str::to_owned)).collect();
            (keys, units)
        })
        .collect();
    Ok((groups, allocation.unmatched_rules))
}

/// Source versus allocated API Gateway cost per billing period and account.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub rows: Vec<(String, Option<String>, Money, Money)>,
    pub unmatched_rules: Vec<String>,
}

impl Reconciliation {
    /// Largest absolute difference between source and allocation.
    pub fn worst_difference(&self) -> Money {
        self.rows.iter().map(|(_, _, source, allocated)| (*allocated - *source).abs()).max().unwrap_or_default()
    }

    pub fn to_table(&self) -> Table {
        let headers = ["billing_period", "account", "source", "allocated", "difference"];
        let rows = self
            .rows
            .iter()
            .map(|(period, account, source, allocated)| {
                vec![
                    Cell::Text(Some(period.clone())),
                    Cell::Text(account.clone()),
                    Cell::Money(*source),
                    Cell::Money(*allocated),
                    Cell::Money(*allocated - *source),
                ]
            })
            .collect();
        let source: Money = self.rows.iter().map(|r| r.2).sum();
        let allocated: Money = self.rows.iter().map(|r| r.3).sum();
        let total = vec![
            Cell::Text(Some("total".into())),
            Cell::Text(Some(String::new())),
            Cell::Money(source),
            Cell::Money(allocated),
            Cell::Money(allocated - source),
        ];
        Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows, total: Some(total) }
    }
}

/// Allocates, then compares each billing period and account with the source lines.
pub fn reconcile(
    store: &Store,
    periods: PeriodRange,
    rules: &Rules,
    metric: Metric,
) -> Result<Reconciliation, ReportError> {
    // Interned keys: a row costs two lookups and no allocation.
    let (mut periods_seen, mut accounts_seen) = (Interner::default(), Interner::default());
    let mut allocated: HashMap<(u32, u32), i128> = HashMap::default();
    // By day: reconciliation reads every line.
    let allocation = allocate_each(store, periods, rules, Granularity::Day, &mut |row| {
        let key = (periods_seen.id(Some(row.billing_period)), accounts_seen.id(row.account));
        *allocated.entry(key).or_default() += metric_units(&row.costs, metric);
    })?;
    let rows = allocation
        .source_totals
        .iter()
        .map(|((period, account), costs)| {
            let key = (periods_seen.id(Some(period)), accounts_seen.id(account.as_deref()));
            let done = allocated.get(&key).copied().unwrap_or_default();
            (period.clone(), account.clone(), Money::from_units(metric_units(costs, metric)), Money::from_units(done))
        })
        .collect();
    Ok(Reconciliation { rows, unmatched_rules: allocation.unmatched_rules })
}
