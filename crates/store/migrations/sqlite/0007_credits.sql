-- Model credits and the gateway that meters them. Amounts are in units of a billionth of a
-- credit (see domain::credits).
CREATE TABLE credit_packs (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    amount     BIGINT NOT NULL,
    used       BIGINT NOT NULL DEFAULT 0,
    starts_at  BIGINT NOT NULL,
    -- NULL: never expires.
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credit_packs_tenant ON credit_packs(tenant_id, expires_at);

-- The row every claim and settlement of a tenant locks first (on PostgreSQL), so that the sum
-- of what replicas hold never passes what the packs and quotas leave.
CREATE TABLE credit_accounts (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id)
);

-- Per agent (runtime): its quota per calendar month (NULL: none), alert threshold, and the
-- gateway's rate limits (NULL: none).
CREATE TABLE credit_agents (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    agent_id     TEXT NOT NULL,
    agent_type   TEXT NOT NULL,
    quota        BIGINT,
    warn_percent BIGINT NOT NULL DEFAULT 80,
    rpm          BIGINT,
    tpm          BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

CREATE TABLE credit_agent_usage (
    tenant_id TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    -- YYYY-MM (UTC)
    period    TEXT NOT NULL,
    used      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, period)
);

-- What a gateway replica holds of an agent's budget: reserved here, spent from memory, settled
-- in batches. A lease not renewed by its replica expires and frees what it held.
CREATE TABLE credit_leases (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    held       BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX credit_leases_agent ON credit_leases(tenant_id, agent_id);

-- One row per metered model call; ids grow with time, so rows are appended to the index.
CREATE TABLE credit_deductions (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    agent_type    TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    package_id    TEXT NOT NULL,
    tokens_in     BIGINT NOT NULL,
    tokens_out    BIGINT NOT NULL,
    tokens_cached BIGINT NOT NULL,
    units         BIGINT NOT NULL,
    -- 1 when the upstream gave no token counts and amc estimated them.
    estimated     BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT NOT NULL
);
CREATE INDEX credit_deductions_time ON credit_deductions(tenant_id, ended_at);
CREATE INDEX credit_deductions_agent ON credit_deductions(tenant_id, agent_id, ended_at);

-- Gateway keys: found by id, checked by hash; the secret is also kept encrypted because the
-- desired state delivers it to the runtime's host.
CREATE TABLE gateway_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    runtime_id  TEXT NOT NULL REFERENCES runtimes(id),
    secret_hash TEXT NOT NULL,
    secret_enc  TEXT NOT NULL,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX gateway_keys_runtime ON gateway_keys(runtime_id);
