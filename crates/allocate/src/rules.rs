//! The allocation rules file (TOML): owner tag, account owners, ordered rules, shared-cost policy.
//! `docs/allocation.md` documents it with examples.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::glob::glob_match;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The resource tag whose value names the owning team.
    #[serde(default = "default_owner_tag")]
    pub owner_tag: String,
    /// Account id → team, for lines neither tagged nor matched by a rule.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// Ordered; the first rule that matches a line applies.
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub shared: SharedPolicy,
}

fn default_owner_tag() -> String {
    "team".to_owned()
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            owner_tag: default_owner_tag(),
            accounts: BTreeMap::new(),
            rules: Vec::new(),
            shared: SharedPolicy::default(),
        }
    }
}

/// Matches lines by globs; sets the team of untagged lines and labels on every matched line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub api_type: Option<String>,
    pub usage_type: Option<String>,
    /// Tag key (normalised form) → glob of its value.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub team: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// How a shared line (tax, discount, credit, refund or fee belonging to no API) is divided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// By each team's API Gateway usage cost in the same account and billing period.
    #[default]
    Proportional,
    /// Equally among the teams with usage in the same account and billing period.
    Even,
    /// By fixed percentages (`fixed = { payments = 60, search = 40 }`).
    Fixed,
    /// All to one named owner (`owner = "platform"`).
    Owner,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Proportional => "proportional",
            Split::Even => "even",
            Split::Fixed => "fixed",
            Split::Owner => "owner",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPolicy {
    #[serde(default)]
    pub split: Split,
    pub owner: Option<String>,
    pub fixed: Option<BTreeMap<String, u32>>,
    /// Ordered exceptions by account, charge class or line item type.
    #[serde(default)]
    pub rules: Vec<SharedRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedRule {
    pub account: Option<String>,
    pub charge_class: Option<String>,
    pub line_item_type: Option<String>,
    pub split: Split,
    pub owner: Option<String>,
    pub fixed: Option<BTreeMap<String, u32>>,
}

/// What a rule can match on, for one line.
#[derive(Debug, Clone, Copy)]
pub struct LineFacts<'a> {
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub api_id: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub api_type: &'a str,
    pub usage_type: Option<&'a str>,
    pub tags: &'a [(&'a str, &'a str)],
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

fn matches(pattern: Option<&String>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(pattern) => value.is_some_and(|v| glob_match(pattern, v)),
    }
}

impl Rule {
    pub fn matches(&self, line: &LineFacts) -> bool {
        matches(self.account.as_ref(), line.account)
            && matches(self.region.as_ref(), line.region)
            && matches(self.api_id.as_ref(), line.api_id)
            && matches(self.stage.as_ref(), line.stage)
            && matches(self.api_type.as_ref(), Some(line.api_type))
            && matches(self.usage_type.as_ref(), line.usage_type)
            && self
                .tags
                .iter()
                .all(|(key, pattern)| matches(Some(pattern), line.tags.iter().find(|(k, _)| k == key).map(|(_, v)| *v)))
    }
}

/// How one shared line is divided: the policy of the first matching exception, else the default.
pub(crate) struct SharedDecision<'a> {
    pub split: Split,
    pub owner: Option<&'a str>,
    pub fixed: Option<&'a BTreeMap<String, u32>>,
}

impl SharedPolicy {
    pub(crate) fn decide(
        &self,
        account: Option<&str>,
        charge_class: &str,
        line_item_type: Option<&str>,
    ) -> SharedDecision<'_> {
        for rule in &self.rules {
            if matches(rule.account.as_ref(), account)
                && matches(rule.charge_class.as_ref(), Some(charge_class))
                && matches(rule.line_item_type.as_ref(), line_item_type)
            {
                return SharedDecision { split: rule.split, owner: rule.owner.as_deref(), fixed: rule.fixed.as_ref() };
            }
        }
        SharedDecision { split: self.split, owner: self.owner.as_deref(), fixed: self.fixed.as_ref() }
    }
}

impl Rules {
    pub fn from_toml(text: &str, path: &str) -> Result<Rules, RulesError> {
        let invalid = |message: String| RulesError::Invalid { path: path.to_owned(), message };
        let rules: Rules = toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_owned()))?;
        for rule in &rules.rules {
            if rule.team.is_none() && rule.labels.is_empty() {
                return Err(invalid(format!("rule `{}` sets neither `team` nor `labels`", rule.name)));
            }
            if let Some(kind) = &rule.api_type
                && !["rest", "http", "websocket", "unknown"].iter().any(|k| glob_match(kind, k))
            {
                return Err(invalid(format!(
                    "rule `{}`: api_type `{kind}` matches none of rest, http, websocket, unknown",
                    rule.name
                )));
            }
        }
        let mut names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(format!("two rules are named `{}`", pair[0])));
        }
        let check =
            |split: Split, owner: Option<&String>, fixed: Option<&BTreeMap<String, u32>>, place: &str| match split {
                Split::Owner if owner.is_none() => {
                    Err(invalid(format!("{place}: split = \"owner\" needs `owner = \"<team>\"`")))
                }
                Split::Fixed => match fixed {
                    None => Err(invalid(format!("{place}: split = \"fixed\" needs `fixed = {{ team = percent, … }}`"))),
                    Some(f) if f.values().sum::<u32>() != 100 => Err(invalid(format!(
                        "{place}: fixed percentages add up to {}, not 100",
                        f.values().sum::<u32>()
                    ))),
                    Some(_) => Ok(()),
                },
                _ => Ok(()),
            };
        check(rules.shared.split, rules.shared.owner.as_ref(), rules.shared.fixed.as_ref(), "[shared]")?;
        for (i, rule) in rules.shared.rules.iter().enumerate() {
            check(rule.split, rule.owner.as_ref(), rule.fixed.as_ref(), &format!("[[shared.rules]] #{}", i + 1))?;
        }
        Ok(rules)
    }

    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError::Invalid {
            path: path.display().to_string(),
            message: format!("cannot read the rules file: {e}"),
        })?;
        Rules::from_toml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
owner_tag = "team"

[accounts]
"444455556666" = "platform"

[[rules]]
name = "search-http"
api_type = "http"
region = "eu-*"
tags = { environment = "prod*" }
team = "search"
labels = { env = "prod", cost_center = "cc-9" }

[shared]
split = "proportional"

[[shared.rules]]
charge_class = "credit"
split = "fixed"
fixed = { payments = 60, search = 40 }
"#;

    fn facts<'a>(tags: &'a [(&'a str, &'a str)]) -> LineFacts<'a> {
        LineFacts {
            account: Some("111122223333"),
            region: Some("eu-west-1"),
            api_id: Some("zz9"),
            stage: Some("$default"),
            api_type: "http",
            usage_type: Some("EU-ApiGatewayHttpRequest"),
            tags,
        }
    }

    #[test]
    fn parses_and_matches() {
        let rules = Rules::from_toml(EXAMPLE, "rules.toml").unwrap();
        let tags = vec![("environment", "production")];
        assert!(rules.rules[0].matches(&facts(&tags)));
        assert!(!rules.rules[0].matches(&facts(&[])), "a tag pattern needs the tag");
        let decision = rules.shared.decide(Some("1"), "credit", Some("Credit"));
        assert_eq!(decision.split, Split::Fixed);
        assert_eq!(rules.shared.decide(Some("1"), "tax", Some("Tax")).split, Split::Proportional);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| Rules::from_toml(text, "r.toml").unwrap_err().to_string();
        assert!(err("[[rules]]\nname = \"x\"\n").contains("sets neither"));
        assert!(err("[[rules]]\nname = \"x\"\nteam = \"a\"\ncolour = \"red\"\n").contains("colour"));
        assert!(err("[shared]\nsplit = \"fixed\"\nfixed = { a = 50 }\n").contains("add up to 50"));
        assert!(err("[shared]\nsplit = \"owner\"\n").contains("needs `owner"));
        assert!(err("[[rules]]\nname = \"x\"\nteam = \"a\"\napi_type = \"graphql\"\n").contains("graphql"));
        assert!(
            err("[[rules]]\nname = \"x\"\nteam = \"a\"\n[[rules]]\nname = \"x\"\nteam = \"b\"\n").contains("two rules")
        );
    }
}
