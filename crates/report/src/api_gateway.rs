//! Reports by API Gateway dimensions: aggregate by the raw columns they come from, classify
//! each distinct resource id and usage type once, then roll up.

use std::collections::HashMap;

use curwatch_allocate::{ApiLine, PairClassifier};
use curwatch_schema::columns::API_GATEWAY_SERVICE as API_GATEWAY;

use crate::aggregate::{Group, ReportError, ReportRequest, aggregate};
use crate::dimension::Dimension;

pub(crate) fn derive(store: &curwatch_store::Store, request: &ReportRequest) -> Result<Vec<Group>, ReportError> {
    // Read every plain dimension, plus the columns classification needs.
    let mut physical: Vec<Dimension> = request.dimensions.iter().filter(|d| !d.is_api_gateway()).cloned().collect();
    let mut position = |dim: Dimension| match physical.iter().position(|d| *d == dim) {
        Some(index) => index,
        None => {
            physical.push(dim);
            physical.len() - 1
        }
    };
    let service = position(Dimension::Service);
    let resource = position(Dimension::ResourceId);
    let usage = position(Dimension::UsageType);
    let groups = aggregate(store, request, &physical)?;

    let mut lines: HashMap<(Option<String>, Option<String>), ApiLine> = HashMap::new();
    let mut classifier = PairClassifier::default();
    for (keys, _) in &groups {
        if keys[service].as_deref() != Some(API_GATEWAY) {
            continue;
        }
        let pair = (keys[resource].clone(), keys[usage].clone());
        lines.entry(pair).or_insert_with_key(|(r, u)| classifier.classify(r.as_deref(), u.as_deref()));
    }
    let types = classifier.into_types();

    let mut rolled: HashMap<Vec<Option<String>>, i128> = HashMap::new();
    for (keys, units) in groups {
        let line = (keys[service].as_deref() == Some(API_GATEWAY))
            .then(|| &lines[&(keys[resource].clone(), keys[usage].clone())]);
        let mut plain = 0;
        let key: Vec<Option<String>> = request
            .dimensions
            .iter()
            .map(|dim| match (dim, line) {
                (Dimension::ApiId, Some(line)) => line.api_id.clone(),
                (Dimension::Stage, Some(line)) => line.stage.clone(),
                (Dimension::Component, Some(line)) => line.component.map(|c| c.as_str().to_owned()),
                (Dimension::ApiType, Some(line)) => Some(types.resolve(line).as_str().to_owned()),
                (d, None) if d.is_api_gateway() => None,
                _ => {
                    plain += 1;
                    keys[plain - 1].clone()
                }
            })
            .collect();
        *rolled.entry(key).or_default() += units;
    }
    Ok(rolled.into_iter().collect())
}
