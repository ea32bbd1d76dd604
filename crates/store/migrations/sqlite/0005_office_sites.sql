-- Office sites (office networks) of a tenant. Ids are only unique within a tenant: they carry
-- ten random digits, and another tenant's site must stay invisible even on a collision.
CREATE TABLE office_sites (
    tenant_id               TEXT NOT NULL REFERENCES tenants(id),
    id                      TEXT NOT NULL,
    region_id               TEXT NOT NULL,
    name                    TEXT NOT NULL,
    status                  TEXT NOT NULL,
    office_site_type        TEXT NOT NULL,
    account_type            TEXT NOT NULL,
    vpc_type                TEXT NOT NULL,
    vpc_id                  TEXT NOT NULL,
    cidr_block              TEXT NOT NULL,
    v_switch_ids            TEXT NOT NULL,
    desktop_access_type     TEXT NOT NULL,
    enable_admin_access     BIGINT NOT NULL,
    enable_internet_access  BIGINT NOT NULL,
    bandwidth               BIGINT NOT NULL,
    need_verify_zero_device BIGINT NOT NULL,
    cloud_box_office_site   BIGINT NOT NULL,
    access_attribute        TEXT,
    cen_id                  TEXT,
    cen_owner_id            BIGINT,
    authority_host          TEXT,
    client_id               TEXT,
    idp_tenant_id           TEXT,
    domain_name             TEXT,
    eid                     TEXT,
    created_at              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX office_sites_list ON office_sites(tenant_id, region_id, created_at, id);

-- Desktops of a site: counted by DescribeOfficeSites, checked by DeleteOfficeSites.
CREATE INDEX runtimes_office_site ON runtimes(tenant_id, office_site_id);
