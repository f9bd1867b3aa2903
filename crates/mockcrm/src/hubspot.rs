//! The hubspot mock: to be written.
