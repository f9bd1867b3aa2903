//! Seats decide what a person sees: an executive the whole organization, a manager the
//! teams they manage (transitively), a rep only their own data.

use std::fmt;
use std::str::FromStr;

/// The seat a user holds in their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seat {
    Executive,
    Manager,
    Rep,
}

impl Seat {
    /// The stable lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Seat::Executive => "executive",
            Seat::Manager => "manager",
            Seat::Rep => "rep",
        }
    }

    /// A human label for pages.
    pub fn label(self) -> &'static str {
        match self {
            Seat::Executive => "Executive",
            Seat::Manager => "Manager",
            Seat::Rep => "Rep",
        }
    }

    /// All seats, in display order.
    pub const ALL: [Seat; 3] = [Seat::Executive, Seat::Manager, Seat::Rep];
}

impl fmt::Display for Seat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `executive`, `manager`, `rep`.
#[derive(Debug, thiserror::Error)]
#[error("seat must be one of executive, manager, rep")]
pub struct UnknownSeat;

impl FromStr for Seat {
    type Err = UnknownSeat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "executive" => Ok(Seat::Executive),
            "manager" => Ok(Seat::Manager),
            "rep" => Ok(Seat::Rep),
            _ => Err(UnknownSeat),
        }
    }
}
