//! dns probe tests.
