-- A counter per tenant that every write transaction of the tenant bumps just before it commits:
-- a replica compares it with the one a cached page was read at, so the page is never staler than
-- the database, whichever replica wrote.
CREATE TABLE tenant_changes (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL
);
