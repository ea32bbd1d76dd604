//! Credit arithmetic: what a model call costs, what it reserves before it goes upstream, how a
//! replica sizes the share of a budget it holds, and the monthly period of a quota.
//!
//! amc counts credits in *units* of a billionth of a credit, in `i64`: prices are per million
//! tokens, so a price with up to three decimals costs a whole number of units per token, and
//! thousands of small calls add up exactly. The API shows whole credits; decimal strings show
//! the units exactly.

use chrono::{Datelike, TimeZone, Utc};

use crate::models::{CreditMultiplier, Prices};

/// Units in one credit.
pub const UNITS_PER_CREDIT: i64 = 1_000_000_000;
/// What a call reserves for its answer when neither it nor its model bounds the answer.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4_096;
/// The largest share of a budget one replica holds at once, in units (1,000 credits).
const MAX_LEASE: i64 = 1_000 * UNITS_PER_CREDIT;
/// A replica holds at most this fraction of what is left, so that others find some too.
const LEASE_FRACTION: i64 = 8;

/// Exact decimal `digits / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    const ONE: Decimal = Decimal {
        digits: 1,
        scale: 0,
    };

    /// A non-negative decimal such as `0.8`, `2` or `1.25e-1`'s plain form; `None` otherwise.
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > 30
        {
            return None;
        }
        let frac = frac.trim_end_matches('0');
        let digits = format!("{int}{frac}").parse::<i128>().ok()?;
        Some(Decimal {
            digits,
            scale: u32::try_from(frac.len()).ok()?,
        })
    }

    /// From what `LlmFacts` keeps (it accepted JSON numbers, so exponents may appear).
    fn from_price(text: &str) -> Option<Decimal> {
        Decimal::parse(text).or_else(|| {
            let value = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)?;
            Decimal::parse(&format!("{value:.9}"))
        })
    }
}

/// A model's prices in units per million tokens' worth, multiplier applied, kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Units per token, times 10^`scale`.
    input: i128,
    output: i128,
    cache_read: i128,
    scale: u32,
}

/// Tokens of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// Input tokens served from the provider's cache (a part of `input`).
    pub cached: u64,
}

impl Rate {
    /// The rate of a model: its Config `cost` (credits per million tokens) times its credit
    /// multiplier (the upper end of a range; 1 when none). Cached input is priced at
    /// `cacheRead` where given, else as input.
    pub fn of(prices: &Prices, multiplier: Option<&CreditMultiplier>) -> Rate {
        let price = |p: &Option<String>| p.as_deref().and_then(Decimal::from_price);
        let factor = multiplier
            .and_then(|m| m.max.as_deref().or(m.min.as_deref()))
            .and_then(Decimal::from_price)
            .unwrap_or(Decimal::ONE);
        let input = price(&prices.input);
        let output = price(&prices.output);
        let cache_read = price(&prices.cache_read).or(input);
        let parts = [input, output, cache_read];
        let scale = parts.iter().flatten().map(|d| d.scale).max().unwrap_or(0) + factor.scale;
        // price credits/M tokens = price * 10^9 / 10^6 units per token = price * 1000.
        let scaled = |d: Option<Decimal>| {
            d.map_or(0, |d| {
                d.digits
                    .saturating_mul(factor.digits)
                    .saturating_mul(1000)
                    .saturating_mul(10i128.pow(scale - d.scale - factor.scale))
            })
        };
        Rate {
            input: scaled(input),
            output: scaled(output),
            cache_read: scaled(cache_read),
            scale,
        }
    }

    pub fn is_free(&self) -> bool {
        self.input == 0 && self.output == 0 && self.cache_read == 0
    }

    /// What `usage` costs, in units, rounded up to a whole unit.
    pub fn cost(&self, usage: Usage) -> i64 {
        let cached = usage.cached.min(usage.input);
        let total = i128::from(usage.input - cached).saturating_mul(self.input)
            + i128::from(cached).saturating_mul(self.cache_read)
            + i128::from(usage.output).saturating_mul(self.output);
        let divisor = 10i128.saturating_pow(self.scale);
        let units = (total + divisor - 1) / divisor;
        i64::try_from(units).unwrap_or(i64::MAX)
    }
}

/// What a call reserves: its prompt counted as one token per byte of the request body (no
/// tokenizer makes more tokens than bytes) and its answer at its own bound, else the model's,
/// else [`DEFAULT_MAX_OUTPUT_TOKENS`].
pub fn reservation(rate: &Rate, body_bytes: usize, max_output: Option<u64>) -> i64 {
    rate.cost(Usage {
        input: body_bytes as u64,
        output: max_output.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
        cached: 0,
    })
}

/// Tokens of `text` when the upstream does not say: about four characters a token, at least
/// one for any text.
pub fn estimate_tokens(text_chars: usize) -> u64 {
    (text_chars as u64).div_ceil(4)
}

/// How much of a budget a replica takes at once for a call needing `need` units, when
/// `available` are left (the least of the tenant's packs and the agent's quota): at least the
/// call's need, else a share of what is left so that the next calls need no round trip, and
/// `None` when the call does not fit.
pub fn lease_size(need: i64, available: i64) -> Option<i64> {
    if need > available {
        return None;
    }
    Some(need.max((available / LEASE_FRACTION).min(MAX_LEASE)))
}

/// Whole credits of `units`, rounded down (what is left) …
pub fn whole_credits_floor(units: i64) -> i64 {
    units.div_euclid(UNITS_PER_CREDIT)
}

/// … and rounded up (what was used): a call of a fraction of a credit shows as used.
pub fn whole_credits_ceil(units: i64) -> i64 {
    units.div_euclid(UNITS_PER_CREDIT) + i64::from(units.rem_euclid(UNITS_PER_CREDIT) != 0)
}

/// `units` as an exact decimal number of credits, `"0.000018"`.
pub fn credits_decimal(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let whole = abs / UNITS_PER_CREDIT as u64;
    let frac = abs % UNITS_PER_CREDIT as u64;
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:09}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// Units of a whole number of credits; `None` when out of range.
pub fn units_of_credits(credits: i64) -> Option<i64> {
    credits.checked_mul(UNITS_PER_CREDIT)
}

/// The quota period (a calendar month, UTC) holding `at_ms`: its key `YYYY-MM` and its bounds
/// in epoch milliseconds.
pub fn month_of(at_ms: i64) -> (String, i64, i64) {
    let at = Utc
        .timestamp_millis_opt(at_ms)
        .single()
        .unwrap_or_else(|| Utc.timestamp_millis_opt(0).single().unwrap_or_default());
    let (year, month) = (at.year(), at.month());
    let start = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map_or(0, |d| d.timestamp_millis());
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let end = Utc
        .with_ymd_and_hms(next_year, next_month, 1, 0, 0, 0)
        .single()
        .map_or(i64::MAX, |d| d.timestamp_millis());
    (format!("{year:04}-{month:02}"), start, end)
}

/// The `AgentType` of the credit actions for a runtime: JVS Claw computers (`jvs-…`) running
/// OpenClaw are `JVS_CLAW`, other OpenClaw runtimes `OPEN_CLAW`; Hermes Agent, which the cloud's
/// enumeration predates, `HERMES_AGENT`.
pub fn agent_type(agent_provider: &str, runtime_id: &str) -> &'static str {
    match agent_provider {
        "OpenClaw" if runtime_id.starts_with("jvs-") => "JVS_CLAW",
        "OpenClaw" => "OPEN_CLAW",
        "HermesAgent" => "HERMES_AGENT",
        _ => "CREDIT_PACKAGE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prices(input: &str, output: &str) -> Prices {
        Prices {
            input: Some(input.into()),
            output: Some(output.into()),
            ..Prices::default()
        }
    }

    #[test]
    fn small_calls_cost_whole_units_that_add_up() {
        // 0.8 credits per million input tokens, 2 per million output.
        let rate = Rate::of(&prices("0.8", "2"), None);
        let call = Usage {
            input: 10,
            output: 5,
            cached: 0,
        };
        assert_eq!(rate.cost(call), 18_000);
        // A million such calls are exactly 18 credits.
        assert_eq!(rate.cost(call) * 1_000_000, 18 * UNITS_PER_CREDIT);
    }

    #[test]
    fn the_multiplier_and_cache_price_apply() {
        let multiplier = CreditMultiplier {
            min: Some("1.5".into()),
            max: Some("1.5".into()),
        };
        let mut p = prices("1", "4");
        p.cache_read = Some("0.1".into());
        let rate = Rate::of(&p, Some(&multiplier));
        let usage = Usage {
            input: 1_000,
            output: 100,
            cached: 400,
        };
        // (600 * 1 + 400 * 0.1 + 100 * 4) credits/M * 1.5 = 1560 micro-credits.
        assert_eq!(rate.cost(usage), 1_560_000);
        assert!(Rate::of(&Prices::default(), None).is_free());
    }

    #[test]
    fn json_numbers_with_exponents_are_read() {
        let rate = Rate::of(&prices("8e-1", "2.0"), None);
        assert_eq!(rate, Rate::of(&prices("0.8", "2"), None));
    }

    #[test]
    fn leases_take_a_share_but_never_more_than_is_left() {
        assert_eq!(lease_size(10, 5), None);
        assert_eq!(lease_size(10, 10), Some(10));
        assert_eq!(lease_size(10, 800), Some(100));
        assert_eq!(lease_size(1, i64::MAX), Some(MAX_LEASE));
    }

    #[test]
    fn credits_show_whole_and_exact() {
        assert_eq!(whole_credits_floor(1_999_999_999), 1);
        assert_eq!(whole_credits_ceil(1_000_000_001), 2);
        assert_eq!(whole_credits_ceil(0), 0);
        assert_eq!(credits_decimal(18_000), "0.000018");
        assert_eq!(credits_decimal(3 * UNITS_PER_CREDIT), "3");
        assert_eq!(credits_decimal(-1_500_000_000), "-1.5");
    }

    #[test]
    fn months_bound_their_instants() {
        // 2026-12-02T15:00:00Z
        let (key, start, end) = month_of(1_796_223_600_000);
        assert_eq!(key, "2026-12");
        assert_eq!(start, 1_796_083_200_000);
        assert_eq!(end, 1_798_761_600_000);
    }

    proptest! {
        #[test]
        fn cost_is_monotonic_and_never_panics(
            input in 0u64..10_000_000, output in 0u64..10_000_000, cached in 0u64..10_000_000,
            price in "[0-9]{1,4}(\\.[0-9]{1,6})?", out_price in "[0-9]{1,4}(\\.[0-9]{1,6})?",
        ) {
            let rate = Rate::of(&prices(&price, &out_price), None);
            let usage = Usage { input, output, cached };
            let more = Usage { input: input + 1, output: output + 1, cached };
            prop_assert!(rate.cost(usage) >= 0);
            prop_assert!(rate.cost(more) >= rate.cost(usage));
        }

        #[test]
        fn month_bounds_hold(at in 0i64..4_102_444_800_000) {
            let (_, start, end) = month_of(at);
            prop_assert!(start <= at && at < end);
        }
    }
}
