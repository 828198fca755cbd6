//! Typed ids, one per table, and their external form.
//!
//! Clients see ids as opaque strings such as `user_0192f3…`: a short type prefix and the
//! row's UUIDv7 in hex. The prefix lets `node(id:)` find the right table and makes an id of
//! the wrong kind fail to parse instead of reaching a query for another table.

use std::fmt;

use uuid::Uuid;

/// One id a client sent, parsed where it came in (GraphQL, SCIM): `None` when the text is
/// no id of this kind. A service answers `None` as it answers an id of nothing (`NOT_FOUND`),
/// at the point where it looks the object up, so the checks that come first (permission, the
/// re-check of the actor) still answer first.
pub type Sent<T> = Option<T>;

/// What every typed id is: a copyable key over a UUID with an external form to parse.
pub trait TypedId: Copy + Eq + std::hash::Hash + fmt::Display + Into<Uuid> {
    /// Parses the external form; `None` for anything else, including ids of other kinds.
    fn parse(s: &str) -> Option<Self>;
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The prefix of this kind's external ids.
            pub const PREFIX: &'static str = $prefix;

            /// The nil id, which no row has.
            pub const NIL: Self = $name(Uuid::nil());

            /// Whether this is the nil id (a directory's user and team in its `Principal`).
            pub fn is_nil(self) -> bool {
                self.0.is_nil()
            }

            /// A new time-ordered id.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }

            /// Parses the external form; `None` for anything else, including ids of other kinds.
            pub fn parse(s: &str) -> Option<Self> {
                parse_prefixed(s, $prefix).map($name)
            }
        }

        impl TypedId for $name {
            fn parse(s: &str) -> Option<Self> {
                $name::parse(s)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }

        // In JSON the id is its UUID, as in its column: the rows that statements read as one
        // JSON parameter (`json_to_recordset`, `json_populate_record`). Clients see the
        // external form (`Display`), never this.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        // What `#[derive(sea_orm::DeriveValueType)]` would generate for a newtype over
        // `Uuid`: the id is stored as its UUID, so entity fields, filters and binds can carry
        // the typed id while the SQL stays the same.
        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }

        impl sea_orm::TryGetable for $name {
            fn try_get_by<I: sea_orm::ColIdx>(
                res: &sea_orm::QueryResult,
                index: I,
            ) -> Result<Self, sea_orm::TryGetError> {
                <Uuid as sea_orm::TryGetable>::try_get_by(res, index).map($name)
            }
        }

        impl sea_orm::sea_query::ValueType for $name {
            fn try_from(
                v: sea_orm::Value,
            ) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                <Uuid as sea_orm::sea_query::ValueType>::try_from(v).map($name)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                <Uuid as sea_orm::sea_query::ValueType>::array_type()
            }

            fn column_type() -> sea_orm::sea_query::ColumnType {
                <Uuid as sea_orm::sea_query::ValueType>::column_type()
            }
        }

        impl sea_orm::sea_query::Nullable for $name {
            fn null() -> sea_orm::Value {
                <Uuid as sea_orm::sea_query::Nullable>::null()
            }
        }

        impl sea_orm::IntoActiveValue<$name> for $name {
            fn into_active_value(self) -> sea_orm::ActiveValue<$name> {
                sea_orm::ActiveValue::Set(self)
            }
        }

        impl sea_orm::sea_query::postgres_array::NotU8 for $name {}

        impl sea_orm::TryGetableArray for $name {
            fn try_get_by<I: sea_orm::ColIdx>(
                res: &sea_orm::QueryResult,
                index: I,
            ) -> Result<Vec<Self>, sea_orm::TryGetError> {
                <Vec<Uuid> as sea_orm::TryGetable>::try_get_by(res, index)
                    .map(|ids| ids.into_iter().map($name).collect())
            }
        }

        /// A UUID key is never made from a number (as for `Uuid` itself).
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

id_type!(
    /// An account (tenant).
    AccountId, "acct"
);
id_type!(
    /// A department.
    DepartmentId, "dept"
);
id_type!(
    /// A team.
    TeamId, "team"
);
id_type!(
    /// A role.
    RoleId, "role"
);
id_type!(
    /// A user.
    UserId, "user"
);
id_type!(
    /// An invitation.
    InviteId, "inv"
);
id_type!(
    /// A webhook endpoint.
    WebhookEndpointId, "whep"
);
id_type!(
    /// One event queued for a webhook endpoint.
    WebhookDeliveryId, "whdl"
);
id_type!(
    /// An audit event.
    AuditEventId, "evt"
);
id_type!(
    /// An email waiting in the outbox (never shown to clients).
    OutboxId, "mail"
);
id_type!(
    /// A directory's SCIM token.
    ScimTokenId, "scim"
);
id_type!(
    /// A domain event (the event feed, subscriptions, webhooks).
    EventId, "event"
);
id_type!(
    /// One mutation's id, shared by all the audit events it wrote.
    OperationId, "op"
);

fn parse_prefixed(s: &str, prefix: &str) -> Option<Uuid> {
    let hex = s.strip_prefix(prefix)?.strip_prefix('_')?;
    if hex.len() != 32 {
        return None;
    }
    Uuid::try_parse(hex).ok()
}

/// The kind of object an external id names, read from its prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AnyId {
    Account(AccountId),
    Department(DepartmentId),
    Team(TeamId),
    Role(RoleId),
    User(UserId),
    Invite(InviteId),
    AuditEvent(AuditEventId),
    Event(EventId),
}

impl AnyId {
    /// Parses an external id of any kind.
    pub fn parse(s: &str) -> Option<Self> {
        let (prefix, _) = s.split_once('_')?;
        Some(match prefix {
            AccountId::PREFIX => AnyId::Account(AccountId::parse(s)?),
            DepartmentId::PREFIX => AnyId::Department(DepartmentId::parse(s)?),
            TeamId::PREFIX => AnyId::Team(TeamId::parse(s)?),
            RoleId::PREFIX => AnyId::Role(RoleId::parse(s)?),
            UserId::PREFIX => AnyId::User(UserId::parse(s)?),
            InviteId::PREFIX => AnyId::Invite(InviteId::parse(s)?),
            AuditEventId::PREFIX => AnyId::AuditEvent(AuditEventId::parse(s)?),
            EventId::PREFIX => AnyId::Event(EventId::parse(s)?),
            _ => return None,
        })
    }
}

/// The UUID inside an external id of any kind (including operation ids).
pub fn parse_any_uuid(s: &str) -> Option<Uuid> {
    // SCIM tokens are no `Node`, but audit events name them as targets.
    if let Some(id) = ScimTokenId::parse(s) {
        return Some(id.0);
    }
    match AnyId::parse(s)? {
        AnyId::Account(id) => Some(id.0),
        AnyId::Department(id) => Some(id.0),
        AnyId::Team(id) => Some(id.0),
        AnyId::Role(id) => Some(id.0),
        AnyId::User(id) => Some(id.0),
        AnyId::Invite(id) => Some(id.0),
        AnyId::AuditEvent(id) => Some(id.0),
        AnyId::Event(id) => Some(id.0),
    }
}

/// The external id of an object of `target_type` (`User`, `Invite`, `Team`, `Department`,
/// `Role`, `Account`), as audit events and domain events name their targets.
pub fn external_id(target_type: &str, id: Uuid) -> String {
    match target_type {
        "User" => UserId(id).to_string(),
        "Invite" => InviteId(id).to_string(),
        "Team" => TeamId(id).to_string(),
        "Department" => DepartmentId(id).to_string(),
        "Role" => RoleId(id).to_string(),
        "Account" => AccountId(id).to_string(),
        "ScimToken" => ScimTokenId(id).to_string(),
        _ => id.simple().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let id = UserId::new();
        let text = id.to_string();
        assert!(text.starts_with("user_"));
        assert_eq!(UserId::parse(&text), Some(id));
        assert_eq!(TeamId::parse(&text), None);
        assert_eq!(AnyId::parse(&text), Some(AnyId::User(id)));
        assert_eq!(UserId::parse("user_xyz"), None);
        assert_eq!(UserId::parse(&format!("{}-", text)), None);
        assert_eq!(AnyId::parse("nope"), None);
    }

    #[test]
    fn ids_are_stored_as_their_uuid() {
        use sea_orm::TryFromU64;
        use sea_orm::sea_query::{Nullable, ValueType};
        let id = TeamId::new();
        let value = sea_orm::Value::from(id);
        assert_eq!(value, sea_orm::Value::from(id.0));
        assert_eq!(<TeamId as ValueType>::try_from(value).ok(), Some(id));
        assert_eq!(TeamId::null(), <Uuid as Nullable>::null());
        assert_eq!(
            <TeamId as ValueType>::column_type(),
            <Uuid as ValueType>::column_type()
        );
        assert!(TeamId::try_from_u64(7).is_err());
    }
}
