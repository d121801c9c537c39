//! The truth file: what the generator wrote, for tests and benchmarks to check against.

use std::collections::{BTreeMap, HashMap};

use curwatch_schema::{BillingPeriod, Money};
use serde::{Deserialize, Serialize};

use crate::model::Line;

/// Totals of one billing period and service, as every layout holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthRow {
    pub billing_period: String,
    pub service: String,
    pub rows: u64,
    pub unblended: Money,
    pub net: Money,
    pub amortized: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    /// Layout name → export id its manifests carry.
    pub exports: BTreeMap<String, String>,
    /// Current deliveries only: stale assemblies and old files are not counted.
    pub totals: Vec<TruthRow>,
    /// API Gateway unblended cost per billing period and resource id (stage ARN).
    pub api_gateway_by_resource: Vec<(String, String, Money)>,
    /// API Gateway unblended cost per billing period, resource id and usage type.
    #[serde(default)]
    pub api_gateway_by_usage: Vec<(String, String, String, Money)>,
}

#[derive(Default)]
pub(crate) struct TruthBuilder {
    totals: BTreeMap<(BillingPeriod, &'static str), TruthRow>,
    by_resource: HashMap<(BillingPeriod, String), Money>,
    by_usage: HashMap<(BillingPeriod, String, String), Money>,
}

impl TruthBuilder {
    pub(crate) fn add(&mut self, line: &Line) {
        let row = self.totals.entry((line.period, line.service.code)).or_insert_with(|| TruthRow {
            billing_period: line.period.to_string(),
            service: line.service.code.to_owned(),
            rows: 0,
            unblended: Money::ZERO,
            net: Money::ZERO,
            amortized: Money::ZERO,
        });
        row.rows += 1;
        row.unblended += line.unblended;
        row.net += line.net;
        row.amortized += line.amortized;
        if line.service.code == "AmazonApiGateway" {
            *self.by_resource.entry((line.period, line.resource_id.to_owned())).or_default() += line.unblended;
            let key = (line.period, line.resource_id.to_owned(), line.usage_type.to_owned());
            *self.by_usage.entry(key).or_default() += line.unblended;
        }
    }

    pub(crate) fn finish(self, seed: u64, exports: BTreeMap<String, String>) -> Truth {
        let mut by_resource: Vec<(String, String, Money)> =
            self.by_resource.into_iter().map(|((p, r), m)| (p.to_string(), r, m)).collect();
        by_resource.sort();
        let mut by_usage: Vec<(String, String, String, Money)> =
            self.by_usage.into_iter().map(|((p, r, u), m)| (p.to_string(), r, u, m)).collect();
        by_usage.sort();
        Truth {
            seed,
            exports,
            totals: self.totals.into_values().collect(),
            api_gateway_by_resource: by_resource,
            api_gateway_by_usage: by_usage,
        }
    }
}
