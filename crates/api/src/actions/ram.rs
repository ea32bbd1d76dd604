//! RAM (ram 2015-05-01): the account's users and their access keys, custom policies and their
//! versions, the system policies every account has, roles with their trust policies, and which
//! policies are attached to whom. What a policy allows is decided in `authorize`.

use domain::ids;
use pop::{ApiError, Text};
use ram::Policy;
use serde::{Deserialize, Serialize};
use store::Secret;
use store::ram::{
    Attachment, CustomPolicy, Grantee, KeyInfo, KeyOwner, MAX_KEYS_PER_USER, MAX_POLICY_VERSIONS,
    PolicyKind, PolicyVersion, RamRole, RamUser, Refusal, UserUpdate,
};
use store::tenants::KeyPrincipal;

use super::Action;
use super::common::{Empty, non_empty, utc_seconds};
use crate::Ctx;
use crate::errors::{self, store_failure};

type UserName = Text<0, 64>;
type PolicyName = Text<0, 128>;
type RoleName = Text<0, 64>;
type Document = Text<0, 6144>;
type Comments = Text<0, 128>;
type DisplayName = Text<0, 128>;
type Description = Text<0, 1024>;
type Contact = Text<0, 128>;
type Marker = Text<0, 512>;
type Word = Text<0, 64>;

/// When the system policies were "created", as their listings show it.
const SYSTEM_POLICY_DATE: &str = "2026-01-01T00:00:00Z";
/// Default and greatest role session length, seconds.
pub(crate) const DEFAULT_SESSION_SECONDS: i64 = 3600;
pub(crate) const MAX_SESSION_SECONDS: i64 = 43_200;

// ---------------------------------------------------------------------------------------------
// Validation

/// A required name of at most `max` characters from `[A-Za-z0-9]` and `extra`.
fn name<'a>(param: &str, value: &'a str, max: usize, extra: &str) -> Result<&'a str, ApiError> {
    if value.is_empty() {
        return Err(ApiError::missing_parameter(param));
    }
    if value.chars().count() > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(ApiError::invalid_parameter(
            param,
            format!("at most {max} characters of A-Z, a-z, 0-9 and {extra:?}"),
        ));
    }
    Ok(value)
}

fn user_name<'a>(param: &str, value: &'a str) -> Result<&'a str, ApiError> {
    name(param, value, 64, "._-")
}

fn policy_name(value: &str) -> Result<&str, ApiError> {
    name("PolicyName", value, 128, "-")
}

pub(crate) fn role_name<'a>(param: &str, value: &'a str) -> Result<&'a str, ApiError> {
    name(param, value, 64, ".-")
}

fn policy_kind(value: Option<&str>) -> Result<PolicyKind, ApiError> {
    match value.unwrap_or("") {
        "System" => Ok(PolicyKind::System),
        "Custom" => Ok(PolicyKind::Custom),
        "" => Err(ApiError::missing_parameter("PolicyType")),
        _ => Err(ApiError::invalid_parameter(
            "PolicyType",
            "must be System or Custom",
        )),
    }
}

/// An identity policy document, checked as the evaluator will read it.
pub(crate) fn identity_document(param: &str, document: &str) -> Result<Policy, ApiError> {
    if document.is_empty() {
        return Err(ApiError::missing_parameter(param));
    }
    Policy::parse(document).map_err(|e| errors::MALFORMED_POLICY.error(&[&e]))
}

/// `MaxItems` (1 to 1000, 100 by default) and the name after which a page starts.
fn listing(
    max_items: Option<i64>,
    marker: Option<&Marker>,
) -> Result<(i64, Option<String>), ApiError> {
    let limit = max_items.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_parameter("MaxItems", "must be 1 to 1000"));
    }
    let after = match marker.filter(|m| !m.is_empty()) {
        None => None,
        Some(marker) => Some(
            hex::decode(marker.as_str())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    ApiError::invalid_parameter("Marker", "not a marker this server issued")
                })?,
        ),
    };
    Ok((limit, after))
}

/// `IsTruncated` and `Marker` of a page read with one row more than `limit`.
fn truncate<T>(
    rows: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> (bool, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        (true, rows.last().map(|row| hex::encode(key(row))))
    } else {
        (false, None)
    }
}

/// Who the key actions act on: the user named, or the caller's own identity.
fn key_owner<'a>(ctx: &'a Ctx, user: &'a Option<UserName>) -> Result<KeyOwner<'a>, ApiError> {
    match user.as_ref().filter(|u| !u.is_empty()) {
        Some(name) => Ok(KeyOwner::User(user_name("UserName", name)?)),
        None => match &ctx.caller.principal {
            KeyPrincipal::Root => Ok(KeyOwner::Root),
            KeyPrincipal::User { name } => Ok(KeyOwner::User(name)),
            KeyPrincipal::Session(_) => Err(ApiError::missing_parameter("UserName")),
        },
    }
}

/// The cloud's error for a refusal of a key action: the key when it is the key that is not
/// there, else its owner.
fn key_refused(refusal: Refusal, owner: KeyOwner<'_>, key_id: &str) -> ApiError {
    let subject = match (refusal, owner) {
        (Refusal::NoSuchKey, _) => key_id,
        (_, KeyOwner::Root) => "root",
        (_, KeyOwner::User(name)) => name,
    };
    refused(refusal, subject)
}

/// The cloud's error for a refusal, naming what it concerns.
fn refused(refusal: Refusal, subject: &str) -> ApiError {
    match refusal {
        Refusal::UserExists => errors::USER_EXISTS.error(&[&subject]),
        Refusal::NoSuchUser => errors::USER_NOT_FOUND.error(&[&subject]),
        Refusal::NoSuchKey => errors::ACCESS_KEY_OF_USER_NOT_FOUND.error(&[&subject]),
        Refusal::KeyLimit => errors::ACCESS_KEY_LIMIT.error(&[&MAX_KEYS_PER_USER]),
        Refusal::UserHasKeys => errors::USER_HAS_KEYS.error(&[&subject]),
        Refusal::UserHasPolicies => errors::USER_HAS_POLICIES.error(&[&subject]),
        Refusal::PolicyExists => errors::POLICY_EXISTS.error(&[&subject]),
        Refusal::NoSuchPolicy => errors::POLICY_NOT_FOUND.error(&[&subject, &"Custom"]),
        Refusal::PolicyAttached => errors::POLICY_IN_USE.error(&[&subject]),
        Refusal::PolicyHasVersions => errors::POLICY_HAS_VERSIONS.error(&[&subject]),
        Refusal::VersionLimit => {
            errors::POLICY_VERSION_LIMIT.error(&[&subject, &MAX_POLICY_VERSIONS])
        }
        Refusal::NoSuchVersion => errors::POLICY_VERSION_NOT_FOUND.error(&[&subject, &"?"]),
        Refusal::DefaultVersion => errors::DEFAULT_VERSION_IN_USE.error(&[&subject]),
        // Attachment refusals are answered where the grantee is known.
        Refusal::AlreadyAttached | Refusal::NotAttached => errors::INTERNAL_ERROR.error(&[]),
        Refusal::RoleExists => errors::ROLE_EXISTS.error(&[&subject]),
        Refusal::NoSuchRole => errors::ROLE_NOT_FOUND.error(&[&subject]),
        Refusal::RoleHasPolicies => errors::ROLE_HAS_POLICIES.error(&[&subject]),
    }
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserView {
    pub user_id: String,
    pub user_name: String,
    pub display_name: String,
    pub comments: String,
    pub email: String,
    pub mobile_phone: String,
    pub create_date: String,
    pub update_date: String,
}

fn user_view(user: RamUser) -> UserView {
    UserView {
        user_id: user.id,
        user_name: user.name,
        display_name: user.display_name,
        comments: user.comments,
        email: user.email,
        mobile_phone: user.mobile_phone,
        create_date: utc_seconds(user.created_at),
        update_date: utc_seconds(user.updated_at),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserResponse {
    pub user: UserView,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUser {
    pub user_name: Option<UserName>,
    pub display_name: Option<DisplayName>,
    pub comments: Option<Comments>,
    pub email: Option<Contact>,
    pub mobile_phone: Option<Contact>,
}

impl Action for CreateUser {
    type Response = UserResponse;

    async fn handle(self, ctx: &Ctx) -> Result<UserResponse, ApiError> {
        let name = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        let user = RamUser {
            id: ids::numeric_id(16, &mut rand::rngs::OsRng),
            name: name.to_string(),
            display_name: non_empty(self.display_name).unwrap_or_else(|| name.to_string()),
            comments: non_empty(self.comments).unwrap_or_default(),
            email: non_empty(self.email).unwrap_or_default(),
            mobile_phone: non_empty(self.mobile_phone).unwrap_or_default(),
            created_at: ctx.now_ms,
            updated_at: ctx.now_ms,
        };
        let created = ctx
            .state
            .store
            .create_ram_user(&ctx.tenant_id, &user)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(UserResponse {
            user: user_view(created),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUser {
    pub user_name: Option<UserName>,
}

impl Action for GetUser {
    type Response = UserResponse;

    async fn handle(self, ctx: &Ctx) -> Result<UserResponse, ApiError> {
        let name = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        let user = ctx
            .state
            .store
            .ram_user(&ctx.tenant_id, name)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| errors::USER_NOT_FOUND.error(&[&name]))?;
        Ok(UserResponse {
            user: user_view(user),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUser {
    pub user_name: Option<UserName>,
    pub new_user_name: Option<UserName>,
    pub new_display_name: Option<DisplayName>,
    pub new_comments: Option<Comments>,
    pub new_email: Option<Contact>,
    pub new_mobile_phone: Option<Contact>,
}

impl Action for UpdateUser {
    type Response = UserResponse;

    async fn handle(self, ctx: &Ctx) -> Result<UserResponse, ApiError> {
        let name = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        let new_name = match non_empty(self.new_user_name) {
            Some(new_name) => Some(user_name("NewUserName", &new_name)?.to_string()),
            None => None,
        };
        let update = UserUpdate {
            name: new_name.clone(),
            display_name: non_empty(self.new_display_name),
            comments: self.new_comments.map(Into::into),
            email: self.new_email.map(Into::into),
            mobile_phone: self.new_mobile_phone.map(Into::into),
        };
        let user = ctx
            .state
            .store
            .update_ram_user(&ctx.tenant_id, name, &update, ctx.now_ms)
            .await
            .map_err(store_failure)?
            .map_err(|r| match r {
                Refusal::UserExists => refused(r, new_name.as_deref().unwrap_or(name)),
                other => refused(other, name),
            })?;
        Ok(UserResponse {
            user: user_view(user),
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Users {
    pub user: Vec<UserView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersResponse {
    pub users: Users,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsers {
    pub marker: Option<Marker>,
    pub max_items: Option<i64>,
}

impl Action for ListUsers {
    type Response = ListUsersResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListUsersResponse, ApiError> {
        let (limit, after) = listing(self.max_items, self.marker.as_ref())?;
        let mut users = ctx
            .state
            .store
            .ram_users(&ctx.tenant_id, after.as_deref(), limit + 1)
            .await
            .map_err(store_failure)?;
        let (is_truncated, marker) = truncate(&mut users, limit, |u| u.name.clone());
        Ok(ListUsersResponse {
            users: Users {
                user: users.into_iter().map(user_view).collect(),
            },
            is_truncated,
            marker,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteUser {
    pub user_name: Option<UserName>,
}

impl Action for DeleteUser {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let name = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        ctx.state
            .store
            .delete_ram_user(&ctx.tenant_id, name)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// Access keys

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewKeyView {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub status: &'static str,
    pub create_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyResponse {
    pub access_key: NewKeyView,
}

fn status_text(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKey {
    pub user_name: Option<UserName>,
}

impl Action for CreateAccessKey {
    type Response = CreateAccessKeyResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreateAccessKeyResponse, ApiError> {
        let owner = key_owner(ctx, &self.user_name)?;
        let mut rng = rand::rngs::OsRng;
        let id = ids::access_key_id(&mut rng);
        let secret = Secret::new(ids::access_key_secret(&mut rng));
        let key: KeyInfo = ctx
            .state
            .store
            .create_owned_key(&ctx.tenant_id, owner, &id, &secret, ctx.now_ms)
            .await
            .map_err(store_failure)?
            .map_err(|r| key_refused(r, owner, &id))?;
        Ok(CreateAccessKeyResponse {
            access_key: NewKeyView {
                access_key_id: key.id,
                access_key_secret: secret.expose().to_string(),
                status: status_text(key.active),
                create_date: utc_seconds(key.created_at),
            },
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyView {
    pub access_key_id: String,
    pub status: &'static str,
    pub create_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyList {
    pub access_key: Vec<KeyView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysResponse {
    pub access_keys: KeyList,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeys {
    pub user_name: Option<UserName>,
}

impl Action for ListAccessKeys {
    type Response = ListAccessKeysResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListAccessKeysResponse, ApiError> {
        let owner = key_owner(ctx, &self.user_name)?;
        let keys = ctx
            .state
            .store
            .owned_keys(&ctx.tenant_id, owner)
            .await
            .map_err(store_failure)?
            .map_err(|r| key_refused(r, owner, ""))?;
        Ok(ListAccessKeysResponse {
            access_keys: KeyList {
                access_key: keys
                    .into_iter()
                    .map(|key| KeyView {
                        access_key_id: key.id,
                        status: status_text(key.active),
                        create_date: utc_seconds(key.created_at),
                    })
                    .collect(),
            },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccessKey {
    pub user_name: Option<UserName>,
    pub user_access_key_id: Option<Word>,
    pub status: Option<Word>,
}

impl Action for UpdateAccessKey {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let owner = key_owner(ctx, &self.user_name)?;
        let key_id = non_empty(self.user_access_key_id)
            .ok_or_else(|| ApiError::missing_parameter("UserAccessKeyId"))?;
        let active = match self.status.as_deref() {
            Some("Active") => true,
            Some("Inactive") => false,
            None | Some("") => return Err(ApiError::missing_parameter("Status")),
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "Status",
                    "must be Active or Inactive",
                ));
            }
        };
        ctx.state
            .store
            .set_owned_key_status(&ctx.tenant_id, owner, &key_id, active)
            .await
            .map_err(store_failure)?
            .map_err(|r| key_refused(r, owner, &key_id))?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAccessKey {
    pub user_name: Option<UserName>,
    pub user_access_key_id: Option<Word>,
}

impl Action for DeleteAccessKey {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let owner = key_owner(ctx, &self.user_name)?;
        let key_id = non_empty(self.user_access_key_id)
            .ok_or_else(|| ApiError::missing_parameter("UserAccessKeyId"))?;
        ctx.state
            .store
            .delete_owned_key(&ctx.tenant_id, owner, &key_id)
            .await
            .map_err(store_failure)?
            .map_err(|r| key_refused(r, owner, &key_id))?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// Policies

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyView {
    pub policy_name: String,
    pub policy_type: &'static str,
    pub description: String,
    pub default_version: String,
    pub create_date: String,
    pub update_date: String,
    pub attachment_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
}

fn custom_view(policy: CustomPolicy, document: Option<String>) -> PolicyView {
    PolicyView {
        policy_name: policy.name,
        policy_type: PolicyKind::Custom.as_str(),
        description: policy.description,
        default_version: policy.default_version,
        create_date: utc_seconds(policy.created_at),
        update_date: utc_seconds(policy.updated_at),
        attachment_count: policy.attachment_count,
        policy_document: document,
    }
}

fn system_view(
    policy: &ram::system::SystemPolicy,
    attachment_count: i64,
    with_document: bool,
) -> PolicyView {
    PolicyView {
        policy_name: policy.name.to_string(),
        policy_type: PolicyKind::System.as_str(),
        description: policy.description.to_string(),
        default_version: "v1".into(),
        create_date: SYSTEM_POLICY_DATE.into(),
        update_date: SYSTEM_POLICY_DATE.into(),
        attachment_count,
        policy_document: with_document.then(|| policy.document.clone()),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionView {
    pub version_id: String,
    pub is_default_version: bool,
    pub policy_document: String,
    pub create_date: String,
}

fn version_view(version: PolicyVersion) -> VersionView {
    VersionView {
        version_id: version.version_id,
        is_default_version: version.is_default,
        policy_document: version.document,
        create_date: utc_seconds(version.created_at),
    }
}

fn system_version(policy: &ram::system::SystemPolicy) -> VersionView {
    VersionView {
        version_id: "v1".into(),
        is_default_version: true,
        policy_document: policy.document.clone(),
        create_date: SYSTEM_POLICY_DATE.into(),
    }
}

fn system_policy(name: &str) -> Result<&'static ram::system::SystemPolicy, ApiError> {
    ram::system::system_policy(name)
        .ok_or_else(|| errors::POLICY_NOT_FOUND.error(&[&name, &"System"]))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyResponse {
    pub policy: PolicyView,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicy {
    pub policy_name: Option<PolicyName>,
    pub policy_document: Option<Document>,
    pub description: Option<Description>,
}

impl Action for CreatePolicy {
    type Response = CreatePolicyResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreatePolicyResponse, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let document = self.policy_document.as_deref().unwrap_or("");
        identity_document("PolicyDocument", document)?;
        if ram::system::system_policy(name).is_some() {
            return Err(errors::POLICY_EXISTS.error(&[&name]));
        }
        let description = non_empty(self.description).unwrap_or_default();
        let policy = ctx
            .state
            .store
            .create_custom_policy(&ctx.tenant_id, name, &description, document, ctx.now_ms)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(CreatePolicyResponse {
            policy: custom_view(policy, None),
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyResponse {
    pub policy: PolicyView,
    pub default_policy_version: VersionView,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicy {
    pub policy_name: Option<PolicyName>,
    pub policy_type: Option<Word>,
}

impl Action for GetPolicy {
    type Response = GetPolicyResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GetPolicyResponse, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let store = &ctx.state.store;
        match policy_kind(self.policy_type.as_deref())? {
            PolicyKind::System => {
                let policy = system_policy(name)?;
                let count = store
                    .system_policy_attachments(&ctx.tenant_id)
                    .await
                    .map_err(store_failure)?
                    .get(name)
                    .copied()
                    .unwrap_or(0);
                Ok(GetPolicyResponse {
                    policy: system_view(policy, count, true),
                    default_policy_version: system_version(policy),
                })
            }
            PolicyKind::Custom => {
                let policy = store
                    .custom_policy(&ctx.tenant_id, name)
                    .await
                    .map_err(store_failure)?
                    .ok_or_else(|| errors::POLICY_NOT_FOUND.error(&[&name, &"Custom"]))?;
                let default = store
                    .policy_versions(&ctx.tenant_id, name)
                    .await
                    .map_err(store_failure)?
                    .map_err(|r| refused(r, name))?
                    .into_iter()
                    .find(|v| v.is_default)
                    .ok_or_else(|| {
                        errors::internal("a custom policy without its default version")
                    })?;
                Ok(GetPolicyResponse {
                    policy: custom_view(policy, Some(default.document.clone())),
                    default_policy_version: version_view(default),
                })
            }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyList {
    pub policy: Vec<PolicyView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesResponse {
    pub policies: PolicyList,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicies {
    pub policy_type: Option<Word>,
    pub marker: Option<Marker>,
    pub max_items: Option<i64>,
}

impl Action for ListPolicies {
    type Response = ListPoliciesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListPoliciesResponse, ApiError> {
        let kinds: &[PolicyKind] = match self.policy_type.as_deref().unwrap_or("") {
            "" => &[PolicyKind::System, PolicyKind::Custom],
            other => match policy_kind(Some(other))? {
                PolicyKind::System => &[PolicyKind::System],
                PolicyKind::Custom => &[PolicyKind::Custom],
            },
        };
        // The marker is the (type, name) of the last row shown: system policies come first.
        let (limit, after) = listing(self.max_items, self.marker.as_ref())?;
        let (after_kind, after_name) = match after.as_deref().and_then(|a| a.split_once(':')) {
            Some(("System", name)) => (Some(PolicyKind::System), name.to_string()),
            Some(("Custom", name)) => (Some(PolicyKind::Custom), name.to_string()),
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "Marker",
                    "not a marker this server issued",
                ));
            }
            None => (None, String::new()),
        };
        let mut rows: Vec<PolicyView> = Vec::new();
        if kinds.contains(&PolicyKind::System) && after_kind != Some(PolicyKind::Custom) {
            let mut system: Vec<&ram::system::SystemPolicy> =
                ram::system::system_policies().iter().collect();
            system.sort_by_key(|p| p.name);
            let counts = ctx
                .state
                .store
                .system_policy_attachments(&ctx.tenant_id)
                .await
                .map_err(store_failure)?;
            for policy in system
                .into_iter()
                .filter(|p| after_kind.is_none() || p.name > after_name.as_str())
            {
                let count = counts.get(policy.name).copied().unwrap_or(0);
                rows.push(system_view(policy, count, false));
            }
        }
        if kinds.contains(&PolicyKind::Custom) {
            let after = (after_kind == Some(PolicyKind::Custom)).then_some(after_name.as_str());
            let custom = ctx
                .state
                .store
                .custom_policies(&ctx.tenant_id, None, after, limit + 1)
                .await
                .map_err(store_failure)?;
            rows.extend(custom.into_iter().map(|p| custom_view(p, None)));
        }
        let (is_truncated, marker) = truncate(&mut rows, limit, |p| {
            format!("{}:{}", p.policy_type, p.policy_name)
        });
        Ok(ListPoliciesResponse {
            policies: PolicyList { policy: rows },
            is_truncated,
            marker,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletePolicy {
    pub policy_name: Option<PolicyName>,
    pub cascading_delete: Option<bool>,
}

impl Action for DeletePolicy {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        if ram::system::system_policy(name).is_some() {
            return Err(errors::SYSTEM_POLICY_READ_ONLY.error(&[&name]));
        }
        ctx.state
            .store
            .delete_custom_policy(&ctx.tenant_id, name, self.cascading_delete.unwrap_or(false))
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(Empty {})
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionResponse {
    pub policy_version: VersionView,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyVersion {
    pub policy_name: Option<PolicyName>,
    pub policy_document: Option<Document>,
    pub set_as_default: Option<bool>,
    pub rotate_strategy: Option<Word>,
}

impl Action for CreatePolicyVersion {
    type Response = PolicyVersionResponse;

    async fn handle(self, ctx: &Ctx) -> Result<PolicyVersionResponse, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        if ram::system::system_policy(name).is_some() {
            return Err(errors::SYSTEM_POLICY_READ_ONLY.error(&[&name]));
        }
        let document = self.policy_document.as_deref().unwrap_or("");
        identity_document("PolicyDocument", document)?;
        let rotate = match self.rotate_strategy.as_deref().unwrap_or("") {
            "" | "None" => false,
            "DeleteOldestNonDefaultVersionWhenLimitExceeded" => true,
            _ => {
                return Err(ApiError::invalid_parameter(
                    "RotateStrategy",
                    "must be None or DeleteOldestNonDefaultVersionWhenLimitExceeded",
                ));
            }
        };
        let version = ctx
            .state
            .store
            .create_policy_version(
                &ctx.tenant_id,
                name,
                document,
                self.set_as_default.unwrap_or(false),
                rotate,
                ctx.now_ms,
            )
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(PolicyVersionResponse {
            policy_version: version_view(version),
        })
    }
}

/// A version of a custom or system policy.
async fn versions_of(
    ctx: &Ctx,
    name: &str,
    kind: PolicyKind,
) -> Result<Vec<VersionView>, ApiError> {
    match kind {
        PolicyKind::System => Ok(vec![system_version(system_policy(name)?)]),
        PolicyKind::Custom => Ok(ctx
            .state
            .store
            .policy_versions(&ctx.tenant_id, name)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?
            .into_iter()
            .map(version_view)
            .collect()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyVersion {
    pub policy_name: Option<PolicyName>,
    pub policy_type: Option<Word>,
    pub version_id: Option<Word>,
}

impl Action for GetPolicyVersion {
    type Response = PolicyVersionResponse;

    async fn handle(self, ctx: &Ctx) -> Result<PolicyVersionResponse, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let kind = policy_kind(self.policy_type.as_deref())?;
        let version_id =
            non_empty(self.version_id).ok_or_else(|| ApiError::missing_parameter("VersionId"))?;
        let version = versions_of(ctx, name, kind)
            .await?
            .into_iter()
            .find(|v| v.version_id == version_id)
            .ok_or_else(|| errors::POLICY_VERSION_NOT_FOUND.error(&[&name, &version_id]))?;
        Ok(PolicyVersionResponse {
            policy_version: version,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionList {
    pub policy_version: Vec<VersionView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsResponse {
    pub policy_versions: VersionList,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersions {
    pub policy_name: Option<PolicyName>,
    pub policy_type: Option<Word>,
}

impl Action for ListPolicyVersions {
    type Response = ListPolicyVersionsResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListPolicyVersionsResponse, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let kind = policy_kind(self.policy_type.as_deref())?;
        Ok(ListPolicyVersionsResponse {
            policy_versions: VersionList {
                policy_version: versions_of(ctx, name, kind).await?,
            },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletePolicyVersion {
    pub policy_name: Option<PolicyName>,
    pub version_id: Option<Word>,
}

impl Action for DeletePolicyVersion {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let version_id =
            non_empty(self.version_id).ok_or_else(|| ApiError::missing_parameter("VersionId"))?;
        ctx.state
            .store
            .delete_policy_version(&ctx.tenant_id, name, &version_id)
            .await
            .map_err(store_failure)?
            .map_err(|r| version_refused(r, name, &version_id))?;
        Ok(Empty {})
    }
}

fn version_refused(refusal: Refusal, name: &str, version_id: &str) -> ApiError {
    match refusal {
        Refusal::NoSuchVersion => errors::POLICY_VERSION_NOT_FOUND.error(&[&name, &version_id]),
        Refusal::DefaultVersion => errors::DEFAULT_VERSION_IN_USE.error(&[&version_id]),
        other => refused(other, name),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetDefaultPolicyVersion {
    pub policy_name: Option<PolicyName>,
    pub version_id: Option<Word>,
}

impl Action for SetDefaultPolicyVersion {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let version_id =
            non_empty(self.version_id).ok_or_else(|| ApiError::missing_parameter("VersionId"))?;
        ctx.state
            .store
            .set_default_policy_version(&ctx.tenant_id, name, &version_id, ctx.now_ms)
            .await
            .map_err(store_failure)?
            .map_err(|r| version_refused(r, name, &version_id))?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// Attaches (or detaches) a policy named by type and name to `grantee`.
async fn change_attachment(
    ctx: &Ctx,
    grantee: Grantee<'_>,
    kind: Option<&str>,
    policy: Option<&str>,
    attach: bool,
) -> Result<Empty, ApiError> {
    let kind = policy_kind(kind)?;
    let name = policy_name(policy.unwrap_or(""))?;
    if kind == PolicyKind::System {
        system_policy(name)?;
    }
    let store = &ctx.state.store;
    let done = if attach {
        store
            .attach_policy(&ctx.tenant_id, grantee, kind, name, ctx.now_ms)
            .await
    } else {
        store
            .detach_policy(&ctx.tenant_id, grantee, kind, name)
            .await
    };
    let (who, role) = match grantee {
        Grantee::User(who) => (who, false),
        Grantee::Role(who) => (who, true),
    };
    done.map_err(store_failure)?.map_err(|r| match (r, role) {
        (Refusal::AlreadyAttached, false) => errors::USER_POLICY_EXISTS.error(&[&name, &who]),
        (Refusal::AlreadyAttached, true) => errors::ROLE_POLICY_EXISTS.error(&[&name, &who]),
        (Refusal::NotAttached, false) => errors::USER_POLICY_NOT_FOUND.error(&[&name, &who]),
        (Refusal::NotAttached, true) => errors::ROLE_POLICY_NOT_FOUND.error(&[&name, &who]),
        (Refusal::NoSuchPolicy, _) => errors::POLICY_NOT_FOUND.error(&[&name, &kind.as_str()]),
        (other, _) => refused(other, who),
    })?;
    Ok(Empty {})
}

/// `AttachPolicyToUser` (`ATTACH`) and `DetachPolicyFromUser`: the same request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPolicyChange<const ATTACH: bool> {
    pub policy_type: Option<Word>,
    pub policy_name: Option<PolicyName>,
    pub user_name: Option<UserName>,
}

pub type AttachPolicyToUser = UserPolicyChange<true>;
pub type DetachPolicyFromUser = UserPolicyChange<false>;

impl<const ATTACH: bool> Action for UserPolicyChange<ATTACH> {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let user = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        let (kind, policy) = (self.policy_type.as_deref(), self.policy_name.as_deref());
        change_attachment(ctx, Grantee::User(user), kind, policy, ATTACH).await
    }
}

/// `AttachPolicyToRole` (`ATTACH`) and `DetachPolicyFromRole`: the same request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePolicyChange<const ATTACH: bool> {
    pub policy_type: Option<Word>,
    pub policy_name: Option<PolicyName>,
    pub role_name: Option<RoleName>,
}

pub type AttachPolicyToRole = RolePolicyChange<true>;
pub type DetachPolicyFromRole = RolePolicyChange<false>;

impl<const ATTACH: bool> Action for RolePolicyChange<ATTACH> {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let role = stored_role(ctx, self.role_name.as_deref()).await?;
        let (kind, policy) = (self.policy_type.as_deref(), self.policy_name.as_deref());
        change_attachment(ctx, Grantee::Role(&role.name), kind, policy, ATTACH).await
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedView {
    pub policy_name: String,
    pub policy_type: &'static str,
    pub description: String,
    pub default_version: String,
    pub attach_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedList {
    pub policy: Vec<AttachedView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesForResponse {
    pub policies: AttachedList,
}

fn attached_views(attachments: Vec<Attachment>) -> ListPoliciesForResponse {
    let policy = attachments
        .into_iter()
        .map(|a| {
            let (description, default_version) =
                match (&a.custom, ram::system::system_policy(&a.policy_name)) {
                    (Some(custom), _) => {
                        (custom.description.clone(), custom.default_version.clone())
                    }
                    (None, Some(system)) => (system.description.to_string(), "v1".to_string()),
                    (None, None) => (String::new(), "v1".to_string()),
                };
            AttachedView {
                policy_type: a.policy_kind.as_str(),
                policy_name: a.policy_name,
                description,
                default_version,
                attach_date: utc_seconds(a.attached_at),
            }
        })
        .collect();
    ListPoliciesForResponse {
        policies: AttachedList { policy },
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesForUser {
    pub user_name: Option<UserName>,
}

impl Action for ListPoliciesForUser {
    type Response = ListPoliciesForResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListPoliciesForResponse, ApiError> {
        let user = user_name("UserName", self.user_name.as_deref().unwrap_or(""))?;
        let store = &ctx.state.store;
        if store
            .ram_user(&ctx.tenant_id, user)
            .await
            .map_err(store_failure)?
            .is_none()
        {
            return Err(errors::USER_NOT_FOUND.error(&[&user]));
        }
        let attachments = store
            .attachments(&ctx.tenant_id, Grantee::User(user))
            .await
            .map_err(store_failure)?;
        Ok(attached_views(attachments))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesForRole {
    pub role_name: Option<RoleName>,
}

impl Action for ListPoliciesForRole {
    type Response = ListPoliciesForResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListPoliciesForResponse, ApiError> {
        let role = stored_role(ctx, self.role_name.as_deref()).await?;
        let attachments = ctx
            .state
            .store
            .attachments(&ctx.tenant_id, Grantee::Role(&role.name))
            .await
            .map_err(store_failure)?;
        Ok(attached_views(attachments))
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityUser {
    pub user_name: String,
    pub user_id: String,
    pub display_name: String,
    pub attach_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityRole {
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub description: String,
    pub attach_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityUsers {
    pub user: Vec<EntityUser>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityRoles {
    pub role: Vec<EntityRole>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicyResponse {
    pub users: EntityUsers,
    pub roles: EntityRoles,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEntitiesForPolicy {
    pub policy_type: Option<Word>,
    pub policy_name: Option<PolicyName>,
}

impl Action for ListEntitiesForPolicy {
    type Response = ListEntitiesForPolicyResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListEntitiesForPolicyResponse, ApiError> {
        let kind = policy_kind(self.policy_type.as_deref())?;
        let name = policy_name(self.policy_name.as_deref().unwrap_or(""))?;
        let store = &ctx.state.store;
        match kind {
            PolicyKind::System => {
                system_policy(name)?;
            }
            PolicyKind::Custom => {
                store
                    .custom_policy(&ctx.tenant_id, name)
                    .await
                    .map_err(store_failure)?
                    .ok_or_else(|| errors::POLICY_NOT_FOUND.error(&[&name, &"Custom"]))?;
            }
        }
        let holders = store
            .policy_holders(&ctx.tenant_id, kind, name)
            .await
            .map_err(store_failure)?;
        let mut users = Vec::new();
        let mut roles = Vec::new();
        for holder in holders {
            let attach_date = utc_seconds(holder.attached_at);
            if holder.kind == "User" {
                if let Some(user) = store
                    .ram_user(&ctx.tenant_id, &holder.name)
                    .await
                    .map_err(store_failure)?
                {
                    users.push(EntityUser {
                        user_name: user.name,
                        user_id: user.id,
                        display_name: user.display_name,
                        attach_date,
                    });
                }
            } else if let Some(role) = store
                .ram_role(&ctx.tenant_id, &holder.name)
                .await
                .map_err(store_failure)?
            {
                roles.push(EntityRole {
                    arn: ram::arn::role_arn(&ctx.tenant_id, &role.name),
                    role_name: role.name,
                    role_id: role.id,
                    description: role.description,
                    attach_date,
                });
            }
        }
        Ok(ListEntitiesForPolicyResponse {
            users: EntityUsers { user: users },
            roles: EntityRoles { role: roles },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Roles

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleView {
    pub role_id: String,
    pub role_name: String,
    pub arn: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assume_role_policy_document: Option<String>,
    pub max_session_duration: i64,
    pub create_date: String,
    pub update_date: String,
}

fn role_view(account: &str, role: RamRole, with_trust: bool) -> RoleView {
    RoleView {
        arn: ram::arn::role_arn(account, &role.name),
        role_id: role.id,
        role_name: role.name,
        description: role.description,
        assume_role_policy_document: with_trust.then_some(role.trust_policy),
        max_session_duration: role.max_session_duration,
        create_date: utc_seconds(role.created_at),
        update_date: utc_seconds(role.updated_at),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleResponse {
    pub role: RoleView,
}

/// The role `name` names, or the cloud's not-found error.
async fn stored_role(ctx: &Ctx, name: Option<&str>) -> Result<RamRole, ApiError> {
    let name = role_name("RoleName", name.unwrap_or(""))?;
    ctx.state
        .store
        .ram_role(&ctx.tenant_id, name)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| errors::ROLE_NOT_FOUND.error(&[&name]))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRole {
    pub role_name: Option<RoleName>,
    pub assume_role_policy_document: Option<Document>,
    pub description: Option<Description>,
    pub max_session_duration: Option<i64>,
}

impl Action for CreateRole {
    type Response = RoleResponse;

    async fn handle(self, ctx: &Ctx) -> Result<RoleResponse, ApiError> {
        let name = role_name("RoleName", self.role_name.as_deref().unwrap_or(""))?;
        let trust = self.assume_role_policy_document.as_deref().unwrap_or("");
        if trust.is_empty() {
            return Err(ApiError::missing_parameter("AssumeRolePolicyDocument"));
        }
        ram::TrustPolicy::parse(trust).map_err(|e| errors::MALFORMED_POLICY.error(&[&e]))?;
        let max_session_duration = self.max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS);
        if !(DEFAULT_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&max_session_duration) {
            return Err(ApiError::invalid_parameter(
                "MaxSessionDuration",
                format!("must be {DEFAULT_SESSION_SECONDS} to {MAX_SESSION_SECONDS} seconds"),
            ));
        }
        if ctx
            .state
            .store
            .ram_role(&ctx.tenant_id, name)
            .await
            .map_err(store_failure)?
            .is_some()
        {
            return Err(errors::ROLE_EXISTS.error(&[&name]));
        }
        let role = RamRole {
            id: ids::numeric_id(19, &mut rand::rngs::OsRng),
            name: name.to_string(),
            description: non_empty(self.description).unwrap_or_default(),
            trust_policy: trust.to_string(),
            max_session_duration,
            created_at: ctx.now_ms,
            updated_at: ctx.now_ms,
        };
        let created = ctx
            .state
            .store
            .create_ram_role(&ctx.tenant_id, &role)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(RoleResponse {
            role: role_view(&ctx.tenant_id, created, true),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRole {
    pub role_name: Option<RoleName>,
}

impl Action for GetRole {
    type Response = RoleResponse;

    async fn handle(self, ctx: &Ctx) -> Result<RoleResponse, ApiError> {
        let role = stored_role(ctx, self.role_name.as_deref()).await?;
        Ok(RoleResponse {
            role: role_view(&ctx.tenant_id, role, true),
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleList {
    pub role: Vec<RoleView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesResponse {
    pub roles: RoleList,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoles {
    pub marker: Option<Marker>,
    pub max_items: Option<i64>,
}

impl Action for ListRoles {
    type Response = ListRolesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListRolesResponse, ApiError> {
        let (limit, after) = listing(self.max_items, self.marker.as_ref())?;
        let mut roles = ctx
            .state
            .store
            .ram_roles(&ctx.tenant_id, after.as_deref(), limit + 1)
            .await
            .map_err(store_failure)?;
        let (is_truncated, marker) = truncate(&mut roles, limit, |r| r.name.clone());
        Ok(ListRolesResponse {
            roles: RoleList {
                role: roles
                    .into_iter()
                    .map(|r| role_view(&ctx.tenant_id, r, false))
                    .collect(),
            },
            is_truncated,
            marker,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRole {
    pub role_name: Option<RoleName>,
}

impl Action for DeleteRole {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let name = role_name("RoleName", self.role_name.as_deref().unwrap_or(""))?;
        ctx.state
            .store
            .delete_ram_role(&ctx.tenant_id, name)
            .await
            .map_err(store_failure)?
            .map_err(|r| refused(r, name))?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// DecodeDiagnosticMessage

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthPrincipal {
    pub auth_principal_type: String,
    pub auth_principal_owner_id: String,
    pub auth_principal_display_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecodedMessage {
    pub auth_action: String,
    pub auth_resource: String,
    pub explicit_deny: bool,
    pub no_permission_policy_type: String,
    pub auth_principal: AuthPrincipal,
    pub matched_policies: Vec<crate::diagnosis::MatchedPolicy>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecodeDiagnosticMessageResponse {
    pub decoded_diagnostic_message: DecodedMessage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecodeDiagnosticMessage {
    pub encoded_diagnostic_message: Option<Text<0, 8192>>,
}

impl Action for DecodeDiagnosticMessage {
    type Response = DecodeDiagnosticMessageResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DecodeDiagnosticMessageResponse, ApiError> {
        let encoded = non_empty(self.encoded_diagnostic_message)
            .ok_or_else(|| ApiError::missing_parameter("EncodedDiagnosticMessage"))?;
        let diagnosis =
            crate::diagnosis::decode_diagnosis(ctx.state.store.cipher(), &ctx.tenant_id, &encoded)
                .ok_or_else(|| errors::DIAGNOSTIC_INVALID.error(&[]))?;
        Ok(DecodeDiagnosticMessageResponse {
            decoded_diagnostic_message: DecodedMessage {
                auth_action: diagnosis.auth_action,
                auth_resource: diagnosis.auth_resource,
                explicit_deny: diagnosis.explicit_deny,
                no_permission_policy_type: diagnosis.no_permission_policy_type,
                auth_principal: AuthPrincipal {
                    auth_principal_type: diagnosis.principal_type,
                    auth_principal_owner_id: diagnosis.account,
                    auth_principal_display_name: diagnosis.principal_display_name,
                },
                matched_policies: diagnosis.matched_policies,
            },
        })
    }
}
