//! The one error type of this crate.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL given to [`Store::open`](crate::Store::open) names no known backend.
    #[error("unsupported database url scheme {scheme:?}: expected sqlite: or postgres:")]
    UnsupportedUrl {
        /// The scheme found.
        scheme: String,
    },
    /// The URL names a backend whose cargo feature is off.
    #[error("the {backend} backend is not compiled in (enable the `{backend}` feature)")]
    BackendDisabled {
        /// `sqlite` or `postgres`.
        backend: &'static str,
    },
    /// The database reported an error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The row does not exist in this workspace (or at all).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `monitor`.
        entity: &'static str,
    },
    /// A unique constraint refused the write (e.g. a slug or an email already taken).
    #[error("already exists (constraint {constraint:?})")]
    Conflict {
        /// The database's constraint name, when it reports one.
        constraint: Option<String>,
    },
    /// A lease-protected write was made by a node that no longer holds the lease.
    #[error("lease on {entity} {id} is not held by {owner:?} or has expired")]
    LeaseLost {
        /// `monitor`, `notification` or `envelope`.
        entity: &'static str,
        /// The row's id.
        id: i64,
        /// The node that tried.
        owner: String,
    },
    /// A stored value could not be turned back into its type.
    #[error("invalid stored value in {column}: {problem}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// A JSON column could not be written or read.
    #[error("could not encode or decode {what} as JSON")]
    Json {
        /// Which value.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// An argument was refused before touching the database.
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The argument.
        field: &'static str,
        /// Why.
        problem: String,
    },
    /// Password hashing or the random source failed.
    #[error("credential error: {problem}")]
    Credential {
        /// What failed.
        problem: String,
    },
    /// A blob store operation failed.
    #[error("blob {op} failed for key {key:?}")]
    Blob {
        /// `put`, `get`, `delete` or `check`.
        op: &'static str,
        /// The key (for `check`, the root directory or bucket).
        key: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// No blob under this key.
    #[error("no blob under key {key:?}")]
    BlobNotFound {
        /// The key.
        key: String,
    },
}

impl StoreError {
    /// Whether the row was not found (in this workspace).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::BlobNotFound { .. })
    }

    /// Whether a unique constraint refused the write.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether a lease was lost (another node may now own the work).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Self::LeaseLost { .. })
    }

    pub(crate) fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }

    pub(crate) fn lease_lost(entity: &'static str, id: i64, owner: &str) -> Self {
        Self::LeaseLost {
            entity,
            id,
            owner: owner.to_owned(),
        }
    }

    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return Self::Conflict {
                constraint: db.constraint().map(str::to_owned),
            };
        }
        Self::Database(e)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
