//! Policy documents: the JSON shape, its validation, and the compiled statements that
//! evaluation walks. Everything that can be wrong with a document is found here, so that
//! evaluating a parsed policy cannot fail.

use serde_json::{Map, Value};

use crate::condition::{self, Condition, Context};
use crate::error::PolicyError;
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_PATTERN_BYTES, MAX_STATEMENTS};
use crate::pattern::{self, Pattern};

/// An identity policy (attached to a user, group or role, or a session policy), compiled.
/// Allow and Deny statements are kept apart so each evaluation pass walks only its own.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) allows: Box<[Statement]>,
    pub(crate) denies: Box<[Statement]>,
    document_len: usize,
}

impl Policy {
    /// An identity policy (attached to users/roles, or a session policy); rejects `Principal`.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        let statements = parse_statements(document, Kind::Identity)?;
        let (allows, denies): (Vec<_>, Vec<_>) = statements
            .into_iter()
            .map(|parsed| parsed.statement)
            .partition(|statement| statement.effect == Effect::Allow);
        Ok(Policy {
            allows: allows.into_boxed_slice(),
            denies: denies.into_boxed_slice(),
            document_len: document.len(),
        })
    }

    /// A policy that grants nothing: what a document that cannot be compiled falls back to.
    pub(crate) fn empty() -> Policy {
        Policy {
            allows: Box::default(),
            denies: Box::default(),
            document_len: 0,
        }
    }

    /// The size of the document it was parsed from, in bytes (what RAM counts against its limit).
    pub fn document_len(&self) -> usize {
        self.document_len
    }

    /// How many statements it has.
    pub fn statement_count(&self) -> usize {
        self.allows.len() + self.denies.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, or its complement (`NotAction`, `NotResource`).
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    patterns: Box<[Pattern]>,
    negated: bool,
}

impl Matcher {
    pub(crate) fn matches(&self, text: &str) -> bool {
        self.patterns.iter().any(|pattern| pattern.matches(text)) != self.negated
    }

    /// [`Matcher::matches`] for an ASCII-lower-cased text, against case-folding patterns.
    pub(crate) fn matches_lowercase(&self, lowered: &str) -> bool {
        self.patterns
            .iter()
            .any(|pattern| pattern.matches_lowercase(lowered))
            != self.negated
    }

    fn everything() -> Matcher {
        Matcher {
            patterns: Box::new([Pattern::new("*", false)]),
            negated: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) actions: Matcher,
    /// Hashes of the services the actions name, when every action pattern names one literally
    /// (see [`pattern::action_service`]); empty when any service could match (`*`, `*:List*`,
    /// `NotAction`).
    services: Box<[u64]>,
    /// Everything in a trust policy, which has no `Resource`.
    pub(crate) resources: Matcher,
    pub(crate) conditions: Box<[Condition]>,
}

impl Statement {
    /// A cheap first test: false only when the statement cannot be about the action's service.
    pub(crate) fn may_concern(&self, action_service: Option<u64>) -> bool {
        self.services.is_empty()
            || action_service.is_some_and(|service| self.services.contains(&service))
    }

    pub(crate) fn conditions_hold(&self, context: &Context) -> bool {
        self.conditions.iter().all(|c| c.holds(context))
    }
}

/// A statement as parsed, with the `Principal` a trust policy gives it (read by `trust`).
pub(crate) struct Parsed {
    pub(crate) statement: Statement,
    pub(crate) principal: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Identity,
    Trust,
}

const STATEMENT_ELEMENTS: [&str; 8] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
];

pub(crate) fn parse_statements(document: &str, kind: Kind) -> Result<Vec<Parsed>, PolicyError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::TooLong);
    }
    let value: Value = serde_json::from_str(document).map_err(|_| PolicyError::NotJson)?;
    let Value::Object(top) = value else {
        return Err(PolicyError::NotAnObject);
    };
    if top.keys().any(|key| key != "Version" && key != "Statement") {
        return Err(PolicyError::UnknownElement);
    }
    if top.get("Version").and_then(Value::as_str) != Some("1") {
        return Err(PolicyError::InvalidVersion);
    }
    let statements: Vec<&Value> = match top.get("Statement") {
        None => return Err(PolicyError::MissingStatement),
        Some(Value::Array(list)) if list.is_empty() => return Err(PolicyError::InvalidStatement),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err(PolicyError::InvalidStatement),
    };
    if statements.len() > MAX_STATEMENTS {
        return Err(PolicyError::TooManyStatements);
    }
    statements
        .into_iter()
        .enumerate()
        .map(|(index, statement)| parse_statement(statement, index, kind))
        .collect()
}

fn parse_statement(value: &Value, statement: usize, kind: Kind) -> Result<Parsed, PolicyError> {
    let Value::Object(fields) = value else {
        return Err(PolicyError::StatementNotAnObject { statement });
    };
    if fields
        .keys()
        .any(|key| !STATEMENT_ELEMENTS.contains(&key.as_str()))
    {
        return Err(PolicyError::UnknownStatementElement { statement });
    }
    if fields.get("Sid").is_some_and(|sid| !sid.is_string()) {
        return Err(PolicyError::InvalidSid { statement });
    }
    let effect = match fields.get("Effect") {
        None => return Err(PolicyError::MissingEffect { statement }),
        Some(Value::String(effect)) if effect == "Allow" => Effect::Allow,
        Some(Value::String(effect)) if effect == "Deny" => Effect::Deny,
        Some(_) => return Err(PolicyError::InvalidEffect { statement }),
    };
    let (actions, services) = match either(fields, "Action", "NotAction") {
        Either::Neither => return Err(PolicyError::MissingAction { statement }),
        Either::Both => return Err(PolicyError::BothActionAndNotAction { statement }),
        Either::One(value, negated) => {
            let invalid = PolicyError::InvalidAction { statement };
            let patterns = strings(value, statement)?.ok_or(invalid.clone())?;
            if !patterns.iter().all(|action| valid_action(action)) {
                return Err(invalid);
            }
            let services: Option<Vec<u64>> = if negated {
                None
            } else {
                patterns
                    .iter()
                    .map(|a| pattern::pattern_service(a))
                    .collect()
            };
            let matcher = Matcher {
                patterns: patterns.iter().map(|a| Pattern::new(a, true)).collect(),
                negated,
            };
            (matcher, services.unwrap_or_default().into_boxed_slice())
        }
    };
    let resources = match (either(fields, "Resource", "NotResource"), kind) {
        (Either::Neither, Kind::Trust) => Matcher::everything(),
        (_, Kind::Trust) => return Err(PolicyError::ResourceNotAllowed { statement }),
        (Either::Neither, Kind::Identity) => {
            return Err(PolicyError::MissingResource { statement });
        }
        (Either::Both, Kind::Identity) => {
            return Err(PolicyError::BothResourceAndNotResource { statement });
        }
        (Either::One(value, negated), Kind::Identity) => {
            let invalid = PolicyError::InvalidResource { statement };
            let patterns = strings(value, statement)?.ok_or(invalid.clone())?;
            if !patterns.iter().all(|resource| valid_resource(resource)) {
                return Err(invalid);
            }
            Matcher {
                patterns: patterns.iter().map(|r| Pattern::new(r, false)).collect(),
                negated,
            }
        }
    };
    let principal = match (fields.get("Principal"), kind) {
        (Some(_), Kind::Identity) => return Err(PolicyError::PrincipalNotAllowed { statement }),
        (None, Kind::Identity) => None,
        (None, Kind::Trust) => return Err(PolicyError::MissingPrincipal { statement }),
        (Some(principal), Kind::Trust) => Some(principal.clone()),
    };
    let conditions = match fields.get("Condition") {
        None => Box::default(),
        Some(block) => condition::parse_block(block, statement)?.into_boxed_slice(),
    };
    Ok(Parsed {
        statement: Statement {
            effect,
            actions,
            services,
            resources,
            conditions,
        },
        principal,
    })
}

enum Either<'a> {
    Neither,
    Both,
    /// The value, and whether it was the negated element.
    One(&'a Value, bool),
}

fn either<'a>(fields: &'a Map<String, Value>, positive: &str, negated: &str) -> Either<'a> {
    match (fields.get(positive), fields.get(negated)) {
        (None, None) => Either::Neither,
        (Some(_), Some(_)) => Either::Both,
        (Some(value), None) => Either::One(value, false),
        (None, Some(value)) => Either::One(value, true),
    }
}

/// A string or a non-empty list of strings; `None` for any other shape. Too long an entry is
/// an error of its own so the caller is told which limit it hit.
pub(crate) fn strings(value: &Value, statement: usize) -> Result<Option<Vec<&str>>, PolicyError> {
    let list: Vec<&str> = match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) if !many.is_empty() => {
            match many.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                Some(list) => list,
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    if list.iter().any(|entry| entry.len() > MAX_PATTERN_BYTES) {
        return Err(PolicyError::TooLongValue { statement });
    }
    Ok(Some(list))
}

/// `*`, or `<service>:<action>` with exactly one colon and a service.
fn valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    match action.split_once(':') {
        Some((service, name)) => !service.is_empty() && !name.contains(':'),
        None => false,
    }
}

/// `*`, or `acs:<service>:<region>:<account>:<relative-id>` (the relative id may hold colons).
fn valid_resource(resource: &str) -> bool {
    resource == "*" || (resource.starts_with("acs:") && resource.splitn(5, ':').count() == 5)
}

#[cfg(test)]
mod tests {
    use super::{MAX_DOCUMENT_BYTES, Policy};
    use crate::error::PolicyError;

    fn rejected(document: &str) -> PolicyError {
        match Policy::parse(document) {
            Ok(policy) => panic!("{document} parses: {policy:?}"),
            Err(error) => error,
        }
    }

    fn statement(body: &str) -> String {
        format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ecd:*","Resource":"*"}},{{{body}}}]}}"#
        )
    }

    #[test]
    fn a_full_document_parses() {
        let document = r#"{"Version":"1","Statement":[
          {"Effect":"Allow","Action":["appstreaming:*","ecd:Describe*"],"Resource":"*",
           "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]},"Bool":{"acs:SecureTransport":"true"}}},
          {"Sid":"NoRemovals","Effect":"Deny","Action":"appstreaming:Remove*","Resource":"acs:appstreaming:*:*:*"}]}"#;
        let policy = Policy::parse(document);
        assert_eq!(policy.as_ref().map(Policy::statement_count).ok(), Some(2));
        assert_eq!(policy.map(|p| p.document_len()).ok(), Some(document.len()));
    }

    #[test]
    fn a_single_statement_object_is_accepted() {
        let policy = Policy::parse(
            r#"{"Version":"1","Statement":{"Effect":"Deny","NotAction":"ecd:Describe*","NotResource":["acs:ecd:*:*:desktop/*"]}}"#,
        );
        assert_eq!(policy.map(|p| p.statement_count()).ok(), Some(1));
    }

    #[test]
    fn document_level_errors() {
        assert_eq!(rejected("not json"), PolicyError::NotJson);
        assert_eq!(rejected("[]"), PolicyError::NotAnObject);
        let version = |v: &str| {
            format!(
                r#"{{"Version":{v},"Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}"#
            )
        };
        for bad in [r#""2""#, "1", r#""2012-10-17""#, "null"] {
            assert_eq!(
                rejected(&version(bad)),
                PolicyError::InvalidVersion,
                "{bad}"
            );
        }
        assert_eq!(
            rejected(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
            PolicyError::InvalidVersion
        );
        assert_eq!(
            rejected(r#"{"Version":"1"}"#),
            PolicyError::MissingStatement
        );
        assert_eq!(
            rejected(r#"{"Version":"1","Statement":[]}"#),
            PolicyError::InvalidStatement
        );
        assert_eq!(
            rejected(r#"{"Version":"1","Statement":"x"}"#),
            PolicyError::InvalidStatement
        );
        assert_eq!(
            rejected(r#"{"Version":"1","Id":"x","Statement":[]}"#),
            PolicyError::UnknownElement
        );
        assert_eq!(
            rejected(r#"{"Version":"1","Statement":[1]}"#),
            PolicyError::StatementNotAnObject { statement: 0 }
        );
    }

    #[test]
    fn compiled_policies_are_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone + std::fmt::Debug>() {}
        shareable::<Policy>();
        shareable::<crate::TrustPolicy>();
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed_into() {
        let deep = format!(
            r#"{{"Version":"1","Statement":{}{}}}"#,
            "[".repeat(3000),
            "]".repeat(3000)
        );
        assert_eq!(rejected(&deep), PolicyError::NotJson);
    }

    #[test]
    fn limits() {
        let one = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
        let many = vec![one; 101].join(",");
        assert_eq!(
            rejected(&format!(r#"{{"Version":"1","Statement":[{many}]}}"#)),
            PolicyError::TooManyStatements
        );
        let hundred = vec![one; 100].join(",");
        assert!(Policy::parse(&format!(r#"{{"Version":"1","Statement":[{hundred}]}}"#)).is_ok());

        let padding = " ".repeat(MAX_DOCUMENT_BYTES);
        let too_long = format!(r#"{{"Version":"1","Statement":[{one}]}}{padding}"#);
        assert_eq!(rejected(&too_long), PolicyError::TooLong);
        assert_eq!(
            PolicyError::TooLong.to_string(),
            "The policy document is longer than 6144 bytes."
        );

        let long_action = format!("ecd:{}", "A".repeat(1100));
        assert_eq!(
            rejected(&statement(&format!(
                r#""Effect":"Allow","Action":"{long_action}","Resource":"*""#
            ))),
            PolicyError::TooLongValue { statement: 1 }
        );
        let long_value = "v".repeat(1100);
        assert_eq!(
            rejected(&statement(&format!(
                r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"acs:AccessId":"{long_value}"}}}}"#
            ))),
            PolicyError::TooLongValue { statement: 1 }
        );
    }

    #[test]
    fn statement_level_errors() {
        let cases: &[(&str, PolicyError)] = &[
            (
                r#""Action":"*","Resource":"*""#,
                PolicyError::MissingEffect { statement: 1 },
            ),
            (
                r#""Effect":"allow","Action":"*","Resource":"*""#,
                PolicyError::InvalidEffect { statement: 1 },
            ),
            (
                r#""Effect":true,"Action":"*","Resource":"*""#,
                PolicyError::InvalidEffect { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Resource":"*""#,
                PolicyError::MissingAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","NotAction":"ecd:*","Resource":"*""#,
                PolicyError::BothActionAndNotAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"ecd","Resource":"*""#,
                PolicyError::InvalidAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":":Describe","Resource":"*""#,
                PolicyError::InvalidAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"ecd:a:b","Resource":"*""#,
                PolicyError::InvalidAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":[],"Resource":"*""#,
                PolicyError::InvalidAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":["ecd:*",1],"Resource":"*""#,
                PolicyError::InvalidAction { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*""#,
                PolicyError::MissingResource { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","NotResource":"*""#,
                PolicyError::BothResourceAndNotResource { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b""#,
                PolicyError::InvalidResource { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"acs:ecd:*:*""#,
                PolicyError::InvalidResource { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","Principal":"*""#,
                PolicyError::PrincipalNotAllowed { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","Sid":7"#,
                PolicyError::InvalidSid { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","Extra":1"#,
                PolicyError::UnknownStatementElement { statement: 1 },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/40"}}"#,
                PolicyError::InvalidConditionValue {
                    statement: 1,
                    operator: "IpAddress",
                },
            ),
            (
                r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddressX":{"acs:SourceIp":"10.0.0.0/8"}}"#,
                PolicyError::UnknownOperator { statement: 1 },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(&rejected(&statement(body)), expected, "{body}");
        }
    }

    #[test]
    fn messages_repeat_nothing_of_the_document() {
        let secret = "ecd:SecretActionName:x";
        let error = rejected(&statement(&format!(
            r#""Effect":"Allow","Action":"{secret}","Resource":"*""#
        )));
        let message = error.to_string();
        assert!(!message.contains("Secret"), "{message}");
        assert!(message.starts_with("Statement[1]: "), "{message}");
    }
}
