use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a well-formed id")]
pub struct IdError;

/// Parses the canonical text form of a UUIDv7; any other spelling or version is not an id.
pub(crate) fn parse_v7(raw: &str) -> Result<Uuid, IdError> {
    let uuid = Uuid::try_parse(raw).map_err(|_| IdError)?;
    if uuid.hyphenated().to_string() != raw || uuid.get_version_num() != 7 {
        return Err(IdError);
    }
    Ok(uuid)
}

/// An id type over a UUIDv7, so ids sort by creation time. Its text form is the canonical
/// lowercase hyphenated one.
macro_rules! uuid_v7_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id for the current instant.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, IdError> {
                parse_v7(raw).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

uuid_v7_id!(
    /// A user's id.
    UserId
);
uuid_v7_id!(
    /// An order's id.
    OrderId
);
uuid_v7_id!(
    /// A passkey's id in this service (its credential id is the authenticator's).
    PasskeyId
);
uuid_v7_id!(
    /// A WebAuthn ceremony's id (`registration_id`, `challenge_id`): names its stored state,
    /// whose challenge is the secret.
    CeremonyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_parses_back_to_itself() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        let order = OrderId::generate();
        assert_eq!(OrderId::parse(&order.to_string()), Ok(order));
    }

    #[test]
    fn ids_generated_later_sort_later() {
        let first = UserId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = UserId::generate();
        assert!(first.to_string() < second.to_string());
    }

    proptest::proptest! {
        #[test]
        fn only_canonical_uuid_v7_text_parses_and_it_round_trips(raw in "\\PC{0,40}|[0-9a-fA-F-]{36}") {
            if let Ok(id) = UserId::parse(&raw) {
                proptest::prop_assert_eq!(id.to_string(), raw);
            }
        }

        #[test]
        fn every_v7_uuid_round_trips(bytes in proptest::prelude::any::<[u8; 16]>()) {
            let uuid = uuid::Builder::from_random_bytes(bytes).with_version(uuid::Version::SortRand).into_uuid();
            let text = uuid.hyphenated().to_string();
            proptest::prop_assert_eq!(OrderId::parse(&text).map(|id| id.to_string()), Ok(text));
        }
    }

    #[test]
    fn other_spellings_and_other_versions_are_not_ids() {
        let id = UserId::generate().to_string();
        assert_eq!(UserId::parse(&id.to_uppercase()), Err(IdError));
        assert_eq!(UserId::parse(&id.replace('-', "")), Err(IdError));
        assert_eq!(UserId::parse(&format!("{{{id}}}")), Err(IdError));
        assert_eq!(UserId::parse(&Uuid::new_v4().to_string()), Err(IdError));
        assert_eq!(OrderId::parse("not-an-id"), Err(IdError));
        assert_eq!(UserId::parse(""), Err(IdError));
    }
}
