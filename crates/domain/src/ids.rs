//! Identifier newtypes. Every id is a UUIDv7, so ids sort by creation time, which the
//! cursor pagination relies on. Distinct types keep a team id from being passed where a
//! user id is expected.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organization (the tenant).
    OrgId
);
id_type!(
    /// A person with a seat in an organization.
    UserId
);
id_type!(
    /// A team inside an organization.
    TeamId
);
id_type!(
    /// A pending or used invitation.
    InvitationId
);
id_type!(
    /// A server-side login session.
    SessionId
);
