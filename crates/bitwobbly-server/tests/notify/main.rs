//! The notification deliverer and its channels against real receivers on loopback, a real
//! SMTP server process, and real SQLite and PostgreSQL databases.

mod channels;
mod delivery;
mod email;
mod harness;
mod validate;
