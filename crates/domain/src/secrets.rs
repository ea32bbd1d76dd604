//! Enrolment tokens, runtime credentials and gateway keys: `<id>.<secret>`, where the id finds
//! the stored row and only a SHA-256 of the secret is stored (the secrets are 256 random bits: a
//! slow hash would add nothing but cost on every call).

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of enrolment token ids.
pub const ENROLMENT_PREFIX: &str = "et";
/// Prefix of runtime credential ids.
pub const CREDENTIAL_PREFIX: &str = "nc";
/// Prefix of model gateway keys.
pub const GATEWAY_KEY_PREFIX: &str = "gk";

/// A freshly made token or credential: the text handed out once, its id and the hash stored.
pub struct Issued {
    pub id: String,
    pub text: String,
    pub secret_hash: String,
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new `<prefix>-<17 alphanumerics>.<64 hex digits>`.
pub fn issue(prefix: &str, rng: &mut impl RngCore) -> Issued {
    let id = crate::ids::resource_id(prefix, rng);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    Issued {
        text: format!("{id}.{secret}"),
        secret_hash: hash(&secret),
        id,
    }
}

/// Splits `<id>.<secret>` when `id` has `prefix` and the secret is 64 hex digits; `None` for
/// anything else (junk never reaches the store).
pub fn split<'a>(text: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let (id, secret) = text.split_once('.')?;
    let well_formed = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    (crate::ids::looks_like(prefix, id) && well_formed).then_some((id, secret))
}

/// Whether `secret` hashes to `stored`, in time independent of where they differ.
pub fn matches(secret: &str, stored: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_texts_split_and_match_only_themselves() {
        let issued = issue(CREDENTIAL_PREFIX, &mut rand::rngs::OsRng);
        let (id, secret) = split(&issued.text, CREDENTIAL_PREFIX).expect("splits");
        assert_eq!(id, issued.id);
        assert!(matches(secret, &issued.secret_hash));
        assert!(!matches("0", &issued.secret_hash));
        // A token is not a credential.
        assert!(split(&issued.text, ENROLMENT_PREFIX).is_none());
        assert!(split("nc-short.x", CREDENTIAL_PREFIX).is_none());
        assert!(split("garbage", CREDENTIAL_PREFIX).is_none());
    }
}
