-- Outgoing webhooks: subscriber endpoints, events (messages), the delivery queue (one row per
-- event x target, leased by workers) and the attempt log. See
-- crates/relay-server/src/store/postgres_queue.rs for the queries.

CREATE TABLE webhooks (
    id                   BIGSERIAL   PRIMARY KEY,
    name                 TEXT        NOT NULL,
    url                  TEXT        NOT NULL,
    events               TEXT[]      NOT NULL,
    website_ids          UUID[],
    status               TEXT        NOT NULL
                         CHECK (status IN ('active', 'inactive', 'disabled')),
    secret               TEXT        NOT NULL,
    headers              JSONB       NOT NULL DEFAULT '{}',
    retry_count          BIGINT      NOT NULL CHECK (retry_count >= 0),
    last_triggered_at    TIMESTAMPTZ,
    last_error           TEXT,
    consecutive_failures BIGINT      NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

-- The body is exactly what is signed and sent; message_id is the stable `webhook-id`.
CREATE TABLE webhook_events (
    id         BIGSERIAL   PRIMARY KEY,
    message_id TEXT        NOT NULL UNIQUE,
    event      TEXT        NOT NULL,
    website_id UUID,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_events_created_at_idx ON webhook_events (created_at);

-- The queue. A subscriber target names a webhook (deleted with it); a Pusher app webhook target
-- is the app id and URL from the configuration. `lease_token` fences completion: it is set by a
-- claim and cleared by completion and by the reaper.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL   PRIMARY KEY,
    event_id        BIGINT      NOT NULL REFERENCES webhook_events (id),
    kind            TEXT        NOT NULL CHECK (kind IN ('subscriber', 'pusher')),
    webhook_id      BIGINT      REFERENCES webhooks (id) ON DELETE CASCADE,
    app_id          TEXT,
    url             TEXT,
    state           TEXT        NOT NULL
                    CHECK (state IN ('pending', 'in_flight', 'succeeded', 'failed', 'skipped')),
    attempts        BIGINT      NOT NULL DEFAULT 0,
    max_attempts    BIGINT      NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    lease_token     UUID,
    lease_until     TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    CHECK ((kind = 'subscriber' AND webhook_id IS NOT NULL AND app_id IS NULL AND url IS NULL)
        OR (kind = 'pusher' AND webhook_id IS NULL AND app_id IS NOT NULL AND url IS NOT NULL))
);

-- Claim: due pending rows, oldest first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
-- Reap: expired leases.
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_until)
    WHERE state = 'in_flight';
-- A webhook's deliveries, newest first (admin API, recover, cascade).
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC);
-- Events left without deliveries (purge).
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
-- Purge: finished rows, oldest first.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (created_at)
    WHERE state IN ('succeeded', 'failed', 'skipped');

-- The attempt log; test calls have no delivery.
CREATE TABLE webhook_attempts (
    id          BIGSERIAL   PRIMARY KEY,
    attempt_id  UUID        NOT NULL UNIQUE,
    delivery_id BIGINT      REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id  BIGINT      REFERENCES webhooks (id) ON DELETE CASCADE,
    number      BIGINT      NOT NULL,
    status_code INTEGER,
    duration_ms BIGINT      NOT NULL,
    response    TEXT,
    error       TEXT,
    "trigger"   TEXT        NOT NULL CHECK ("trigger" IN ('scheduled', 'manual', 'test')),
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, created_at DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_test_idx ON webhook_attempts (created_at)
    WHERE delivery_id IS NULL;
