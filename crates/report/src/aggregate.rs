//! Streaming group-by over the store with exact sums.

use std::str::FromStr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use chrono::{DateTime, NaiveDate};
use curwatch_allocate::Rules;
use curwatch_schema::Money;
use curwatch_schema::columns::{
    AMORTIZED_COST, API_GATEWAY_SERVICE, NET_UNBLENDED_COST, SERVICE, UNBLENDED_COST, USAGE_START,
};
use curwatch_schema::intern::{FastMap as HashMap, Interner};
use curwatch_store::{PeriodRange, Store, StoreError, summary_has};

use crate::dimension::Dimension;
use crate::render::{Cell, Table};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Which cost a report sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// What was billed before discounts and commitment amortisation.
    #[default]
    Unblended,
    /// Unblended after discounts; equals unblended where the export has no net column.
    Net,
    /// Effective cost with reservations and savings plans spread over the usage they cover.
    Amortized,
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "unblended" => Ok(Metric::Unblended),
            "net" => Ok(Metric::Net),
            "amortized" | "amortised" => Ok(Metric::Amortized),
            other => Err(format!("unknown metric `{other}`; choose unblended, net or amortized")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    pub dimensions: Vec<Dimension>,
    pub periods: PeriodRange,
    /// Usage days, inclusive at both ends.
    pub from_day: Option<NaiveDate>,
    pub to_day: Option<NaiveDate>,
    /// Product code, e.g. `AmazonApiGateway`.
    pub service: Option<String>,
    pub metric: Metric,
    /// Allocation rules, for the `team`, `owner_source` and `label:` dimensions.
    pub rules: Rules,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub keys: Vec<Option<String>>,
    pub cost: Money,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub dimensions: Vec<Dimension>,
    pub rows: Vec<ReportRow>,
    pub total: Money,
    /// Things the reader should know, e.g. allocation rules that matched nothing.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store has a column of an unexpected type: {0}")]
    Schema(String),
    #[error(transparent)]
    Allocate(#[from] curwatch_allocate::AllocateError),
    #[error("{0}")]
    Unsupported(String),
}

impl Report {
    /// The report as a table; its text moves into the cells rather than being copied.
    pub fn into_table(self) -> Table {
        let mut headers: Vec<String> = self.dimensions.iter().map(ToString::to_string).collect();
        headers.push("cost".to_owned());
        let rows = self
            .rows
            .into_iter()
            .map(|row| row.keys.into_iter().map(Cell::Text).chain([Cell::Money(row.cost)]).collect())
            .collect();
        let mut total: Vec<Cell> = self.dimensions.iter().map(|_| Cell::Text(Some(String::new()))).collect();
        if let Some(first) = total.first_mut() {
            *first = Cell::Text(Some("total".into()));
        }
        total.push(Cell::Money(self.total));
        Table { headers, rows, total: Some(total) }
    }
}

pub fn run_report(store: &Store, request: &ReportRequest) -> Result<Report, ReportError> {
    let mut warnings = Vec::new();
    let groups = if request.dimensions.iter().any(Dimension::is_allocation) {
        let (groups, unmatched) = crate::allocation::by_allocation(store, request)?;
        warnings.extend(unmatched.into_iter().map(|name| format!("allocation rule `{name}` matched no line")));
        groups
    } else if request.dimensions.iter().any(Dimension::is_api_gateway) {
        crate::api_gateway::derive(store, request)?
    } else {
        aggregate(store, request, &request.dimensions)?
    };
    let mut rows: Vec<ReportRow> =
        groups.into_iter().map(|(keys, units)| ReportRow { keys, cost: Money::from_units(units) }).collect();
    rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.keys.cmp(&b.keys)));
    let total = rows.iter().map(|r| r.cost).sum();
    Ok(Report { dimensions: request.dimensions.clone(), rows, total, warnings })
}

/// One group's dimension values and its cost in money units.
pub(crate) type Group = (Vec<Option<String>>, i128);

/// Sums cost per distinct combination of `dimensions` (all read directly from columns).
pub(crate) fn aggregate(
    store: &Store,
    request: &ReportRequest,
    dimensions: &[Dimension],
) -> Result<Vec<Group>, ReportError> {
    let mut columns: Vec<&str> = dimensions.iter().map(Dimension::column).collect();
    columns.push(UNBLENDED_COST);
    match request.metric {
        Metric::Net => columns.push(NET_UNBLENDED_COST),
        Metric::Amortized => columns.push(AMORTIZED_COST),
        Metric::Unblended => {}
    }
    if request.service.is_some() {
        columns.push(SERVICE);
    }
    if request.from_day.is_some() || request.to_day.is_some() {
        columns.push(USAGE_START);
    }
    columns.sort_unstable();
    columns.dedup();

    let mut interners: Vec<Interner> = dimensions.iter().map(|_| Interner::default()).collect();
    let mut groups: HashMap<Box<[u32]>, i128> = HashMap::default();
    let mut single: Vec<Option<i128>> = Vec::new();
    let width = dimensions.len();
    // Everything asked for is in the daily summaries (no hour, usage type, resource or tag):
    // they hold the same sums in a few thousand rows a month.
    let daily = columns.iter().all(|c| summary_has(c)) && !dimensions.contains(&Dimension::Hour);
    let scan = match &request.service {
        _ if daily => store.scan_daily(&columns, request.periods)?,
        // Service names match without regard to case; row-group statistics are exact bytes, so
        // only the stored spelling of API Gateway (whose lines sit in row groups of their own)
        // prunes by them.
        Some(service) if service.eq_ignore_ascii_case(API_GATEWAY_SERVICE) => {
            store.scan_service(&columns, request.periods, API_GATEWAY_SERVICE)?
        }
        _ => store.scan(&columns, request.periods)?,
    };
    for batch in scan {
        let batch = batch?;
        let keep = row_filter(&batch, request)?;
        let costs = metric_costs(&batch, request.metric)?;
        let ids: Vec<Vec<u32>> = dimensions
            .iter()
            .zip(interners.iter_mut())
            .map(|(dim, interner)| dimension_ids(&batch, dim, interner))
            .collect::<Result<_, _>>()?;
        if let [only] = ids.as_slice() {
            // One dimension: its ids index the sums directly, no hashing per row.
            for (row, &id) in only.iter().enumerate() {
                if keep.as_ref().is_none_or(|k| k[row]) {
                    let id = id as usize;
                    if id >= single.len() {
                        single.resize(id + 1, None);
                    }
                    *single[id].get_or_insert(0) += costs[row];
                }
            }
            continue;
        }
        let mut key = vec![0u32; width];
        for row in 0..batch.num_rows() {
            if !keep.as_ref().is_none_or(|k| k[row]) {
                continue;
            }
            for (slot, dim_ids) in key.iter_mut().zip(&ids) {
                *slot = dim_ids[row];
            }
            match groups.get_mut(key.as_slice()) {
                Some(sum) => *sum += costs[row],
                None => {
                    groups.insert(key.clone().into_boxed_slice(), costs[row]);
                }
            }
        }
    }

    groups.extend(single.into_iter().enumerate().filter_map(|(id, sum)| Some((Box::from([id as u32]), sum?))));
    Ok(groups
        .into_iter()
        .map(|(key, units)| {
            let keys = key.iter().zip(&interners).map(|(id, interner)| interner.get(*id).map(str::to_owned)).collect();
            (keys, units)
        })
        .collect())
}

fn schema_error(column: &str) -> ReportError {
    ReportError::Schema(column.to_owned())
}

/// Per-row cost of the chosen metric, in money units.
fn metric_costs(batch: &RecordBatch, metric: Metric) -> Result<Vec<i128>, ReportError> {
    let decimals = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
            .ok_or_else(|| schema_error(name))
    };
    let unblended = decimals(UNBLENDED_COST)?;
    Ok(match metric {
        Metric::Unblended => unblended.iter().map(Option::unwrap_or_default).collect(),
        Metric::Amortized => decimals(AMORTIZED_COST)?.iter().map(Option::unwrap_or_default).collect(),
        Metric::Net => {
            let net = decimals(NET_UNBLENDED_COST)?;
            net.iter().zip(unblended.iter()).map(|(n, u)| n.or(u).unwrap_or_default()).collect()
        }
    })
}

fn row_filter(batch: &RecordBatch, request: &ReportRequest) -> Result<Option<Vec<bool>>, ReportError> {
    let mut keep: Option<Vec<bool>> = None;
    if let Some(service) = &request.service {
        let column = batch.column_by_name(SERVICE).ok_or_else(|| schema_error(SERVICE))?;
        let dict = column.as_dictionary_opt::<Int32Type>().ok_or_else(|| schema_error(SERVICE))?;
        let values = dict.values().as_string::<i32>();
        let matches: Vec<bool> = values.iter().map(|v| v.is_some_and(|v| v.eq_ignore_ascii_case(service))).collect();
        keep = Some(dict.keys().iter().map(|k| k.is_some_and(|k| matches[k as usize])).collect());
    }
    if request.from_day.is_some() || request.to_day.is_some() {
        let starts = batch
            .column_by_name(USAGE_START)
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| schema_error(USAGE_START))?;
        let day_micros = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros();
        let from = request.from_day.map_or(i64::MIN, day_micros);
        let to = request.to_day.map_or(i64::MAX, |d| day_micros(d) + MICROS_PER_DAY);
        let in_range: Vec<bool> = starts.iter().map(|s| s.is_some_and(|s| s >= from && s < to)).collect();
        keep = Some(match keep {
            Some(k) => k.iter().zip(in_range).map(|(a, b)| *a && b).collect(),
            None => in_range,
        });
    }
    Ok(keep)
}

fn dimension_ids(batch: &RecordBatch, dim: &Dimension, interner: &mut Interner) -> Result<Vec<u32>, ReportError> {
    let column = batch.column_by_name(dim.column()).ok_or_else(|| schema_error(dim.column()))?;
    match dim {
        Dimension::Day | Dimension::Hour => {
            let starts =
                column.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| schema_error("usage_start"))?;
            let (bucket, format) = if *dim == Dimension::Day {
                (MICROS_PER_DAY, "%Y-%m-%d")
            } else {
                (MICROS_PER_DAY / 24, "%Y-%m-%dT%H:00")
            };
            // Each batch holds few distinct days or hours: format each once.
            let mut cache: HashMap<i64, u32> = HashMap::default();
            Ok(starts
                .iter()
                .map(|s| {
                    let slot = s.unwrap_or_default().div_euclid(bucket);
                    *cache.entry(slot).or_insert_with(|| {
                        let text = DateTime::from_timestamp_micros(slot * bucket).map(|t| t.format(format).to_string());
                        interner.id(text.as_deref())
                    })
                })
                .collect())
        }
        Dimension::Tag(key) | Dimension::CostCategory(key) => {
            let map = column.as_map_opt().ok_or_else(|| schema_error(dim.column()))?;
            let keys = map.keys().as_string::<i32>();
            let values = map.values().as_string::<i32>();
            let offsets = map.value_offsets();
            let mut out = Vec::with_capacity(map.len());
            for row in 0..map.len() {
                let entries = offsets[row] as usize..offsets[row + 1] as usize;
                let found = if map.is_valid(row) {
                    entries
                        .into_iter()
                        .find(|&i| keys.value(i) == key)
                        .filter(|&i| values.is_valid(i))
                        .map(|i| values.value(i))
                } else {
                    None
                };
                out.push(interner.id(found));
            }
            Ok(out)
        }
        _ => {
            let dict = column.as_dictionary_opt::<Int32Type>().ok_or_else(|| schema_error(dim.column()))?;
            Ok(interner.dictionary_ids(dict))
        }
    }
}
