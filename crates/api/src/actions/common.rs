//! Pieces every action area shares: paging (page numbers and `NextToken`s), optional-parameter
//! cleaning and bounds, the empty response, the value sets of parameters several areas take
//! (`AgentProvider`, `AgentPlatform`, `BizType`, `RuntimeType`), and the not-found errors of ids
//! that several areas take.

use domain::models::{self, ModelError};
use domain::paging::{Page, PageError};
use pop::ApiError;
use serde::Serialize;

use crate::errors;

/// A page of a listing as the PageNumber/PageSize actions answer it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Paged<T> {
    pub data: T,
    pub page_number: i64,
    pub page_size: i64,
    pub total_count: i64,
}

impl<T> Paged<T> {
    pub(crate) fn of(data: T, page: &Page, total_count: i64) -> Paged<T> {
        Paged {
            data,
            page_number: page.number,
            page_size: page.size,
            total_count,
        }
    }
}

/// A time as ISO 8601 in UTC, to the second (`2026-04-28T10:32:53Z`), as several products show
/// creation times.
pub(crate) fn utc_seconds(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A random text of `len` alphanumerics, for key ids, secrets and tokens.
pub(crate) fn random_text(len: usize) -> String {
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A response with nothing but `RequestId`.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// `PageNumber`/`PageSize` validated with the cloud's codes (at most 100 per page).
pub(crate) fn page(
    number: Option<i64>,
    size: Option<i64>,
    default_size: i64,
) -> Result<Page, ApiError> {
    Page::new(number, size, default_size, 100).map_err(|e| match e {
        PageError::Number => ApiError::invalid_parameter("PageNumber", e),
        PageError::Size(_) => ApiError::invalid_parameter("PageSize", e),
    })
}

/// `NextToken` is the offset of the next page, kept opaque.
pub(crate) fn decode_token(token: &str) -> Result<i64, ApiError> {
    token
        .strip_prefix("nt")
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|offset| *offset >= 0)
        .ok_or_else(|| ApiError::invalid_parameter("NextToken", "not a token this server issued"))
}

pub(crate) fn encode_token(offset: i64) -> String {
    format!("nt{offset:08x}")
}

/// `MaxResults`/`NextToken` paging: the offset and size of the page asked for (at most 100).
pub(crate) fn token_page(
    max_results: Option<i64>,
    next_token: Option<&str>,
    default_size: i64,
) -> Result<(i64, i64), ApiError> {
    let size = max_results.unwrap_or(default_size);
    if !(1..=100).contains(&size) {
        return Err(ApiError::invalid_parameter(
            "MaxResults",
            "must be between 1 and 100",
        ));
    }
    let offset = match next_token.filter(|t| !t.is_empty()) {
        Some(token) => decode_token(token)?,
        None => 0,
    };
    Ok((offset, size))
}

/// The `NextToken` of a page that returned `returned` rows from `offset` of `total`.
pub(crate) fn next_token(offset: i64, returned: usize, total: i64) -> Option<String> {
    let next = offset.saturating_add(returned as i64);
    (returned > 0 && next < total).then(|| encode_token(next))
}

/// Refuses a string parameter longer than `max` characters.
pub(crate) fn at_most(name: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(ApiError::invalid_parameter(
            name,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// Refuses a list parameter of more than `max` entries or with an entry of more than
/// `max_len` characters.
pub(crate) fn list_at_most(
    name: &str,
    values: Option<&[String]>,
    max: usize,
    max_len: usize,
) -> Result<(), ApiError> {
    let values = values.unwrap_or_default();
    if values.len() > max {
        return Err(ApiError::invalid_parameter(
            name,
            format!("at most {max} values"),
        ));
    }
    for (i, value) in values.iter().enumerate() {
        at_most(&format!("{name}.{}", i + 1), Some(value), max_len)?;
    }
    Ok(())
}

/// An optional string parameter, with the empty string meaning "not given".
pub(crate) fn non_empty<T: Into<String>>(value: Option<T>) -> Option<String> {
    value.map(Into::into).filter(|v| !v.is_empty())
}

/// An optional list parameter without its empty entries, with the empty list meaning "not given".
pub(crate) fn non_empty_list<T: Into<String>, L: IntoIterator<Item = T>>(
    values: Option<L>,
) -> Option<Vec<String>> {
    values
        .map(|v| {
            v.into_iter()
                .map(Into::into)
                .filter(|s: &String| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
}

/// A required string that must not be empty either.
pub(crate) fn required<'a>(name: &str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.is_empty() {
        Err(ApiError::missing_parameter(name))
    } else {
        Ok(value)
    }
}

/// `RuntimeType`: the kind of runtime the ids name; only cloud computers exist here.
pub(crate) fn check_runtime_type(value: &str) -> Result<(), ApiError> {
    match required("RuntimeType", value)? {
        v if v.eq_ignore_ascii_case("CloudDesktop") => Ok(()),
        _ => Err(ApiError::invalid_parameter(
            "RuntimeType",
            "must be CloudDesktop",
        )),
    }
}

fn model_error(error: ModelError) -> ApiError {
    match error {
        ModelError::Missing(param) => ApiError::missing_parameter(&param),
        ModelError::Invalid { param, reason } => ApiError::invalid_parameter(&param, reason),
    }
}

/// `AgentProvider`: one of the agent products the SDK documents (empty: missing).
pub(crate) fn check_agent_provider(param: &str, value: &str) -> Result<(), ApiError> {
    models::validate_agent_provider(param, value).map_err(model_error)
}

/// `AgentPlatform`: one of the platform families the SDK documents (empty: missing).
pub(crate) fn check_agent_platform(param: &str, value: &str) -> Result<(), ApiError> {
    models::validate_agent_platform(param, value).map_err(model_error)
}

/// An optional `AgentPlatform`, the empty string meaning "not given".
pub(crate) fn check_optional_platform(value: Option<&str>) -> Result<(), ApiError> {
    match value.filter(|v| !v.is_empty()) {
        Some(platform) => check_agent_platform("AgentPlatform", platform),
        None => Ok(()),
    }
}

/// Each item of a list filter, named by its wire path (`AgentProviderList.2`); empty items
/// mean nothing, as [`non_empty_list`] drops them.
pub(crate) fn check_each<T: std::ops::Deref<Target = str>>(
    param: &str,
    values: Option<&[T]>,
    check: fn(&str, &str) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    values
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, value)| !value.is_empty())
        .try_for_each(|(i, value)| check(&format!("{param}.{}", i + 1), value))
}

/// `BizType`: a positive 32-bit business-line code.
pub(crate) fn check_biz_type(value: i64) -> Result<(), ApiError> {
    models::validate_biz_type(value).map_err(model_error)
}

pub(crate) fn model_template_not_found(id: &str) -> ApiError {
    errors::MODEL_TEMPLATE_NOT_FOUND.error(&[&id])
}

pub(crate) fn resource_group_not_found(id: &str) -> ApiError {
    errors::RESOURCE_GROUP_NOT_FOUND.error(&[&id])
}

pub(crate) fn runtime_not_found(id: &str) -> ApiError {
    errors::RUNTIME_NOT_FOUND.error(&[&id])
}

pub(crate) fn office_site_not_found(id: &str) -> ApiError {
    errors::OFFICE_SITE_NOT_FOUND.error(&[&id])
}

/// The last report of a runtime's daemon, if it has sent one. A report the store holds but
/// cannot read is corruption, reported as such.
pub(crate) async fn reported_state(
    ctx: &crate::Ctx,
    runtime_id: &str,
) -> Result<Option<agent_proto::Report>, ApiError> {
    let Some(stored) = ctx
        .state
        .store
        .agent_report(&ctx.tenant_id, runtime_id)
        .await
        .map_err(errors::store_failure)?
    else {
        return Ok(None);
    };
    serde_json::from_str(&stored.body)
        .map(Some)
        .map_err(|e| errors::internal(format!("stored report of {runtime_id}: {e}")))
}
