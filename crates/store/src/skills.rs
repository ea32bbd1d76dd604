//! The skill center: upload grants (temporary object-store credentials), package parse tasks
//! (jobs leased by one replica at a time), skills and their versions, grants to runtimes and the
//! runtimes under the tenant's skill security policy.
//!
//! Every change that alters what a runtime should install bumps that runtime's generation in
//! the same transaction, so its daemon hears of it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::Sql;
use crate::{Secret, Store, StoreError, transact};

/// Temporary credentials to upload one tenant's objects under one prefix of one bucket.
#[derive(Debug, Clone)]
pub struct UploadGrant {
    pub key_id: String,
    pub tenant_id: String,
    /// Hex SHA-256 of the security token.
    pub token_hash: String,
    pub bucket: String,
    pub prefix: String,
    pub file_type: String,
    pub max_bytes: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Where a parse task stands (`Status` of `GetParseProgress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseStatus {
    Parsing,
    Completed,
    Failed,
}

impl ParseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Parsing => "PARSING_METADATA",
            ParseStatus::Completed => "COMPLETED",
            ParseStatus::Failed => "FAILED",
        }
    }

    fn parse(text: &str) -> Result<ParseStatus, StoreError> {
        match text {
            "PARSING_METADATA" => Ok(ParseStatus::Parsing),
            "COMPLETED" => Ok(ParseStatus::Completed),
            "FAILED" => Ok(ParseStatus::Failed),
            other => Err(StoreError::Corrupt(format!("parse status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParseTask {
    pub task_key: String,
    pub tenant_id: String,
    pub object_key: String,
    pub etag: String,
    pub status: ParseStatus,
    /// The parsed package, JSON, once completed.
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
}

/// How a parse task ended.
#[derive(Debug, Clone)]
pub enum ParseOutcome {
    Completed { result: String },
    Failed { code: String, message: String },
}

/// A version of a skill: its package and what the scan made of it.
#[derive(Debug, Clone)]
pub struct SkillVersion {
    pub version: String,
    pub task_key: String,
    pub object_key: String,
    pub sha256: String,
    pub size: i64,
    pub scan_status: String,
    pub scan_score: i64,
    pub scan_risk: String,
    pub scan_fail_reason: String,
    /// The findings, JSON.
    pub findings: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Skill {
    pub id: String,
    pub tenant_id: String,
    pub channel: String,
    pub slug: String,
    pub skill_name: String,
    pub display_name: String,
    pub description: String,
    pub author: String,
    pub enabled: bool,
    /// The environment variables as a JSON object, in clear.
    pub env_vars: Option<Secret>,
    pub api_key: Option<Secret>,
    pub icon_key: Option<String>,
    pub default_version: String,
    pub created_at: i64,
    /// Newest first.
    pub versions: Vec<SkillVersion>,
}

/// What `CreateTenantSkill` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkillCreated {
    /// A new skill.
    New(String),
    /// A new version of the tenant's skill of that slug.
    Version(String),
    /// The skill of that slug already has this version.
    VersionExists(String),
}

/// A skill a runtime is granted, as its daemon installs it.
#[derive(Debug, Clone)]
pub struct GrantedSkill {
    pub skill_id: String,
    pub skill_name: String,
    pub version: String,
    pub object_key: String,
    pub sha256: String,
    pub size: i64,
    pub scan_risk: String,
    pub auto_install: bool,
    pub env_vars: Option<Secret>,
    pub api_key: Option<Secret>,
}

const TASK_COLUMNS: &str = "task_key, tenant_id, object_key, etag, status, result, error_code, \
                            error_message, attempts, created_at";
const SKILL_COLUMNS: &str = "id, tenant_id, channel, slug, skill_name, display_name, description, \
                             author, enabled, env_vars_enc, api_key_enc, icon_key, default_version, created_at";
const VERSION_COLUMNS: &str = "skill_id, version, task_key, object_key, sha256, size, scan_status, \
                               scan_score, scan_risk, scan_fail_reason, findings, created_at";

fn task_from_row(row: &AnyRow) -> Result<ParseTask, StoreError> {
    Ok(ParseTask {
        task_key: row.try_get("task_key")?,
        tenant_id: row.try_get("tenant_id")?,
        object_key: row.try_get("object_key")?,
        etag: row.try_get("etag")?,
        status: ParseStatus::parse(&row.try_get::<String, _>("status")?)?,
        result: row.try_get("result")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
    })
}

fn version_from_row(row: &AnyRow) -> Result<(String, SkillVersion), StoreError> {
    Ok((
        row.try_get("skill_id")?,
        SkillVersion {
            version: row.try_get("version")?,
            task_key: row.try_get("task_key")?,
            object_key: row.try_get("object_key")?,
            sha256: row.try_get("sha256")?,
            size: row.try_get("size")?,
            scan_status: row.try_get("scan_status")?,
            scan_score: row.try_get("scan_score")?,
            scan_risk: row.try_get("scan_risk")?,
            scan_fail_reason: row.try_get("scan_fail_reason")?,
            findings: row.try_get("findings")?,
            created_at: row.try_get("created_at")?,
        },
    ))
}

impl Store {
    fn open(&self, stored: Option<String>) -> Result<Option<Secret>, StoreError> {
        stored
            .map(|s| self.cipher.decrypt(&s))
            .transpose()
            .map_err(StoreError::from)
    }

    fn skill_from_row(&self, row: &AnyRow) -> Result<Skill, StoreError> {
        Ok(Skill {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            channel: row.try_get("channel")?,
            slug: row.try_get("slug")?,
            skill_name: row.try_get("skill_name")?,
            display_name: row.try_get("display_name")?,
            description: row.try_get("description")?,
            author: row.try_get("author")?,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            env_vars: self.open(row.try_get("env_vars_enc")?)?,
            api_key: self.open(row.try_get("api_key_enc")?)?,
            icon_key: row.try_get("icon_key")?,
            default_version: row.try_get("default_version")?,
            created_at: row.try_get("created_at")?,
            versions: Vec::new(),
        })
    }

    // ---- upload grants --------------------------------------------------------------------

    /// Records a grant; its secret is stored encrypted (the upload endpoint needs it back to
    /// check signatures). Expired grants are dropped on the way.
    pub async fn create_upload_grant(
        &self,
        grant: &UploadGrant,
        secret: &str,
    ) -> Result<(), StoreError> {
        let secret_enc = self.cipher.encrypt(secret)?;
        transact!(self, &[], |tx| {
            sqlx::query("DELETE FROM upload_grants WHERE expires_at < $1")
                .bind(grant.created_at - 24 * 3_600_000)
                .execute(&mut *tx.tx)
                .await?;
            sqlx::query(
                "INSERT INTO upload_grants (key_id, tenant_id, secret_enc, token_hash, bucket, prefix, \
                 file_type, max_bytes, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&grant.key_id)
            .bind(&grant.tenant_id)
            .bind(&secret_enc)
            .bind(&grant.token_hash)
            .bind(&grant.bucket)
            .bind(&grant.prefix)
            .bind(&grant.file_type)
            .bind(grant.max_bytes)
            .bind(grant.expires_at)
            .bind(grant.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    /// A grant and its secret, by key id.
    /// Deletes the upload credentials `key_id` (refused from then on, on every replica: grants
    /// are not cached); the tenant they were of, if they existed.
    pub async fn revoke_upload_grant(&self, key_id: &str) -> Result<Option<String>, StoreError> {
        let Some((grant, _)) = self.upload_grant(key_id).await? else {
            return Ok(None);
        };
        transact!(self, &[], |tx| {
            sqlx::query("DELETE FROM upload_grants WHERE key_id = $1")
                .bind(key_id)
                .execute(&mut *tx.tx)
                .await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(Some(grant.tenant_id))
    }

    pub async fn upload_grant(
        &self,
        key_id: &str,
    ) -> Result<Option<(UploadGrant, Secret)>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT key_id, tenant_id, secret_enc, token_hash, bucket, prefix, file_type, max_bytes, \
             expires_at, created_at FROM upload_grants WHERE key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let secret = self
            .cipher
            .decrypt(&row.try_get::<String, _>("secret_enc")?)?;
        Ok(Some((
            UploadGrant {
                key_id: row.try_get("key_id")?,
                tenant_id: row.try_get("tenant_id")?,
                token_hash: row.try_get("token_hash")?,
                bucket: row.try_get("bucket")?,
                prefix: row.try_get("prefix")?,
                file_type: row.try_get("file_type")?,
                max_bytes: row.try_get("max_bytes")?,
                expires_at: row.try_get("expires_at")?,
                created_at: row.try_get("created_at")?,
            },
            secret,
        )))
    }

    // ---- parse tasks ----------------------------------------------------------------------

    pub async fn create_parse_task(&self, task: &ParseTask) -> Result<(), StoreError> {
        transact!(self, &[], |tx| {
            sqlx::query(
                "INSERT INTO skill_parse_tasks (task_key, tenant_id, object_key, etag, status, \
                 lease_until, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6)",
            )
            .bind(&task.task_key)
            .bind(&task.tenant_id)
            .bind(&task.object_key)
            .bind(&task.etag)
            .bind(task.status.as_str())
            .bind(task.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn parse_task(
        &self,
        tenant_id: &str,
        task_key: &str,
    ) -> Result<Option<ParseTask>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM skill_parse_tasks WHERE tenant_id = $1 AND task_key = $2"
        ))
        .bind(tenant_id)
        .bind(task_key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(task_from_row)
        .transpose()
    }

    /// Takes the oldest parse task no replica holds (or whose holder's lease ran out) for
    /// `owner` until `now + lease_ms`. The update only wins if the lease is still free, so two
    /// replicas never take the same task; a task taken `max_attempts` times already (its
    /// workers died) fails instead of running forever.
    pub async fn claim_parse_task(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        max_attempts: i64,
    ) -> Result<Option<ParseTask>, StoreError> {
        loop {
            let Some(row) = sqlx::query(&format!(
                "SELECT {TASK_COLUMNS}, lease_until FROM skill_parse_tasks \
                 WHERE status = 'PARSING_METADATA' AND lease_until < $1 ORDER BY created_at LIMIT 1"
            ))
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            else {
                return Ok(None);
            };
            let task = task_from_row(&row)?;
            let seen: i64 = row.try_get("lease_until")?;
            if task.attempts >= max_attempts {
                // Whether this replica or another records the failure, the task is done.
                self.finish_with(
                        &task.task_key,
                        None,
                        seen,
                        now,
                        &ParseOutcome::Failed {
                            code: "Package.ParseAborted".into(),
                            message: format!(
                                "parsing stopped {max_attempts} times before finishing; upload the package again"
                            ),
                        },
                    )
                    .await?;
                continue;
            }
            let taken = transact!(self, &[], |tx| {
                let done = sqlx::query(
                    "UPDATE skill_parse_tasks SET lease_owner = $1, lease_until = $2, \
                     attempts = attempts + 1, updated_at = $3 \
                     WHERE task_key = $4 AND status = 'PARSING_METADATA' AND lease_until = $5",
                )
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .bind(&task.task_key)
                .bind(seen)
                .execute(&mut *tx.tx)
                .await?;
                Ok::<_, StoreError>(done.rows_affected() == 1)
            })?;
            if taken {
                return Ok(Some(ParseTask {
                    attempts: task.attempts + 1,
                    ..task
                }));
            }
        }
    }

    /// Records how `owner`'s task ended; false when its lease was lost (another replica took
    /// the task, whose result then stands).
    pub async fn finish_parse_task(
        &self,
        task_key: &str,
        owner: &str,
        now: i64,
        outcome: &ParseOutcome,
    ) -> Result<bool, StoreError> {
        self.finish_with(task_key, Some(owner), 0, now, outcome)
            .await
    }

    async fn finish_with(
        &self,
        task_key: &str,
        owner: Option<&str>,
        lease_seen: i64,
        now: i64,
        outcome: &ParseOutcome,
    ) -> Result<bool, StoreError> {
        let (status, result, code, message) = match outcome {
            ParseOutcome::Completed { result } => {
                (ParseStatus::Completed, Some(result.as_str()), None, None)
            }
            ParseOutcome::Failed { code, message } => (
                ParseStatus::Failed,
                None,
                Some(code.as_str()),
                Some(message.as_str()),
            ),
        };
        transact!(self, &[], |tx| {
            let mut sql = Sql::new("UPDATE skill_parse_tasks SET status = ");
            sql.bind_text(status.as_str()).push(", result = ");
            match result {
                Some(r) => sql.bind_text(r),
                None => sql.push("NULL"),
            };
            sql.push(", error_code = ");
            match code {
                Some(c) => sql.bind_text(c),
                None => sql.push("NULL"),
            };
            sql.push(", error_message = ");
            match message {
                Some(m) => sql.bind_text(m),
                None => sql.push("NULL"),
            };
            sql.push(", lease_owner = NULL, lease_until = 0, updated_at = ")
                .bind_int(now)
                .push(" WHERE task_key = ")
                .bind_text(task_key)
                .push(" AND status = 'PARSING_METADATA' AND ");
            match owner {
                Some(owner) => sql.push("lease_owner = ").bind_text(owner),
                None => sql.push("lease_until = ").bind_int(lease_seen),
            };
            let done = sql.query()?.execute(&mut *tx.tx).await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    /// Extends `owner`'s lease of a task it is still working on.
    pub async fn renew_parse_lease(
        &self,
        task_key: &str,
        owner: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        transact!(self, &[], |tx| {
            let done = sqlx::query(
                "UPDATE skill_parse_tasks SET lease_until = $1 WHERE task_key = $2 AND lease_owner = $3 \
                 AND status = 'PARSING_METADATA'",
            )
            .bind(until)
            .bind(task_key)
            .bind(owner)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        })
    }

    // ---- skills -------------------------------------------------------------------------------

    /// Creates the skill, or adds `version` to the tenant's skill of the same slug and channel
    /// (which it then defaults to). The skill's other fields are the new ones given.
    pub async fn create_skill(
        &self,
        skill: &Skill,
        version: &SkillVersion,
    ) -> Result<SkillCreated, StoreError> {
        let env_enc = skill
            .env_vars
            .as_ref()
            .map(|s| self.cipher.encrypt(s.expose()))
            .transpose()?;
        let key_enc = skill
            .api_key
            .as_ref()
            .map(|s| self.cipher.encrypt(s.expose()))
            .transpose()?;
        transact!(self, &[skill.tenant_id.as_str()], |tx| {
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT id FROM skills WHERE tenant_id = $1 AND channel = $2 AND slug = $3",
            )
            .bind(&skill.tenant_id)
            .bind(&skill.channel)
            .bind(&skill.slug)
            .fetch_optional(&mut *tx.tx)
            .await?;
            let (id, created) = match existing {
                Some(id) => {
                    let has: Option<String> = sqlx::query_scalar(
                        "SELECT version FROM skill_versions WHERE skill_id = $1 AND version = $2",
                    )
                    .bind(&id)
                    .bind(&version.version)
                    .fetch_optional(&mut *tx.tx)
                    .await?;
                    if has.is_some() {
                        return Ok::<_, StoreError>(SkillCreated::VersionExists(id));
                    }
                    sqlx::query(
                        "UPDATE skills SET skill_name = $1, display_name = $2, description = $3, \
                         env_vars_enc = COALESCE($4, env_vars_enc), api_key_enc = COALESCE($5, api_key_enc), \
                         icon_key = COALESCE($6, icon_key), default_version = $7, updated_at = $8 WHERE id = $9",
                    )
                    .bind(&skill.skill_name)
                    .bind(&skill.display_name)
                    .bind(&skill.description)
                    .bind(&env_enc)
                    .bind(&key_enc)
                    .bind(&skill.icon_key)
                    .bind(&version.version)
                    .bind(version.created_at)
                    .bind(&id)
                    .execute(&mut *tx.tx)
                    .await?;
                    bump_granted(tx, &id, version.created_at).await?;
                    (id.clone(), SkillCreated::Version(id))
                }
                None => {
                    sqlx::query(&format!(
                        "INSERT INTO skills ({SKILL_COLUMNS}, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)"
                    ))
                    .bind(&skill.id)
                    .bind(&skill.tenant_id)
                    .bind(&skill.channel)
                    .bind(&skill.slug)
                    .bind(&skill.skill_name)
                    .bind(&skill.display_name)
                    .bind(&skill.description)
                    .bind(&skill.author)
                    .bind(i64::from(skill.enabled))
                    .bind(&env_enc)
                    .bind(&key_enc)
                    .bind(&skill.icon_key)
                    .bind(&version.version)
                    .bind(skill.created_at)
                    .execute(&mut *tx.tx)
                    .await?;
                    (skill.id.clone(), SkillCreated::New(skill.id.clone()))
                }
            };
            sqlx::query(&format!(
                "INSERT INTO skill_versions ({VERSION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(&id)
            .bind(&version.version)
            .bind(&version.task_key)
            .bind(&version.object_key)
            .bind(&version.sha256)
            .bind(version.size)
            .bind(&version.scan_status)
            .bind(version.scan_score)
            .bind(&version.scan_risk)
            .bind(&version.scan_fail_reason)
            .bind(&version.findings)
            .bind(version.created_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok(created)
        })
    }

    /// A page of the tenant's skills of `channel` (`ids`: only those), oldest first, with
    /// their versions; and how many match in all.
    pub async fn list_skills(
        &self,
        tenant_id: &str,
        channel: &str,
        ids: &[String],
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Skill>, i64), StoreError> {
        let mut filter = Sql::new(" FROM skills WHERE tenant_id = ");
        filter
            .bind_text(tenant_id)
            .push(" AND channel = ")
            .bind_text(channel);
        if !ids.is_empty() {
            filter.push(" AND");
            filter.in_list("id", ids);
        }
        let mut count = Sql::new("SELECT COUNT(*) AS n");
        count.append(&filter);
        let total: i64 = count.query()?.fetch_one(&self.pool).await?.try_get("n")?;
        let mut page = Sql::new(&format!("SELECT {SKILL_COLUMNS}"));
        page.append(&filter).page("created_at, id", offset, limit);
        let rows = page.query()?.fetch_all(&self.pool).await?;
        let mut skills = rows
            .iter()
            .map(|r| self.skill_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        if !skills.is_empty() {
            let skill_ids: Vec<String> = skills.iter().map(|s| s.id.clone()).collect();
            let mut versions = Sql::new(&format!(
                "SELECT {VERSION_COLUMNS} FROM skill_versions WHERE"
            ));
            versions.in_list("skill_id", &skill_ids);
            versions.push(" ORDER BY created_at DESC, version DESC");
            for row in versions.query()?.fetch_all(&self.pool).await? {
                let (skill_id, version) = version_from_row(&row)?;
                if let Some(skill) = skills.iter_mut().find(|s| s.id == skill_id) {
                    skill.versions.push(version);
                }
            }
        }
        Ok((skills, total))
    }

    /// The ids among `ids` that are skills of the tenant.
    pub async fn existing_skills(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut sql = Sql::new("SELECT id FROM skills WHERE tenant_id = ");
        sql.bind_text(tenant_id).push(" AND");
        sql.in_list("id", ids);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| r.try_get("id").map_err(StoreError::from))
            .collect()
    }

    /// Deletes the tenant's skills among `ids`, with their versions and grants; returns the
    /// object keys of their packages (the caller removes the objects).
    pub async fn delete_skills(
        &self,
        tenant_id: &str,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        transact!(self, &[tenant_id], |tx| {
            let mut keys = Sql::new(
                "SELECT v.object_key FROM skill_versions v JOIN skills s ON s.id = v.skill_id WHERE s.tenant_id = ",
            );
            keys.bind_text(tenant_id).push(" AND");
            keys.in_list("s.id", ids);
            let object_keys = keys
                .query()?
                .fetch_all(&mut *tx.tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("object_key"))
                .collect::<Result<Vec<_>, _>>()?;
            for id in ids {
                bump_granted(tx, id, now).await?;
            }
            for table in ["skill_grants", "skill_versions"] {
                let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE"));
                sql.in_list("skill_id", ids);
                sql.push(" AND skill_id IN (SELECT id FROM skills WHERE tenant_id = ")
                    .bind_text(tenant_id)
                    .push(")");
                sql.query()?.execute(&mut *tx.tx).await?;
            }
            let mut sql = Sql::new("DELETE FROM skills WHERE tenant_id = ");
            sql.bind_text(tenant_id).push(" AND");
            sql.in_list("id", ids);
            sql.query()?.execute(&mut *tx.tx).await?;
            Ok::<_, StoreError>(object_keys)
        })
    }

    pub async fn set_skills_enabled(
        &self,
        tenant_id: &str,
        ids: &[String],
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        transact!(self, &[tenant_id], |tx| {
            let mut sql = Sql::new("UPDATE skills SET enabled = ");
            sql.bind_int(i64::from(enabled))
                .push(", updated_at = ")
                .bind_int(now)
                .push(" WHERE tenant_id = ")
                .bind_text(tenant_id)
                .push(" AND");
            sql.in_list("id", ids);
            sql.query()?.execute(&mut *tx.tx).await?;
            for id in ids {
                bump_granted(tx, id, now).await?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// Grants each skill to each runtime (`grant` false: takes the grants back).
    pub async fn set_skill_grants(
        &self,
        tenant_id: &str,
        skill_ids: &[String],
        runtime_ids: &[String],
        grant: bool,
        auto_install: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        transact!(self, &[tenant_id], |tx| {
            for skill_id in skill_ids {
                for runtime_id in runtime_ids {
                    sqlx::query("DELETE FROM skill_grants WHERE skill_id = $1 AND runtime_id = $2")
                        .bind(skill_id)
                        .bind(runtime_id)
                        .execute(&mut *tx.tx)
                        .await?;
                    if grant {
                        sqlx::query(
                            "INSERT INTO skill_grants (tenant_id, skill_id, runtime_id, auto_install, created_at) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(tenant_id)
                        .bind(skill_id)
                        .bind(runtime_id)
                        .bind(i64::from(auto_install))
                        .bind(now)
                        .execute(&mut *tx.tx)
                        .await?;
                    }
                }
            }
            bump_runtimes(tx, tenant_id, runtime_ids, now).await?;
            Ok::<_, StoreError>(())
        })
    }

    /// A page of the runtimes a skill is granted to: (runtime id, auto-install); and the total.
    pub async fn skill_grants(
        &self,
        tenant_id: &str,
        skill_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<(String, bool)>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM skill_grants WHERE tenant_id = $1 AND skill_id = $2",
        )
        .bind(tenant_id)
        .bind(skill_id)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT runtime_id, auto_install FROM skill_grants WHERE tenant_id = $1 AND skill_id = $2 \
             ORDER BY created_at, runtime_id LIMIT $3 OFFSET $4",
        )
        .bind(tenant_id)
        .bind(skill_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let grants = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("runtime_id")?,
                    r.try_get::<i64, _>("auto_install")? != 0,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((grants, total))
    }

    /// Puts runtimes under the tenant's skill security policy for `channel`, or takes them out.
    pub async fn set_secure_identities(
        &self,
        tenant_id: &str,
        channel: &str,
        runtime_ids: &[String],
        secure: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        transact!(self, &[tenant_id], |tx| {
            for runtime_id in runtime_ids {
                sqlx::query(
                    "DELETE FROM skill_secure_identities WHERE tenant_id = $1 AND channel = $2 AND runtime_id = $3",
                )
                .bind(tenant_id)
                .bind(channel)
                .bind(runtime_id)
                .execute(&mut *tx.tx)
                .await?;
                if secure {
                    sqlx::query(
                        "INSERT INTO skill_secure_identities (tenant_id, channel, runtime_id, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(tenant_id)
                    .bind(channel)
                    .bind(runtime_id)
                    .bind(now)
                    .execute(&mut *tx.tx)
                    .await?;
                }
            }
            bump_runtimes(tx, tenant_id, runtime_ids, now).await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn secure_identities(
        &self,
        tenant_id: &str,
        channel: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<String>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM skill_secure_identities WHERE tenant_id = $1 AND channel = $2",
        )
        .bind(tenant_id)
        .bind(channel)
        .fetch_one(&self.pool)
        .await?;
        let ids = sqlx::query_scalar(
            "SELECT runtime_id FROM skill_secure_identities WHERE tenant_id = $1 AND channel = $2 \
             ORDER BY created_at, runtime_id LIMIT $3 OFFSET $4",
        )
        .bind(tenant_id)
        .bind(channel)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((ids, total))
    }

    /// The enabled skills granted to a runtime, each at its default version; and whether the
    /// runtime is under the skill security policy (of any channel).
    pub async fn runtime_skills(
        &self,
        tenant_id: &str,
        runtime_id: &str,
    ) -> Result<(Vec<GrantedSkill>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.skill_name, s.env_vars_enc, s.api_key_enc, v.version, v.object_key, v.sha256, \
             v.size, v.scan_risk, g.auto_install \
             FROM skill_grants g JOIN skills s ON s.id = g.skill_id \
             JOIN skill_versions v ON v.skill_id = s.id AND v.version = s.default_version \
             WHERE g.tenant_id = $1 AND g.runtime_id = $2 AND s.enabled = 1 ORDER BY s.skill_name, s.id",
        )
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_all(&self.pool)
        .await?;
        let skills = rows
            .iter()
            .map(|r| {
                Ok(GrantedSkill {
                    skill_id: r.try_get("id")?,
                    skill_name: r.try_get("skill_name")?,
                    version: r.try_get("version")?,
                    object_key: r.try_get("object_key")?,
                    sha256: r.try_get("sha256")?,
                    size: r.try_get("size")?,
                    scan_risk: r.try_get("scan_risk")?,
                    auto_install: r.try_get::<i64, _>("auto_install")? != 0,
                    env_vars: self.open(r.try_get("env_vars_enc")?)?,
                    api_key: self.open(r.try_get("api_key_enc")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let secure: Option<String> = sqlx::query_scalar(
            "SELECT runtime_id FROM skill_secure_identities WHERE tenant_id = $1 AND runtime_id = $2 LIMIT 1",
        )
        .bind(tenant_id)
        .bind(runtime_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok((skills, secure.is_some()))
    }
}

/// Bumps the generation of the runtimes a skill is granted to.
async fn bump_granted(
    tx: &mut crate::WriteTx<'_>,
    skill_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runtimes SET generation = generation + 1, updated_at = $1 \
         WHERE id IN (SELECT runtime_id FROM skill_grants WHERE skill_id = $2)",
    )
    .bind(now)
    .bind(skill_id)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

async fn bump_runtimes(
    tx: &mut crate::WriteTx<'_>,
    tenant_id: &str,
    runtime_ids: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let mut sql = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
    sql.bind_int(now)
        .push(" WHERE tenant_id = ")
        .bind_text(tenant_id)
        .push(" AND");
    sql.in_list("id", runtime_ids);
    sql.query()?.execute(&mut *tx.tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{runtime, test_store};

    fn task(tenant: &str, key: &str, at: i64) -> ParseTask {
        ParseTask {
            task_key: key.into(),
            tenant_id: tenant.into(),
            object_key: format!("tenants/{tenant}/skill/{key}.zip"),
            etag: "E".into(),
            status: ParseStatus::Parsing,
            result: None,
            error_code: None,
            error_message: None,
            attempts: 0,
            created_at: at,
        }
    }

    #[tokio::test]
    async fn a_parse_task_has_one_worker_at_a_time_and_never_runs_forever() -> Result<(), StoreError>
    {
        let (store, tenant, _dir) = test_store("skill-tasks").await?;
        store.create_parse_task(&task(&tenant, "T1", 1)).await?;
        let first = store.claim_parse_task("a", 10, 1_000, 2).await?;
        assert_eq!(first.map(|t| t.attempts), Some(1));
        // Held: the other replica finds nothing to do.
        assert!(store.claim_parse_task("b", 20, 1_000, 2).await?.is_none());
        // a died; its lease ran out and b takes the task over.
        let second = store.claim_parse_task("b", 2_000, 1_000, 2).await?;
        assert_eq!(second.map(|t| t.attempts), Some(2));
        // a comes back late: its result is refused, b's stands.
        let done = ParseOutcome::Completed {
            result: "{}".into(),
        };
        assert!(!store.finish_parse_task("T1", "a", 2_100, &done).await?);
        // b dies too: the third taker fails the task instead of running it again.
        assert!(
            store
                .claim_parse_task("c", 4_000, 1_000, 2)
                .await?
                .is_none()
        );
        let failed = store.parse_task(&tenant, "T1").await?;
        assert_eq!(failed.as_ref().map(|t| t.status), Some(ParseStatus::Failed));
        assert_eq!(
            failed.and_then(|t| t.error_code).as_deref(),
            Some("Package.ParseAborted")
        );
        // Another tenant cannot read it.
        assert!(store.parse_task("t2", "T1").await?.is_none());
        Ok(())
    }

    fn version(v: &str, at: i64) -> SkillVersion {
        SkillVersion {
            version: v.into(),
            task_key: format!("T-{v}"),
            object_key: format!("k-{v}"),
            sha256: "00".into(),
            size: 10,
            scan_status: "PASSED".into(),
            scan_score: 100,
            scan_risk: "NONE".into(),
            scan_fail_reason: String::new(),
            findings: "[]".into(),
            created_at: at,
        }
    }

    fn skill(tenant: &str, id: &str, slug: &str) -> Skill {
        Skill {
            id: id.into(),
            tenant_id: tenant.into(),
            channel: "ENTERPRISE".into(),
            slug: slug.into(),
            skill_name: slug.into(),
            display_name: slug.into(),
            description: "d".into(),
            author: tenant.into(),
            enabled: true,
            env_vars: Some(Secret::new(r#"{"TOKEN":"abc"}"#)),
            api_key: None,
            icon_key: None,
            default_version: "1.0.0".into(),
            created_at: 1,
            versions: Vec::new(),
        }
    }

    #[tokio::test]
    async fn skills_are_versioned_by_slug_granted_and_deleted() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("skills").await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-r1", None)])
            .await?;
        let created = store
            .create_skill(&skill(&tenant, "s-1", "weather"), &version("1.0.0", 1))
            .await?;
        assert_eq!(created, SkillCreated::New("s-1".into()));
        // The same slug again is a new version of the same skill, which it defaults to.
        let again = store
            .create_skill(&skill(&tenant, "s-2", "weather"), &version("1.1.0", 2))
            .await?;
        assert_eq!(again, SkillCreated::Version("s-1".into()));
        let same = store
            .create_skill(&skill(&tenant, "s-3", "weather"), &version("1.1.0", 3))
            .await?;
        assert_eq!(same, SkillCreated::VersionExists("s-1".into()));
        let (skills, total) = store.list_skills(&tenant, "ENTERPRISE", &[], 0, 10).await?;
        assert_eq!(total, 1);
        assert_eq!(skills[0].default_version, "1.1.0");
        let versions: Vec<&str> = skills[0]
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(versions, ["1.1.0", "1.0.0"]);
        assert_eq!(
            skills[0].env_vars.as_ref().map(Secret::expose),
            Some(r#"{"TOKEN":"abc"}"#)
        );

        let ids = vec!["s-1".to_string()];
        let runtimes = vec!["ecd-r1".to_string()];
        store
            .set_skill_grants(&tenant, &ids, &runtimes, true, true, 5)
            .await?;
        let (granted, secure) = store.runtime_skills(&tenant, "ecd-r1").await?;
        assert_eq!(granted.len(), 1);
        assert_eq!(granted[0].version, "1.1.0");
        assert!(!secure);
        // Disabled tenant-wide: no longer delivered, still granted.
        store.set_skills_enabled(&tenant, &ids, false, 6).await?;
        assert!(store.runtime_skills(&tenant, "ecd-r1").await?.0.is_empty());
        assert_eq!(store.skill_grants(&tenant, "s-1", 0, 10).await?.1, 1);
        store
            .set_secure_identities(&tenant, "ENTERPRISE", &runtimes, true, 7)
            .await?;
        assert_eq!(
            store
                .secure_identities(&tenant, "ENTERPRISE", 0, 10)
                .await?,
            (runtimes.clone(), 1)
        );
        assert!(store.runtime_skills(&tenant, "ecd-r1").await?.1);

        let keys = store.delete_skills(&tenant, &ids, 8).await?;
        assert_eq!(keys.len(), 2);
        assert_eq!(
            store
                .list_skills(&tenant, "ENTERPRISE", &[], 0, 10)
                .await?
                .1,
            0
        );
        assert_eq!(store.skill_grants(&tenant, "s-1", 0, 10).await?.1, 0);
        Ok(())
    }
}
