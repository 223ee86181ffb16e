//! tls probe tests.
