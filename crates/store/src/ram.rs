//! RAM identities of a tenant: users and their access keys, roles and the temporary keys issued
//! for them, custom policies with their versions, and the attachments of policies to users and
//! roles. Which policy documents mean what is not this module's business (see the `ram` crate):
//! it keeps text and names.

use std::sync::atomic::Ordering;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Secret, Store, StoreError, transact};

/// Most access keys one user (or the account's root) holds at a time, as in the cloud.
pub const MAX_KEYS_PER_USER: i64 = 2;
/// Most versions one custom policy keeps, as in the cloud.
pub const MAX_POLICY_VERSIONS: i64 = 5;

/// Why a RAM write was refused; the API answers each with the cloud's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UserExists,
    NoSuchUser,
    NoSuchKey,
    KeyLimit,
    UserHasKeys,
    UserHasPolicies,
    PolicyExists,
    NoSuchPolicy,
    PolicyAttached,
    PolicyHasVersions,
    VersionLimit,
    NoSuchVersion,
    DefaultVersion,
    AlreadyAttached,
    NotAttached,
    RoleExists,
    NoSuchRole,
    RoleHasPolicies,
}

/// A RAM result: done, or refused for a reason the caller can fix.
pub type RamResult<T> = Result<Result<T, Refusal>, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamUser {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub comments: String,
    pub email: String,
    pub mobile_phone: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `UpdateUser` changes; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub comments: Option<String>,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
}

/// An access key as `ListAccessKeys` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub active: bool,
    pub created_at: i64,
}

/// Whose keys: the account's root, or one of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner<'a> {
    Root,
    User(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPolicy {
    pub name: String,
    pub description: String,
    pub default_version: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attachment_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub created_at: i64,
    pub is_default: bool,
}

/// `System` policies are amc's own; `Custom` ones are the tenant's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    System,
    Custom,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::System => "System",
            PolicyKind::Custom => "Custom",
        }
    }

    fn parse(text: &str) -> Result<PolicyKind, StoreError> {
        match text {
            "System" => Ok(PolicyKind::System),
            "Custom" => Ok(PolicyKind::Custom),
            other => Err(StoreError::Corrupt(format!("policy type {other}"))),
        }
    }
}

/// Who a policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grantee<'a> {
    User(&'a str),
    Role(&'a str),
}

impl Grantee<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Grantee::User(_) => "User",
            Grantee::Role(_) => "Role",
        }
    }

    fn name(&self) -> &str {
        match self {
            Grantee::User(name) | Grantee::Role(name) => name,
        }
    }
}

/// One policy attached to a user or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub policy_kind: PolicyKind,
    pub policy_name: String,
    pub attached_at: i64,
    /// Of a custom policy: its description and default version (for listings) and that
    /// version's document (for authorisation).
    pub custom: Option<AttachedCustom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedCustom {
    pub description: String,
    pub default_version: String,
    pub document: String,
}

/// Who holds a policy, for `ListEntitiesForPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHolder {
    /// `User` or `Role`.
    pub kind: String,
    pub name: String,
    pub attached_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamRole {
    pub id: String,
    pub name: String,
    pub description: String,
    pub trust_policy: String,
    pub max_session_duration: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A temporary key issued by `AssumeRole`.
#[derive(Debug, Clone)]
pub struct NewSessionKey {
    pub id: String,
    pub tenant_id: String,
    pub secret: Secret,
    pub role_name: String,
    pub session_name: String,
    pub session_policy: Option<String>,
    pub token_hash: String,
    pub expires_at: i64,
    pub created_at: i64,
}

const USER_COLUMNS: &str =
    "id, name, display_name, comments, email, mobile_phone, created_at, updated_at";
const ROLE_COLUMNS: &str =
    "id, name, description, trust_policy, max_session_duration, created_at, updated_at";

fn user_from_row(row: &AnyRow) -> Result<RamUser, StoreError> {
    Ok(RamUser {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        comments: row.try_get("comments")?,
        email: row.try_get("email")?,
        mobile_phone: row.try_get("mobile_phone")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn role_from_row(row: &AnyRow) -> Result<RamRole, StoreError> {
    Ok(RamRole {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        trust_policy: row.try_get("trust_policy")?,
        max_session_duration: row.try_get("max_session_duration")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The `WHERE` of one owner's long-term keys; `$1` is the tenant, `$2` the user name (empty
/// for the root, so that every query binds both).
fn owner_clause(owner: KeyOwner<'_>) -> &'static str {
    match owner {
        KeyOwner::Root => "tenant_id = $1 AND is_root = 1 AND $2 = ''",
        KeyOwner::User(_) => "tenant_id = $1 AND user_name = $2 AND is_root = 0",
    }
}

impl KeyOwner<'_> {
    fn user_name(&self) -> &str {
        match self {
            KeyOwner::Root => "",
            KeyOwner::User(name) => name,
        }
    }
}

impl Store {
    /// A number that changes whenever this process changes a RAM record: cached authorisation
    /// data read while it was `n` is stale once it is not.
    pub fn ram_generation(&self) -> u64 {
        self.ram_changes.load(Ordering::Acquire)
    }

    fn ram_changed(&self) {
        self.ram_changes.fetch_add(1, Ordering::AcqRel);
    }

    // -- users

    pub async fn create_ram_user(&self, tenant_id: &str, user: &RamUser) -> RamResult<RamUser> {
        let done = transact!(self, &[], |tx| {
            let inserted = sqlx::query(&format!(
                "INSERT INTO ram_users (tenant_id, {USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (tenant_id, name) DO NOTHING"
            ))
            .bind(tenant_id)
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.display_name)
            .bind(&user.comments)
            .bind(&user.email)
            .bind(&user.mobile_phone)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            Ok::<_, StoreError>(if inserted == 1 {
                Ok(user.clone())
            } else {
                Err(Refusal::UserExists)
            })
        })?;
        self.ram_changed();
        Ok(done)
    }

    pub async fn ram_user(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<RamUser>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM ram_users WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Users by name, after `after` (exclusive), at most `limit`.
    pub async fn ram_users(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RamUser>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM ram_users WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn update_ram_user(
        &self,
        tenant_id: &str,
        name: &str,
        update: &UserUpdate,
        now: i64,
    ) -> RamResult<RamUser> {
        let done = transact!(self, &[], |tx| {
            let row = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM ram_users WHERE tenant_id = $1 AND name = $2{}",
                tx.locking("UPDATE")
            ))
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&mut *tx.tx)
            .await?;
            let Some(row) = row else {
                return Ok(Err(Refusal::NoSuchUser));
            };
            let mut user = user_from_row(&row)?;
            if let Some(new_name) = update.name.as_ref().filter(|n| *n != name) {
                let taken =
                    sqlx::query("SELECT 1 FROM ram_users WHERE tenant_id = $1 AND name = $2")
                        .bind(tenant_id)
                        .bind(new_name)
                        .fetch_optional(&mut *tx.tx)
                        .await?;
                if taken.is_some() {
                    return Ok(Err(Refusal::UserExists));
                }
                for statement in [
                    "UPDATE ram_users SET name = $3 WHERE tenant_id = $1 AND name = $2",
                    "UPDATE access_keys SET user_name = $3 WHERE tenant_id = $1 AND user_name = $2",
                    "UPDATE ram_attachments SET principal_name = $3 \
                     WHERE tenant_id = $1 AND principal_type = 'User' AND principal_name = $2",
                ] {
                    sqlx::query(statement)
                        .bind(tenant_id)
                        .bind(name)
                        .bind(new_name)
                        .execute(&mut *tx.tx)
                        .await?;
                }
                user.name = new_name.clone();
            }
            for (field, value) in [
                (&mut user.display_name, &update.display_name),
                (&mut user.comments, &update.comments),
                (&mut user.email, &update.email),
                (&mut user.mobile_phone, &update.mobile_phone),
            ] {
                if let Some(value) = value {
                    *field = value.clone();
                }
            }
            user.updated_at = now;
            sqlx::query(
                "UPDATE ram_users SET display_name = $3, comments = $4, email = $5, mobile_phone = $6, \
                 updated_at = $7 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(&user.name)
            .bind(&user.display_name)
            .bind(&user.comments)
            .bind(&user.email)
            .bind(&user.mobile_phone)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(user))
        });
        // A user created under the new name while this one was renamed: the unique key refuses
        // the rename, and the caller hears that the name is taken.
        let done = match done {
            Err(StoreError::Database(sqlx::Error::Database(error)))
                if error.is_unique_violation() =>
            {
                return Ok(Err(Refusal::UserExists));
            }
            other => other?,
        };
        self.ram_changed();
        self.access_keys.clear();
        Ok(done)
    }

    /// Deletes a user that holds no access key and no policy.
    pub async fn delete_ram_user(&self, tenant_id: &str, name: &str) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            let user = Grantee::User(name);
            if let Err(refusal) = grantee_exists(tx, tenant_id, user).await? {
                return Ok(Err(refusal));
            }
            let keys =
                sqlx::query("SELECT 1 FROM access_keys WHERE tenant_id = $1 AND user_name = $2")
                    .bind(tenant_id)
                    .bind(name)
                    .fetch_optional(&mut *tx.tx)
                    .await?;
            if keys.is_some() {
                return Ok(Err(Refusal::UserHasKeys));
            }
            if holds_policies(tx, tenant_id, user).await? {
                return Ok(Err(Refusal::UserHasPolicies));
            }
            sqlx::query("DELETE FROM ram_users WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name)
                .execute(&mut *tx.tx)
                .await?;
            Ok::<_, StoreError>(Ok(()))
        })?;
        self.ram_changed();
        Ok(done)
    }

    // -- long-term access keys

    /// A new key of `owner`, unless it already holds [`MAX_KEYS_PER_USER`].
    pub async fn create_owned_key(
        &self,
        tenant_id: &str,
        owner: KeyOwner<'_>,
        id: &str,
        secret: &Secret,
        now: i64,
    ) -> RamResult<KeyInfo> {
        let secret_enc = self.cipher.encrypt(secret.expose())?;
        let done = transact!(self, &[], |tx| {
            // The owner's row, locked: two keys created at once each count the other.
            let owner_found = match owner {
                KeyOwner::Root => sqlx::query(&format!(
                    "SELECT 1 FROM tenants WHERE id = $1{}",
                    tx.locking("UPDATE")
                ))
                .bind(tenant_id)
                .fetch_optional(&mut *tx.tx)
                .await?
                .map(|_| ())
                .ok_or(Refusal::NoSuchUser),
                KeyOwner::User(name) => grantee_exists(tx, tenant_id, Grantee::User(name)).await?,
            };
            if let Err(refusal) = owner_found {
                return Ok(Err(refusal));
            }
            let held: i64 = sqlx::query(&format!(
                "SELECT COUNT(*) FROM access_keys WHERE {}",
                owner_clause(owner)
            ))
            .bind(tenant_id)
            .bind(owner.user_name())
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get(0)?;
            if held >= MAX_KEYS_PER_USER {
                return Ok(Err(Refusal::KeyLimit));
            }
            let (is_root, user_name) = match owner {
                KeyOwner::Root => (1_i64, None),
                KeyOwner::User(name) => (0, Some(name)),
            };
            sqlx::query(
                "INSERT INTO access_keys (id, tenant_id, secret_enc, is_root, status, created_at, user_name) \
                 VALUES ($1, $2, $3, $4, 'Active', $5, $6)",
            )
            .bind(id)
            .bind(tenant_id)
            .bind(&secret_enc)
            .bind(is_root)
            .bind(now)
            .bind(user_name)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(KeyInfo {
                id: id.to_string(),
                active: true,
                created_at: now,
            }))
        })?;
        self.ram_changed();
        Ok(done)
    }

    /// Whether `owner` exists: the root always does.
    async fn owner_exists(&self, tenant_id: &str, owner: KeyOwner<'_>) -> Result<bool, StoreError> {
        Ok(match owner {
            KeyOwner::Root => true,
            KeyOwner::User(name) => self.ram_user(tenant_id, name).await?.is_some(),
        })
    }

    /// The long-term keys of `owner`, oldest first; `NoSuchUser` for an unknown user.
    pub async fn owned_keys(
        &self,
        tenant_id: &str,
        owner: KeyOwner<'_>,
    ) -> RamResult<Vec<KeyInfo>> {
        if !self.owner_exists(tenant_id, owner).await? {
            return Ok(Err(Refusal::NoSuchUser));
        }
        let rows = sqlx::query(&format!(
            "SELECT id, status, created_at FROM access_keys WHERE {} ORDER BY created_at, id",
            owner_clause(owner)
        ))
        .bind(tenant_id)
        .bind(owner.user_name())
        .fetch_all(&self.pool)
        .await?;
        let keys = rows
            .iter()
            .map(|row| {
                Ok(KeyInfo {
                    id: row.try_get("id")?,
                    active: row.try_get::<String, _>("status")? == "Active",
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Ok(keys))
    }

    /// Enables or disables one of `owner`'s keys; this process stops trusting its cached copy.
    pub async fn set_owned_key_status(
        &self,
        tenant_id: &str,
        owner: KeyOwner<'_>,
        key_id: &str,
        active: bool,
    ) -> RamResult<()> {
        let status = if active { "Active" } else { "Inactive" };
        self.change_owned_key(
            tenant_id,
            owner,
            key_id,
            &format!(
                "UPDATE access_keys SET status = '{status}' WHERE id = $3 AND {}",
                owner_clause(owner)
            ),
        )
        .await
    }

    pub async fn delete_owned_key(
        &self,
        tenant_id: &str,
        owner: KeyOwner<'_>,
        key_id: &str,
    ) -> RamResult<()> {
        self.change_owned_key(
            tenant_id,
            owner,
            key_id,
            &format!(
                "DELETE FROM access_keys WHERE id = $3 AND {}",
                owner_clause(owner)
            ),
        )
        .await
    }

    /// Runs `statement` (binding `$1` tenant, `$2` user name, `$3` key id) on one owned key.
    async fn change_owned_key(
        &self,
        tenant_id: &str,
        owner: KeyOwner<'_>,
        key_id: &str,
        statement: &str,
    ) -> RamResult<()> {
        if !self.owner_exists(tenant_id, owner).await? {
            return Ok(Err(Refusal::NoSuchUser));
        }
        let changed = transact!(self, &[], |tx| {
            sqlx::query(statement)
                .bind(tenant_id)
                .bind(owner.user_name())
                .bind(key_id)
                .execute(&mut *tx.tx)
                .await
                .map(|done| done.rows_affected())
                .map_err(StoreError::from)
        })?;
        self.access_keys.forget(key_id);
        self.ram_changed();
        Ok(if changed == 1 {
            Ok(())
        } else {
            Err(Refusal::NoSuchKey)
        })
    }

    // -- temporary keys    /// Records a temporary key of a role that still exists: a role deleted meanwhile takes its
    /// keys with it, so none is issued after.
    pub async fn create_session_key(&self, key: &NewSessionKey) -> RamResult<()> {
        let secret_enc = self.cipher.encrypt(key.secret.expose())?;
        transact!(self, &[], |tx| {
            let role = sqlx::query(&format!(
                "SELECT 1 FROM ram_roles WHERE tenant_id = $1 AND name = $2{}",
                tx.locking("SHARE")
            ))
            .bind(&key.tenant_id)
            .bind(&key.role_name)
            .fetch_optional(&mut *tx.tx)
            .await?;
            if role.is_none() {
                return Ok(Err(Refusal::NoSuchRole));
            }
            sqlx::query(
                "INSERT INTO access_keys (id, tenant_id, secret_enc, is_root, status, created_at, \
                 role_name, session_name, session_policy, token_hash, expires_at) \
                 VALUES ($1, $2, $3, 0, 'Active', $4, $5, $6, $7, $8, $9)",
            )
            .bind(&key.id)
            .bind(&key.tenant_id)
            .bind(&secret_enc)
            .bind(key.created_at)
            .bind(&key.role_name)
            .bind(&key.session_name)
            .bind(&key.session_policy)
            .bind(&key.token_hash)
            .bind(key.expires_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(()))
        })
    }

    /// Forgets temporary keys that expired before `before`; they are refused from their expiry
    /// on whether or not they are still here.
    pub async fn purge_session_keys(&self, before: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM access_keys WHERE expires_at IS NOT NULL AND expires_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    // -- policies

    pub async fn create_custom_policy(
        &self,
        tenant_id: &str,
        name: &str,
        description: &str,
        document: &str,
        now: i64,
    ) -> RamResult<CustomPolicy> {
        let done = transact!(self, &[], |tx| {
            let inserted = sqlx::query(
                "INSERT INTO ram_policies (tenant_id, name, description, default_version, next_version, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'v1', 2, $4, $4) ON CONFLICT (tenant_id, name) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(description)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok(Err(Refusal::PolicyExists));
            }
            sqlx::query(
                "INSERT INTO ram_policy_versions (tenant_id, policy_name, version_id, document, created_at) \
                 VALUES ($1, $2, 'v1', $3, $4)",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(document)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(CustomPolicy {
                name: name.to_string(),
                description: description.to_string(),
                default_version: "v1".into(),
                created_at: now,
                updated_at: now,
                attachment_count: 0,
            }))
        })?;
        self.ram_changed();
        Ok(done)
    }

    /// Custom policies by name, after `after` (exclusive), at most `limit`; `only` one name.
    pub async fn custom_policies(
        &self,
        tenant_id: &str,
        only: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CustomPolicy>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.name, p.description, p.default_version, p.created_at, p.updated_at, \
             (SELECT COUNT(*) FROM ram_attachments a WHERE a.tenant_id = p.tenant_id \
              AND a.policy_type = 'Custom' AND a.policy_name = p.name) AS attachment_count \
             FROM ram_policies p WHERE p.tenant_id = $1 AND ($2 = '' OR p.name = $2) AND p.name > $3 \
             ORDER BY p.name LIMIT $4",
        )
        .bind(tenant_id)
        .bind(only.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CustomPolicy {
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    default_version: row.try_get("default_version")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    attachment_count: row.try_get("attachment_count")?,
                })
            })
            .collect()
    }

    pub async fn custom_policy(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<CustomPolicy>, StoreError> {
        Ok(self
            .custom_policies(tenant_id, Some(name), None, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Every version of a custom policy, oldest first; `NoSuchPolicy` when there is none.
    pub async fn policy_versions(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> RamResult<Vec<PolicyVersion>> {
        let rows = sqlx::query(
            "SELECT v.version_id, v.document, v.created_at, p.default_version \
             FROM ram_policies p JOIN ram_policy_versions v \
               ON v.tenant_id = p.tenant_id AND v.policy_name = p.name \
             WHERE p.tenant_id = $1 AND p.name = $2 ORDER BY v.created_at, v.version_id",
        )
        .bind(tenant_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Err(Refusal::NoSuchPolicy));
        }
        let versions = rows
            .iter()
            .map(|row| {
                let version_id: String = row.try_get("version_id")?;
                let default: String = row.try_get("default_version")?;
                Ok(PolicyVersion {
                    is_default: version_id == default,
                    version_id,
                    document: row.try_get("document")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Ok(versions))
    }

    /// Adds a version; with `rotate`, the oldest non-default version makes room when the
    /// policy already holds [`MAX_POLICY_VERSIONS`].
    pub async fn create_policy_version(
        &self,
        tenant_id: &str,
        name: &str,
        document: &str,
        set_default: bool,
        rotate: bool,
        now: i64,
    ) -> RamResult<PolicyVersion> {
        let done = transact!(self, &[], |tx| {
            let row = sqlx::query(&format!(
                "SELECT next_version, default_version FROM ram_policies WHERE tenant_id = $1 AND name = $2{}",
                tx.locking("UPDATE")
            ))
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&mut *tx.tx)
            .await?;
            let Some(row) = row else {
                return Ok(Err(Refusal::NoSuchPolicy));
            };
            let next: i64 = row.try_get("next_version")?;
            let default: String = row.try_get("default_version")?;
            let held: i64 = sqlx::query(
                "SELECT COUNT(*) FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get(0)?;
            if held >= MAX_POLICY_VERSIONS {
                if !rotate {
                    return Ok(Err(Refusal::VersionLimit));
                }
                let oldest = sqlx::query(
                    "SELECT version_id FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2 \
                     AND version_id <> $3 ORDER BY created_at, version_id LIMIT 1",
                )
                .bind(tenant_id)
                .bind(name)
                .bind(&default)
                .fetch_one(&mut *tx.tx)
                .await?;
                let oldest: String = oldest.try_get(0)?;
                sqlx::query(
                    "DELETE FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version_id = $3",
                )
                .bind(tenant_id)
                .bind(name)
                .bind(&oldest)
                .execute(&mut *tx.tx)
                .await?;
            }
            let version_id = format!("v{next}");
            sqlx::query(
                "INSERT INTO ram_policy_versions (tenant_id, policy_name, version_id, document, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(&version_id)
            .bind(document)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            let new_default = if set_default { &version_id } else { &default };
            sqlx::query(
                "UPDATE ram_policies SET next_version = $3, default_version = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(next + 1)
            .bind(new_default)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(PolicyVersion {
                version_id: version_id.clone(),
                document: document.to_string(),
                created_at: now,
                is_default: set_default,
            }))
        })?;
        self.ram_changed();
        Ok(done)
    }

    pub async fn set_default_policy_version(
        &self,
        tenant_id: &str,
        name: &str,
        version_id: &str,
        now: i64,
    ) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            if let Err(refusal) = version_exists(tx, tenant_id, name, version_id).await? {
                return Ok(Err(refusal));
            }
            sqlx::query(
                "UPDATE ram_policies SET default_version = $3, updated_at = $4 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(version_id)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(()))
        })?;
        self.ram_changed();
        Ok(done)
    }

    pub async fn delete_policy_version(
        &self,
        tenant_id: &str,
        name: &str,
        version_id: &str,
    ) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            match version_exists(tx, tenant_id, name, version_id).await? {
                Err(refusal) => return Ok(Err(refusal)),
                Ok(true) => return Ok(Err(Refusal::DefaultVersion)),
                Ok(false) => {}
            }
            sqlx::query(
                "DELETE FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version_id = $3",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(version_id)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(Ok(()))
        })?;
        self.ram_changed();
        Ok(done)
    }

    /// Deletes a custom policy; without `cascade` only one attached to nobody and holding no
    /// version but its default.
    pub async fn delete_custom_policy(
        &self,
        tenant_id: &str,
        name: &str,
        cascade: bool,
    ) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            if !custom_policy_exists(tx, tenant_id, name).await? {
                return Ok(Err(Refusal::NoSuchPolicy));
            }
            if !cascade {
                let attached = sqlx::query(
                    "SELECT 1 FROM ram_attachments WHERE tenant_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
                )
                .bind(tenant_id)
                .bind(name)
                .fetch_optional(&mut *tx.tx)
                .await?;
                if attached.is_some() {
                    return Ok(Err(Refusal::PolicyAttached));
                }
                let versions: i64 = sqlx::query(
                    "SELECT COUNT(*) FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2",
                )
                .bind(tenant_id)
                .bind(name)
                .fetch_one(&mut *tx.tx)
                .await?
                .try_get(0)?;
                if versions > 1 {
                    return Ok(Err(Refusal::PolicyHasVersions));
                }
            }
            for statement in [
                "DELETE FROM ram_attachments WHERE tenant_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
                "DELETE FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2",
                "DELETE FROM ram_policies WHERE tenant_id = $1 AND name = $2",
            ] {
                sqlx::query(statement)
                    .bind(tenant_id)
                    .bind(name)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            Ok::<_, StoreError>(Ok(()))
        })?;
        self.ram_changed();
        Ok(done)
    }

    // -- attachments

    /// Attaches a policy to a user or role. System policies are the caller's to check: the
    /// store knows custom ones only.
    pub async fn attach_policy(
        &self,
        tenant_id: &str,
        grantee: Grantee<'_>,
        kind: PolicyKind,
        policy_name: &str,
        now: i64,
    ) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            if let Err(refusal) = grantee_exists(tx, tenant_id, grantee).await? {
                return Ok(Err(refusal));
            }
            if kind == PolicyKind::Custom
                && !custom_policy_exists(tx, tenant_id, policy_name).await?
            {
                return Ok(Err(Refusal::NoSuchPolicy));
            }
            let inserted = sqlx::query(
                "INSERT INTO ram_attachments (tenant_id, principal_type, principal_name, policy_type, policy_name, attached_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, principal_type, principal_name, policy_type, policy_name) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(grantee.kind())
            .bind(grantee.name())
            .bind(kind.as_str())
            .bind(policy_name)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            Ok::<_, StoreError>(if inserted == 1 {
                Ok(())
            } else {
                Err(Refusal::AlreadyAttached)
            })
        })?;
        self.ram_changed();
        Ok(done)
    }

    pub async fn detach_policy(
        &self,
        tenant_id: &str,
        grantee: Grantee<'_>,
        kind: PolicyKind,
        policy_name: &str,
    ) -> RamResult<()> {
        let done = transact!(self, &[], |tx| {
            if let Err(refusal) = grantee_exists(tx, tenant_id, grantee).await? {
                return Ok(Err(refusal));
            }
            let deleted = sqlx::query(
                "DELETE FROM ram_attachments WHERE tenant_id = $1 AND principal_type = $2 \
                 AND principal_name = $3 AND policy_type = $4 AND policy_name = $5",
            )
            .bind(tenant_id)
            .bind(grantee.kind())
            .bind(grantee.name())
            .bind(kind.as_str())
            .bind(policy_name)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            Ok::<_, StoreError>(if deleted == 1 {
                Ok(())
            } else {
                Err(Refusal::NotAttached)
            })
        })?;
        self.ram_changed();
        Ok(done)
    }

    /// The policies attached to `grantee`, with each custom one's default document; in the
    /// order they were attached.
    pub async fn attachments(
        &self,
        tenant_id: &str,
        grantee: Grantee<'_>,
    ) -> Result<Vec<Attachment>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.policy_type, a.policy_name, a.attached_at, p.description, p.default_version, v.document \
             FROM ram_attachments a \
             LEFT JOIN ram_policies p ON a.policy_type = 'Custom' AND p.tenant_id = a.tenant_id AND p.name = a.policy_name \
             LEFT JOIN ram_policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name \
               AND v.version_id = p.default_version \
             WHERE a.tenant_id = $1 AND a.principal_type = $2 AND a.principal_name = $3 \
             ORDER BY a.attached_at, a.policy_name",
        )
        .bind(tenant_id)
        .bind(grantee.kind())
        .bind(grantee.name())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let policy_kind = PolicyKind::parse(&row.try_get::<String, _>("policy_type")?)?;
                let custom = match policy_kind {
                    PolicyKind::System => None,
                    PolicyKind::Custom => Some(AttachedCustom {
                        description: row
                            .try_get::<Option<String>, _>("description")?
                            .unwrap_or_default(),
                        default_version: row
                            .try_get::<Option<String>, _>("default_version")?
                            .unwrap_or_default(),
                        document: row
                            .try_get::<Option<String>, _>("document")?
                            .unwrap_or_default(),
                    }),
                };
                Ok(Attachment {
                    policy_kind,
                    policy_name: row.try_get("policy_name")?,
                    attached_at: row.try_get("attached_at")?,
                    custom,
                })
            })
            .collect()
    }

    /// The users and roles holding a policy.
    pub async fn policy_holders(
        &self,
        tenant_id: &str,
        kind: PolicyKind,
        policy_name: &str,
    ) -> Result<Vec<PolicyHolder>, StoreError> {
        let rows = sqlx::query(
            "SELECT principal_type, principal_name, attached_at FROM ram_attachments \
             WHERE tenant_id = $1 AND policy_type = $2 AND policy_name = $3 ORDER BY attached_at, principal_name",
        )
        .bind(tenant_id)
        .bind(kind.as_str())
        .bind(policy_name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PolicyHolder {
                    kind: row.try_get("principal_type")?,
                    name: row.try_get("principal_name")?,
                    attached_at: row.try_get("attached_at")?,
                })
            })
            .collect()
    }

    /// How many principals of the tenant hold each system policy it uses.
    pub async fn system_policy_attachments(
        &self,
        tenant_id: &str,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT policy_name, COUNT(*) AS holders FROM ram_attachments \
             WHERE tenant_id = $1 AND policy_type = 'System' GROUP BY policy_name",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("policy_name")?, row.try_get("holders")?)))
            .collect()
    }

    // -- roles

    pub async fn create_ram_role(&self, tenant_id: &str, role: &RamRole) -> RamResult<RamRole> {
        let done = transact!(self, &[], |tx| {
            let inserted = sqlx::query(&format!(
                "INSERT INTO ram_roles (tenant_id, {ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT DO NOTHING"
            ))
            .bind(tenant_id)
            .bind(&role.id)
            .bind(&role.name)
            .bind(&role.description)
            .bind(&role.trust_policy)
            .bind(role.max_session_duration)
            .bind(role.created_at)
            .bind(role.updated_at)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            Ok::<_, StoreError>(if inserted == 1 {
                Ok(role.clone())
            } else {
                Err(Refusal::RoleExists)
            })
        })?;
        self.ram_changed();
        Ok(done)
    }

    /// A role by name; the cloud's role names are case-insensitive (its ARNs lower-case them).
    pub async fn ram_role(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<RamRole>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM ram_roles WHERE tenant_id = $1 AND LOWER(name) = LOWER($2)"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    pub async fn ram_roles(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RamRole>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM ram_roles WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// Deletes a role holding no policy, and with it every temporary key issued for it.
    pub async fn delete_ram_role(&self, tenant_id: &str, name: &str) -> RamResult<()> {
        let Some(role) = self.ram_role(tenant_id, name).await? else {
            return Ok(Err(Refusal::NoSuchRole));
        };
        let done = transact!(self, &[], |tx| {
            let grantee = Grantee::Role(&role.name);
            if let Err(refusal) = grantee_exists(tx, tenant_id, grantee).await? {
                return Ok(Err(refusal));
            }
            if holds_policies(tx, tenant_id, grantee).await? {
                return Ok(Err(Refusal::RoleHasPolicies));
            }
            for statement in [
                "DELETE FROM access_keys WHERE tenant_id = $1 AND role_name = $2",
                "DELETE FROM ram_roles WHERE tenant_id = $1 AND name = $2",
            ] {
                sqlx::query(statement)
                    .bind(tenant_id)
                    .bind(&role.name)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            Ok::<_, StoreError>(Ok(()))
        })?;
        self.access_keys.clear();
        self.ram_changed();
        Ok(done)
    }
}

/// Whether any policy is attached to the user or role.
async fn holds_policies(
    tx: &mut crate::WriteTx<'_>,
    tenant_id: &str,
    grantee: Grantee<'_>,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 FROM ram_attachments WHERE tenant_id = $1 AND principal_type = $2 AND principal_name = $3",
    )
    .bind(tenant_id)
    .bind(grantee.kind())
    .bind(grantee.name())
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(row.is_some())
}

/// Whether the custom policy exists, its row locked until the transaction ends.
async fn custom_policy_exists(
    tx: &mut crate::WriteTx<'_>,
    tenant_id: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT 1 FROM ram_policies WHERE tenant_id = $1 AND name = $2{}",
        tx.locking("UPDATE")
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(row.is_some())
}

/// Whether the user or role exists, its row locked until the transaction ends.
async fn grantee_exists(
    tx: &mut crate::WriteTx<'_>,
    tenant_id: &str,
    grantee: Grantee<'_>,
) -> Result<Result<(), Refusal>, StoreError> {
    let (table, refusal) = match grantee {
        Grantee::User(_) => ("ram_users", Refusal::NoSuchUser),
        Grantee::Role(_) => ("ram_roles", Refusal::NoSuchRole),
    };
    let row = sqlx::query(&format!(
        "SELECT 1 FROM {table} WHERE tenant_id = $1 AND name = $2{}",
        tx.locking("UPDATE")
    ))
    .bind(tenant_id)
    .bind(grantee.name())
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(if row.is_some() { Ok(()) } else { Err(refusal) })
}

/// Whether the version exists, and if so whether it is the policy's default.
async fn version_exists(
    tx: &mut crate::WriteTx<'_>,
    tenant_id: &str,
    name: &str,
    version_id: &str,
) -> Result<Result<bool, Refusal>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT default_version FROM ram_policies WHERE tenant_id = $1 AND name = $2{}",
        tx.locking("UPDATE")
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let Some(row) = row else {
        return Ok(Err(Refusal::NoSuchPolicy));
    };
    let default: String = row.try_get(0)?;
    let version = sqlx::query(
        "SELECT 1 FROM ram_policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version_id = $3",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(version_id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(match version {
        Some(_) => Ok(default == version_id),
        None => Err(Refusal::NoSuchVersion),
    })
}
