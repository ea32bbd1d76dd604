//! Wildcard patterns (`*` any run, `?` one character), compiled once so that matching is a
//! plain comparison in the common shapes and a linear greedy glob otherwise.

/// A compiled wildcard pattern. Action patterns fold ASCII case (actions are ASCII and the cloud
/// matches them case-insensitively); resource and `StringLike` patterns do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    shape: Shape,
    ignore_case: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `*`: matches everything, the commonest resource pattern.
    Any,
    /// No wildcard.
    Exact(Box<str>),
    /// `literal*`, as in `ecd:*` or `acs:ecd:*`.
    Prefix(Box<str>),
    /// Stars but no `?`: the literal runs between them. The text must start with the first and
    /// end with the last, and hold the others in order between, each found leftmost; a substring
    /// search per run, and most mismatches are seen at the two ends.
    Segments {
        prefix: Box<str>,
        middle: Box<[Box<str>]>,
        suffix: Box<str>,
        /// The least text length that can match.
        min_len: usize,
    },
    /// Anything with `?`.
    Glob(Box<str>),
}

impl Pattern {
    /// `ignore_case` lower-cases the pattern now so that matching only folds the text.
    pub(crate) fn new(pattern: &str, ignore_case: bool) -> Pattern {
        let stored = if ignore_case {
            pattern.to_ascii_lowercase()
        } else {
            pattern.to_owned()
        };
        let shape = if stored == "*" {
            Shape::Any
        } else if !stored.contains(['*', '?']) {
            Shape::Exact(stored.into_boxed_str())
        } else if stored.ends_with('*') && !stored[..stored.len() - 1].contains(['*', '?']) {
            let mut prefix = stored;
            prefix.pop();
            Shape::Prefix(prefix.into_boxed_str())
        } else if !stored.contains('?') {
            let runs: Vec<&str> = stored.split('*').collect();
            let prefix = runs.first().copied().unwrap_or_default();
            let suffix = runs.last().copied().unwrap_or_default();
            let middle: Box<[Box<str>]> = runs
                .get(1..runs.len().saturating_sub(1))
                .unwrap_or_default()
                .iter()
                .filter(|run| !run.is_empty())
                .map(|run| Box::from(*run))
                .collect();
            let min_len = runs.iter().map(|run| run.len()).sum();
            Shape::Segments {
                prefix: prefix.into(),
                middle,
                suffix: suffix.into(),
                min_len,
            }
        } else {
            Shape::Glob(stored.into_boxed_str())
        };
        Pattern { shape, ignore_case }
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        self.matches_folding(text, self.ignore_case)
    }

    /// For a text the caller has already ASCII-lower-cased (an action, once per evaluation):
    /// patterns that fold case were stored lower-cased, so plain comparison is enough.
    pub(crate) fn matches_lowercase(&self, lowered: &str) -> bool {
        self.matches_folding(lowered, false)
    }

    #[inline]
    fn matches_folding(&self, text: &str, fold: bool) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(literal) => {
                if fold {
                    literal.eq_ignore_ascii_case(text)
                } else {
                    same_bytes(literal.as_bytes(), text.as_bytes())
                }
            }
            Shape::Prefix(prefix) => {
                text.len() >= prefix.len()
                    && if fold {
                        text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
                    } else {
                        same_bytes(&text.as_bytes()[..prefix.len()], prefix.as_bytes())
                    }
            }
            Shape::Segments {
                prefix,
                middle,
                suffix,
                min_len,
            } => {
                let text = text.as_bytes();
                let equal = |a: &[u8], b: &[u8]| {
                    if fold {
                        a.eq_ignore_ascii_case(b)
                    } else {
                        same_bytes(a, b)
                    }
                };
                if text.len() < *min_len {
                    return false;
                }
                let (head, rest) = text.split_at(prefix.len());
                let (mut rest, tail) = rest.split_at(rest.len() - suffix.len());
                if !equal(head, prefix.as_bytes()) || !equal(tail, suffix.as_bytes()) {
                    return false;
                }
                for run in middle.iter() {
                    match find(rest, run.as_bytes(), fold) {
                        Some(at) => rest = &rest[at + run.len()..],
                        None => return false,
                    }
                }
                true
            }
            Shape::Glob(glob) => glob_match(glob.as_bytes(), text.as_bytes(), fold),
        }
    }
}

/// Slice equality as a plain loop: the strings compared are short, and a call to the C
/// library's `memcmp` (what `==` becomes) cost more than the comparison itself here. It
/// compares from the end, since patterns differ last: `ecd:Describe*` and `ecd:Delete*`
/// share their service, resource ARNs their `acs:<service>:` head.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y)
}

/// The first position of `needle` in `haystack`. The first byte is looked for with the
/// standard library's fast search and only there is the rest compared.
fn find(haystack: &[u8], needle: &[u8], ignore_case: bool) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = haystack.len().checked_sub(needle.len())?;
    let mut from = 0;
    while from <= last_start {
        let window = &haystack[from..=last_start];
        let offset = if ignore_case && first.is_ascii_alphabetic() {
            window
                .iter()
                .position(|b| b.to_ascii_lowercase() == first)?
        } else {
            window.iter().position(|&b| b == first)?
        };
        let at = from + offset;
        let candidate = &haystack[at + 1..at + needle.len()];
        let same = if ignore_case {
            candidate.eq_ignore_ascii_case(rest)
        } else {
            same_bytes(candidate, rest)
        };
        if same {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `text` matches the wildcard `pattern` as a resource pattern does (case-sensitive,
/// `*` any run, `?` one character). Compiles the pattern each call: for one-off checks.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern, false).matches(text)
}

/// A hash of the service part of `action` (before its first `:`, ASCII case folded), by which
/// evaluation skips statements about other services with one integer comparison; `None` when
/// there is no `:`, since then no pattern naming a service can match.
pub(crate) fn action_service(action: &str) -> Option<u64> {
    action
        .split_once(':')
        .map(|(service, _)| service_hash(service))
}

/// The hash a statement stores for the literal service of an action pattern (`ecd` of
/// `ecd:Describe*`); `None` when the service part has a wildcard (`*`, `*:List*`, `ec?:x`).
pub(crate) fn pattern_service(pattern: &str) -> Option<u64> {
    let (service, _) = pattern.split_once(':')?;
    (!service.contains(['*', '?'])).then(|| service_hash(service))
}

/// FNV-1a over the lower-cased bytes: small and quick for names of a few letters. Equal
/// services always hash equal; a collision only costs a full pattern match.
fn service_hash(service: &str) -> u64 {
    service.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The greedy two-pointer glob: on a mismatch it retries from the last `*` one character
/// further on, so `a*a*a*b` against a long run of `a` costs O(pattern × text) at worst, never
/// exponential. `?` and the retry step over a whole UTF-8 character; literal bytes compare
/// byte for byte, which keeps to character boundaries since both sides are valid UTF-8.
fn glob_match(pattern: &[u8], text: &[u8], ignore_case: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was in the pattern, and where in the text it is assumed to end.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                t += char_len(text[t]);
                continue;
            }
            Some(&literal) => {
                let byte = if ignore_case {
                    text[t].to_ascii_lowercase()
                } else {
                    text[t]
                };
                if byte == literal {
                    p += 1;
                    t += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            Some((star_p, star_t)) => {
                let next = star_t + char_len(text[star_t]);
                star = Some((star_p, next));
                p = star_p + 1;
                t = next;
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// The length of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn check(pattern: &str, ignore_case: bool, text: &str, expected: bool) {
        assert_eq!(
            Pattern::new(pattern, ignore_case).matches(text),
            expected,
            "{pattern:?} against {text:?}"
        );
    }

    #[test]
    fn star_matches_any_run_including_colons_and_slashes() {
        check("*", false, "", true);
        check("*", false, "acs:ecd:cn-hangzhou:123:desktop/ecd-1", true);
        check(
            "acs:ecd:*",
            false,
            "acs:ecd:cn-hangzhou:123:desktop/ecd-1",
            true,
        );
        check(
            "acs:ecd:*:*:desktop/*",
            false,
            "acs:ecd:r:1:desktop/a/b",
            true,
        );
        check("acs:ecd:*:*:desktop/*", false, "acs:ecd:r:1:image/a", false);
        check("*:Describe*", false, "ecd:DescribeDesktops", true);
        check("*-1", false, "ecd-1", true);
        check("*-1", false, "ecd-2", false);
        check("a*b*c", false, "abc", true);
        check("a*b*c", false, "axxbyyc", true);
        check("a*b*c", false, "axxbyy", false);
        check("**", false, "anything", true);
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        check("ecd-?", false, "ecd-1", true);
        check("ecd-?", false, "ecd-", false);
        check("ecd-?", false, "ecd-12", false);
        check("ecd-??", false, "ecd-12", true);
        check("?*", false, "", false);
        check("?*", false, "x", true);
        check("名?", false, "名字", true);
        check("*字", false, "名字", true);
        check("?", false, "字", true);
    }

    #[test]
    fn actions_fold_case_and_resources_do_not() {
        check("ecd:Describe*", true, "ECD:describedesktops", true);
        check("ECD:DescribeDesktops", true, "ecd:describedesktops", true);
        check("ecd:*Desk?ops", true, "ECD:DESCRIBEDESKTOPS", true);
        check(
            "acs:ecd:*:*:Desktop/*",
            false,
            "acs:ecd:r:1:desktop/x",
            false,
        );
        check("acs:ecd:*:*:Desktop", false, "acs:ecd:*:*:desktop", false);
        check("acs:ECD*", false, "acs:ecd:r", false);
    }

    #[test]
    fn runs_between_stars_are_found_in_order() {
        check(
            "acs:*:desktop/*-1",
            false,
            "acs:ecd:r:1:desktop/ecd-1",
            true,
        );
        check(
            "acs:*:desktop/*-1",
            false,
            "acs:ecd:r:1:desktop/ecd-2",
            false,
        );
        check("*a*b*", false, "ba", false);
        check("*a*b*", false, "bab", true);
        check("*aa*aa*", false, "aaa", false);
        check("*aa*aa*", false, "aaaa", true);
        check("ab*ba", false, "aba", false);
        check("ab*ba", false, "abba", true);
        check("*:*tag*", true, "ecd:ListTagResources", true);
        check("*:*tag*", true, "ecd:ListTaResources", false);
        check("*名*", false, "我的名字", true);
        check("a*", false, "b", false);
    }

    /// Every string up to `max` long over `alphabet`.
    fn all_strings(alphabet: &[char], max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn every_shape_agrees_with_the_plain_glob() {
        let texts = all_strings(&['a', 'b', 'A'], 5);
        for pattern in all_strings(&['a', 'b', '*', '?'], 5) {
            for ignore_case in [false, true] {
                let compiled = Pattern::new(&pattern, ignore_case);
                for text in &texts {
                    let plain = super::glob_match(pattern.as_bytes(), text.as_bytes(), ignore_case);
                    assert_eq!(
                        compiled.matches(text),
                        plain,
                        "{pattern:?} against {text:?}, ignore_case {ignore_case}"
                    );
                }
            }
        }
    }

    #[test]
    fn many_stars_against_a_long_near_miss_stay_fast() {
        let text = "a".repeat(10_000);
        let started = std::time::Instant::now();
        check("a*a*a*a*a*a*a*a*b", false, &text, false);
        check("*a*a*a*a*a*a*a*a", false, &text, true);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
