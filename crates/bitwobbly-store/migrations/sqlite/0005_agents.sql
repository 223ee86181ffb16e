-- Checker agents: locations, their tokens, exactly-once cursors, per-location monitor state,
-- and each monitor's quorum policy.

-- A place where agents run monitors. The server itself is the location `local`, which has no
-- row. last_* record the latest contact from any agent of the location.
CREATE TABLE locations (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER,
    last_agent_id  TEXT,
    last_version   TEXT,
    UNIQUE (workspace_id, name)
);

-- Agent tokens: scoped to one workspace and one location, stored as SHA-256 hashes with a
-- public prefix for lookup, like API tokens.
CREATE TABLE agent_tokens (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    location_id   INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    token_hash    BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX agent_tokens_location ON agent_tokens(workspace_id, location_id);

-- The highest result sequence number stored per location and agent installation.
CREATE TABLE agent_cursors (
    location_id  INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    agent_id     TEXT NOT NULL,
    last_seq     INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (location_id, agent_id)
);

-- Each location's own view of a monitor: the core HealthTracker as JSON.
CREATE TABLE monitor_location_state (
    monitor_id      INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    workspace_id    INTEGER NOT NULL,
    location        TEXT NOT NULL,
    tracker         TEXT NOT NULL,
    last_result_at  INTEGER,
    last_status     TEXT,
    reason          TEXT,
    PRIMARY KEY (monitor_id, location)
);
CREATE INDEX monitor_location_state_ws ON monitor_location_state(workspace_id, location);

-- The core QuorumPolicy as JSON; NULL means the default (majority, stale after 5 minutes).
ALTER TABLE monitors ADD COLUMN quorum TEXT;

-- Whether the server's own scheduler runs the monitor: heartbeats (judged by their deadlines)
-- and monitors whose locations are empty or include `local`.
ALTER TABLE monitor_state ADD COLUMN runs_local BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE monitor_state SET runs_local = FALSE WHERE monitor_id IN (
    SELECT id FROM monitors WHERE kind <> 'heartbeat' AND locations <> '[]'
    AND locations NOT LIKE '%"local"%');
