//! Black-box tests of the running application: each test spawns the real server on a
//! loopback port against a fresh database, on SQLite and (when reachable, and always
//! under CI=true) on PostgreSQL.

mod audit;
mod auth;
mod bad_input;
mod crm_common;
mod crm_integrations;
mod crm_oauth;
mod crm_pages;
mod crm_providers;
mod crm_records;
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
