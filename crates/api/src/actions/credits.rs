//! Model credits (wss 2021-12-21): quotas per agent, and what the packs, the agents and the
//! runs used, as the model gateway recorded it. An agent is a runtime (`AgentId` = runtime id).
//! The cloud's fields count whole credits (used rounded up, what is left rounded down); the
//! `…Decimal` fields and `TotalUsed` give the exact figure.
//!
//! The deduction reports of core-hour packages speak of seconds and desktops; for credit packs
//! amc fills them with credits (`UsedTime`, `ConsumeSecond`) and agents (`DesktopId`,
//! `InstanceId`), and says so with `ResourceType` `Credit`.
//!
//! Error codes: `InvalidAgentId.NotFound` (an agent that is not one of the tenant's runtimes),
//! `InvalidInstanceId.NotFound` (a credit package that is not the tenant's), `InvalidParameter`
//! (enumerations, negative quotas, times, paging).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use domain::credits::{credits_decimal, month_of, whole_credits_ceil, whole_credits_floor};
use pop::{ApiError, List, Text};
use serde::{Deserialize, Serialize};
use store::credits::{CreditPack, DeductionFilter};

use super::Action;
use super::common::{decode_token, encode_token, page};
use super::limits::{Id, Ids, MAX_IDS, Token, Tokens};
use crate::Ctx;
use crate::errors::{self, store_failure};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The window of the deduction reports when none is given.
const DEFAULT_WINDOW_MS: i64 = 31 * DAY_MS;
/// The longest window a report covers.
const MAX_WINDOW_MS: i64 = 366 * DAY_MS;
const AGENT_TYPES: [&str; 5] = [
    "CREDIT_PACKAGE",
    "JVS_CLAW",
    "OPEN_CLAW",
    "JVS_COPILOT",
    "HERMES_AGENT",
];
const RESOURCE_TYPE: &str = "Credit";

/// `2026-04-01 10:00:00` (UTC), as the credit actions show times.
fn time_text(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A time parameter: epoch seconds or milliseconds, or RFC 3339 / `yyyy-MM-dd[ HH:mm:ss]`.
fn instant(param: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::invalid_parameter(
            param,
            "must be epoch seconds or milliseconds, or a time such as 2026-04-01T10:00:00Z",
        )
    };
    if let Ok(number) = text.parse::<i64>() {
        if number < 0 {
            return Err(invalid());
        }
        // Milliseconds from 1973 on; seconds before that would be absurd here.
        return Ok(Some(if number >= 100_000_000_000 {
            number
        } else {
            number.saturating_mul(1000)
        }));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Ok(Some(t.and_utc().timestamp_millis()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis()));
    }
    Err(invalid())
}

/// The `[start, end)` window of a report: as given, else the last 31 days; at most a year.
fn window(ctx: &Ctx, start: Option<&str>, end: Option<&str>) -> Result<(i64, i64), ApiError> {
    let end = instant("EndTime", end)?.unwrap_or(ctx.now_ms);
    let start = instant("StartTime", start)?.unwrap_or(end - DEFAULT_WINDOW_MS);
    if start > end {
        return Err(ApiError::invalid_parameter(
            "StartTime",
            "must not be after EndTime",
        ));
    }
    if end - start > MAX_WINDOW_MS {
        return Err(ApiError::invalid_parameter(
            "StartTime",
            "the window spans at most 366 days",
        ));
    }
    Ok((start, end))
}

fn check_agent_types<'a>(
    param: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, ApiError> {
    values
        .into_iter()
        .filter(|v| !v.is_empty())
        .map(|v| {
            if AGENT_TYPES.contains(&v) {
                Ok(v.to_string())
            } else {
                Err(ApiError::invalid_parameter(
                    param,
                    format!("must be one of {}", AGENT_TYPES.join(", ")),
                ))
            }
        })
        .collect()
}

fn ids(list: Option<Ids<MAX_IDS>>) -> Vec<String> {
    list.map(|l| {
        l.into_vec()
            .into_iter()
            .map(Text::into_string)
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The tenant's runtimes among `agent_ids`, checked to exist: (id, agent type).
async fn agents(ctx: &Ctx, agent_ids: &[String]) -> Result<Vec<(String, String)>, ApiError> {
    let types = agent_types(ctx, agent_ids, true).await?;
    agent_ids
        .iter()
        .map(|id| match types.get(id) {
            Some(agent_type) => Ok((id.clone(), agent_type.clone())),
            None => Err(errors::AGENT_NOT_FOUND.error(&[id])),
        })
        .collect()
}

/// The agent types of the tenant's runtimes among `ids` (deleted ones too unless `live_only`:
/// they keep their usage).
async fn agent_types(
    ctx: &Ctx,
    ids: &[String],
    live_only: bool,
) -> Result<HashMap<String, String>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(ctx
        .state
        .store
        .runtimes_by_ids(&ctx.tenant_id, ids)
        .await
        .map_err(store_failure)?
        .into_iter()
        .filter(|r| !live_only || r.desktop_status != domain::runtime::DesktopStatus::Deleted)
        .map(|r| {
            let agent_type = domain::credits::agent_type(&r.agent_provider, &r.id).to_string();
            (r.id, agent_type)
        })
        .collect())
}

/// The pack drawn from next: the first usable one in drawing order.
fn current_pack(packs: &[CreditPack], now: i64) -> Option<&CreditPack> {
    packs.iter().find(|p| p.status(now) == "Active")
}

fn remaining(pack: &CreditPack, now: i64) -> i64 {
    if pack.status(now) == "Active" {
        pack.amount - pack.used
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------------
// SetAgentCreditQuota

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAgentCreditQuota {
    pub agent_ids: Option<Ids<MAX_IDS>>,
    pub agent_type: Option<Token>,
    pub biz_type: Option<Token>,
    /// Credits per calendar month; absent: the quota is cleared.
    pub credit_quota: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Done {}

impl Action for SetAgentCreditQuota {
    type Response = Done;

    async fn handle(self, ctx: &Ctx) -> Result<Done, ApiError> {
        let agent_ids = ids(self.agent_ids);
        if agent_ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"AgentIds"]));
        }
        let quota = match self.credit_quota {
            None => None,
            Some(q) if q < 0 => {
                return Err(ApiError::invalid_parameter(
                    "CreditQuota",
                    "must be 0 or more credits",
                ));
            }
            Some(q) => Some(
                domain::credits::units_of_credits(q)
                    .ok_or_else(|| ApiError::invalid_parameter("CreditQuota", "is too large"))?,
            ),
        };
        let agents = agents(ctx, &agent_ids).await?;
        ctx.state
            .store
            .set_agent_quotas(&ctx.tenant_id, &agents, quota, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Done {})
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeCreditPackageAgents

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCreditPackageAgents {
    pub agent_ids: Option<Ids<MAX_IDS>>,
    pub agent_type: Option<Token>,
    pub biz_type: Option<Token>,
    pub max_results: Option<i64>,
    pub next_token: Option<Text<0, 256>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreditAgentView {
    pub agent_id: String,
    pub created_time: String,
    pub credit_package_id: String,
    pub expired_time: String,
    pub instance_type: String,
    pub total_credit: i64,
    pub used_credit: i64,
    pub warn_percent: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreditAgentsPage {
    pub agents: Vec<CreditAgentView>,
    pub max_results: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl Action for DescribeCreditPackageAgents {
    type Response = CreditAgentsPage;

    async fn handle(self, ctx: &Ctx) -> Result<CreditAgentsPage, ApiError> {
        let wanted_type = check_agent_types("AgentType", self.agent_type.as_deref())?;
        let size = self.max_results.unwrap_or(20);
        if !(1..=100).contains(&size) {
            return Err(ApiError::invalid_parameter(
                "MaxResults",
                "must be between 1 and 100",
            ));
        }
        // The token is the position after which the next page starts.
        let after = match self.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => agent_token(token)?,
            None => String::new(),
        };
        let store = &ctx.state.store;
        let agent_ids = ids(self.agent_ids);
        let limit = usize::try_from(size).unwrap_or(20);
        let found = store
            .credit_agents(&ctx.tenant_id, &agent_ids, &after, limit + 1)
            .await
            .map_err(store_failure)?;
        let more = found.len() > limit;
        let found: Vec<_> = found.into_iter().take(limit).collect();
        let next_token = more
            .then(|| found.last().map(|(id, _)| encode_agent_token(id)))
            .flatten();
        let packs = store
            .credit_packs(&ctx.tenant_id)
            .await
            .map_err(store_failure)?;
        let now = ctx.now_ms;
        let current = current_pack(&packs, now);
        let pool: i64 = packs.iter().map(|p| p.amount).sum();
        let period = month_of(now).0;
        let page_ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
        let used = store
            .agent_period_usage(&ctx.tenant_id, &page_ids, &period)
            .await
            .map_err(store_failure)?;
        let types = agent_types(ctx, &page_ids, false).await?;
        let agents = found
            .into_iter()
            .filter_map(|(id, record)| {
                let agent_type = record
                    .as_ref()
                    .map(|r| r.agent_type.clone())
                    .or_else(|| types.get(&id).cloned())
                    .unwrap_or_else(|| "CREDIT_PACKAGE".into());
                if !wanted_type.is_empty() && !wanted_type.contains(&agent_type) {
                    return None;
                }
                let total = record.as_ref().and_then(|r| r.quota).unwrap_or(pool);
                Some(CreditAgentView {
                    created_time: record
                        .as_ref()
                        .map(|r| time_text(r.created_at))
                        .unwrap_or_default(),
                    credit_package_id: current.map(|p| p.id.clone()).unwrap_or_default(),
                    expired_time: current
                        .and_then(|p| p.expires_at)
                        .map(time_text)
                        .unwrap_or_default(),
                    instance_type: agent_type,
                    total_credit: whole_credits_floor(total),
                    used_credit: whole_credits_ceil(used.get(&id).copied().unwrap_or(0)),
                    warn_percent: record.as_ref().map_or(80, |r| r.warn_percent),
                    agent_id: id,
                })
            })
            .collect();
        Ok(CreditAgentsPage {
            agents,
            max_results: size,
            next_token,
        })
    }
}

fn encode_agent_token(after: &str) -> String {
    format!("ag{}", hex::encode(after))
}

fn agent_token(token: &str) -> Result<String, ApiError> {
    token
        .strip_prefix("ag")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid_parameter("NextToken", "not a token this server issued"))
}

// ---------------------------------------------------------------------------------------------
// DescribeCreditUsageInfo

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCreditUsageInfo {
    pub biz_type: Option<Token>,
    pub instance_ids: Option<Ids<MAX_IDS>>,
    pub usage_type: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrendPoint {
    pub time_point: String,
    pub used_credit: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemainCreditInfo {
    pub deducting_amount: i64,
    pub pending_amount: i64,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UsageInfo {
    pub available_amount: i64,
    pub contact_group_names: Vec<String>,
    pub credit_trend_list: Vec<TrendPoint>,
    pub current_instance_expired_time: String,
    pub current_instance_id: String,
    pub current_remain_credit: i64,
    pub current_total_credit: i64,
    pub current_used_credit: i64,
    pub day_used_credit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_total_credit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_used_credit: Option<i64>,
    pub remain_credit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remain_credit_info: Option<RemainCreditInfo>,
    pub today_used: String,
    pub total_credit: i64,
    pub total_used: String,
    pub total_used_credit: i64,
    pub warn_percent: i64,
    pub week_used_credit: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageEntry {
    pub usage_info: UsageInfo,
    pub usage_info_key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageList {
    pub usage_info_list: Vec<UsageEntry>,
}

/// Units used within the last day and week, today (UTC), and per hour over the last 24 hours.
async fn recent_usage(
    ctx: &Ctx,
    filter: DeductionFilter,
    info: &mut UsageInfo,
) -> Result<(), ApiError> {
    let store = &ctx.state.store;
    let now = ctx.now_ms;
    let since = |ms| DeductionFilter {
        since: Some(ms),
        ..filter.clone()
    };
    let day = store
        .deduction_totals(&since(now - DAY_MS))
        .await
        .map_err(store_failure)?
        .1;
    let week = store
        .deduction_totals(&since(now - 7 * DAY_MS))
        .await
        .map_err(store_failure)?
        .1;
    let today = store
        .deduction_totals(&since(now - now.rem_euclid(DAY_MS)))
        .await
        .map_err(store_failure)?
        .1;
    let hours = store
        .deduction_buckets(
            &since(now - now.rem_euclid(HOUR_MS) - 23 * HOUR_MS),
            HOUR_MS,
            None,
        )
        .await
        .map_err(store_failure)?;
    info.day_used_credit = whole_credits_ceil(day);
    info.week_used_credit = whole_credits_ceil(week);
    info.today_used = credits_decimal(today);
    info.credit_trend_list = hours
        .into_iter()
        .map(|(at, _, units)| TrendPoint {
            time_point: DateTime::<Utc>::from_timestamp_millis(at)
                .unwrap_or_default()
                .format("%Y-%m-%d %H")
                .to_string(),
            used_credit: whole_credits_ceil(units),
        })
        .collect();
    Ok(())
}

fn with_current(info: &mut UsageInfo, pack: Option<&CreditPack>, now: i64) {
    if let Some(pack) = pack {
        info.current_instance_id = pack.id.clone();
        info.current_instance_expired_time = pack.expires_at.map(time_text).unwrap_or_default();
        info.current_total_credit = whole_credits_floor(pack.amount);
        info.current_used_credit = whole_credits_ceil(pack.used);
        info.current_remain_credit = whole_credits_floor(remaining(pack, now));
    }
}

impl Action for DescribeCreditUsageInfo {
    type Response = UsageList;

    async fn handle(self, ctx: &Ctx) -> Result<UsageList, ApiError> {
        let usage_type = self
            .usage_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("User");
        let keys = ids(self.instance_ids);
        let store = &ctx.state.store;
        let now = ctx.now_ms;
        let packs = store
            .credit_packs(&ctx.tenant_id)
            .await
            .map_err(store_failure)?;
        let current = current_pack(&packs, now);
        let base = DeductionFilter {
            tenant_id: ctx.tenant_id.clone(),
            ..DeductionFilter::default()
        };
        let pool_total: i64 = packs.iter().map(|p| p.amount).sum();
        let pool_used: i64 = packs.iter().map(|p| p.used).sum();
        let pool_left: i64 = packs.iter().map(|p| remaining(p, now)).sum();
        let mut entries = Vec::new();
        match usage_type {
            "User" => {
                let held = store
                    .credits_held(&ctx.tenant_id, None, now)
                    .await
                    .map_err(store_failure)?;
                let mut info = UsageInfo {
                    available_amount: whole_credits_floor((pool_left - held).max(0)),
                    remain_credit: whole_credits_floor(pool_left),
                    remain_credit_info: Some(RemainCreditInfo {
                        deducting_amount: 0,
                        pending_amount: whole_credits_ceil(held),
                    }),
                    total_credit: whole_credits_floor(pool_total),
                    total_used: credits_decimal(pool_used),
                    total_used_credit: whole_credits_ceil(pool_used),
                    warn_percent: 80,
                    ..UsageInfo::default()
                };
                with_current(&mut info, current, now);
                recent_usage(ctx, base, &mut info).await?;
                entries.push(UsageEntry {
                    usage_info: info,
                    usage_info_key: ctx.tenant_id.clone(),
                });
            }
            "CreditPackage" => {
                if keys.is_empty() {
                    return Err(errors::MISSING_PARAMETER.error(&[&"InstanceIds"]));
                }
                for key in keys {
                    let pack = packs
                        .iter()
                        .find(|p| p.id == key)
                        .ok_or_else(|| errors::CREDIT_PACKAGE_NOT_FOUND.error(&[&key]))?;
                    let left = remaining(pack, now);
                    let mut info = UsageInfo {
                        available_amount: whole_credits_floor(left),
                        remain_credit: whole_credits_floor(left),
                        total_credit: whole_credits_floor(pack.amount),
                        total_used: credits_decimal(pack.used),
                        total_used_credit: whole_credits_ceil(pack.used),
                        warn_percent: 80,
                        ..UsageInfo::default()
                    };
                    with_current(&mut info, Some(pack), now);
                    let filter = DeductionFilter {
                        package_ids: vec![key.clone()],
                        ..base.clone()
                    };
                    recent_usage(ctx, filter, &mut info).await?;
                    entries.push(UsageEntry {
                        usage_info: info,
                        usage_info_key: key,
                    });
                }
            }
            "Agent" => {
                if keys.is_empty() {
                    return Err(errors::MISSING_PARAMETER.error(&[&"InstanceIds"]));
                }
                agents(ctx, &keys).await?;
                let period = month_of(now).0;
                let used = store
                    .agent_period_usage(&ctx.tenant_id, &keys, &period)
                    .await
                    .map_err(store_failure)?;
                for key in keys {
                    let record = store
                        .credit_agent(&ctx.tenant_id, &key)
                        .await
                        .map_err(store_failure)?;
                    let quota = record.as_ref().and_then(|r| r.quota);
                    let period_used = used.get(&key).copied().unwrap_or(0);
                    let filter = DeductionFilter {
                        agent_ids: vec![key.clone()],
                        ..base.clone()
                    };
                    let all_time = store
                        .deduction_totals(&filter)
                        .await
                        .map_err(store_failure)?
                        .1;
                    let held = store
                        .credits_held(&ctx.tenant_id, Some(&key), now)
                        .await
                        .map_err(store_failure)?;
                    let left = match quota {
                        Some(q) => (q - period_used).max(0).min(pool_left),
                        None => pool_left,
                    };
                    let mut info = UsageInfo {
                        available_amount: whole_credits_floor((left - held).max(0)),
                        period_total_credit: quota.map(whole_credits_floor),
                        period_used_credit: Some(whole_credits_ceil(period_used)),
                        remain_credit: whole_credits_floor(left),
                        remain_credit_info: Some(RemainCreditInfo {
                            deducting_amount: 0,
                            pending_amount: whole_credits_ceil(held),
                        }),
                        total_credit: whole_credits_floor(quota.unwrap_or(pool_total)),
                        total_used: credits_decimal(all_time),
                        total_used_credit: whole_credits_ceil(all_time),
                        warn_percent: record.as_ref().map_or(80, |r| r.warn_percent),
                        ..UsageInfo::default()
                    };
                    with_current(&mut info, current, now);
                    recent_usage(ctx, filter, &mut info).await?;
                    entries.push(UsageEntry {
                        usage_info: info,
                        usage_info_key: key,
                    });
                }
            }
            _ => {
                return Err(ApiError::invalid_parameter(
                    "UsageType",
                    "must be User, CreditPackage or Agent",
                ));
            }
        }
        Ok(UsageList {
            usage_info_list: entries,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeDeductionStatistic

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeriodInput {
    pub base_time: Option<Text<0, 64>>,
    pub period_unit: Option<Token>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDeductionStatistic {
    pub end_time: Option<Text<0, 64>>,
    pub instance_ids: Option<Ids<MAX_IDS>>,
    pub periods: Option<List<PeriodInput, 20>>,
    pub resource_types: Option<Tokens>,
    pub start_time: Option<Text<0, 64>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageView {
    pub ali_uid: i64,
    pub create_time: String,
    pub end_time: String,
    pub expired_time: String,
    pub group_id: String,
    pub group_resource_type: String,
    pub no_lx: bool,
    pub no_lx_source: String,
    pub resource_id: String,
    pub resource_type: String,
    pub start_time: String,
    pub status: String,
    pub total_time: i64,
    pub used_time: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DayDeduction {
    pub consume_second: i64,
    pub deduction_date: String,
    pub resource_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeriodUsage {
    pub consume_second: i64,
    pub period: String,
    pub resource_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeductionData {
    pub available_core_packages: Vec<PackageView>,
    pub deductions: Vec<DayDeduction>,
    pub usages: Vec<PeriodUsage>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeductionStatistic {
    pub data: DeductionData,
}

/// The end of the period of `unit` starting at `start`.
fn period_end(param: &str, start: i64, unit: &str) -> Result<i64, ApiError> {
    let at = DateTime::<Utc>::from_timestamp_millis(start).unwrap_or_default();
    let end = match unit {
        "Hour" => at.checked_add_signed(chrono::Duration::hours(1)),
        "Day" => at.checked_add_signed(chrono::Duration::days(1)),
        "Week" => at.checked_add_signed(chrono::Duration::weeks(1)),
        "Month" => at.checked_add_months(chrono::Months::new(1)),
        "Year" => at.checked_add_months(chrono::Months::new(12)),
        _ => {
            return Err(ApiError::invalid_parameter(
                param,
                "must be Hour, Day, Week, Month or Year",
            ));
        }
    };
    Ok(end.map_or(i64::MAX, |e| e.timestamp_millis()))
}

impl Action for DescribeDeductionStatistic {
    type Response = DeductionStatistic;

    async fn handle(self, ctx: &Ctx) -> Result<DeductionStatistic, ApiError> {
        let (start, end) = window(ctx, self.start_time.as_deref(), self.end_time.as_deref())?;
        let wanted = ids(self.instance_ids);
        let store = &ctx.state.store;
        let now = ctx.now_ms;
        let packs = store
            .credit_packs(&ctx.tenant_id)
            .await
            .map_err(store_failure)?;
        // InstanceIds names agents or packs.
        let (pack_ids, agent_ids): (Vec<String>, Vec<String>) = wanted
            .into_iter()
            .partition(|id| packs.iter().any(|p| &p.id == id));
        let base = DeductionFilter {
            tenant_id: ctx.tenant_id.clone(),
            agent_ids,
            package_ids: pack_ids.clone(),
            ..DeductionFilter::default()
        };
        let days = store
            .deduction_buckets(
                &DeductionFilter {
                    since: Some(start),
                    until: Some(end),
                    ..base.clone()
                },
                DAY_MS,
                None,
            )
            .await
            .map_err(store_failure)?;
        let deductions = days
            .into_iter()
            .map(|(at, _, units)| DayDeduction {
                consume_second: whole_credits_ceil(units),
                deduction_date: DateTime::<Utc>::from_timestamp_millis(at)
                    .unwrap_or_default()
                    .format("%Y-%m-%d")
                    .to_string(),
                resource_type: RESOURCE_TYPE.into(),
            })
            .collect();
        let mut usages = Vec::new();
        for (i, period) in self
            .periods
            .map(List::into_vec)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let base_param = format!("Periods.{}.BaseTime", i + 1);
            let label = period.base_time.as_deref().unwrap_or_default().to_string();
            let from = instant(&base_param, Some(&label))?
                .ok_or_else(|| errors::MISSING_PARAMETER.error(&[&base_param]))?;
            let unit = period.period_unit.as_deref().unwrap_or("Day").to_string();
            let until = period_end(&format!("Periods.{}.PeriodUnit", i + 1), from, &unit)?;
            let units = store
                .deduction_totals(&DeductionFilter {
                    since: Some(from),
                    until: Some(until),
                    ..base.clone()
                })
                .await
                .map_err(store_failure)?
                .1;
            usages.push(PeriodUsage {
                consume_second: whole_credits_ceil(units),
                period: label,
                resource_type: RESOURCE_TYPE.into(),
            });
        }
        let ali_uid = ctx.tenant_id.parse::<i64>().unwrap_or(0);
        let available_core_packages = packs
            .iter()
            .filter(|p| p.status(now) == "Active")
            .filter(|p| pack_ids.is_empty() || pack_ids.contains(&p.id))
            .map(|p| PackageView {
                ali_uid,
                create_time: time_text(p.created_at),
                end_time: p.expires_at.map(time_text).unwrap_or_default(),
                expired_time: p.expires_at.map(time_text).unwrap_or_default(),
                group_id: String::new(),
                group_resource_type: RESOURCE_TYPE.into(),
                no_lx: false,
                no_lx_source: String::new(),
                resource_id: p.id.clone(),
                resource_type: "CreditPackage".into(),
                start_time: time_text(p.starts_at),
                status: p.status(now).into(),
                total_time: whole_credits_floor(p.amount),
                used_time: whole_credits_ceil(p.used),
            })
            .collect();
        Ok(DeductionStatistic {
            data: DeductionData {
                available_core_packages,
                deductions,
                usages,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DescribePackageDeductions

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePackageDeductions {
    pub end_time: Option<Text<0, 64>>,
    pub instance_ids: Option<Ids<MAX_IDS>>,
    pub package_ids: Option<Ids<MAX_IDS>>,
    pub page_num: Option<i64>,
    pub page_size: Option<i64>,
    pub resource_type: Option<Token>,
    pub resource_types: Option<Tokens>,
    pub start_time: Option<Text<0, 64>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageDeduction {
    pub cpu: i64,
    pub desktop_id: String,
    pub desktop_name: String,
    pub desktop_type: String,
    pub end_time: String,
    pub group_resource_type: String,
    pub instance_id: String,
    pub instance_state: String,
    pub instance_type: String,
    pub memory: i64,
    pub os_type: String,
    pub region_id: String,
    pub resource_type: String,
    pub session_id: String,
    pub sta_time: String,
    pub used_core_time: f64,
    pub used_time: i64,
    pub used_time_decimal: String,
    pub used_time_with_scale: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageDeductionsPage {
    pub deductions: Vec<PackageDeduction>,
    pub page_num: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub total_used_core_time: f64,
    pub total_used_time: i64,
    pub total_used_time_decimal: String,
}

fn period_text(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%MZ")
        .to_string()
}

fn as_credits(units: i64) -> f64 {
    units as f64 / domain::credits::UNITS_PER_CREDIT as f64
}

impl Action for DescribePackageDeductions {
    type Response = PackageDeductionsPage;

    async fn handle(self, ctx: &Ctx) -> Result<PackageDeductionsPage, ApiError> {
        let page =
            page(self.page_num, self.page_size, 20).map_err(|e| rename_page_error(e, "PageNum"))?;
        let (start, end) = window(ctx, self.start_time.as_deref(), self.end_time.as_deref())?;
        let package_ids = ids(self.package_ids);
        let agent_ids = ids(self.instance_ids);
        if !agent_ids.is_empty() && package_ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"PackageIds"]));
        }
        let store = &ctx.state.store;
        let now = ctx.now_ms;
        let packs = store
            .credit_packs(&ctx.tenant_id)
            .await
            .map_err(store_failure)?;
        for id in &package_ids {
            if !packs.iter().any(|p| &p.id == id) {
                return Err(errors::CREDIT_PACKAGE_NOT_FOUND.error(&[id]));
            }
        }
        let filter = DeductionFilter {
            tenant_id: ctx.tenant_id.clone(),
            agent_ids,
            package_ids,
            since: Some(start),
            until: Some(end),
            ..DeductionFilter::default()
        };
        // One record per pack, agent and hour, newest first.
        let mut hours = store
            .deduction_buckets(&filter, HOUR_MS, Some("package_agent"))
            .await
            .map_err(store_failure)?;
        hours.reverse();
        let total_units: i64 = hours.iter().map(|(_, _, u)| *u).sum();
        let total_count = hours.len() as i64;
        let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let size = usize::try_from(page.size).unwrap_or(20);
        let shown: Vec<_> = hours.into_iter().skip(offset).take(size).collect();
        let runtime_ids: Vec<String> = shown
            .iter()
            .filter_map(|(_, key, _)| key.split_once(' ').map(|(_, a)| a.to_string()))
            .collect();
        let runtimes: HashMap<String, store::runtimes::Runtime> = if runtime_ids.is_empty() {
            HashMap::new()
        } else {
            store
                .runtimes_by_ids(&ctx.tenant_id, &runtime_ids)
                .await
                .map_err(store_failure)?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect()
        };
        let deductions = shown
            .into_iter()
            .map(|(at, key, units)| {
                let (pack_id, agent_id) = key.split_once(' ').unwrap_or((key.as_str(), ""));
                let runtime = runtimes.get(agent_id);
                let pack = packs.iter().find(|p| p.id == pack_id);
                PackageDeduction {
                    cpu: runtime.map_or(0, |r| r.cpu),
                    desktop_id: agent_id.to_string(),
                    desktop_name: runtime.map(|r| r.name.clone()).unwrap_or_default(),
                    desktop_type: runtime.map(|r| r.desktop_type.clone()).unwrap_or_default(),
                    end_time: period_text(at + HOUR_MS),
                    group_resource_type: RESOURCE_TYPE.into(),
                    instance_id: agent_id.to_string(),
                    instance_state: pack.map(|p| p.status(now).to_string()).unwrap_or_default(),
                    instance_type: runtime
                        .map(|r| domain::credits::agent_type(&r.agent_provider, &r.id).to_string())
                        .unwrap_or_default(),
                    memory: runtime.map_or(0, |r| r.memory_mib),
                    os_type: runtime.map(|r| r.os_type.clone()).unwrap_or_default(),
                    region_id: runtime.map(|r| r.region_id.clone()).unwrap_or_default(),
                    resource_type: RESOURCE_TYPE.into(),
                    session_id: pack_id.to_string(),
                    sta_time: period_text(at),
                    used_core_time: as_credits(units),
                    used_time: whole_credits_ceil(units),
                    used_time_decimal: credits_decimal(units),
                    used_time_with_scale: whole_credits_ceil(units),
                }
            })
            .collect();
        Ok(PackageDeductionsPage {
            deductions,
            page_num: page.number,
            page_size: page.size,
            total_count,
            total_used_core_time: as_credits(total_units),
            total_used_time: whole_credits_ceil(total_units),
            total_used_time_decimal: credits_decimal(total_units),
        })
    }
}

/// These actions name their page number `PageNum`.
fn rename_page_error(error: ApiError, param: &str) -> ApiError {
    if error.message.contains("\"PageNumber\"") {
        ApiError::invalid_parameter(param, "must be 0 or more")
    } else {
        error
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeRunIdDeductions

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRunIdDeductions {
    pub agent_type: Option<Token>,
    pub agent_types: Option<Tokens>,
    pub ali_uid: Option<i64>,
    pub biz_type: Option<Token>,
    pub deduction_types: Option<Tokens>,
    pub end_time: Option<Text<0, 64>>,
    pub group_by_fields: Option<Tokens>,
    pub group_resource_types: Option<Tokens>,
    pub group_separator: Option<bool>,
    pub instance_id_type: Option<Token>,
    pub instance_ids: Option<Ids<MAX_IDS>>,
    pub max_results: Option<i64>,
    pub next_token: Option<Text<0, 256>>,
    pub package_ids: Option<Ids<MAX_IDS>>,
    pub page_num: Option<i64>,
    pub page_size: Option<i64>,
    pub resource_type: Option<Token>,
    pub resource_types: Option<Tokens>,
    pub start_time: Option<Text<0, 64>>,
    pub wy_id: Option<Id>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunDeduction {
    pub agent_type: String,
    pub end_time: String,
    pub group_resource_type: String,
    pub instance_id: String,
    pub model: String,
    pub package_id: String,
    pub resource_id: String,
    pub resource_type: String,
    pub run_id: String,
    pub start_time: String,
    pub summary: String,
    pub used_time: i64,
    pub used_time_decimal: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunDeductionsPage {
    pub deductions: Vec<RunDeduction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_num: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    pub total_count: i64,
    pub total_used_time: i64,
    pub total_used_time_decimal: String,
}

impl Action for DescribeRunIdDeductions {
    type Response = RunDeductionsPage;

    async fn handle(self, ctx: &Ctx) -> Result<RunDeductionsPage, ApiError> {
        let mut agent_types = check_agent_types("AgentType", self.agent_type.as_deref())?;
        agent_types.extend(check_agent_types(
            "AgentTypes",
            self.agent_types
                .as_ref()
                .map(|l| l.iter().map(|t| &**t).collect::<Vec<&str>>())
                .unwrap_or_default(),
        )?);
        let (start, end) = window(ctx, self.start_time.as_deref(), self.end_time.as_deref())?;
        // Token paging when asked for (MaxResults or NextToken), page numbers otherwise.
        let by_token =
            self.max_results.is_some() || self.next_token.as_deref().is_some_and(|t| !t.is_empty());
        let (offset, size, page_number) = if by_token {
            let size = self.max_results.unwrap_or(20);
            if !(1..=100).contains(&size) {
                return Err(ApiError::invalid_parameter(
                    "MaxResults",
                    "must be between 1 and 100",
                ));
            }
            let offset = match self.next_token.as_deref().filter(|t| !t.is_empty()) {
                Some(token) => decode_token(token)?,
                None => 0,
            };
            (offset, size, None)
        } else {
            let page = page(self.page_num, self.page_size, 20)
                .map_err(|e| rename_page_error(e, "PageNum"))?;
            (page.offset(), page.size, Some(page.number))
        };
        let filter = DeductionFilter {
            tenant_id: ctx.tenant_id.clone(),
            agent_ids: ids(self.instance_ids),
            package_ids: ids(self.package_ids),
            agent_types,
            since: Some(start),
            until: Some(end),
        };
        let store = &ctx.state.store;
        let (total_count, total_units) = store
            .deduction_totals(&filter)
            .await
            .map_err(store_failure)?;
        let rows = store
            .deductions(
                &filter,
                usize::try_from(offset).unwrap_or(usize::MAX),
                usize::try_from(size).unwrap_or(20),
            )
            .await
            .map_err(store_failure)?;
        let returned = rows.len();
        let deductions = rows
            .into_iter()
            .map(|d| RunDeduction {
                summary: format!(
                    "{} input ({} cached) and {} output tokens{}",
                    d.tokens_in,
                    d.tokens_cached,
                    d.tokens_out,
                    if d.estimated {
                        ", estimated (the provider reported none)"
                    } else {
                        ""
                    }
                ),
                agent_type: d.agent_type,
                end_time: time_text(d.ended_at),
                group_resource_type: RESOURCE_TYPE.into(),
                resource_id: d.agent_id.clone(),
                instance_id: d.agent_id,
                model: d.model,
                package_id: d.package_id,
                resource_type: RESOURCE_TYPE.into(),
                run_id: d.run_id,
                start_time: time_text(d.started_at),
                used_time: (d.ended_at - d.started_at).max(0) / 1000,
                used_time_decimal: credits_decimal(d.units),
            })
            .collect();
        let next = offset.saturating_add(returned as i64);
        Ok(RunDeductionsPage {
            deductions,
            max_results: by_token.then_some(size),
            next_token: (by_token && returned > 0 && next < total_count)
                .then(|| encode_token(next)),
            page_num: page_number,
            page_size: page_number.map(|_| size),
            total_count,
            total_used_time: 0,
            total_used_time_decimal: credits_decimal(total_units),
        })
    }
}
