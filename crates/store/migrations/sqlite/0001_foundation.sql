-- Tenants, their access keys and the runtime inventory. Signature nonces live in a database
-- file of their own (migrations/sqlite-nonces): their constant writes would otherwise
-- invalidate every connection's page cache of this one.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE access_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    secret_enc  TEXT NOT NULL,
    is_root     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX access_keys_tenant ON access_keys(tenant_id);

CREATE TABLE runtimes (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
    region_id         TEXT NOT NULL,
    office_site_id    TEXT,
    bundle_id         TEXT,
    image_id          TEXT,
    template_name     TEXT NOT NULL,
    os_type           TEXT NOT NULL,
    platform          TEXT NOT NULL,
    desktop_type      TEXT NOT NULL,
    cpu               BIGINT NOT NULL,
    memory_mib        BIGINT NOT NULL,
    system_disk_gib   BIGINT NOT NULL,
    data_disk_gib     BIGINT NOT NULL,
    charge_type       TEXT NOT NULL,
    hostname          TEXT,
    policy_group_id   TEXT,
    agent_platform    TEXT NOT NULL,
    agent_provider    TEXT NOT NULL,
    agent_version     TEXT NOT NULL,
    agent_status      TEXT NOT NULL,
    deployment_source TEXT NOT NULL,
    desktop_status    TEXT NOT NULL,
    resource_group_id TEXT,
    model_template_id TEXT,
    biz_type          BIGINT NOT NULL,
    has_auth_user     BIGINT NOT NULL,
    auth_users        TEXT NOT NULL,
    tags              TEXT NOT NULL,
    operation         TEXT,
    op_step           BIGINT,
    next_step_at      BIGINT,
    generation        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
-- AgentProvider is required by ListDesktopAgentRuntime, so it leads the listing indexes.
CREATE INDEX runtimes_list ON runtimes(tenant_id, agent_provider, created_at, id);
CREATE INDEX runtimes_status ON runtimes(tenant_id, agent_provider, desktop_status, created_at);
CREATE INDEX runtimes_describe ON runtimes(tenant_id, created_at, id);
CREATE INDEX runtimes_resource_group ON runtimes(tenant_id, resource_group_id);
CREATE INDEX runtimes_due ON runtimes(next_step_at) WHERE next_step_at IS NOT NULL;

CREATE TABLE runtime_users (
    runtime_id  TEXT NOT NULL REFERENCES runtimes(id),
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (runtime_id, user_id)
);
CREATE INDEX runtime_users_user ON runtime_users(tenant_id, user_id);

CREATE TABLE runtime_tags (
    runtime_id  TEXT NOT NULL REFERENCES runtimes(id),
    tenant_id   TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    PRIMARY KEY (runtime_id, tag_key)
);
CREATE INDEX runtime_tags_key ON runtime_tags(tenant_id, tag_key, tag_value);

-- Facts about the store itself, e.g. the id of the master key its secrets are encrypted under.
CREATE TABLE store_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
