-- Public status pages: page settings, domains, component display, incident review and
-- subscriber tokens.

-- Page settings. footer_links is a JSON array of {"label","url"}; password_hash is an
-- argon2id hash (NULL = open page), password_set_at changes with every new password (signed
-- visitor cookies name it, so a new password logs everyone out); hold_auto_incidents keeps
-- automatic incidents off the page until someone publishes them.
ALTER TABLE status_pages ADD COLUMN logo_url TEXT;
ALTER TABLE status_pages ADD COLUMN theme TEXT NOT NULL DEFAULT 'system';
ALTER TABLE status_pages ADD COLUMN footer_links TEXT NOT NULL DEFAULT '[]';
ALTER TABLE status_pages ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE status_pages ADD COLUMN password_hash TEXT;
ALTER TABLE status_pages ADD COLUMN password_set_at INTEGER;
ALTER TABLE status_pages ADD COLUMN hold_auto_incidents BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE status_pages ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE status_pages SET updated_at = created_at;

-- Custom domains, several per page, lowercase, unique across workspaces. They replace
-- status_pages.custom_domain, which is no longer read or written (SQLite cannot drop a
-- UNIQUE column; PostgreSQL drops it).
CREATE TABLE status_page_domains (
    domain        TEXT PRIMARY KEY,
    page_id       INTEGER NOT NULL REFERENCES status_pages(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX status_page_domains_page ON status_page_domains(page_id);
INSERT INTO status_page_domains (domain, page_id, workspace_id, created_at)
    SELECT lower(custom_domain), id, workspace_id, created_at FROM status_pages
    WHERE custom_domain IS NOT NULL AND custom_domain <> '';
UPDATE status_pages SET custom_domain = NULL;

-- Component groups and components: when they were created and last changed.
ALTER TABLE component_groups ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE component_groups ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

-- Components: whether the page shows the uptime bar and response times, and when the
-- component was created and last changed (its settings or its status).
ALTER TABLE components ADD COLUMN show_uptime BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE components ADD COLUMN show_response_times BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE components ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE components ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX component_groups_page ON component_groups(page_id, position);

-- Incidents: published = FALSE is an automatic incident not yet reviewed; pages with
-- hold_auto_incidents show it only once published (other pages show it at once).
ALTER TABLE incidents ADD COLUMN published BOOLEAN NOT NULL DEFAULT TRUE;

-- The status of each affected component during the incident.
ALTER TABLE incident_components ADD COLUMN status TEXT NOT NULL DEFAULT 'major_outage';
CREATE INDEX incident_components_component ON incident_components(component_id);

-- The component changes an update made (Statuspage affected_components).
CREATE TABLE incident_update_components (
    update_id     INTEGER NOT NULL REFERENCES incident_updates(id) ON DELETE CASCADE,
    incident_id   INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    component_id  INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL,
    old_status    TEXT,
    new_status    TEXT NOT NULL,
    PRIMARY KEY (update_id, component_id)
);
CREATE INDEX incident_update_components_incident ON incident_update_components(incident_id);

-- Subscribers: a random token (confirm and unsubscribe links) and when they confirmed.
ALTER TABLE subscribers ADD COLUMN token TEXT;
ALTER TABLE subscribers ADD COLUMN confirmed_at INTEGER;
UPDATE subscribers SET token = lower(hex(randomblob(16)));
UPDATE subscribers SET confirmed_at = created_at WHERE confirmed;
CREATE UNIQUE INDEX subscribers_token ON subscribers(token);

-- subscribers (extras)
-- Outbox rows for status-page subscribers: a row goes to a notification channel or to a
-- subscriber, exactly one of them. SQLite cannot make a column nullable in place, so the
-- table is rebuilt (nothing references it) with its rows and indexes.
CREATE TABLE outbox_new (
    id                INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id        INTEGER REFERENCES notification_channels(id) ON DELETE CASCADE,
    subscriber_id     INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
    event             TEXT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    CHECK ((channel_id IS NULL) <> (subscriber_id IS NULL))
);
INSERT INTO outbox_new (id, workspace_id, channel_id, subscriber_id, event, payload, state,
    attempts, next_attempt_at, lease_owner, lease_expires_at, last_error, created_at,
    finished_at)
    SELECT id, workspace_id, channel_id, NULL, event, payload, state, attempts,
    next_attempt_at, lease_owner, lease_expires_at, last_error, created_at, finished_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_ws_state ON outbox(workspace_id, state);
CREATE INDEX outbox_lease ON outbox(lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX outbox_subscriber ON outbox(subscriber_id) WHERE subscriber_id IS NOT NULL;
