//! pki test servers.
