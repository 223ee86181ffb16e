-- Bit Wobbly schema for SQLite. Times are milliseconds since the Unix epoch (UTC).
-- Every row a workspace owns carries workspace_id, and every query filters on it.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    token_hash    BLOB NOT NULL,
    role          TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_tokens_ws ON api_tokens(workspace_id);

CREATE TABLE monitors (
    id                  INTEGER PRIMARY KEY,
    workspace_id        INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    spec                TEXT NOT NULL,
    schedule_kind       TEXT NOT NULL,
    interval_secs       INTEGER,
    cron                TEXT,
    failure_threshold   INTEGER NOT NULL,
    recovery_threshold  INTEGER NOT NULL,
    degraded_after_ms   INTEGER,
    paused              BOOLEAN NOT NULL,
    locations           TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX monitors_ws ON monitors(workspace_id, id);

-- Scheduling state and the lease; one row per monitor.
CREATE TABLE monitor_state (
    monitor_id             INTEGER PRIMARY KEY REFERENCES monitors(id) ON DELETE CASCADE,
    workspace_id           INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    consecutive_failures   INTEGER NOT NULL,
    consecutive_successes  INTEGER NOT NULL,
    last_result_at         INTEGER,
    last_status            TEXT,
    next_run_at            INTEGER NOT NULL,
    paused                 BOOLEAN NOT NULL,
    lease_owner            TEXT,
    lease_expires_at       INTEGER
);
CREATE INDEX monitor_state_due ON monitor_state(paused, next_run_at);

-- Raw results: no foreign key (bulk table); deleting a monitor deletes its results explicitly.
CREATE TABLE check_results (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    monitor_id    INTEGER NOT NULL,
    location      TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    status        TEXT NOT NULL,
    dns_us        INTEGER NOT NULL,
    connect_us    INTEGER NOT NULL,
    tls_us        INTEGER NOT NULL,
    ttfb_us       INTEGER NOT NULL,
    transfer_us   INTEGER NOT NULL,
    total_us      INTEGER NOT NULL,
    http_status   INTEGER,
    error_kind    TEXT,
    message       TEXT
);
CREATE INDEX check_results_monitor_time ON check_results(monitor_id, started_at, id);

CREATE TABLE rollups_hourly (
    monitor_id    INTEGER NOT NULL,
    bucket_start  INTEGER NOT NULL,
    workspace_id  INTEGER NOT NULL,
    up            INTEGER NOT NULL,
    degraded      INTEGER NOT NULL,
    down          INTEGER NOT NULL,
    lat_count     INTEGER NOT NULL,
    lat_min_us    INTEGER,
    lat_max_us    INTEGER,
    lat_sum_us    INTEGER NOT NULL,
    sketch        BLOB NOT NULL,
    PRIMARY KEY (monitor_id, bucket_start)
);
CREATE INDEX rollups_hourly_time ON rollups_hourly(bucket_start);

CREATE TABLE rollups_daily (
    monitor_id    INTEGER NOT NULL,
    bucket_start  INTEGER NOT NULL,
    workspace_id  INTEGER NOT NULL,
    up            INTEGER NOT NULL,
    degraded      INTEGER NOT NULL,
    down          INTEGER NOT NULL,
    lat_count     INTEGER NOT NULL,
    lat_min_us    INTEGER,
    lat_max_us    INTEGER,
    lat_sum_us    INTEGER NOT NULL,
    sketch        BLOB NOT NULL,
    PRIMARY KEY (monitor_id, bucket_start)
);
CREATE INDEX rollups_daily_time ON rollups_daily(bucket_start);

-- Watermarks of the compaction job.
CREATE TABLE compaction_state (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    monitor_id    INTEGER REFERENCES monitors(id) ON DELETE SET NULL,
    kind          TEXT NOT NULL,
    title         TEXT NOT NULL,
    status        TEXT NOT NULL,
    impact        TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    resolved_at   INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX incidents_ws ON incidents(workspace_id, started_at);
CREATE INDEX incidents_open_monitor ON incidents(monitor_id) WHERE resolved_at IS NULL;

CREATE TABLE incident_updates (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    status        TEXT NOT NULL,
    message       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates(incident_id, created_at);

CREATE TABLE notification_channels (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    config        TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX notification_channels_ws ON notification_channels(workspace_id);

CREATE TABLE monitor_channels (
    monitor_id    INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    channel_id    INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, channel_id)
);

CREATE TABLE projects (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    platform      TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, slug)
);

CREATE TABLE project_channels (
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    channel_id    INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    PRIMARY KEY (project_id, channel_id)
);

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id        INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    event             TEXT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    finished_at       INTEGER
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_ws_state ON outbox(workspace_id, state);

CREATE TABLE status_pages (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    description    TEXT,
    custom_domain  TEXT UNIQUE,
    public         BOOLEAN NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE component_groups (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    page_id       INTEGER NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    position      INTEGER NOT NULL
);

CREATE TABLE components (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    page_id       INTEGER NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    group_id      INTEGER REFERENCES component_groups(id) ON DELETE SET NULL,
    monitor_id    INTEGER REFERENCES monitors(id) ON DELETE SET NULL,
    name          TEXT NOT NULL,
    description   TEXT,
    status        TEXT NOT NULL,
    position      INTEGER NOT NULL
);
CREATE INDEX components_page ON components(page_id, position);

CREATE TABLE incident_components (
    incident_id   INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    component_id  INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    PRIMARY KEY (incident_id, component_id)
);

CREATE TABLE maintenance_windows (
    id                INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    message           TEXT NOT NULL,
    starts_at         INTEGER NOT NULL,
    ends_at           INTEGER NOT NULL,
    recurrence_cron   TEXT,
    duration_secs     INTEGER,
    created_at        INTEGER NOT NULL
);

CREATE TABLE maintenance_components (
    maintenance_id  INTEGER NOT NULL REFERENCES maintenance_windows(id) ON DELETE CASCADE,
    component_id    INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,
    workspace_id    INTEGER NOT NULL,
    PRIMARY KEY (maintenance_id, component_id)
);

CREATE TABLE subscribers (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    page_id       INTEGER NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    target        TEXT NOT NULL,
    confirmed     BOOLEAN NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (page_id, kind, target)
);

CREATE TABLE dsn_keys (
    id                     INTEGER PRIMARY KEY,
    workspace_id           INTEGER NOT NULL,
    project_id             INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    public_key             TEXT NOT NULL UNIQUE,
    label                  TEXT NOT NULL,
    status                 TEXT NOT NULL,
    rate_limit_per_minute  INTEGER,
    created_at             INTEGER NOT NULL
);

CREATE TABLE envelopes (
    id                INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL,
    project_id        INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id          TEXT,
    received_at       INTEGER NOT NULL,
    size              INTEGER NOT NULL,
    blob_key          TEXT NOT NULL,
    item_types        TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    last_error        TEXT
);
CREATE INDEX envelopes_pending ON envelopes(received_at) WHERE state = 'pending';

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    fingerprint   TEXT NOT NULL,
    title         TEXT NOT NULL,
    culprit       TEXT,
    level         TEXT NOT NULL,
    status        TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    event_count   INTEGER NOT NULL,
    user_count    INTEGER NOT NULL,
    regressed     BOOLEAN NOT NULL,
    resolved_at   INTEGER,
    UNIQUE (project_id, fingerprint)
);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    issue_id      INTEGER REFERENCES issues(id) ON DELETE CASCADE,
    level         TEXT NOT NULL,
    timestamp     INTEGER NOT NULL,
    release       TEXT,
    environment   TEXT,
    title         TEXT NOT NULL,
    culprit       TEXT,
    tags          TEXT NOT NULL,
    blob_key      TEXT,
    UNIQUE (project_id, event_id)
);
CREATE INDEX events_issue ON events(issue_id, timestamp);

CREATE TABLE transactions (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    op            TEXT,
    duration_us   INTEGER NOT NULL,
    status        TEXT,
    timestamp     INTEGER NOT NULL
);
CREATE INDEX transactions_project_time ON transactions(project_id, timestamp);

CREATE TABLE session_rollups (
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    release       TEXT NOT NULL,
    environment   TEXT NOT NULL,
    bucket_start  INTEGER NOT NULL,
    started       INTEGER NOT NULL,
    exited        INTEGER NOT NULL,
    errored       INTEGER NOT NULL,
    crashed       INTEGER NOT NULL,
    abnormal      INTEGER NOT NULL,
    PRIMARY KEY (project_id, release, environment, bucket_start)
);

CREATE TABLE check_ins (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    check_in_id   TEXT NOT NULL,
    monitor_slug  TEXT NOT NULL,
    status        TEXT NOT NULL,
    duration_ms   INTEGER,
    environment   TEXT,
    received_at   INTEGER NOT NULL
);
CREATE INDEX check_ins_slug ON check_ins(project_id, monitor_slug, received_at);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    content_type  TEXT,
    size          INTEGER NOT NULL,
    blob_key      TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX attachments_event ON attachments(project_id, event_id);
