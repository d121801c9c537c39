//! Period-over-period comparison of two reports with the same dimensions.

use std::collections::HashMap;

use curwatch_schema::Money;

use crate::aggregate::Report;
use crate::render::{Cell, Table};

/// Joins `current` and `previous` on their dimension values: cost, previous, change, % change.
/// Rows are sorted by current cost, then by previous cost, largest first.
pub fn compare(current: &Report, previous: &Report) -> Table {
    let before: HashMap<&Vec<Option<String>>, Money> = previous.rows.iter().map(|r| (&r.keys, r.cost)).collect();
    let mut rows: Vec<(Vec<Option<String>>, Money, Money)> = current
        .rows
        .iter()
        .map(|r| (r.keys.clone(), r.cost, before.get(&r.keys).copied().unwrap_or_default()))
        .collect();
    let seen: HashMap<&Vec<Option<String>>, ()> = current.rows.iter().map(|r| (&r.keys, ())).collect();
    rows.extend(
        previous.rows.iter().filter(|r| !seen.contains_key(&r.keys)).map(|r| (r.keys.clone(), Money::ZERO, r.cost)),
    );
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then_with(|| a.0.cmp(&b.0)));

    let line = |cost: Money, prior: Money| {
        let pct = (prior != Money::ZERO).then(|| (cost - prior).to_f64() / prior.to_f64().abs() * 100.0);
        [Cell::Money(cost), Cell::Money(prior), Cell::Money(cost - prior), Cell::Percent(pct)]
    };
    let mut headers: Vec<String> = current.dimensions.iter().map(ToString::to_string).collect();
    headers.extend(["cost", "previous", "change", "change_pct"].map(str::to_owned));
    let body = rows
        .into_iter()
        .map(|(keys, cost, prior)| keys.into_iter().map(Cell::Text).chain(line(cost, prior)).collect())
        .collect();
    let mut total: Vec<Cell> = current.dimensions.iter().map(|_| Cell::Text(Some(String::new()))).collect();
    if let Some(first) = total.first_mut() {
        *first = Cell::Text(Some("total".into()));
    }
    total.extend(line(current.total, previous.total));
    Table { headers, rows: body, total: Some(total) }
}
