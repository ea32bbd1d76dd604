//! Resource groups (`rg-…`): the rules for their unique name, display name and tags, as the
//! resourcemanager 2020-03-31 API documents them.

/// Why a field was refused; the caller names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupFieldError {
    #[error("must be 2 to 50 characters: letters, digits and hyphens, starting with a letter")]
    Name,
    #[error("must be 1 to 50 characters")]
    DisplayName,
    #[error(
        "must be 1 to 128 characters, not start with aliyun or acs:, nor contain http:// or https://"
    )]
    TagKey,
    #[error(
        "must be at most 128 characters, not start with aliyun or acs:, nor contain http:// or https://"
    )]
    TagValue,
}

/// The unique identifier of a group within its tenant.
pub fn validate_name(name: &str) -> Result<(), GroupFieldError> {
    let ok = (2..=50).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(()).ok_or(GroupFieldError::Name)
}

pub fn validate_display_name(display_name: &str) -> Result<(), GroupFieldError> {
    let len = display_name.chars().count();
    ((1..=50).contains(&len) && !display_name.trim().is_empty())
        .then_some(())
        .ok_or(GroupFieldError::DisplayName)
}

fn reserved(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("aliyun")
        || lower.starts_with("acs:")
        || lower.contains("http://")
        || lower.contains("https://")
}

pub fn validate_tag(key: &str, value: &str) -> Result<(), GroupFieldError> {
    if key.is_empty() || key.chars().count() > 128 || reserved(key) {
        return Err(GroupFieldError::TagKey);
    }
    if value.chars().count() > 128 || reserved(value) {
        return Err(GroupFieldError::TagValue);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for ok in ["ab", "fleet-1", "A-b-C-9", &"x".repeat(50)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1abc",
            "-abc",
            "ab_c",
            "ab c",
            "äb",
            &"x".repeat(51),
        ] {
            assert_eq!(validate_name(bad), Err(GroupFieldError::Name), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(validate_display_name("研发组 1"), Ok(()));
        assert_eq!(validate_display_name(&"é".repeat(50)), Ok(()));
        assert!(validate_display_name("").is_err());
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name(&"é".repeat(51)).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(validate_tag("env", ""), Ok(()));
        assert_eq!(validate_tag("", "x"), Err(GroupFieldError::TagKey));
        assert_eq!(validate_tag("aliyun:x", "x"), Err(GroupFieldError::TagKey));
        assert_eq!(validate_tag("k", "acs:x"), Err(GroupFieldError::TagValue));
        assert_eq!(
            validate_tag("k", "see https://x"),
            Err(GroupFieldError::TagValue)
        );
    }

    proptest! {
        #[test]
        fn accepted_names_are_ascii_identifiers(name in ".{0,60}") {
            if validate_name(&name).is_ok() {
                prop_assert!(name.is_ascii() && (2..=50).contains(&name.len()));
            }
        }
    }
}
