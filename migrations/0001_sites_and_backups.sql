-- Sites (normalized domain -> website_id) and the backups reported by each site's plugin.

CREATE TABLE sites (
    domain     TEXT        PRIMARY KEY,
    website_id UUID        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sites_website_id_idx ON sites (website_id);

CREATE TABLE backups (
    website_id    UUID        NOT NULL,
    backup_id     TEXT        NOT NULL,
    status        TEXT        NOT NULL,
    progress      SMALLINT    NOT NULL CHECK (progress BETWEEN 0 AND 100),
    error_message TEXT,
    metadata      JSONB,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    PRIMARY KEY (website_id, backup_id)
);
