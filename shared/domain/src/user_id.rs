use std::fmt;
use uuid::Uuid;

/// A user's id: a UUIDv7, so ids sort by creation time. Its text form is the canonical
/// lowercase hyphenated one; any other spelling is not a user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a user id")]
pub struct UserIdError;

impl UserId {
    /// A new id for the current instant.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Result<Self, UserIdError> {
        let uuid = Uuid::try_parse(raw).map_err(|_| UserIdError)?;
        let canonical = uuid.hyphenated().to_string();
        if canonical != raw || uuid.get_version_num() != 7 {
            return Err(UserIdError);
        }
        Ok(Self(uuid))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_parses_back_to_itself() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
    }

    #[test]
    fn ids_generated_later_sort_later() {
        let first = UserId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = UserId::generate();
        assert!(first.to_string() < second.to_string());
    }

    #[test]
    fn other_spellings_and_other_versions_are_not_ids() {
        let id = UserId::generate().to_string();
        assert_eq!(UserId::parse(&id.to_uppercase()), Err(UserIdError));
        assert_eq!(UserId::parse(&id.replace('-', "")), Err(UserIdError));
        assert_eq!(UserId::parse(&format!("{{{id}}}")), Err(UserIdError));
        assert_eq!(UserId::parse(&Uuid::new_v4().to_string()), Err(UserIdError));
        assert_eq!(UserId::parse("not-an-id"), Err(UserIdError));
        assert_eq!(UserId::parse(""), Err(UserIdError));
    }
}
