//! Pure types and rules of Pitchside: identifiers, seats, validated input and the
//! visibility rules that decide which people a viewer may see. No I/O lives here.

pub mod crm;
pub mod ids;
pub mod input;
pub mod password;
pub mod seat;
pub mod visibility;

pub use ids::{InvitationId, OrgId, SessionId, TeamId, UserId};
pub use input::{Email, FieldError, PersonName};
pub use password::{PasswordError, check_password};
pub use seat::Seat;
pub use visibility::{TeamEdge, managed_teams, would_cycle};
