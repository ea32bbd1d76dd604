//! Identifiers in the cloud's formats (`ecd-…`, `jvs-…`, 16-digit account ids, `LTAI…` access keys).

use rand::Rng;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const MIXED_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(rng: &mut impl Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A resource id such as `ecd-gx2x1dhsmucyy8ab`: the prefix, a dash and 17 lower-case alphanumerics.
pub fn resource_id(prefix: &str, rng: &mut impl Rng) -> String {
    format!("{prefix}-{}", random_from(rng, LOWER_ALNUM, 17))
}

/// A 16-digit account (tenant) id that never starts with 0.
pub fn account_id(rng: &mut impl Rng) -> String {
    numeric_id(16, rng)
}

/// A number of `len` digits that never starts with 0, as the cloud's account, RAM user
/// (16 digits) and role (19 digits) ids are.
pub fn numeric_id(len: usize, rng: &mut impl Rng) -> String {
    (0..len)
        .map(|i| {
            let low = if i == 0 { 1 } else { 0 };
            char::from(b'0' + rng.gen_range(low..=9u8))
        })
        .collect()
}

/// An access key id in the cloud's shape: `LTAI` and 20 alphanumerics.
pub fn access_key_id(rng: &mut impl Rng) -> String {
    format!("LTAI{}", random_from(rng, MIXED_ALNUM, 20))
}

/// An access key secret: 30 alphanumerics (~178 bits).
pub fn access_key_secret(rng: &mut impl Rng) -> String {
    random_from(rng, MIXED_ALNUM, 30)
}

/// Whether `value` could be an id with this prefix (guards lookups against junk).
pub fn looks_like(prefix: &str, value: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| {
            !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ids_have_the_cloud_shapes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let id = resource_id("ecd", &mut rng);
        assert_eq!(id.len(), 21);
        assert!(looks_like("ecd", &id));
        assert!(!looks_like("jvs", &id));
        let account = account_id(&mut rng);
        assert_eq!(account.len(), 16);
        assert!(account.bytes().all(|b| b.is_ascii_digit()) && !account.starts_with('0'));
        assert!(access_key_id(&mut rng).starts_with("LTAI"));
        assert_eq!(access_key_secret(&mut rng).len(), 30);
    }
}
