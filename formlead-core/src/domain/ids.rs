//! Typed UUID identifiers, so a draft id can never be passed where a
//! workflow id is expected.

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh id: UUIDv7, time-ordered with random bits, so new
            /// rows land at the end of the database's indexes instead of
            /// on random pages.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses the canonical hyphenated (or simple) UUID form.
            ///
            /// # Errors
            /// `uuid::Error` when the text is not a UUID.
            pub fn parse(s: &str) -> Result<Self, uuid::Error> {
                uuid::Uuid::parse_str(s.trim()).map(Self)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// Our id of a stored form submission (not HubSpot's `formSubmissionId`).
    SubmissionId
);
uuid_id!(
    /// Id of one workflow: one submission becomes exactly one workflow.
    WorkflowId
);
uuid_id!(
    /// Id of a draft email row.
    DraftId
);
uuid_id!(
    /// Id of a CRM follow-up task row.
    TaskId
);
uuid_id!(
    /// Id of a recorded workflow error.
    ErrorId
);
uuid_id!(
    /// Id of an audit event.
    AuditId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = WorkflowId::new();
        assert_eq!(WorkflowId::parse(&id.to_string()).unwrap(), id);
        assert!(WorkflowId::parse("not-a-uuid").is_err());
    }
}
