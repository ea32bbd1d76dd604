//! The `Condition` block: operators, the request context they read, and values parsed at
//! policy-parse time so that a condition test never fails and never allocates.
//!
//! A key the context does not supply (an unknown key, or `acs:SourceIp` when the caller's address
//! is not known) makes a positive operator false and a negated one (`StringNotEquals`,
//! `NotIpAddress`, …) true: a negated operator is exactly the negation of its positive form,
//! "the value is not among these", and an absent value is among none. A context value the
//! operator cannot read as its type (a `NumericEquals` on `acs:AccessId` that is not a number)
//! counts as absent.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use ipnet::IpNet;
use serde_json::Value;

use crate::error::PolicyError;
use crate::limits::MAX_PATTERN_BYTES;
use crate::pattern::Pattern;

/// What a request brings to condition tests. A struct, not a map, so that evaluation looks keys up
/// without hashing or allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// `acs:SourceIp`; `None` when the caller's address is unknown.
    pub source_ip: Option<IpAddr>,
    /// `acs:SecureTransport`: whether the call came over HTTPS.
    pub secure_transport: bool,
    /// `acs:CurrentTime`.
    pub current_time: DateTime<Utc>,
    /// `acs:MFAPresent`.
    pub mfa_present: bool,
    /// `acs:AccessId`: the access key id that signed the call.
    pub access_id: Option<&'a str>,
    /// `acs:PrincipalARN`: the ARN of the caller.
    pub principal_arn: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// A context with only the time known: no address, plain transport, no MFA.
    pub fn at(current_time: DateTime<Utc>) -> Context<'a> {
        Context {
            source_ip: None,
            secure_transport: false,
            current_time,
            mfa_present: false,
            access_id: None,
            principal_arn: None,
        }
    }
}

/// One `Operator: { Key: values }` pair.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    key: Key,
    test: Test,
    /// The `…Not…` operators: the negation of the positive test.
    negated: bool,
}

/// Condition keys the context supplies; any other key is accepted (services define their own)
/// and is always absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    SourceIp,
    SecureTransport,
    CurrentTime,
    MfaPresent,
    AccessId,
    PrincipalArn,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    StringEquals(Box<[Box<str>]>),
    /// Values stored lower-cased.
    StringEqualsIgnoreCase(Box<[Box<str>]>),
    StringLike(Box<[Pattern]>),
    Numeric(Comparison, Box<[f64]>),
    Date(Comparison, Box<[DateTime<Utc>]>),
    Bool(Box<[bool]>),
    Ip(Box<[IpNet]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Comparison {
    fn holds<T: PartialOrd>(self, actual: &T, expected: &T) -> bool {
        match self {
            Comparison::Equals => actual == expected,
            Comparison::LessThan => actual < expected,
            Comparison::LessThanEquals => actual <= expected,
            Comparison::GreaterThan => actual > expected,
            Comparison::GreaterThanEquals => actual >= expected,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    Ip,
}

/// Operator names (case-sensitive, as in the cloud), their family and whether they negate.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::Numeric(Comparison::Equals), false),
    (
        "NumericNotEquals",
        Family::Numeric(Comparison::Equals),
        true,
    ),
    (
        "NumericLessThan",
        Family::Numeric(Comparison::LessThan),
        false,
    ),
    (
        "NumericLessThanEquals",
        Family::Numeric(Comparison::LessThanEquals),
        false,
    ),
    (
        "NumericGreaterThan",
        Family::Numeric(Comparison::GreaterThan),
        false,
    ),
    (
        "NumericGreaterThanEquals",
        Family::Numeric(Comparison::GreaterThanEquals),
        false,
    ),
    ("DateEquals", Family::Date(Comparison::Equals), false),
    ("DateNotEquals", Family::Date(Comparison::Equals), true),
    ("DateLessThan", Family::Date(Comparison::LessThan), false),
    (
        "DateLessThanEquals",
        Family::Date(Comparison::LessThanEquals),
        false,
    ),
    (
        "DateGreaterThan",
        Family::Date(Comparison::GreaterThan),
        false,
    ),
    (
        "DateGreaterThanEquals",
        Family::Date(Comparison::GreaterThanEquals),
        false,
    ),
    ("Bool", Family::Bool, false),
    ("IpAddress", Family::Ip, false),
    ("NotIpAddress", Family::Ip, true),
];

/// Parses a statement's `Condition` object into a flat list (every entry must hold).
pub(crate) fn parse_block(block: &Value, statement: usize) -> Result<Vec<Condition>, PolicyError> {
    let invalid = PolicyError::InvalidCondition { statement };
    let Value::Object(operators) = block else {
        return Err(invalid);
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let Some(&(name, family, negated)) = OPERATORS.iter().find(|(name, ..)| name == operator)
        else {
            return Err(PolicyError::UnknownOperator { statement });
        };
        let Value::Object(keys) = keys else {
            return Err(invalid);
        };
        if keys.is_empty() {
            return Err(invalid);
        }
        for (key, values) in keys {
            let values = scalars(values).ok_or(PolicyError::InvalidCondition { statement })?;
            let bad_value = || PolicyError::InvalidConditionValue {
                statement,
                operator: name,
            };
            let test = match family {
                Family::StringEquals => Test::StringEquals(
                    checked_lengths(values, statement)?
                        .into_iter()
                        .map(String::into_boxed_str)
                        .collect(),
                ),
                Family::StringEqualsIgnoreCase => Test::StringEqualsIgnoreCase(
                    checked_lengths(values, statement)?
                        .into_iter()
                        .map(|v| v.to_lowercase().into_boxed_str())
                        .collect(),
                ),
                Family::StringLike => Test::StringLike(
                    checked_lengths(values, statement)?
                        .iter()
                        .map(|v| Pattern::new(v, false))
                        .collect(),
                ),
                Family::Numeric(comparison) => Test::Numeric(
                    comparison,
                    values
                        .iter()
                        .map(|v| parse_number(v).ok_or_else(bad_value))
                        .collect::<Result<_, _>>()?,
                ),
                Family::Date(comparison) => Test::Date(
                    comparison,
                    values
                        .iter()
                        .map(|v| parse_date(v).ok_or_else(bad_value))
                        .collect::<Result<_, _>>()?,
                ),
                Family::Bool => Test::Bool(
                    values
                        .iter()
                        .map(|v| parse_bool(v).ok_or_else(bad_value))
                        .collect::<Result<_, _>>()?,
                ),
                Family::Ip => Test::Ip(
                    values
                        .iter()
                        .map(|v| parse_net(v).ok_or_else(bad_value))
                        .collect::<Result<_, _>>()?,
                ),
            };
            conditions.push(Condition {
                key: Key::parse(key),
                test,
                negated,
            });
        }
    }
    Ok(conditions)
}

impl Condition {
    pub(crate) fn holds(&self, context: &Context) -> bool {
        self.positive(context) != self.negated
    }

    /// The positive form: some value matches the context's value; false when that is absent.
    fn positive(&self, context: &Context) -> bool {
        match &self.test {
            Test::StringEquals(values) => with_text(self.key, context, |text| {
                values.iter().any(|v| **v == *text)
            }),
            Test::StringEqualsIgnoreCase(values) => with_text(self.key, context, |text| {
                values.iter().any(|v| eq_ignore_case(v, text))
            }),
            Test::StringLike(patterns) => with_text(self.key, context, |text| {
                patterns.iter().any(|p| p.matches(text))
            }),
            Test::Numeric(comparison, values) => match number(self.key, context) {
                Some(actual) => values.iter().any(|v| comparison.holds(&actual, v)),
                None => false,
            },
            Test::Date(comparison, values) => match date(self.key, context) {
                Some(actual) => values.iter().any(|v| comparison.holds(&actual, v)),
                None => false,
            },
            Test::Bool(values) => match boolean(self.key, context) {
                Some(actual) => values.contains(&actual),
                None => false,
            },
            Test::Ip(nets) => match address(self.key, context) {
                Some(actual) => nets.iter().any(|net| net.contains(&actual)),
                None => false,
            },
        }
    }
}

impl Key {
    fn parse(key: &str) -> Key {
        const KEYS: [(&str, Key); 6] = [
            ("acs:SourceIp", Key::SourceIp),
            ("acs:SecureTransport", Key::SecureTransport),
            ("acs:CurrentTime", Key::CurrentTime),
            ("acs:MFAPresent", Key::MfaPresent),
            ("acs:AccessId", Key::AccessId),
            ("acs:PrincipalARN", Key::PrincipalArn),
        ];
        KEYS.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map_or(Key::Unknown, |&(_, key)| key)
    }
}

/// Calls `test` with the context's value for `key` as text, formatted on the stack for the
/// address and the time (so `StringEquals` on `acs:SourceIp` works without allocating).
fn with_text(key: Key, context: &Context, test: impl Fn(&str) -> bool) -> bool {
    let mut buffer = StackText::default();
    let text = match key {
        Key::AccessId => context.access_id,
        Key::PrincipalArn => context.principal_arn,
        Key::SecureTransport => Some(bool_text(context.secure_transport)),
        Key::MfaPresent => Some(bool_text(context.mfa_present)),
        Key::SourceIp => match context.source_ip {
            Some(ip) => write!(buffer, "{ip}").ok().and_then(|()| buffer.as_str()),
            None => None,
        },
        Key::CurrentTime => {
            let time = context.current_time;
            write!(
                buffer,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                time.year(),
                time.month(),
                time.day(),
                time.hour(),
                time.minute(),
                time.second()
            )
            .ok()
            .and_then(|()| buffer.as_str())
        }
        Key::Unknown => None,
    };
    text.is_some_and(test)
}

fn number(key: Key, context: &Context) -> Option<f64> {
    match key {
        Key::AccessId => context.access_id.and_then(parse_number),
        Key::PrincipalArn => context.principal_arn.and_then(parse_number),
        Key::CurrentTime => Some(context.current_time.timestamp() as f64),
        _ => None,
    }
}

fn date(key: Key, context: &Context) -> Option<DateTime<Utc>> {
    match key {
        Key::CurrentTime => Some(context.current_time),
        Key::AccessId => context.access_id.and_then(parse_date),
        Key::PrincipalArn => context.principal_arn.and_then(parse_date),
        _ => None,
    }
}

fn boolean(key: Key, context: &Context) -> Option<bool> {
    match key {
        Key::SecureTransport => Some(context.secure_transport),
        Key::MfaPresent => Some(context.mfa_present),
        Key::AccessId => context.access_id.and_then(parse_bool),
        Key::PrincipalArn => context.principal_arn.and_then(parse_bool),
        _ => None,
    }
}

fn address(key: Key, context: &Context) -> Option<IpAddr> {
    match key {
        Key::SourceIp => context.source_ip,
        Key::AccessId => context.access_id.and_then(|v| v.parse().ok()),
        Key::PrincipalArn => context.principal_arn.and_then(|v| v.parse().ok()),
        _ => None,
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// Compares with a value stored lower-cased; ASCII without allocating, other text by
/// lower-casing character by character.
fn eq_ignore_case(lowered: &str, text: &str) -> bool {
    if text.is_ascii() {
        return lowered.len() == text.len()
            && lowered
                .bytes()
                .zip(text.bytes())
                .all(|(a, b)| a == b.to_ascii_lowercase());
    }
    lowered
        .chars()
        .eq(text.chars().flat_map(char::to_lowercase))
}

/// Condition values as strings: one scalar or a non-empty list of scalars. JSON numbers and
/// booleans become their JSON text, as the cloud treats `true` and `"true"` alike.
fn scalars(values: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match values {
        Value::Array(list) if list.is_empty() => None,
        Value::Array(list) => list.iter().map(scalar).collect(),
        other => scalar(other).map(|v| vec![v]),
    }
}

fn checked_lengths(values: Vec<String>, statement: usize) -> Result<Vec<String>, PolicyError> {
    if values.iter().any(|v| v.len() > MAX_PATTERN_BYTES) {
        return Err(PolicyError::TooLongValue { statement });
    }
    Ok(values)
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

/// RFC 3339 (`2026-01-01T00:00:00Z`, any offset), the same without a zone (taken as UTC), a bare
/// date (midnight UTC), or whole epoch seconds.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(time.and_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|time| time.and_utc());
    }
    text.parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An address (as a one-address network) or a CIDR block, v4 or v6. Host bits in a CIDR are
/// dropped (`10.1.2.3/8` is `10.0.0.0/8`), as the cloud does.
fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// A fixed stack buffer for formatting an address or a time; long enough for either.
struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use chrono::{DateTime, TimeZone, Utc};

    use super::{Context, parse_block};
    use crate::error::PolicyError;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn context() -> Context<'static> {
        Context {
            source_ip: "10.1.2.3".parse::<IpAddr>().ok(),
            secure_transport: true,
            current_time: now(),
            mfa_present: false,
            access_id: Some("LTAIexample"),
            principal_arn: Some("acs:ram::1234:user/alice"),
        }
    }

    /// Whether the condition block (as JSON text) holds in `context`.
    fn check_in(block: &str, context: &Context, expected: bool) {
        let value: serde_json::Value = serde_json::from_str(block).unwrap_or_default();
        let conditions = parse_block(&value, 0);
        let Ok(conditions) = conditions else {
            panic!("{block} does not parse: {conditions:?}");
        };
        let holds = conditions.iter().all(|c| c.holds(context));
        assert_eq!(holds, expected, "{block}");
    }

    fn check(block: &str, expected: bool) {
        check_in(block, &context(), expected);
    }

    fn rejected(block: &str) -> PolicyError {
        let value: serde_json::Value = serde_json::from_str(block).unwrap_or_default();
        match parse_block(&value, 3) {
            Ok(_) => panic!("{block} parses"),
            Err(error) => error,
        }
    }

    #[test]
    fn string_operators() {
        check(r#"{"StringEquals":{"acs:AccessId":"LTAIexample"}}"#, true);
        check(r#"{"StringEquals":{"acs:AccessId":"ltaiexample"}}"#, false);
        check(
            r#"{"StringEquals":{"acs:AccessId":["x","LTAIexample"]}}"#,
            true,
        );
        check(r#"{"StringNotEquals":{"acs:AccessId":["x","y"]}}"#, true);
        check(
            r#"{"StringNotEquals":{"acs:AccessId":["x","LTAIexample"]}}"#,
            false,
        );
        check(
            r#"{"StringEqualsIgnoreCase":{"acs:AccessId":"ltaiEXAMPLE"}}"#,
            true,
        );
        check(
            r#"{"StringNotEqualsIgnoreCase":{"acs:AccessId":"LTAIEXAMPLE"}}"#,
            false,
        );
        check(
            r#"{"StringLike":{"acs:PrincipalARN":"acs:ram::1234:user/*"}}"#,
            true,
        );
        check(
            r#"{"StringLike":{"acs:PrincipalARN":"acs:ram::1234:role/*"}}"#,
            false,
        );
        check(
            r#"{"StringNotLike":{"acs:PrincipalARN":"acs:ram::9999:*"}}"#,
            true,
        );
        check(r#"{"StringEquals":{"acs:SourceIp":"10.1.2.3"}}"#, true);
        check(r#"{"StringEquals":{"acs:SecureTransport":"true"}}"#, true);
        check(r#"{"StringLike":{"acs:CurrentTime":"2026-03-01T*"}}"#, true);
    }

    #[test]
    fn numeric_operators() {
        let context = Context {
            access_id: Some("42"),
            ..context()
        };
        let check = |block: &str, expected| check_in(block, &context, expected);
        check(r#"{"NumericEquals":{"acs:AccessId":42}}"#, true);
        check(r#"{"NumericEquals":{"acs:AccessId":"42.0"}}"#, true);
        check(r#"{"NumericNotEquals":{"acs:AccessId":42}}"#, false);
        check(r#"{"NumericNotEquals":{"acs:AccessId":[1,2]}}"#, true);
        check(r#"{"NumericLessThan":{"acs:AccessId":43}}"#, true);
        check(r#"{"NumericLessThan":{"acs:AccessId":42}}"#, false);
        check(r#"{"NumericLessThanEquals":{"acs:AccessId":42}}"#, true);
        check(r#"{"NumericGreaterThan":{"acs:AccessId":41.5}}"#, true);
        check(r#"{"NumericGreaterThan":{"acs:AccessId":42}}"#, false);
        check(r#"{"NumericGreaterThanEquals":{"acs:AccessId":42}}"#, true);
    }

    #[test]
    fn date_operators() {
        check(
            r#"{"DateEquals":{"acs:CurrentTime":"2026-03-01T12:00:00Z"}}"#,
            true,
        );
        check(
            r#"{"DateEquals":{"acs:CurrentTime":"2026-03-01T20:00:00+08:00"}}"#,
            true,
        );
        check(
            r#"{"DateNotEquals":{"acs:CurrentTime":"2026-03-01T12:00:00Z"}}"#,
            false,
        );
        check(
            r#"{"DateLessThan":{"acs:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
            true,
        );
        check(
            r#"{"DateLessThan":{"acs:CurrentTime":"2026-03-01T12:00:00Z"}}"#,
            false,
        );
        check(
            r#"{"DateLessThanEquals":{"acs:CurrentTime":"2026-03-01T12:00:00Z"}}"#,
            true,
        );
        check(
            r#"{"DateGreaterThan":{"acs:CurrentTime":"2026-01-01"}}"#,
            true,
        );
        check(
            r#"{"DateGreaterThanEquals":{"acs:CurrentTime":"2026-03-02T00:00:00"}}"#,
            false,
        );
        let epoch = now().timestamp();
        check(
            &format!(r#"{{"DateEquals":{{"acs:CurrentTime":{epoch}}}}}"#),
            true,
        );
        check(
            &format!(
                r#"{{"DateGreaterThan":{{"acs:CurrentTime":"{}"}}}}"#,
                epoch - 1
            ),
            true,
        );
    }

    #[test]
    fn bool_operator() {
        check(r#"{"Bool":{"acs:SecureTransport":"true"}}"#, true);
        check(r#"{"Bool":{"acs:SecureTransport":true}}"#, true);
        check(r#"{"Bool":{"acs:SecureTransport":"TRUE"}}"#, true);
        check(r#"{"Bool":{"acs:SecureTransport":"false"}}"#, false);
        check(r#"{"Bool":{"acs:MFAPresent":"false"}}"#, true);
        check(r#"{"Bool":{"acs:MFAPresent":"true"}}"#, false);
    }

    #[test]
    fn ip_operators() {
        check(r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#, true);
        check(r#"{"IpAddress":{"acs:SourceIp":"10.1.2.3"}}"#, true);
        check(
            r#"{"IpAddress":{"acs:SourceIp":["192.168.0.0/16","10.1.0.0/16"]}}"#,
            true,
        );
        check(r#"{"IpAddress":{"acs:SourceIp":"192.168.0.0/16"}}"#, false);
        check(
            r#"{"NotIpAddress":{"acs:SourceIp":"192.168.0.0/16"}}"#,
            true,
        );
        check(r#"{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#, false);
        let v6 = Context {
            source_ip: "2001:db8::1".parse::<IpAddr>().ok(),
            ..context()
        };
        check_in(
            r#"{"IpAddress":{"acs:SourceIp":"2001:db8::/32"}}"#,
            &v6,
            true,
        );
        check_in(r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#, &v6, false);
    }

    #[test]
    fn several_operators_and_keys_are_all_required() {
        check(
            r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}"#,
            true,
        );
        check(
            r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:MFAPresent":"true"}}"#,
            false,
        );
        check(
            r#"{"Bool":{"acs:SecureTransport":"true","acs:MFAPresent":"true"}}"#,
            false,
        );
    }

    #[test]
    fn keys_are_case_insensitive() {
        check(r#"{"IpAddress":{"ACS:SOURCEIP":"10.0.0.0/8"}}"#, true);
        check(r#"{"Bool":{"acs:securetransport":"true"}}"#, true);
    }

    #[test]
    fn a_missing_key_fails_positive_operators_and_passes_negated_ones() {
        let bare = Context::at(now());
        let check = |block: &str, expected| check_in(block, &bare, expected);
        check(r#"{"IpAddress":{"acs:SourceIp":"0.0.0.0/0"}}"#, false);
        check(r#"{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#, true);
        check(r#"{"StringEquals":{"acs:AccessId":"x"}}"#, false);
        check(r#"{"StringNotEquals":{"acs:AccessId":"x"}}"#, true);
        check(r#"{"StringLike":{"acs:AccessId":"*"}}"#, false);
        check(r#"{"StringNotLike":{"acs:AccessId":"*"}}"#, true);
        check(r#"{"StringEquals":{"ecs:tag/owner":"x"}}"#, false);
        check(
            r#"{"StringNotEqualsIgnoreCase":{"ecs:tag/owner":"x"}}"#,
            true,
        );
        check(r#"{"NumericEquals":{"acs:AccessId":1}}"#, false);
        check(r#"{"NumericNotEquals":{"acs:AccessId":1}}"#, true);
        check(r#"{"DateEquals":{"acs:SourceIp":"2026-01-01"}}"#, false);
        check(r#"{"DateNotEquals":{"acs:SourceIp":"2026-01-01"}}"#, true);
        check(r#"{"Bool":{"acs:AccessId":"true"}}"#, false);
    }

    #[test]
    fn malformed_values_are_refused_at_parse_time() {
        for block in [
            r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}"#,
            r#"{"IpAddress":{"acs:SourceIp":"not an address"}}"#,
            r#"{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","300.1.1.1"]}}"#,
            r#"{"DateLessThan":{"acs:CurrentTime":"yesterday"}}"#,
            r#"{"NumericEquals":{"acs:AccessId":"forty-two"}}"#,
            r#"{"NumericEquals":{"acs:AccessId":"NaN"}}"#,
            r#"{"Bool":{"acs:SecureTransport":"yes"}}"#,
        ] {
            assert!(
                matches!(
                    rejected(block),
                    PolicyError::InvalidConditionValue { statement: 3, .. }
                ),
                "{block}"
            );
        }
        assert_eq!(
            rejected(r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}"#).to_string(),
            "Statement[3]: a value of IpAddress is not valid for the operator."
        );
    }

    #[test]
    fn unknown_operators_and_bad_shapes_are_refused() {
        assert!(matches!(
            rejected(r#"{"StringEqualz":{"acs:AccessId":"x"}}"#),
            PolicyError::UnknownOperator { statement: 3 }
        ));
        assert!(matches!(
            rejected(r#"{"stringequals":{"acs:AccessId":"x"}}"#),
            PolicyError::UnknownOperator { .. }
        ));
        for block in [
            r#"[]"#,
            r#"{"StringEquals":"x"}"#,
            r#"{"StringEquals":{}}"#,
            r#"{"StringEquals":{"acs:AccessId":[]}}"#,
            r#"{"StringEquals":{"acs:AccessId":{"a":1}}}"#,
            r#"{"StringEquals":{"acs:AccessId":null}}"#,
        ] {
            assert!(
                matches!(
                    rejected(block),
                    PolicyError::InvalidCondition { statement: 3 }
                ),
                "{block}"
            );
        }
    }
}
