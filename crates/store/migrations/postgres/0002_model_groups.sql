-- Model groups (model templates), their provider templates and LLM templates, the resource
-- group bindings delivery will fill, and the indexes that find the runtimes of a group.
CREATE TABLE model_templates (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    agent_platform  TEXT NOT NULL,
    agent_provider  TEXT NOT NULL,
    biz_type        BIGINT NOT NULL,
    ref_scope       TEXT NOT NULL,
    source          TEXT NOT NULL,
    config          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX model_templates_list ON model_templates(tenant_id, biz_type, created_at, id);

CREATE TABLE model_provider_templates (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    model_template_id   TEXT NOT NULL REFERENCES model_templates(id),
    provider_name       TEXT NOT NULL,
    provider_type       TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    agent_platform      TEXT NOT NULL,
    agent_provider      TEXT NOT NULL,
    biz_type            BIGINT NOT NULL,
    base_url            TEXT NOT NULL,
    api                 TEXT NOT NULL,
    -- Encrypted with the store cipher; NULL when the provider has no key.
    api_key_enc         TEXT,
    enable_wuying_proxy BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (model_template_id, provider_name)
);
CREATE INDEX model_provider_templates_list ON model_provider_templates(tenant_id, model_template_id, created_at, id);

CREATE TABLE llm_templates (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    model_template_id     TEXT NOT NULL REFERENCES model_templates(id),
    provider_template_id  TEXT NOT NULL REFERENCES model_provider_templates(id),
    llm_code              TEXT NOT NULL,
    name                  TEXT NOT NULL,
    description           TEXT NOT NULL,
    config                TEXT NOT NULL,
    is_default            BIGINT NOT NULL,
    -- Prices per million tokens and the credit multiplier range, as decimal strings (NULL: unknown).
    price_input           TEXT,
    price_output          TEXT,
    price_cache_read      TEXT,
    price_cache_write     TEXT,
    credit_multiplier_min TEXT,
    credit_multiplier_max TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    UNIQUE (provider_template_id, llm_code)
);
CREATE INDEX llm_templates_group ON llm_templates(tenant_id, model_template_id, created_at, id);
CREATE INDEX llm_templates_provider ON llm_templates(provider_template_id);
-- At most one default model per group.
CREATE UNIQUE INDEX llm_templates_one_default ON llm_templates(model_template_id) WHERE is_default = 1;

-- A model group delivered to a resource group, per agent product; runtimes without a direct
-- model_template_id inherit it.
CREATE TABLE resource_group_model_templates (
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    resource_group_id  TEXT NOT NULL,
    agent_provider     TEXT NOT NULL,
    model_template_id  TEXT NOT NULL REFERENCES model_templates(id),
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (resource_group_id, agent_provider)
);
CREATE INDEX resource_group_model_templates_group ON resource_group_model_templates(tenant_id, model_template_id);

-- Finding the runtimes whose desired state a model group change touches.
CREATE INDEX runtimes_model_template ON runtimes(tenant_id, model_template_id);
CREATE INDEX runtimes_resource_group_agent ON runtimes(tenant_id, resource_group_id, agent_provider);
