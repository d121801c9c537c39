//! Reports over allocated API Gateway cost, and reconciliation of allocation to the bill.

use std::collections::BTreeMap;

use curwatch_allocate::{AllocatedRow, Costs, Rules, allocate_each};
use curwatch_schema::Money;
use curwatch_schema::columns::API_GATEWAY_SERVICE;
use curwatch_schema::intern::{FastMap as HashMap, Interner};
use curwatch_store::{PeriodRange, Store};

use crate::aggregate::{Group, Metric, ReportError, ReportRequest};
use crate::dimension::Dimension;
use crate::render::{Cell, Table};

/// Whether allocated rows carry a dimension.
fn supported(dim: &Dimension) -> bool {
    value(&AllocatedRow::default(), dim).is_ok()
}

fn unsupported(dim: &Dimension) -> ReportError {
    ReportError::Unsupported(format!(
        "`{dim}` cannot be combined with allocation dimensions; use billing_period, day, account, region, \
         usage_type, resource_id, charge_class, service, api_id, api_type, stage, component, team, \
         owner_source or label:<name>"
    ))
}

fn value<'a>(row: &'a AllocatedRow, dim: &'a Dimension) -> Result<Option<&'a str>, ReportError> {
    Ok(match dim {
        Dimension::BillingPeriod => Some(&row.billing_period),
        Dimension::Day => Some(&row.day),
        Dimension::Account => row.account.as_deref(),
        Dimension::Region => row.region.as_deref(),
        Dimension::UsageType => row.usage_type.as_deref(),
        Dimension::ResourceId => row.resource_id.as_deref(),
        Dimension::ChargeClass => Some(&row.charge_class),
        Dimension::Service => Some(API_GATEWAY_SERVICE),
        Dimension::ApiId => row.api_id.as_deref(),
        Dimension::Stage => row.stage.as_deref(),
        Dimension::ApiType => Some(row.api_type.as_str()),
        Dimension::Component => Some(row.component.as_str()),
        Dimension::Team => Some(&row.team),
        Dimension::OwnerSource => Some(&row.owner_source),
        Dimension::Label(name) => row.labels.get(name).map(String::as_str),
        other => return Err(unsupported(other)),
    })
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
    // Keys are interned ids, so a row costs a few hash lookups and no allocation.
    let mut interners: Vec<Interner> = request.dimensions.iter().map(|_| Interner::default()).collect();
    let mut groups: HashMap<Box<[u32]>, i128> = HashMap::default();
    let mut key = vec![0u32; request.dimensions.len()];
    let allocation = allocate_each(store, request.periods, &request.rules, &mut |row| {
        if from.as_ref().is_some_and(|f| row.day < *f) || to.as_ref().is_some_and(|t| row.day > *t) {
            return;
        }
        for ((slot, dim), interner) in key.iter_mut().zip(&request.dimensions).zip(&mut interners) {
            // Every dimension was checked by `supported` above.
            *slot = interner.id(value(&row, dim).expect("supported"));
        }
        let units = metric_units(&row.costs, request.metric);
        match groups.get_mut(key.as_slice()) {
            Some(sum) => *sum += units,
            None => {
                groups.insert(key.clone().into_boxed_slice(), units);
            }
        }
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
    let mut allocated: BTreeMap<(String, Option<String>), i128> = BTreeMap::new();
    let allocation = allocate_each(store, periods, rules, &mut |row| {
        *allocated.entry((row.billing_period, row.account)).or_default() += metric_units(&row.costs, metric);
    })?;
    let rows = allocation
        .source_totals
        .iter()
        .map(|((period, account), costs)| {
            let done = allocated.get(&(period.clone(), account.clone())).copied().unwrap_or_default();
            (period.clone(), account.clone(), Money::from_units(metric_units(costs, metric)), Money::from_units(done))
        })
        .collect();
    Ok(Reconciliation { rows, unmatched_rules: allocation.unmatched_rules })
}
