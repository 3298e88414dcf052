//! Sessions: one sign-in and the refresh-token family that descends from it, and how its
//! user proved who they are.

use crate::Timestamp;
use std::fmt;
use uuid::{NoContext, Uuid};

/// A session's id: a UUIDv7 of the instant the session started, so an access token's `sid`
/// alone tells whether a revocation of all the user's sessions since then covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A new session started at `at` (random but for the time).
    pub fn start(at: Timestamp) -> Self {
        let millis = u64::try_from(at.as_millis()).unwrap_or(0);
        let instant = uuid::Timestamp::from_unix(
            NoContext,
            millis / 1000,
            u32::try_from(millis % 1000).unwrap_or(0) * 1_000_000,
        );
        Self(Uuid::new_v7(instant))
    }

    pub fn parse(raw: &str) -> Result<Self, crate::IdError> {
        crate::id::parse_v7(raw).map(Self)
    }

    /// When the session started, to the millisecond.
    pub fn started_at(&self) -> Timestamp {
        let (seconds, nanos) = self
            .0
            .get_timestamp()
            .map_or((0, 0), |instant| instant.to_unix());
        let millis = i64::try_from(seconds)
            .unwrap_or(0)
            .saturating_mul(1000)
            .saturating_add(i64::from(nanos / 1_000_000));
        Timestamp::from_millis(millis).unwrap_or(Timestamp::EPOCH)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// How the user proved who they are when a session started: the `amr` claim (RFC 8176).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethods {
    /// `["pwd"]`
    Password,
    /// `["pwd", "otp", "mfa"]`
    PasswordAndOneTimeCode,
    /// `["hwk", "mfa"]`
    Passkey,
}

impl AuthMethods {
    pub const ALL: [Self; 3] = [Self::Password, Self::PasswordAndOneTimeCode, Self::Passkey];

    /// The RFC 8176 method names, in the order the contract lists them.
    pub fn names(&self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndOneTimeCode => &["pwd", "otp", "mfa"],
            Self::Passkey => &["hwk", "mfa"],
        }
    }

    /// Whether the proof took more than one factor (`mfa` among the names).
    pub fn is_multi_factor(&self) -> bool {
        self.names().contains(&"mfa")
    }

    /// The methods named by exactly this list (in any order); anything else is none.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Option<Self> {
        let mut given: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        given.sort_unstable();
        Self::ALL.into_iter().find(|methods| {
            let mut known = methods.names().to_vec();
            known.sort_unstable();
            known == given
        })
    }
}

/// What an access token proves of the session it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionProof {
    pub session: SessionId,
    /// When the user last proved who they are in this session (its sign-in, not a refresh).
    pub auth_time: Timestamp,
    pub methods: AuthMethods,
}

impl SessionProof {
    /// Whether the proof is younger than `seconds` at `now` (step-up).
    pub fn is_fresh(&self, now: Timestamp, seconds: i64) -> bool {
        self.auth_time
            .plus_seconds(seconds)
            .is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_methods_round_trip_through_their_names_and_nothing_else_parses() {
        for methods in AuthMethods::ALL {
            assert_eq!(AuthMethods::from_names(methods.names()), Some(methods));
        }
        assert_eq!(
            AuthMethods::from_names(&["mfa", "otp", "pwd"]),
            Some(AuthMethods::PasswordAndOneTimeCode)
        );
        assert_eq!(AuthMethods::from_names(&["pwd", "mfa"]), None);
        assert_eq!(AuthMethods::from_names::<&str>(&[]), None);
    }

    proptest! {
        #[test]
        fn a_session_id_tells_when_it_started_and_parses_back(millis in 0i64..4_000_000_000_000) {
            let at = Timestamp::from_millis(millis).unwrap();
            let id = SessionId::start(at);
            prop_assert_eq!(id.started_at(), at);
            prop_assert_eq!(SessionId::parse(&id.to_string()), Ok(id));
        }
    }
}
