-- The skill center: upload grants (the temporary OSS credentials of GetOssStsToken), package
-- parse tasks (leased jobs), skills with their versions, grants to runtimes, and the runtimes
-- under the tenant's skill security policy. Times are epoch milliseconds.
CREATE TABLE upload_grants (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    secret_enc  TEXT NOT NULL,
    -- hex SHA-256 of the security token
    token_hash  TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    file_type   TEXT NOT NULL,
    max_bytes   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX upload_grants_expiry ON upload_grants(expires_at);

CREATE TABLE skill_parse_tasks (
    task_key      TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    object_key    TEXT NOT NULL,
    etag          TEXT NOT NULL,
    -- PARSING_METADATA, COMPLETED or FAILED
    status        TEXT NOT NULL,
    -- the parsed package (JSON) once COMPLETED
    result        TEXT,
    error_code    TEXT,
    error_message TEXT,
    -- the replica working on it, until when
    lease_owner   TEXT,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    attempts      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX skill_parse_tasks_due ON skill_parse_tasks(status, lease_until);

CREATE TABLE skills (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    channel        TEXT NOT NULL,
    slug           TEXT NOT NULL,
    skill_name     TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    description    TEXT NOT NULL,
    author         TEXT NOT NULL,
    enabled        BIGINT NOT NULL,
    -- JSON object of the environment variables, encrypted: values are often credentials
    env_vars_enc   TEXT,
    api_key_enc    TEXT,
    icon_key       TEXT,
    default_version TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, channel, slug)
);

CREATE TABLE skill_versions (
    skill_id      TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    task_key      TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    -- hex SHA-256 and size of the package as stored
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    -- PASSED or FAILED; risk NONE, LOW, MEDIUM, HIGH or CRITICAL
    scan_status   TEXT NOT NULL,
    scan_score    BIGINT NOT NULL,
    scan_risk     TEXT NOT NULL,
    scan_fail_reason TEXT NOT NULL,
    findings      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (skill_id, version)
);

CREATE TABLE skill_grants (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    skill_id     TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    runtime_id   TEXT NOT NULL,
    auto_install BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (skill_id, runtime_id)
);
CREATE INDEX skill_grants_runtime ON skill_grants(tenant_id, runtime_id);

CREATE TABLE skill_secure_identities (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    channel    TEXT NOT NULL,
    runtime_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel, runtime_id)
);
