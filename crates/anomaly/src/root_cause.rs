//! Root causes: which usage type, operation, API/stage, region or account moved, in dollars.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::detector::median;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RootCause {
    pub dimension: String,
    pub value: String,
    /// Actual − expected over the anomaly's days, in dollars.
    pub impact: f64,
}

/// Up to `limit` contributors ranked by dollar impact over days `start..=end`. A
/// contributor's expected cost on a day is the median of its cost on the same season
/// position in the four seasons before the anomaly began (zero for something new), so the
/// anomaly's own days never inflate what was expected.
pub fn rank(
    contributors: &BTreeMap<(String, String), Vec<f64>>,
    start: usize,
    end: usize,
    period: usize,
    limit: usize,
) -> Vec<RootCause> {
    let period = period.max(1);
    // A dimension with one value in the series (its only account, say) explains nothing.
    let mut values_per_dimension: BTreeMap<&str, usize> = BTreeMap::new();
    for (dimension, _) in contributors.keys() {
        *values_per_dimension.entry(dimension).or_default() += 1;
    }
    let mut causes: Vec<RootCause> = contributors
        .iter()
        .filter(|((dimension, _), _)| values_per_dimension[dimension.as_str()] > 1)
        .map(|((dimension, value), daily)| {
            let mut impact = 0.0;
            for t in start..=end.min(daily.len().saturating_sub(1)) {
                let mut before: Vec<f64> =
                    (1..=t / period).map(|k| t - k * period).filter(|&i| i < start).take(4).map(|i| daily[i]).collect();
                impact += daily[t] - median(&mut before);
            }
            RootCause { dimension: dimension.clone(), value: value.clone(), impact }
        })
        .filter(|c| c.impact >= 0.005)
        .collect();
    causes.sort_by(|a, b| {
        b.impact.total_cmp(&a.impact).then_with(|| (&a.dimension, &a.value).cmp(&(&b.dimension, &b.value)))
    });
    causes.truncate(limit);
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_the_usage_type_that_moved() {
        let mut contributors = BTreeMap::new();
        let mut requests = vec![100.0; 40];
        requests[35] = 400.0;
        contributors.insert(("usage_type".to_owned(), "USE1-ApiGatewayRequest".to_owned()), requests);
        let mut transfer = vec![10.0; 40];
        transfer[35] = 36.0;
        contributors.insert(("usage_type".to_owned(), "DataTransfer-Out-Bytes".to_owned()), transfer);
        let mut region = vec![110.0; 40];
        region[35] = 436.0;
        contributors.insert(("region".to_owned(), "us-east-1".to_owned()), region);
        let causes = rank(&contributors, 35, 35, 7, 10);
        assert_eq!(causes.len(), 2, "the only region explains nothing: {causes:?}");
        assert_eq!((causes[0].value.as_str(), causes[0].impact), ("USE1-ApiGatewayRequest", 300.0));
        assert_eq!((causes[1].value.as_str(), causes[1].impact), ("DataTransfer-Out-Bytes", 26.0));
    }
}
