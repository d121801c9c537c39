//! The simulated organisation and the line items it produces each month.

use chrono::{Datelike, NaiveDate};
use curwatch_schema::{BillingPeriod, Money};

use crate::events::{Event, EventKind};
use crate::rng::Rng;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub code: &'static str,
    pub billing_code: &'static str,
    pub name: &'static str,
}

const REGIONS: [Region; 4] = [
    Region { code: "us-east-1", billing_code: "USE1", name: "US East (N. Virginia)" },
    Region { code: "eu-west-1", billing_code: "EU", name: "EU (Ireland)" },
    Region { code: "us-west-2", billing_code: "USW2", name: "US West (Oregon)" },
    Region { code: "ap-southeast-2", billing_code: "APS2", name: "Asia Pacific (Sydney)" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    pub code: &'static str,
    pub name: &'static str,
    pub category: &'static str,
}

pub(crate) const API_GATEWAY: Service =
    Service { code: "AmazonApiGateway", name: "Amazon API Gateway", category: "Networking" };
const EC2: Service = Service { code: "AmazonEC2", name: "Amazon Elastic Compute Cloud", category: "Compute" };
const S3: Service = Service { code: "AmazonS3", name: "Amazon Simple Storage Service", category: "Storage" };
const LAMBDA: Service = Service { code: "AWSLambda", name: "AWS Lambda", category: "Compute" };
const DYNAMODB: Service = Service { code: "AmazonDynamoDB", name: "Amazon DynamoDB", category: "Databases" };
const CLOUDWATCH: Service =
    Service { code: "AmazonCloudWatch", name: "Amazon CloudWatch", category: "Management and Governance" };
const SUPPORT: Service = Service { code: "AWSSupportBusiness", name: "AWS Support (Business)", category: "Other" };
const SAVINGS_PLANS: Service =
    Service { code: "ComputeSavingsPlans", name: "Savings Plans for AWS Compute usage", category: "Compute" };

const TEAMS: [&str; 5] = ["payments", "search", "identity", "mobile", "platform"];
const UNITS: [&str; 3] = ["Retail", "Enterprise", "Shared"];

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub name: String,
    pub business_unit: &'static str,
}

/// One billed series: a usage type on a resource, with its daily volume model.
#[derive(Debug, Clone)]
struct Series {
    account: usize,
    service: Service,
    region: Region,
    usage_type: String,
    operation: &'static str,
    resource_id: String,
    unit: &'static str,
    /// Price per unit.
    rate: f64,
    /// Units per day on an average weekday at the start of the first month.
    daily_amount: f64,
    /// Whole units (requests, messages) or fractional (GB, hours).
    integral: bool,
    weekend_factor: f64,
    /// Month-over-month growth rate.
    growth: f64,
    tags: Vec<(&'static str, String)>,
    savings_plan: bool,
}

/// A line item, format-neutral; writers map it to each export's columns.
#[derive(Debug, Clone)]
pub(crate) struct Line<'m> {
    pub seq: u64,
    pub period: BillingPeriod,
    pub start: i64,
    pub end: i64,
    pub payer: &'m Account,
    pub account: &'m Account,
    pub line_type: &'static str,
    pub service: Service,
    pub region: Option<Region>,
    pub usage_type: &'m str,
    pub operation: &'m str,
    pub resource_id: &'m str,
    pub unit: &'m str,
    pub usage_amount: f64,
    pub rate: f64,
    pub unblended: Money,
    pub net: Money,
    pub amortized: Money,
    pub sp_effective: Option<Money>,
    pub sp_commitment: Option<Money>,
    pub sp_used: Option<Money>,
    pub sp_arn: Option<&'m str>,
    pub tags: &'m [(&'static str, String)],
}

pub(crate) struct Org {
    pub payer: Account,
    pub accounts: Vec<Account>,
    series: Vec<Series>,
    /// Labelled events shaping some series' daily volumes (`synth --anomalies`).
    events: Vec<Injected>,
    sp_arn: String,
    /// Share of usage the enterprise discount takes back.
    edp: (i128, i128),
    tax_percent: i128,
}

impl Org {
    /// Builds an organisation sized so a month has about `lines` line items.
    pub(crate) fn new(seed: u64, lines_per_month: u64, hourly: bool) -> Org {
        let mut rng = Rng::new(seed);
        let account = |rng: &mut Rng, i: usize| Account {
            id: rng.digits(12),
            name: format!("{}-{}", ["prod", "staging", "shared", "data"][i % 4], i),
            business_unit: UNITS[i % UNITS.len()],
        };
        let payer = account(&mut rng, 0);
        let accounts: Vec<Account> = (0..3).map(|i| account(&mut rng, i)).collect();
        let slots = if hourly { 24 * 30 } else { 30 };
        let total_series = (lines_per_month / slots).max(12) as usize;
        // About one line in twenty is API Gateway, as in a typical organisation's CUR;
        // at least four APIs so every API type and tagging case appears.
        let apis = (total_series / 20 / 5).max(4);
        let mut series = Vec::new();
        for i in 0..apis {
            add_api(&mut series, &mut rng, i, accounts.len());
        }
        let other = total_series.saturating_sub(series.len()).max(8);
        for i in 0..other {
            series.push(other_series(&mut rng, i, accounts.len()));
        }
        let sp_arn = format!("arn:aws:savingsplans::{}:savingsplan/{}", payer.id, rng.id(8));
        Org { payer, accounts, series, sp_arn, edp: (3, 100), tax_percent: 8, events: Vec::new() }
    }

    /// Schedules the labelled events of `synth --anomalies` from the first day of data and
    /// returns their labels: one of each anomaly kind on the first APIs' main stages, and a
    /// holiday dip across every service.
    pub(crate) fn schedule_events(&mut self, first_day: NaiveDate) -> Vec<Label> {
        // Production-sized APIs (tens to hundreds of dollars a day), so the default
        // monitor thresholds apply as they would on a real bill.
        for s in self.series.iter_mut().filter(|s| s.service.code == API_GATEWAY.code) {
            s.daily_amount *= 20.0;
        }
        let apis = self.api_stages();
        let day = |offset: u64| first_day + chrono::Days::new(offset);
        let mut plan = vec![
            (0, Affects::Requests, Event { kind: EventKind::RetryStorm, start: day(40), days: 2, magnitude: 4.0 }),
            (
                1,
                Affects::Transfer,
                Event { kind: EventKind::DataTransferBlowup, start: day(50), days: 5, magnitude: 8.0 },
            ),
            (
                2,
                Affects::Minutes,
                Event { kind: EventKind::WebsocketConnectionLeak, start: day(56), days: 7, magnitude: 4.0 },
            ),
            (3, Affects::All, Event { kind: EventKind::NewClient, start: day(63), days: 7, magnitude: 1.8 }),
            (0, Affects::All, Event { kind: EventKind::GradualDrift, start: day(70), days: 14, magnitude: 2.2 }),
        ];
        plan.retain(|(api, _, _)| *api < apis.len());
        let mut labels = Vec::new();
        for (api, affects, event) in plan {
            let (api_id, stage) = apis[api].clone();
            let usage_types = self
                .series
                .iter()
                .filter(|s| {
                    s.resource_id.ends_with(&format!("/{api_id}/stages/{stage}")) && affects.covers(&s.usage_type)
                })
                .map(|s| s.usage_type.clone())
                .collect();
            labels.push(Label::of(&event, Some(api_id.clone()), Some(stage.clone()), usage_types));
            self.events.push(Injected { target: Some((api_id, stage)), affects, event });
        }
        let holiday = Event { kind: EventKind::HolidayDip, start: day(45), days: 1, magnitude: 0.4 };
        labels.push(Label::of(&holiday, None, None, Vec::new()));
        self.events.push(Injected { target: None, affects: Affects::All, event: holiday });
        labels
    }

    /// (API id, main stage) of each API, in the order they were made.
    fn api_stages(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for s in self.series.iter().filter(|s| s.service.code == API_GATEWAY.code) {
            let Some((path, stage)) = s.resource_id.split_once("/stages/") else { continue };
            let id = path.rsplit('/').next().unwrap_or_default().to_owned();
            if !out.iter().any(|(known, _)| *known == id) {
                out.push((id, stage.to_owned()));
            }
        }
        out
    }

    /// The product of the events' multipliers on one series on one day.
    fn event_factor(&self, series: &Series, day: NaiveDate) -> f64 {
        self.events
            .iter()
            .filter(|e| {
                e.affects.covers(&series.usage_type)
                    && e.target
                        .as_ref()
                        .is_none_or(|(api, stage)| series.resource_id.ends_with(&format!("/{api}/stages/{stage}")))
            })
            .map(|e| e.event.factor(day))
            .product()
    }

    /// Emits one month's lines: per day (and hour) per series, then month-level charges.
    /// `days` limits the month to its first days, as an early delivery would.
    pub(crate) fn month<E>(
        &self,
        period: BillingPeriod,
        first_period: BillingPeriod,
        days: u32,
        hourly: bool,
        seed: u64,
        emit: &mut dyn FnMut(&Line) -> Result<(), E>,
    ) -> Result<(), E> {
        let month_index =
            (period.year() - first_period.year()) * 12 + period.month() as i32 - first_period.month() as i32;
        let mut seq = u64::from(period.month()) << 40 | (period.year() as u64) << 48;
        let mut usage_totals: std::collections::BTreeMap<(usize, &'static str), Money> = Default::default();
        let mut sp_used = Money::ZERO;
        let rng_root = Rng::new(seed).fork(period.year() as u64 * 100 + u64::from(period.month()));
        let start_of = |day: NaiveDate| day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros();
        for day_offset in 0..days.min(period.days()) {
            let day = period.first_day() + chrono::Days::new(u64::from(day_offset));
            let weekend = day.weekday().number_from_monday() >= 6;
            let day_start = start_of(day);
            for (index, s) in self.series.iter().enumerate() {
                let mut rng = rng_root.fork(((index as u64) << 8) | u64::from(day_offset));
                let trend = (1.0 + s.growth).powf(f64::from(month_index) + f64::from(day_offset) / 30.0);
                let season = if weekend { s.weekend_factor } else { 1.0 };
                let daily = s.daily_amount * trend * season * rng.range(0.9, 1.1) * self.event_factor(s, day);
                let slots: &[(i64, f64)] = if hourly { &HOURLY_PROFILE } else { &[(0, 1.0)] };
                for &(hour, share) in slots {
                    let mut amount = daily * share;
                    if s.integral {
                        amount = amount.round().max(1.0);
                    }
                    let cost = Money::from_f64(amount * s.rate).expect("finite");
                    let (start, end) = if hourly {
                        (day_start + hour * MICROS_PER_HOUR, day_start + (hour + 1) * MICROS_PER_HOUR)
                    } else {
                        (day_start, day_start + 24 * MICROS_PER_HOUR)
                    };
                    let account = &self.accounts[s.account];
                    let mut line = Line {
                        seq,
                        period,
                        start,
                        end,
                        payer: &self.payer,
                        account,
                        line_type: "Usage",
                        service: s.service,
                        region: Some(s.region),
                        usage_type: &s.usage_type,
                        operation: s.operation,
                        resource_id: &s.resource_id,
                        unit: s.unit,
                        usage_amount: amount,
                        rate: s.rate,
                        unblended: cost,
                        net: self.net_of(cost),
                        amortized: cost,
                        sp_effective: None,
                        sp_commitment: None,
                        sp_used: None,
                        sp_arn: None,
                        tags: &s.tags,
                    };
                    seq += 1;
                    *usage_totals.entry((s.account, s.service.code)).or_default() += cost;
                    if s.savings_plan {
                        // Covered usage keeps its on-demand cost; a negation line cancels it
                        // and the effective cost carries the savings-plan rate.
                        let effective = Money::from_units(cost.units() * 72 / 100);
                        sp_used += effective;
                        line.line_type = "SavingsPlanCoveredUsage";
                        line.amortized = effective;
                        line.sp_effective = Some(effective);
                        line.sp_arn = Some(&self.sp_arn);
                        emit(&line)?;
                        let negation = Line {
                            seq,
                            line_type: "SavingsPlanNegation",
                            unblended: -cost,
                            net: -self.net_of(cost),
                            amortized: Money::ZERO,
                            sp_effective: None,
                            ..line
                        };
                        seq += 1;
                        emit(&negation)?;
                    } else {
                        emit(&line)?;
                    }
                }
            }
        }
        if days < period.days() {
            return Ok(());
        }
        self.month_end(
            period,
            start_of(period.first_day()),
            start_of(period.next().first_day()),
            seq,
            &usage_totals,
            sp_used,
            emit,
        )
    }

    fn net_of(&self, cost: Money) -> Money {
        Money::from_units(cost.units() - cost.units() * self.edp.0 / self.edp.1)
    }

    /// Tax, discounts, credits, a refund, fees and the savings-plan fee: charges that
    /// belong to the month rather than to a resource.
    #[allow(clippy::too_many_arguments)]
    fn month_end<E>(
        &self,
        period: BillingPeriod,
        start: i64,
        end: i64,
        mut seq: u64,
        usage: &std::collections::BTreeMap<(usize, &'static str), Money>,
        sp_used: Money,
        emit: &mut dyn FnMut(&Line) -> Result<(), E>,
    ) -> Result<(), E> {
        let base = Line {
            seq,
            period,
            start,
            end,
            payer: &self.payer,
            account: &self.payer,
            line_type: "Tax",
            service: API_GATEWAY,
            region: None,
            usage_type: "",
            operation: "",
            resource_id: "",
            unit: "",
            usage_amount: 1.0,
            rate: 0.0,
            unblended: Money::ZERO,
            net: Money::ZERO,
            amortized: Money::ZERO,
            sp_effective: None,
            sp_commitment: None,
            sp_used: None,
            sp_arn: None,
            tags: &[],
        };
        let mut next = |line: Line, emit: &mut dyn FnMut(&Line) -> Result<(), E>| {
            seq += 1;
            emit(&Line { seq, ..line })
        };
        for (&(account, code), &total) in usage {
            let service = self.service_by_code(code);
            let account = &self.accounts[account];
            let discount = -Money::from_units(total.units() * self.edp.0 / self.edp.1);
            let line = Line {
                account,
                service,
                line_type: "EdpDiscount",
                unblended: discount,
                amortized: discount,
                net: Money::ZERO,
                ..base.clone()
            };
            next(line, emit)?;
            let tax = Money::from_units(total.units() * self.tax_percent / 100).round_to_cents();
            next(
                Line { account, service, line_type: "Tax", unblended: tax, amortized: tax, net: tax, ..base.clone() },
                emit,
            )?;
        }
        let first = &self.accounts[0];
        let credit = Money::from_cents(-500);
        next(
            Line {
                account: first,
                line_type: "Credit",
                unblended: credit,
                amortized: credit,
                net: credit,
                ..base.clone()
            },
            emit,
        )?;
        let refund = Money::from_cents(-123);
        let ec2 = EC2;
        next(
            Line {
                account: first,
                service: ec2,
                line_type: "Refund",
                unblended: refund,
                amortized: refund,
                net: refund,
                ..base.clone()
            },
            emit,
        )?;
        let fee = Money::from_cents(10_000);
        next(
            Line { service: SUPPORT, line_type: "Fee", unblended: fee, amortized: fee, net: fee, ..base.clone() },
            emit,
        )?;
        if sp_used > Money::ZERO {
            let commitment = Money::from_units(sp_used.units() * 110 / 100).round_to_cents();
            next(
                Line {
                    service: SAVINGS_PLANS,
                    line_type: "SavingsPlanRecurringFee",
                    unblended: commitment,
                    net: commitment,
                    amortized: commitment - sp_used,
                    sp_commitment: Some(commitment),
                    sp_used: Some(sp_used),
                    sp_arn: Some(&self.sp_arn),
                    ..base.clone()
                },
                emit,
            )?;
        }
        Ok(())
    }

    fn service_by_code(&self, code: &str) -> Service {
        self.series.iter().map(|s| s.service).find(|s| s.code == code).unwrap_or(API_GATEWAY)
    }
}

/// Share of a day's traffic in each UTC hour: quiet nights, busy afternoons.
const HOURLY_PROFILE: [(i64, f64); 24] = {
    let weights = [2, 2, 2, 2, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2];
    let mut out = [(0i64, 0.0f64); 24];
    let mut i = 0;
    while i < 24 {
        out[i] = (i as i64, weights[i] as f64 / 100.0);
        i += 1;
    }
    out
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum ApiKind {
    Rest,
    Http,
    WebSocket,
}

fn add_api(series: &mut Vec<Series>, rng: &mut Rng, index: usize, accounts: usize) {
    let kind = [ApiKind::Rest, ApiKind::Http, ApiKind::WebSocket, ApiKind::Rest][index % 4];
    let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let id = rng.id(10);
    let account = index % accounts;
    // Three APIs in four carry owner tags; the rest are the untagged spend allocation must place.
    let tags: Vec<(&'static str, String)> = if index % 4 != 3 {
        let team = TEAMS[index % TEAMS.len()];
        vec![("user:team", team.to_owned()), ("aws:createdBy", format!("AssumedRole:deploy-{team}"))]
    } else {
        Vec::new()
    };
    let stages: &[(&str, f64)] = match kind {
        ApiKind::Http => &[("$default", 1.0), ("dev", 0.08)],
        _ => &[("prod", 1.0), ("staging", 0.12), ("dev", 0.05)],
    };
    let base_requests = rng.range(200_000.0, 3_000_000.0);
    let growth = rng.range(0.0, 0.08);
    let prefix = region.billing_code;
    for &(stage, share) in stages {
        let path = if kind == ApiKind::Rest { "restapis" } else { "apis" };
        let resource_id = format!("arn:aws:apigateway:{}::/{path}/{id}/stages/{stage}", region.code);
        let mut tags = tags.clone();
        if !tags.is_empty() {
            tags.push(("user:Environment", stage.trim_start_matches('$').to_owned()));
        }
        let mut add = |usage_type: String, operation, unit, rate, amount: f64, integral| {
            series.push(Series {
                account,
                service: API_GATEWAY,
                region,
                usage_type,
                operation,
                resource_id: resource_id.clone(),
                unit,
                rate,
                daily_amount: amount * share,
                integral,
                weekend_factor: 0.55,
                growth,
                tags: tags.clone(),
                savings_plan: false,
            });
        };
        let transfer_type = if region.code == "us-east-1" {
            "DataTransfer-Out-Bytes".to_owned()
        } else {
            format!("{prefix}-DataTransfer-Out-Bytes")
        };
        match kind {
            ApiKind::Rest => {
                add(
                    format!("{prefix}-ApiGatewayRequest"),
                    "ApiGatewayRequest",
                    "Requests",
                    3.5e-6,
                    base_requests,
                    true,
                );
                add(transfer_type, "ApiGatewayRequest", "GB", 0.09, base_requests * 4e-6, false);
                if index.is_multiple_of(8) {
                    add(format!("{prefix}-ApiGatewayCacheUsage:1.6GB"), "CacheUsage", "Hrs", 0.038, 24.0, false);
                }
            }
            ApiKind::Http => {
                add(
                    format!("{prefix}-ApiGatewayHttpRequest"),
                    "ApiGatewayHttpApi",
                    "Requests",
                    1.0e-6,
                    base_requests,
                    true,
                );
                add(transfer_type, "ApiGatewayHttpApi", "GB", 0.09, base_requests * 2e-6, false);
            }
            ApiKind::WebSocket => {
                add(
                    format!("{prefix}-ApiGatewayMessage"),
                    "ApiGatewayWebSocket",
                    "Messages",
                    1.0e-6,
                    base_requests,
                    true,
                );
                add(
                    format!("{prefix}-ApiGatewayMinute"),
                    "ApiGatewayWebSocket",
                    "Minutes",
                    0.25e-6,
                    base_requests * 3.0,
                    true,
                );
            }
        }
    }
}

fn other_series(rng: &mut Rng, index: usize, accounts: usize) -> Series {
    let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let account = rng.below(accounts as u64) as usize;
    let p = region.billing_code;
    let tags: Vec<(&'static str, String)> =
        if index.is_multiple_of(3) { vec![("user:team", TEAMS[index % TEAMS.len()].to_owned())] } else { Vec::new() };
    let (service, usage_type, operation, unit, rate, amount, integral, resource_id) = match index % 5 {
        0 => (
            EC2,
            format!("{p}-BoxUsage:m5.large"),
            "RunInstances",
            "Hrs",
            0.096,
            24.0,
            false,
            format!("i-{}", rng.id(17)),
        ),
        1 => (
            S3,
            format!("{p}-TimedStorage-ByteHrs"),
            "StandardStorage",
            "GB-Mo",
            0.023,
            rng.range(10.0, 500.0),
            false,
            format!("bucket-{}", rng.id(6)),
        ),
        2 => (
            LAMBDA,
            format!("{p}-Lambda-GB-Second"),
            "Invoke",
            "Lambda-GB-Second",
            0.000_016_666_7,
            rng.range(5_000.0, 90_000.0),
            false,
            format!("arn:aws:lambda:{}:{}:function:fn-{}", region.code, "123456789012", rng.id(6)),
        ),
        3 => (
            DYNAMODB,
            format!("{p}-ReadRequestUnits"),
            "GetItem",
            "ReadRequestUnits",
            0.25e-6,
            rng.range(1e6, 5e7),
            true,
            format!("arn:aws:dynamodb:{}:123456789012:table/t-{}", region.code, rng.id(5)),
        ),
        _ => (
            CLOUDWATCH,
            format!("{p}-CW:MetricMonitorUsage"),
            "MetricStorage",
            "Metrics",
            0.3 / 30.0,
            rng.range(10.0, 300.0),
            false,
            String::new(),
        ),
    };
    Series {
        account,
        service,
        region,
        usage_type,
        operation,
        resource_id,
        unit,
        rate,
        daily_amount: amount,
        integral,
        weekend_factor: if service == EC2 { 1.0 } else { 0.8 },
        growth: rng.range(0.0, 0.03),
        tags,
        savings_plan: service == EC2 && index.is_multiple_of(2),
    }
}

/// Which of an API's usage an event acts on.
#[derive(Debug, Clone, Copy)]
enum Affects {
    All,
    Requests,
    Transfer,
    Minutes,
}

impl Affects {
    fn covers(self, usage_type: &str) -> bool {
        match self {
            Affects::All => true,
            Affects::Requests => usage_type.contains("Request"),
            Affects::Transfer => usage_type.contains("DataTransfer"),
            Affects::Minutes => usage_type.contains("ApiGatewayMinute"),
        }
    }
}

#[derive(Debug, Clone)]
struct Injected {
    /// An API and stage, or every series when absent.
    target: Option<(String, String)>,
    affects: Affects,
    event: Event,
}

/// One entry of `labels.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Label {
    pub kind: EventKind,
    pub anomaly: bool,
    /// The API and stage it happens on; absent when it touches every service.
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub usage_types: Vec<String>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub magnitude: f64,
}

impl Label {
    fn of(event: &Event, api_id: Option<String>, stage: Option<String>, usage_types: Vec<String>) -> Label {
        Label {
            kind: event.kind,
            anomaly: event.kind.is_anomaly(),
            api_id,
            stage,
            usage_types,
            start: event.start,
            end: event.end(),
            magnitude: event.magnitude,
        }
    }
}
