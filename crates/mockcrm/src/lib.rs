//! Mock CRMs: local HTTP servers speaking the wire formats of HubSpot, Salesforce and
//! Pipedrive closely enough that the real connectors are what tests exercise (paging,
//! search, errors, rate-limit headers and 429s, OAuth token endpoints).
//!
//! Every mock serves the same kind of [`World`]: a deterministic dataset of a chosen
//! size, generated lazily from record indices (so a million records cost almost no
//! memory), which tests and benchmarks can modify, delete from and grow between syncs.
//! A [`Mock`] records every request it receives (to prove no write ever arrives) and
//! can be told to misbehave ([`Fault`]). `pitchside demo` runs the HubSpot mock
//! in-process to fill its organization through the true sync path.

pub mod hubspot;
pub mod pipedrive;
pub mod salesforce;
pub mod server;
pub mod world;

pub use server::{Fault, Logged, Mock, MockOptions, MockState};
pub use world::{World, WorldSpec};
