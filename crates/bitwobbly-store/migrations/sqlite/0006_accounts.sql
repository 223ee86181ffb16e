-- Accounts: email verification, two-factor sign-in (TOTP and recovery codes), single-use
-- expiring links (verify email, reset password, invitations) and what a session came from.
-- Times are milliseconds since the Unix epoch (UTC).

-- The TOTP secret (base32) is stored as given: it is needed in clear to check codes, is
-- never part of any view or API answer, and is cleared when two-factor sign-in is turned off.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
-- The last 30-second step a code was accepted for: a code works once.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_user ON sessions(user_id);

-- Recovery codes: SHA-256 hashes, each usable once.
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- Single-use, expiring links and steps, by purpose: verify_email, reset_password,
-- invitation (with the workspace and role), two_factor (a password-checked sign-in waiting
-- for its code: it is not a session and can do nothing else). Only the hash is kept.
CREATE TABLE account_tokens (
    id            INTEGER PRIMARY KEY,
    purpose       TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    workspace_id  INTEGER REFERENCES workspaces(id) ON DELETE CASCADE,
    role          TEXT,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX account_tokens_workspace ON account_tokens(workspace_id, purpose);
CREATE INDEX account_tokens_expiry ON account_tokens(expires_at);
