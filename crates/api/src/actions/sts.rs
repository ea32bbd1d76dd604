//! STS (sts 2015-04-01): `AssumeRole` issues a temporary `STS.` key with a security token and an
//! expiry, acting with the role's policies (narrowed by a session policy when one is given);
//! `GetCallerIdentity` says who a key signs for.

use pop::{ApiError, Text};
use serde::{Deserialize, Serialize};
use store::Secret;
use store::ram::NewSessionKey;
use store::tenants::KeyPrincipal;

use super::Action;
use super::common::{non_empty, random_text, utc_seconds};
use super::ram::{DEFAULT_SESSION_SECONDS, identity_document, role_name};
use crate::Ctx;
use crate::errors::{self, store_failure};
use crate::principal::Principal;

/// The shortest session the cloud issues, seconds.
const MIN_SESSION_SECONDS: i64 = 900;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    pub expiration: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub arn: String,
    pub assumed_role_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResponse {
    pub credentials: Credentials,
    pub assumed_role_user: AssumedRoleUser,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRole {
    pub role_arn: Text<0, 256>,
    pub role_session_name: Text<0, 64>,
    pub duration_seconds: Option<i64>,
    pub policy: Option<Text<0, 2048>>,
    pub external_id: Option<Text<0, 1224>>,
}

fn session_name(value: &str) -> Result<&str, ApiError> {
    if value.is_empty() {
        return Err(ApiError::missing_parameter("RoleSessionName"));
    }
    let valid = (2..=64).contains(&value.chars().count())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if !valid {
        return Err(ApiError::invalid_parameter(
            "RoleSessionName",
            "2 to 64 characters of A-Z, a-z, 0-9 and \"._@-\"",
        ));
    }
    Ok(value)
}

impl Action for AssumeRole {
    type Response = AssumeRoleResponse;

    async fn handle(self, ctx: &Ctx) -> Result<AssumeRoleResponse, ApiError> {
        let arn =
            non_empty(Some(self.role_arn)).ok_or_else(|| ApiError::missing_parameter("RoleArn"))?;
        let (account, name) = ram::arn::parse_role_arn(&arn).ok_or_else(|| {
            ApiError::invalid_parameter("RoleArn", "must be acs:ram::<account>:role/<name>")
        })?;
        let name = role_name("RoleArn", name)?;
        let session = session_name(&self.role_session_name)?.to_string();
        let session_policy = match non_empty(self.policy) {
            Some(document) => {
                identity_document("Policy", &document)?;
                Some(document)
            }
            None => None,
        };
        let store = &ctx.state.store;
        // The role lives in the account its ARN names, which may be another than the caller's:
        // its trust policy says whom it trusts.
        // Another account's roles are not to be probed: one that does not exist is refused as
        // one that does not trust the caller.
        let role = store
            .ram_role(account, name)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                if account == ctx.caller.tenant_id {
                    errors::ROLE_NOT_FOUND.error(&[&name])
                } else {
                    errors::ASSUME_ROLE_REFUSED.error(&[])
                }
            })?;
        let duration = self.duration_seconds.unwrap_or(DEFAULT_SESSION_SECONDS);
        if !(MIN_SESSION_SECONDS..=role.max_session_duration).contains(&duration) {
            return Err(ApiError::invalid_parameter(
                "DurationSeconds",
                format!(
                    "must be {MIN_SESSION_SECONDS} to {} seconds (the role's MaxSessionDuration)",
                    role.max_session_duration
                ),
            ));
        }
        let caller = &ctx.caller;
        let caller_arn = match Principal::of(caller) {
            Some(principal) => principal.arn,
            None => ram::arn::root_arn(&caller.tenant_id),
        };
        let context = ram::Context {
            source_ip: ctx.facts.source_ip,
            secure_transport: ctx.facts.secure_transport,
            current_time: ctx.facts.now,
            mfa_present: false,
            access_id: Some(&caller.id),
            principal_arn: Some(&caller_arn),
        };
        let trusted = ram::TrustPolicy::parse(&role.trust_policy)
            .map(|trust| trust.trusts(&caller_arn, &caller.tenant_id, &context))
            .unwrap_or(false);
        if !trusted {
            return Err(errors::ASSUME_ROLE_REFUSED.error(&[]));
        }

        let key_id = format!("STS.{}", random_text(24));
        let secret = random_text(40);
        let token = format!("CAIS{}", random_text(120));
        let expires_at = ctx.now_ms + duration * 1000;
        store
            .create_session_key(&NewSessionKey {
                id: key_id.clone(),
                tenant_id: account.to_string(),
                secret: Secret::new(secret.clone()),
                role_name: role.name.clone(),
                session_name: session.clone(),
                session_policy,
                token_hash: domain::secrets::hash(&token),
                expires_at,
                created_at: ctx.now_ms,
            })
            .await
            .map_err(store_failure)?
            .map_err(|_| errors::ROLE_NOT_FOUND.error(&[&role.name]))?;
        Ok(AssumeRoleResponse {
            credentials: Credentials {
                access_key_id: key_id,
                access_key_secret: secret,
                security_token: token,
                expiration: utc_seconds(expires_at),
            },
            assumed_role_user: AssumedRoleUser {
                arn: ram::arn::assumed_role_arn(account, &role.name, &session),
                assumed_role_id: format!("{}:{session}", role.id),
            },
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    pub account_id: String,
    pub arn: String,
    pub identity_type: &'static str,
    pub principal_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GetCallerIdentity {}

impl Action for GetCallerIdentity {
    type Response = CallerIdentity;

    async fn handle(self, ctx: &Ctx) -> Result<CallerIdentity, ApiError> {
        let account = ctx.tenant_id.clone();
        let store = &ctx.state.store;
        Ok(match &ctx.caller.principal {
            KeyPrincipal::Root => CallerIdentity {
                arn: ram::arn::root_arn(&account),
                identity_type: "Account",
                principal_id: account.clone(),
                user_id: Some(account.clone()),
                role_id: None,
                account_id: account,
            },
            KeyPrincipal::User { name } => {
                let user_id = store
                    .ram_user(&account, name)
                    .await
                    .map_err(store_failure)?
                    .map(|u| u.id)
                    .unwrap_or_default();
                CallerIdentity {
                    arn: ram::arn::user_arn(&account, name),
                    identity_type: "RAMUser",
                    principal_id: user_id.clone(),
                    user_id: Some(user_id),
                    role_id: None,
                    account_id: account,
                }
            }
            KeyPrincipal::Session(session) => {
                let role_id = store
                    .ram_role(&account, &session.role_name)
                    .await
                    .map_err(store_failure)?
                    .map(|r| r.id)
                    .unwrap_or_default();
                CallerIdentity {
                    arn: ram::arn::assumed_role_arn(
                        &account,
                        &session.role_name,
                        &session.session_name,
                    ),
                    identity_type: "AssumedRoleUser",
                    principal_id: format!("{role_id}:{}", session.session_name),
                    user_id: None,
                    role_id: Some(role_id),
                    account_id: account,
                }
            }
        })
    }
}
