-- The node daemons: enrolment tokens, per-runtime credentials, the last report of each runtime,
-- and what the reports make of the runtime (risk flags) beside its inventory row.
CREATE TABLE agent_enrolments (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    -- The runtime a one-time token binds; NULL for a tenant's enrolment secret, which registers
    -- a new runtime for each host that presents it, until revoked.
    runtime_id  TEXT REFERENCES runtimes(id),
    secret_hash TEXT NOT NULL,
    expires_at  BIGINT,
    used_at     BIGINT,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX agent_enrolments_runtime ON agent_enrolments(runtime_id);

CREATE TABLE agent_credentials (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    runtime_id  TEXT NOT NULL REFERENCES runtimes(id),
    secret_hash TEXT NOT NULL,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX agent_credentials_runtime ON agent_credentials(runtime_id);

-- One row per runtime: its daemon's last report. `digest` is the hash of `body`: a report equal
-- to the last one only moves `received_at`.
CREATE TABLE agent_reports (
    runtime_id  TEXT PRIMARY KEY REFERENCES runtimes(id),
    tenant_id   TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    digest      TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX agent_reports_received ON agent_reports(received_at);

ALTER TABLE runtimes ADD COLUMN risk_model BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runtimes ADD COLUMN risk_channel BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runtimes ADD COLUMN risk_uninstalled BIGINT NOT NULL DEFAULT 0;
-- Repair drift at once (1) or report it (0); NULL: as the resource group says, else report.
ALTER TABLE runtimes ADD COLUMN repair_drift BIGINT;
ALTER TABLE resource_groups ADD COLUMN repair_drift BIGINT;
