//! The salesforce mock: to be written.
