//! Cross-node signals: PostgreSQL `LISTEN/NOTIFY`, so that caches on every node can drop what
//! another node changed. On SQLite (one node) there is nobody to tell: sending does nothing and
//! there is no listener.

use crate::error::Result;
use crate::store::{Backend, Store};

/// Receives the payloads sent on one channel by [`Store::notify`] (from any node).
#[derive(Debug)]
pub struct Listener {
    /// The listening connection; `None` once the store was closed (it is given back so that
    /// closing the store does not wait for it).
    #[cfg(feature = "postgres")]
    inner: Option<sqlx::postgres::PgListener>,
    /// The pool the connection came from, to notice when it is closed.
    #[cfg(feature = "postgres")]
    pool: sqlx::PgPool,
}

impl Listener {
    /// The next payload. After a lost connection the listener reconnects and re-listens by
    /// itself; payloads sent meanwhile are lost, so after an error the caller should assume
    /// anything may have changed.
    ///
    /// # Errors
    /// A database error (the connection broke; the next call reconnects), or the store was
    /// closed (every later call fails at once).
    pub async fn recv(&mut self) -> Result<String> {
        #[cfg(feature = "postgres")]
        {
            let Some(inner) = self.inner.as_mut() else {
                return Err(sqlx::Error::PoolClosed.into());
            };
            match self.pool.close_event().do_until(inner.recv()).await {
                Ok(n) => Ok(n?.payload().to_owned()),
                Err(closed) => {
                    self.inner = None;
                    Err(closed.into())
                }
            }
        }
        #[cfg(not(feature = "postgres"))]
        {
            std::future::pending().await
        }
    }
}

impl Store {
    /// Sends `payload` to every listener of `channel` (on PostgreSQL; nothing on SQLite).
    ///
    /// # Errors
    /// A database error.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(payload)
                    .execute(pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Listens on `channel` with a dedicated connection; `None` on SQLite.
    ///
    /// # Errors
    /// A database error.
    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>> {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => {
                let _ = channel;
                Ok(None)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                let mut inner = sqlx::postgres::PgListener::connect_with(pool).await?;
                inner.listen(channel).await?;
                Ok(Some(Listener {
                    inner: Some(inner),
                    pool: pool.clone(),
                }))
            }
        }
    }
}
