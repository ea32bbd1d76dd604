-- The audit trail: every call that changes state and every refused call, as the API saw it.
-- Never a secret: the principal is an access key id, resources are ids. Times: epoch ms.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    tenant_id   TEXT,
    principal   TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    product     TEXT NOT NULL,
    action      TEXT NOT NULL,
    -- JSON array of the resource ids the request named
    resources   TEXT NOT NULL,
    code        TEXT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_principal ON audit_log(principal, at);
CREATE INDEX audit_log_action ON audit_log(action, at);
