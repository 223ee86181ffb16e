-- Sentry-compatible ingest: what the endpoint, the processing worker and the query API need
-- beyond the tables of 0001.

-- envelopes (endpoint)
-- Small envelopes live inline: `body` holds a zstd frame of the raw bytes and `blob_key` is ''.
-- Larger ones are in blob storage under `blob_key` and `body` is NULL.
ALTER TABLE envelopes ADD COLUMN body BLOB;

-- processing
-- Per-project retention and issue-frequency alert settings (NULL: the server's defaults).
ALTER TABLE projects ADD COLUMN event_retention_days INTEGER;
ALTER TABLE projects ADD COLUMN envelope_retention_days INTEGER;
ALTER TABLE projects ADD COLUMN alert_frequency_count INTEGER;
ALTER TABLE projects ADD COLUMN alert_frequency_minutes INTEGER;

-- An event's payload is a byte range of its raw envelope: no second copy.
ALTER TABLE events ADD COLUMN envelope_id INTEGER;
ALTER TABLE events ADD COLUMN payload_offset INTEGER;
ALTER TABLE events ADD COLUMN payload_len INTEGER;
CREATE INDEX events_envelope ON events(envelope_id);

ALTER TABLE issues ADD COLUMN first_release TEXT;
ALTER TABLE issues ADD COLUMN last_release TEXT;
ALTER TABLE issues ADD COLUMN environment TEXT;
ALTER TABLE issues ADD COLUMN grouping_version TEXT;
ALTER TABLE issues ADD COLUMN frequency_alerted_at INTEGER;

-- Distinct users per issue (63-bit hashes of the user's identity).
CREATE TABLE issue_users (
    issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_hash  INTEGER NOT NULL,
    PRIMARY KEY (issue_id, user_hash)
) WITHOUT ROWID;

ALTER TABLE transactions ADD COLUMN release TEXT;
ALTER TABLE transactions ADD COLUMN environment TEXT;
ALTER TABLE transactions ADD COLUMN trace_id TEXT;
CREATE INDEX transactions_name ON transactions(project_id, name, timestamp);

-- Distinct session users per hour with their worst status (0 ok, 1 errored, 2 abnormal,
-- 3 crashed), for crash-free user rates.
CREATE TABLE session_users (
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    release       TEXT NOT NULL,
    environment   TEXT NOT NULL,
    bucket_start  INTEGER NOT NULL,
    user_hash     INTEGER NOT NULL,
    worst         INTEGER NOT NULL,
    PRIMARY KEY (project_id, release, environment, bucket_start, user_hash)
) WITHOUT ROWID;

-- What SDKs report having dropped, per hour, category and reason.
CREATE TABLE client_reports (
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket_start  INTEGER NOT NULL,
    category      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    quantity      INTEGER NOT NULL,
    PRIMARY KEY (project_id, bucket_start, category, reason)
);

-- User feedback (`feedback` items) and legacy user reports (`user_report` items).
CREATE TABLE feedback (
    id                   INTEGER PRIMARY KEY,
    workspace_id         INTEGER NOT NULL,
    project_id           INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind                 TEXT NOT NULL,
    event_id             TEXT,
    associated_event_id  TEXT,
    name                 TEXT,
    email                TEXT,
    message              TEXT NOT NULL,
    url                  TEXT,
    received_at          INTEGER NOT NULL
);
CREATE INDEX feedback_event ON feedback(project_id, associated_event_id);
CREATE INDEX feedback_time ON feedback(project_id, received_at);

ALTER TABLE check_ins ADD COLUMN release TEXT;
ALTER TABLE check_ins ADD COLUMN monitor_id INTEGER REFERENCES monitors(id) ON DELETE SET NULL;

-- Sentry cron monitors: a project's monitor slug and the heartbeat monitor behind it.
CREATE TABLE cron_monitors (
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    slug          TEXT NOT NULL,
    monitor_id    INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    config        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, slug)
);
CREATE INDEX cron_monitors_monitor ON cron_monitors(monitor_id);

ALTER TABLE attachments ADD COLUMN attachment_type TEXT;
CREATE INDEX attachments_time ON attachments(created_at);

-- sdk compatibility
-- What each individual session (`session` items, by `sid`) has counted in session_rollups,
-- so that repeated updates count once: `started` 1 once an `init` update was counted;
-- `outcome` the end state counted (0 none, 1 exited, 2 errored, 3 abnormal, 4 crashed), in
-- the bucket, release and environment of the first counted update. Pruned by retention.
CREATE TABLE session_states (
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sid           TEXT NOT NULL,
    release       TEXT NOT NULL,
    environment   TEXT NOT NULL,
    bucket_start  INTEGER NOT NULL,
    started       INTEGER NOT NULL,
    outcome       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, sid)
);
CREATE INDEX session_states_updated ON session_states(project_id, updated_at);
-- A check-in's later updates find it by id (Sentry updates one check-in in place).
CREATE INDEX check_ins_id ON check_ins(project_id, monitor_slug, check_in_id);
