//! Response bodies shared by several resources, and conversions from store records.

use bitwobbly_store::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A store timestamp as a date-time.
pub(crate) fn dt(t: Timestamp) -> OffsetDateTime {
    t.to_datetime()
}

/// An optional store timestamp as a date-time.
pub(crate) fn odt(t: Option<Timestamp>) -> Option<OffsetDateTime> {
    t.map(Timestamp::to_datetime)
}

/// A member's or token's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiRole {
    /// Everything, including deleting the workspace.
    Owner,
    /// Everything but deleting the workspace: also members and API tokens.
    Admin,
    /// Reads, and writes monitors, channels, incidents and maintenance windows.
    Member,
    /// Reads only.
    Viewer,
}

impl From<Role> for ApiRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<ApiRole> for Role {
    fn from(r: ApiRole) -> Self {
        match r {
            ApiRole::Owner => Self::Owner,
            ApiRole::Admin => Self::Admin,
            ApiRole::Member => Self::Member,
            ApiRole::Viewer => Self::Viewer,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            email: u.email,
            name: u.name,
            created_at: dt(u.created_at),
        }
    }
}

/// A workspace, with the caller's role in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceView {
    /// Id.
    pub id: i64,
    /// URL name, used in every path under `/workspaces/{workspace}`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The caller's role here.
    pub role: ApiRole,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl WorkspaceView {
    /// A workspace seen with `role`.
    pub fn new(ws: Workspace, role: Role) -> Self {
        Self {
            id: ws.id.0,
            slug: ws.slug,
            name: ws.name,
            role: role.into(),
            created_at: dt(ws.created_at),
        }
    }
}

/// An API token, without its secret (only the public prefix is shown).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// The workspace it acts in.
    pub workspace_id: i64,
    /// Label.
    pub name: String,
    /// The public start of the secret (`bw_<prefix>_...`), to recognise it.
    pub prefix: String,
    /// The role it acts with.
    pub role: ApiRole,
    /// The user who created it.
    pub created_by: Option<i64>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working, if it does.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Last successful use.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.0,
            workspace_id: t.workspace_id.0,
            name: t.name,
            prefix: t.prefix,
            role: t.role.into(),
            created_by: t.created_by.map(|u| u.0),
            created_at: dt(t.created_at),
            expires_at: odt(t.expires_at),
            last_used_at: odt(t.last_used_at),
            revoked_at: odt(t.revoked_at),
        }
    }
}
