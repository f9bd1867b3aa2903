//! Black-box tests of the running application: each test spawns the real server on a
//! loopback port against a fresh database, on SQLite and (when reachable, and always
//! under CI=true) on PostgreSQL.

mod audit;
mod auth;
mod bad_input;
mod csrf;
mod directory;
mod invitations;
mod notes;
mod platform;
mod rls;
mod session_reads;
mod tenancy;
mod transport;
mod visibility;
