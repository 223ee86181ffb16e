-- `bitwobbly serve`: configuration keys, heartbeat monitors, dependencies, the core state
-- machine in the monitor state, channel states, maintenance windows on monitors, set-up tokens.

-- Monitors: a key for configuration as code, the core schedule and thresholds as JSON (the
-- 0001 columns schedule_kind, interval_secs, cron, failure_threshold and recovery_threshold
-- are still written, derived, for older readers), a parent, and a heartbeat's ping token.
ALTER TABLE monitors ADD COLUMN key TEXT;
ALTER TABLE monitors ADD COLUMN schedule TEXT;
ALTER TABLE monitors ADD COLUMN thresholds TEXT;
ALTER TABLE monitors ADD COLUMN parent_id INTEGER REFERENCES monitors(id) ON DELETE SET NULL;
ALTER TABLE monitors ADD COLUMN ping_token TEXT;
CREATE UNIQUE INDEX monitors_key ON monitors(workspace_id, key);
CREATE UNIQUE INDEX monitors_ping_token ON monitors(ping_token);
CREATE INDEX monitors_parent ON monitors(parent_id);

-- Monitor state: the core state machine and heartbeat state as JSON, the last message.
ALTER TABLE monitor_state ADD COLUMN machine TEXT;
ALTER TABLE monitor_state ADD COLUMN heartbeat TEXT;
ALTER TABLE monitor_state ADD COLUMN last_message TEXT;
CREATE INDEX monitor_state_lease ON monitor_state(lease_owner) WHERE lease_owner IS NOT NULL;

-- Channels: a key, and why a channel was disabled automatically.
ALTER TABLE notification_channels ADD COLUMN key TEXT;
ALTER TABLE notification_channels ADD COLUMN disabled_reason TEXT;
CREATE UNIQUE INDEX notification_channels_key ON notification_channels(workspace_id, key);
CREATE INDEX monitor_channels_channel ON monitor_channels(channel_id);
CREATE INDEX outbox_lease ON outbox(lease_owner) WHERE lease_owner IS NOT NULL;

-- Status-page components: a key, unique on the page.
ALTER TABLE components ADD COLUMN key TEXT;
CREATE UNIQUE INDEX components_key ON components(page_id, key);
CREATE INDEX components_monitor ON components(monitor_id);

-- Maintenance windows: the recurrence's time zone, and monitors linked directly.
ALTER TABLE maintenance_windows ADD COLUMN recurrence_tz TEXT;
CREATE TABLE maintenance_monitors (
    maintenance_id  INTEGER NOT NULL REFERENCES maintenance_windows(id) ON DELETE CASCADE,
    monitor_id      INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    workspace_id    INTEGER NOT NULL,
    PRIMARY KEY (maintenance_id, monitor_id)
);
CREATE INDEX maintenance_monitors_monitor ON maintenance_monitors(monitor_id);
CREATE INDEX maintenance_components_component ON maintenance_components(component_id);

-- A monitor's incidents, newest first.
CREATE INDEX incidents_monitor ON incidents(monitor_id, started_at);

-- One-time set-up tokens (creating the first administrator); only the hash is stored.
CREATE TABLE setup_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
