//! Classifying API Gateway line items from their resource ARN and usage type.

use curwatch_schema::intern::FastMap as HashMap;
use std::fmt;

/// The kind of API a line belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiType {
    Rest,
    Http,
    WebSocket,
    /// Not decidable from the line or the other usage of its API.
    #[default]
    Unknown,
}

impl ApiType {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Rest => "rest",
            ApiType::Http => "http",
            ApiType::WebSocket => "websocket",
            ApiType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What part of API Gateway's price list a line is billed under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Requests,
    Messages,
    ConnectionMinutes,
    Cache,
    DataTransfer,
    #[default]
    Other,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Requests => "requests",
            Component::Messages => "messages",
            Component::ConnectionMinutes => "connection_minutes",
            Component::Cache => "cache",
            Component::DataTransfer => "data_transfer",
            Component::Other => "other",
        }
    }

    /// From the usage type, by the substrings AWS uses (as the Well-Architected CUR library does).
    pub fn of_usage_type(usage_type: &str) -> Component {
        if usage_type.contains("ApiGatewayRequest") || usage_type.contains("ApiGatewayHttpRequest") {
            Component::Requests
        } else if usage_type.contains("Message") {
            Component::Messages
        } else if usage_type.contains("Minute") {
            Component::ConnectionMinutes
        } else if usage_type.contains("CacheUsage") {
            Component::Cache
        } else if usage_type.contains("DataTransfer") {
            Component::DataTransfer
        } else {
            Component::Other
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the resource id says a line belongs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiLine {
    pub api_id: Option<String>,
    pub stage: Option<String>,
    /// The type the line itself shows, before inference from the API's other usage.
    pub api_type: Option<ApiType>,
    pub component: Option<Component>,
}

/// Region billing codes at the front of usage types.
const BILLING_CODES: &[(&str, &str)] = &[
    ("USE1", "us-east-1"),
    ("USE2", "us-east-2"),
    ("USW1", "us-west-1"),
    ("USW2", "us-west-2"),
    ("CAN1", "ca-central-1"),
    ("APN1", "ap-northeast-1"),
    ("APN2", "ap-northeast-2"),
    ("APN3", "ap-northeast-3"),
    ("APS1", "ap-southeast-1"),
    ("APS2", "ap-southeast-2"),
    ("APS3", "ap-south-1"),
    ("APE1", "ap-east-1"),
    ("EUC1", "eu-central-1"),
    ("EU", "eu-west-1"),
    ("EUW1", "eu-west-1"),
    ("EUW2", "eu-west-2"),
    ("EUW3", "eu-west-3"),
    ("EUN1", "eu-north-1"),
    ("EUS1", "eu-south-1"),
    ("SAE1", "sa-east-1"),
    ("MES1", "me-south-1"),
    ("AFS1", "af-south-1"),
    ("UGW1", "us-gov-west-1"),
    ("UGE1", "us-gov-east-1"),
];

/// The region a usage type is billed in, from its leading billing code
/// (`EU-…` is eu-west-1; `APE1-USE1-…` inter-region types take the first code).
/// `None` when the type has no code, as some us-east-1 types do: use the product region then.
pub fn region_of_usage_type(usage_type: &str) -> Option<&'static str> {
    let code = usage_type.split('-').next()?;
    BILLING_CODES.iter().find(|(c, _)| *c == code).map(|(_, region)| *region)
}

/// Classifies one API Gateway line from its resource id and usage type.
///
/// Resource ids seen: `arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>` (REST),
/// `…::/apis/<id>/stages/<stage>` (HTTP or WebSocket), either without `/stages/…`,
/// custom-domain and other ARNs, bare ids and empty ids. Shapes without an API id keep
/// `api_id: None`; nothing is dropped.
pub fn classify_line(resource_id: Option<&str>, usage_type: Option<&str>) -> ApiLine {
    classify_line_with(resource_id, UsageFacts::of(usage_type))
}

/// Classifies a month's distinct (resource, usage type) pairs one after another and settles
/// each API's type from all of them: the first pass of allocation and of API Gateway reports.
/// What a usage type says is worked out once per usage type — a month has a few dozen of
/// them for tens of thousands of resources — rather than by searching its text per pair.
#[derive(Debug, Default)]
pub struct PairClassifier {
    usage_types: UsageTypes,
    types: ApiTypes,
}

impl PairClassifier {
    /// The pair's line, its evidence of its API's type noted.
    pub fn classify(&mut self, resource_id: Option<&str>, usage_type: Option<&str>) -> ApiLine {
        let line = classify_line_with(resource_id, self.usage_types.of(usage_type));
        self.types.observe(&line);
        line
    }

    /// Each API's type, from every pair classified.
    pub fn into_types(self) -> ApiTypes {
        self.types
    }
}

/// What a usage type alone says of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UsageFacts {
    component: Component,
    api_type: Option<ApiType>,
}

impl UsageFacts {
    fn of(usage_type: Option<&str>) -> Self {
        UsageFacts {
            component: Component::of_usage_type(usage_type.unwrap_or_default()),
            api_type: usage_type.and_then(type_of_usage),
        }
    }
}

/// [`UsageFacts`] of each usage type seen, worked out on first sight.
#[derive(Debug, Default)]
struct UsageTypes {
    facts: HashMap<String, UsageFacts>,
}

impl UsageTypes {
    fn of(&mut self, usage_type: Option<&str>) -> UsageFacts {
        let Some(text) = usage_type else { return UsageFacts::of(None) };
        if let Some(&facts) = self.facts.get(text) {
            return facts;
        }
        let facts = UsageFacts::of(usage_type);
        self.facts.insert(text.to_owned(), facts);
        facts
    }
}

/// [`classify_line`] with the usage type's facts already worked out.
fn classify_line_with(resource_id: Option<&str>, usage: UsageFacts) -> ApiLine {
    let component = Some(usage.component);
    let from_usage = usage.api_type;
    let Some(resource) = resource_id.map(str::trim).filter(|r| !r.is_empty()) else {
        return ApiLine { api_type: from_usage, component, ..ApiLine::default() };
    };
    let mut parts = after_double_colon(resource).trim_start_matches('/').split('/');
    let (api_id, path_type) = match (parts.next(), parts.next()) {
        (Some("restapis"), Some(id)) if !id.is_empty() => (Some(id), Some(ApiType::Rest)),
        (Some("apis"), Some(id)) if !id.is_empty() => (Some(id), None),
        _ => (None, None),
    };
    let stage = match (api_id, parts.next(), parts.next()) {
        (Some(_), Some("stages"), Some(stage)) if !stage.is_empty() => Some(stage.to_owned()),
        _ => None,
    };
    ApiLine { api_id: api_id.map(str::to_owned), stage, api_type: from_usage.or(path_type), component }
}

/// What follows the first `::` (an ARN's empty account field), or all of `text`. A byte loop:
/// a searcher for the two-byte pattern cost more to set up than the search itself.
fn after_double_colon(text: &str) -> &str {
    let bytes = text.as_bytes();
    (1..bytes.len()).find(|&i| bytes[i] == b':' && bytes[i - 1] == b':').map_or(text, |i| &text[i + 1..])
}

/// The API type a usage type alone proves.
fn type_of_usage(usage_type: &str) -> Option<ApiType> {
    if usage_type.contains("ApiGatewayHttpRequest") {
        Some(ApiType::Http)
    } else if usage_type.contains("ApiGatewayMessage") || usage_type.contains("ApiGatewayMinute") {
        Some(ApiType::WebSocket)
    } else if usage_type.contains("ApiGatewayRequest") || usage_type.contains("CacheUsage") {
        Some(ApiType::Rest)
    } else {
        None
    }
}

/// Settles each API's type from all its lines: a `/apis/` id or a data-transfer line says
/// nothing alone, but the same API's request or message lines do.
#[derive(Debug, Default)]
pub struct ApiTypes {
    seen: HashMap<String, ApiType>,
}

impl ApiTypes {
    pub fn observe(&mut self, line: &ApiLine) {
        if let (Some(id), Some(kind)) = (&line.api_id, line.api_type) {
            // WebSocket and HTTP evidence outranks the REST default of a bare data-transfer line.
            // Looked up before inserting: most lines are of an API already seen, and an entry
            // by key would copy the id for each of them.
            match self.seen.get_mut(id) {
                Some(entry) if *entry == ApiType::Rest && kind != ApiType::Rest => *entry = kind,
                Some(_) => {}
                None => {
                    self.seen.insert(id.clone(), kind);
                }
            }
        }
    }

    /// The type of a line's API, after everything observed.
    pub fn resolve(&self, line: &ApiLine) -> ApiType {
        line.api_id.as_ref().and_then(|id| self.seen.get(id).copied()).or(line.api_type).unwrap_or(ApiType::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_http_and_websocket_stage_arns() {
        let rest = classify_line(
            Some("arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/prod"),
            Some("USE1-ApiGatewayRequest"),
        );
        assert_eq!(rest.api_id.as_deref(), Some("a1b2c3"));
        assert_eq!(rest.stage.as_deref(), Some("prod"));
        assert_eq!(rest.api_type, Some(ApiType::Rest));
        assert_eq!(rest.component, Some(Component::Requests));

        let http = classify_line(
            Some("arn:aws:apigateway:eu-west-1::/apis/zz9/stages/$default"),
            Some("EU-ApiGatewayHttpRequest"),
        );
        assert_eq!((http.stage.as_deref(), http.api_type), (Some("$default"), Some(ApiType::Http)));

        let ws =
            classify_line(Some("arn:aws:apigateway:eu-west-1::/apis/ws1/stages/live"), Some("EU-ApiGatewayMinute"));
        assert_eq!((ws.api_type, ws.component), (Some(ApiType::WebSocket), Some(Component::ConnectionMinutes)));
    }

    #[test]
    fn messy_resource_ids_are_kept_without_loss() {
        let no_stage =
            classify_line(Some("arn:aws:apigateway:us-east-1::/restapis/a1b2c3"), Some("USE1-ApiGatewayRequest"));
        assert_eq!((no_stage.api_id.as_deref(), no_stage.stage), (Some("a1b2c3"), None));
        let domain = classify_line(
            Some("arn:aws:apigateway:us-east-1::/domainnames/api.example.com"),
            Some("USE1-ApiGatewayRequest"),
        );
        assert_eq!(domain.api_id, None);
        assert_eq!(domain.api_type, Some(ApiType::Rest), "the usage type still tells the type");
        let empty = classify_line(Some(""), Some("Tax"));
        assert_eq!(empty.api_id, None);
        assert_eq!(empty.component, Some(Component::Other));
        let missing = classify_line(None, None);
        assert_eq!(missing, ApiLine { component: Some(Component::Other), ..ApiLine::default() });
        let empty_stage = classify_line(Some("arn:aws:apigateway:us-east-1::/apis/abc/stages/"), None);
        assert_eq!((empty_stage.api_id.as_deref(), empty_stage.stage), (Some("abc"), None));
    }

    #[test]
    fn components_follow_usage_types() {
        for (usage, component) in [
            ("USE1-ApiGatewayRequest", Component::Requests),
            ("ApiGatewayHttpRequest", Component::Requests),
            ("EU-ApiGatewayMessage", Component::Messages),
            ("USW2-ApiGatewayMinute", Component::ConnectionMinutes),
            ("USE1-ApiGatewayCacheUsage:1.6GB", Component::Cache),
            ("DataTransfer-Out-Bytes", Component::DataTransfer),
            ("APE1-USE1-AWS-Out-Bytes", Component::Other),
        ] {
            assert_eq!(Component::of_usage_type(usage), component, "{usage}");
        }
    }

    #[test]
    fn usage_facts_remembered_per_usage_type_classify_as_the_text_does() {
        let mut usage_types = UsageTypes::default();
        let resources = [
            Some("arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/prod"),
            Some("arn:aws:apigateway:eu-west-1::/apis/ws1/stages/live"),
            Some(""),
            None,
        ];
        let usages = [
            Some("USE1-ApiGatewayRequest"),
            Some("ApiGatewayHttpRequest"),
            Some("EU-ApiGatewayMessage"),
            Some("USW2-ApiGatewayMinute"),
            Some("USE1-ApiGatewayCacheUsage:1.6GB"),
            Some("DataTransfer-Out-Bytes"),
            Some(""),
            None,
        ];
        // Twice over: the second round answers from what the first remembered.
        for _ in 0..2 {
            for resource in resources {
                for usage in usages {
                    let remembered = classify_line_with(resource, usage_types.of(usage));
                    assert_eq!(remembered, classify_line(resource, usage), "{resource:?} {usage:?}");
                }
            }
        }
        assert_eq!(usage_types.facts.len(), usages.iter().flatten().count());
    }

    #[test]
    fn api_types_keep_the_strongest_evidence_whatever_the_order() {
        // REST evidence (a request line), then HTTP evidence, for one API, in both orders.
        let rest = classify_line(Some("arn:aws:apigateway:us-east-1::/apis/x1"), Some("USE1-ApiGatewayRequest"));
        let http = classify_line(Some("arn:aws:apigateway:us-east-1::/apis/x1"), Some("USE1-ApiGatewayHttpRequest"));
        let bare = classify_line(Some("arn:aws:apigateway:us-east-1::/apis/x1"), Some("USE1-DataTransfer-Out-Bytes"));
        let other =
            classify_line(Some("arn:aws:apigateway:us-east-1::/restapis/r1"), Some("USE1-DataTransfer-Out-Bytes"));
        assert_eq!((rest.api_type, http.api_type, bare.api_type), (Some(ApiType::Rest), Some(ApiType::Http), None));
        for order in [[&rest, &http, &bare, &other], [&http, &rest, &other, &bare]] {
            let mut types = ApiTypes::default();
            for line in order {
                types.observe(line);
            }
            assert_eq!(types.resolve(&bare), ApiType::Http);
            assert_eq!(types.resolve(&other), ApiType::Rest);
        }
    }

    #[test]
    fn billing_codes_give_regions() {
        assert_eq!(region_of_usage_type("EU-ApiGatewayRequest"), Some("eu-west-1"));
        assert_eq!(region_of_usage_type("APE1-USE1-DataTransfer-Out-Bytes"), Some("ap-east-1"));
        assert_eq!(region_of_usage_type("DataTransfer-Out-Bytes"), None);
        assert_eq!(region_of_usage_type("ApiGatewayRequest"), None);
    }

    #[test]
    fn data_transfer_takes_the_type_of_its_api() {
        let mut types = ApiTypes::default();
        let transfer = classify_line(
            Some("arn:aws:apigateway:eu-west-1::/apis/ws1/stages/live"),
            Some("EU-DataTransfer-Out-Bytes"),
        );
        assert_eq!(types.resolve(&transfer), ApiType::Unknown, "nothing known yet");
        types.observe(&classify_line(
            Some("arn:aws:apigateway:eu-west-1::/apis/ws1/stages/live"),
            Some("EU-ApiGatewayMessage"),
        ));
        assert_eq!(types.resolve(&transfer), ApiType::WebSocket);
        let rest_transfer = classify_line(
            Some("arn:aws:apigateway:us-east-1::/restapis/r1/stages/prod"),
            Some("DataTransfer-Out-Bytes"),
        );
        assert_eq!(types.resolve(&rest_transfer), ApiType::Rest, "REST ids say so themselves");
    }
}
