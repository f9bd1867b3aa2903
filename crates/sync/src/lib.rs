//! The CRM sync engine. For each connection and kind of record it reads the stored
//! checkpoint, fetches the next page through the connector, and stores the page's
//! changes together with the new checkpoint in one transaction ([`store`]'s
//! `apply_page`) — so a crash at any point resumes after the last stored page and
//! replaying a page changes nothing. While one page is written the next is fetched.
//!
//! Syncs run as jobs on the database queue ([`worker`]): a worker leases a
//! connection's job, so one connection is synced by one worker at a time however many
//! instances run, and a lapsed lease (a crashed instance) hands the sync to another.

mod config;
mod engine;
mod worker;

pub use config::SyncConfig;
pub use engine::{Engine, RunReport};
pub use worker::spawn_workers;
