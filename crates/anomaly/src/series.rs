//! From billing observations to one daily series per monitor and value.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::monitor::{FIELDS, Monitor};

/// Daily cost of one combination of fields and charge class, as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub day: NaiveDate,
    /// Hour of the day (UTC) for hourly series; `None` for daily.
    pub hour: Option<u32>,
    /// Values of [`FIELDS`], in that order.
    pub fields: [Option<String>; FIELDS.len()],
    /// `usage` feeds detection; fees, tax, credits, refunds, discounts and commitments do not.
    pub charge_class: String,
    pub cost: f64,
}

impl Observation {
    pub fn field(&self, name: &str) -> Option<&str> {
        FIELDS.iter().position(|f| *f == name).and_then(|i| self.fields[i].as_deref())
    }

    fn root_cause_value(&self, dimension: &str) -> Option<String> {
        match dimension {
            "api_stage" => self.field("api_id").map(|api| format!("{api}/{}", self.field("stage").unwrap_or("(none)"))),
            other => self.field(other).map(str::to_owned),
        }
    }
}

/// One watched series: a monitor and one value of its dimensions.
#[derive(Debug, Clone)]
pub struct MonitorSeries {
    pub monitor: usize,
    pub dimensions: Vec<(String, String)>,
    /// Usage cost per day from the set's first day.
    pub values: Vec<f64>,
    /// Per root-cause dimension and value, usage cost per day.
    pub contributors: BTreeMap<(String, String), Vec<f64>>,
    /// Cost left out of detection, per charge class, over the whole range.
    pub excluded: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default)]
pub struct SeriesSet {
    pub first_day: Option<NaiveDate>,
    /// 1 for daily series, 24 for hourly.
    pub slots_per_day: usize,
    pub series: Vec<MonitorSeries>,
}

impl SeriesSet {
    /// The day a slot falls on.
    pub fn day(&self, slot: usize) -> NaiveDate {
        self.first_day.expect("a non-empty set") + chrono::Days::new((slot / self.slots_per_day.max(1)) as u64)
    }

    /// The start of an hourly slot; `None` for daily series.
    pub fn hour_start(&self, slot: usize) -> Option<chrono::NaiveDateTime> {
        (self.slots_per_day == 24).then(|| self.day(slot).and_hms_opt((slot % 24) as u32, 0, 0).expect("an hour"))
    }
}

const NONE: &str = "(none)";

/// Builds every monitor's series over `first_day..=last_day`, one slot per day or, when
/// `hourly`, per hour. Observations outside the range are ignored.
pub fn build(
    observations: &[Observation],
    monitors: &[Monitor],
    first_day: NaiveDate,
    last_day: NaiveDate,
    hourly: bool,
) -> SeriesSet {
    let slots_per_day = if hourly { 24 } else { 1 };
    let slots = ((last_day - first_day).num_days().max(-1) as usize + 1) * slots_per_day;
    let mut index: HashMap<(usize, Vec<String>), usize> = HashMap::new();
    let mut set = SeriesSet { first_day: Some(first_day), slots_per_day, series: Vec::new() };
    for o in observations {
        if o.day < first_day || o.day > last_day {
            continue;
        }
        let hour = if hourly { o.hour.unwrap_or(0).min(23) as usize } else { 0 };
        let slot = (o.day - first_day).num_days() as usize * slots_per_day + hour;
        for (m, monitor) in monitors.iter().enumerate() {
            if !monitor.watches(o.field("service")) {
                continue;
            }
            let values: Vec<String> =
                monitor.dimensions.iter().map(|d| o.field(d).unwrap_or(NONE).to_owned()).collect();
            let position = *index.entry((m, values.clone())).or_insert_with(|| {
                set.series.push(MonitorSeries {
                    monitor: m,
                    dimensions: monitor.dimensions.iter().cloned().zip(values).collect(),
                    values: vec![0.0; slots],
                    contributors: BTreeMap::new(),
                    excluded: BTreeMap::new(),
                });
                set.series.len() - 1
            });
            let series = &mut set.series[position];
            if o.charge_class != "usage" {
                *series.excluded.entry(o.charge_class.clone()).or_default() += o.cost;
                continue;
            }
            series.values[slot] += o.cost;
            for dimension in crate::monitor::ROOT_CAUSE_FIELDS {
                if monitor.dimensions.iter().any(|d| d == dimension) {
                    continue;
                }
                if let Some(value) = o.root_cause_value(dimension) {
                    series.contributors.entry((dimension.to_owned(), value)).or_insert_with(|| vec![0.0; slots])
                        [slot] += o.cost;
                }
            }
        }
    }
    set.series.sort_by(|a, b| (a.monitor, &a.dimensions).cmp(&(b.monitor, &b.dimensions)));
    set
}
