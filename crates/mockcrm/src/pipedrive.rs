//! The pipedrive mock: to be written.
