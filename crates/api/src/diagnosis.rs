//! The `EncodedDiagnosticMessage` of a refusal: what was refused and which policy refused it,
//! sealed with the store's cipher so that only the account reads it back
//! (`DecodeDiagnosticMessage`).

use serde::{Deserialize, Serialize};
use store::Cipher;

/// Which policy decided a denial, for the diagnostic message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MatchedPolicy {
    pub policy_identifier: String,
    pub policy_type: String,
    pub policy_version: String,
    pub effect: String,
    /// `User`, `Role` or `Session`.
    pub attached_entity_type: String,
}

/// What `EncodedDiagnosticMessage` holds, sealed with the store's cipher so that only the
/// account (through `DecodeDiagnosticMessage`) reads which of its policies refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Diagnosis {
    pub account: String,
    pub auth_action: String,
    pub auth_resource: String,
    pub explicit_deny: bool,
    pub no_permission_policy_type: String,
    pub principal_type: String,
    pub principal_display_name: String,
    pub matched_policies: Vec<MatchedPolicy>,
}

impl Diagnosis {
    /// The sealed text (empty, and so undecodable, should sealing fail).
    pub(crate) fn seal(&self, cipher: &Cipher) -> String {
        serde_json::to_string(self)
            .ok()
            .and_then(|text| cipher.encrypt(&text).ok())
            .unwrap_or_default()
    }
}

/// The diagnosis sealed in an `EncodedDiagnosticMessage`, if `account` may read it.
pub(crate) fn decode_diagnosis(cipher: &Cipher, account: &str, encoded: &str) -> Option<Diagnosis> {
    let text = cipher.decrypt(encoded).ok()?;
    let diagnosis: Diagnosis = serde_json::from_str(text.expose()).ok()?;
    (diagnosis.account == account).then_some(diagnosis)
}
