//! A user's lifecycle status (`users.status`): the one vocabulary the user rules, the
//! principal loader and the SCIM layer share. Deleted stays `users.deleted_at`.

use crate::entity::user;

/// Where a (not deleted) user stands: `users.status`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Signs in and holds a seat.
    Active,
    /// Keeps team, role and history, but cannot sign in and holds no seat.
    Suspended,
}

impl Status {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Suspended => "SUSPENDED",
        }
    }

    /// Reads the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Status::Active),
            "SUSPENDED" => Some(Status::Suspended),
            _ => None,
        }
    }

    /// A user's status; an unreadable value counts as suspended (fail closed; the database
    /// allows only the two).
    pub fn of(user: &user::Model) -> Self {
        Status::parse(&user.status).unwrap_or(Status::Suspended)
    }
}
