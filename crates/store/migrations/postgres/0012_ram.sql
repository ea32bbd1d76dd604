-- RAM: a tenant's users (their keys are rows of access_keys), roles, custom policies with their
-- versions, and which policies are attached to whom. System policies are amc's own, not rows.
-- Temporary (STS) keys are rows of access_keys too, naming their role and session; only a hash
-- of their security token is kept. Times: epoch ms.
ALTER TABLE access_keys ADD COLUMN user_name TEXT;
ALTER TABLE access_keys ADD COLUMN role_name TEXT;
ALTER TABLE access_keys ADD COLUMN session_name TEXT;
ALTER TABLE access_keys ADD COLUMN session_policy TEXT;
ALTER TABLE access_keys ADD COLUMN token_hash TEXT;
ALTER TABLE access_keys ADD COLUMN expires_at BIGINT;
-- calls per second this key may sign; NULL: the server's default
ALTER TABLE access_keys ADD COLUMN rate_limit BIGINT;
CREATE INDEX access_keys_user ON access_keys(tenant_id, user_name);
CREATE INDEX access_keys_role ON access_keys(tenant_id, role_name);
CREATE INDEX access_keys_expiry ON access_keys(expires_at);

CREATE TABLE ram_users (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    id            TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    comments      TEXT NOT NULL,
    email         TEXT NOT NULL,
    mobile_phone  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE ram_roles (
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    name                  TEXT NOT NULL,
    id                    TEXT NOT NULL,
    description           TEXT NOT NULL,
    trust_policy          TEXT NOT NULL,
    max_session_duration  BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
-- Role names are case-insensitive (ARNs lower-case them).
CREATE UNIQUE INDEX ram_roles_name ON ram_roles(tenant_id, LOWER(name));

CREATE TABLE ram_policies (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    default_version  TEXT NOT NULL,
    -- the number of the next version (versions are v1, v2, …, never reused)
    next_version     BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE ram_policy_versions (
    tenant_id    TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    version_id   TEXT NOT NULL,
    document     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, policy_name, version_id),
    FOREIGN KEY (tenant_id, policy_name) REFERENCES ram_policies(tenant_id, name) ON DELETE CASCADE
);

CREATE TABLE ram_attachments (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    -- User | Role
    principal_type  TEXT NOT NULL,
    principal_name  TEXT NOT NULL,
    -- System | Custom
    policy_type     TEXT NOT NULL,
    policy_name     TEXT NOT NULL,
    attached_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, principal_type, principal_name, policy_type, policy_name)
);
CREATE INDEX ram_attachments_policy ON ram_attachments(tenant_id, policy_type, policy_name);
