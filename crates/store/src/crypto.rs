//! Secrets at rest: AES-256-GCM under a master key, and a [`Secret`] type that never prints.
//!
//! A ciphertext reads `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`; the key id (8 hex digits of
//! the key's SHA-256) lets a store hold values under an old key while it is being rotated.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key must be 32 bytes, given as 64 hex digits or base64")]
    BadMasterKey,
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was made under key {0}, which this server does not hold")]
    UnknownKey(String),
    #[error("ciphertext failed authentication")]
    Tampered,
    #[error("encryption failed")]
    Encrypt,
}

/// A 256-bit master key. Zeroed on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

impl MasterKey {
    pub fn generate(rng: &mut impl RngCore) -> MasterKey {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// Parses 64 hex digits or standard base64 of 32 bytes (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<MasterKey, CryptoError> {
        let text = text.trim();
        let mut bytes = if text.len() == 64 {
            hex::decode(text).map_err(|_| CryptoError::BadMasterKey)?
        } else {
            BASE64.decode(text).map_err(|_| CryptoError::BadMasterKey)?
        };
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadMasterKey);
        bytes.zeroize();
        key.map(MasterKey)
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// A short public fingerprint of the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..4])
    }
}

/// A secret value in memory: redacted in `Debug`, zeroed on drop, read through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Encrypts under the current key; decrypts under the current or a previous one.
#[derive(Clone)]
pub struct Cipher {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Cipher {
    pub fn new(current: MasterKey) -> Cipher {
        Cipher {
            current,
            previous: Vec::new(),
        }
    }

    /// A cipher that still reads values made under `previous` keys (for rotation).
    pub fn with_previous(current: MasterKey, previous: Vec<MasterKey>) -> Cipher {
        Cipher { current, previous }
    }

    pub fn current_key_id(&self) -> String {
        self.current.id()
    }

    /// Seals `plaintext` under the current key. AES-GCM refuses only absurd lengths, but a
    /// failure must never be stored as if it were a ciphertext.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        let cipher = Aes256Gcm::new((&self.current.0).into());
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| CryptoError::Encrypt)?;
        let mut blob = Vec::with_capacity(12 + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(format!("v1.{}.{}", self.current.id(), BASE64.encode(blob)))
    }

    pub fn decrypt(&self, stored: &str) -> Result<Secret, CryptoError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_string()))?;
        let blob = BASE64.decode(body).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = Aes256Gcm::new((&key.0).into())
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| CryptoError::Malformed)
    }

    /// Whether `stored` was made under the current key (rotation skips those).
    pub fn is_current(&self, stored: &str) -> bool {
        stored.split('.').nth(1) == Some(self.current.id().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn key(seed: u64) -> MasterKey {
        MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
    }

    #[test]
    fn round_trip_hides_the_plaintext() -> Result<(), CryptoError> {
        let cipher = Cipher::new(key(1));
        let stored = cipher.encrypt("sk-planted-secret")?;
        assert!(!stored.contains("sk-planted-secret"));
        assert_eq!(
            cipher.decrypt(&stored).map(|s| s.expose().to_string()).ok(),
            Some("sk-planted-secret".into())
        );
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(***)");
        Ok(())
    }

    #[test]
    fn rotation_reads_old_values_and_refuses_unknown_keys() -> Result<(), CryptoError> {
        let old = Cipher::new(key(1));
        let stored = old.encrypt("value")?;
        let rotated = Cipher::with_previous(key(2), vec![key(1)]);
        assert!(!rotated.is_current(&stored));
        assert_eq!(
            rotated
                .decrypt(&stored)
                .map(|s| s.expose().to_string())
                .ok(),
            Some("value".into())
        );
        assert!(matches!(
            Cipher::new(key(2)).decrypt(&stored),
            Err(CryptoError::UnknownKey(_))
        ));
        Ok(())
    }

    #[test]
    fn tampering_is_detected() -> Result<(), CryptoError> {
        let cipher = Cipher::new(key(3));
        let mut stored = cipher.encrypt("value")?.into_bytes();
        let last = stored.len() - 3;
        stored[last] = if stored[last] == b'A' { b'B' } else { b'A' };
        let stored = String::from_utf8(stored).map_err(|_| CryptoError::Malformed)?;
        assert!(cipher.decrypt(&stored).is_err());
        Ok(())
    }

    #[test]
    fn master_key_text_forms() {
        let k = key(4);
        let parsed = MasterKey::from_text(&k.to_base64()).map(|p| p.id());
        assert_eq!(parsed.ok(), Some(k.id()));
        assert!(MasterKey::from_text("short").is_err());
        assert!(MasterKey::from_text(&"ab".repeat(32)).is_ok());
    }

    proptest! {
        #[test]
        fn decrypt_never_panics(input in ".{0,200}") {
            let _ = Cipher::new(key(5)).decrypt(&input);
        }
    }
}
