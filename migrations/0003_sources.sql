-- Webhook sources (issue 8): the WordPress plugins (Fluent Community, Fast Events) and Standard
-- Webhooks senders whose own webhooks Relay accepts at POST /hooks/{id}; the durable inbox of
-- accepted requests (answered 200 once written, broadcast by the processor afterwards); the
-- delivery keys seen, for deduplication within a window. See
-- crates/relay-server/src/store/postgres_sources.rs for the queries.

CREATE TABLE sources (
    id         BIGSERIAL   PRIMARY KEY,
    kind       TEXT        NOT NULL
               CHECK (kind IN ('fluent_community', 'fast_events', 'standard_webhooks')),
    domain     TEXT        NOT NULL,
    secret     TEXT        NOT NULL,
    status     TEXT        NOT NULL CHECK (status IN ('active', 'inactive')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The raw body exactly as received, and the request headers the processor needs. A row leaves
-- `pending` once broadcast (`processed`) or given up (`dropped`, with a reason); `lease_until`
-- keeps two processors (nodes) from taking the same row at once.
CREATE TABLE source_inbox (
    id           BIGSERIAL   PRIMARY KEY,
    source_id    BIGINT      NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    dedup_key    TEXT,
    body         BYTEA       NOT NULL,
    headers      JSONB       NOT NULL DEFAULT '{}',
    received_at  TIMESTAMPTZ NOT NULL,
    state        TEXT        NOT NULL CHECK (state IN ('pending', 'processed', 'dropped')),
    reason       TEXT,
    lease_until  TIMESTAMPTZ,
    processed_at TIMESTAMPTZ
);

CREATE INDEX source_inbox_pending_idx ON source_inbox (id) WHERE state = 'pending';
CREATE INDEX source_inbox_source_idx ON source_inbox (source_id, id);
CREATE INDEX source_inbox_received_at_idx ON source_inbox (received_at);

-- One row per (source, delivery key): when it was last accepted. A key seen within the
-- window is a duplicate; an older one is accepted again and its time renewed.
CREATE TABLE source_dedup (
    source_id BIGINT      NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    dedup_key TEXT        NOT NULL,
    seen_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source_id, dedup_key)
);

CREATE INDEX source_dedup_seen_at_idx ON source_dedup (seen_at);
