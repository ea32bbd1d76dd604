-- Resource groups of a tenant, and the IM channels configured on runtimes.
CREATE TABLE resource_groups (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Name is the group's unique identifier within its tenant.
    UNIQUE (tenant_id, name)
);
CREATE INDEX resource_groups_list ON resource_groups(tenant_id, created_at, id);

CREATE TABLE resource_group_tags (
    resource_group_id TEXT NOT NULL REFERENCES resource_groups(id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    tag_key           TEXT NOT NULL,
    tag_value         TEXT NOT NULL,
    PRIMARY KEY (resource_group_id, tag_key)
);
CREATE INDEX resource_group_tags_key ON resource_group_tags(tenant_id, tag_key, tag_value);

-- One row per (runtime, channel code). config_enc is the whole settings object, encrypted:
-- Custom settings are free-form, so any of their fields may be a credential.
CREATE TABLE runtime_channels (
    runtime_id   TEXT NOT NULL REFERENCES runtimes(id),
    tenant_id    TEXT NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    config_mode  TEXT NOT NULL,
    config_enc   TEXT NOT NULL,
    -- Configuring (QR-code channels until the runtime reports the login) or Configured.
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (runtime_id, code)
);
CREATE INDEX runtime_channels_tenant ON runtime_channels(tenant_id, runtime_id);
