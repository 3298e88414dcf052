//! Login lockout, per address (known or not, so a 429 tells no accounts apart), with
//! Cognito's numbers: after 5 consecutive failures the address is locked for 1 second, and
//! each further failure doubles the lock, up to 15 minutes. While locked, no password is
//! checked. A success forgets the failures, and so do 15 minutes without one.
//!
//! The count is kept atomically by counting each attempt as a failure *before* its password
//! is checked (a reservation, conditional on the stored record); a success then forgets the
//! record. So of any number of simultaneous attempts, no more are checked than the rule lets
//! through one at a time.

use domain::Timestamp;

/// Failures that may happen before the first lock.
pub const FAILURES_BEFORE_LOCK: u32 = 5;
const FIRST_LOCK_SECONDS: i64 = 1;
pub const MAX_LOCK_SECONDS: i64 = 15 * 60;
/// Quiet time after which the failures are forgotten.
pub const QUIET_SECONDS: i64 = 15 * 60;
/// Reservations that lock nothing however they interleave (those before the locking one): a
/// store may count them with a plain atomic increment while the count is below this.
pub const FAILURES_COUNTED_BLINDLY: u32 = FAILURES_BEFORE_LOCK - 1;

/// Whether an attempt may check a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted as a failure already (the record as stored now); a success
    /// must forget the record.
    Granted(LoginAttempts),
    /// The address is locked: nothing was counted, no password may be checked.
    Locked { retry_after: i64 },
}

/// The failed logins of one address, as stored (the default: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginAttempts {
    /// Consecutive failures since the last success or quiet period.
    pub failures: u32,
    pub last_failure_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
}

impl LoginAttempts {
    /// The record as it counts at `now`: after `QUIET_SECONDS` without a failure, none.
    pub fn as_of(self, now: Timestamp) -> Self {
        let quiet = self
            .last_failure_at
            .and_then(|at| at.plus_seconds(QUIET_SECONDS))
            .is_none_or(|forgotten_at| forgotten_at <= now);
        if quiet { Self::default() } else { self }
    }

    /// Whole seconds until the lock lifts, if the address is locked at `now`.
    pub fn locked_for(&self, now: Timestamp) -> Option<i64> {
        let until = self.locked_until?.as_millis();
        let left = until - now.as_millis();
        (left > 0).then(|| (left + 999) / 1000)
    }

    /// The record after one more failure at `now`, locked from the fifth on.
    pub fn after_failure(self, now: Timestamp) -> Self {
        let failures = self.failures.saturating_add(1);
        let locked_until = (failures >= FAILURES_BEFORE_LOCK)
            .then(|| now.plus_seconds(lock_seconds(failures)))
            .flatten();
        Self {
            failures,
            last_failure_at: Some(now),
            locked_until,
        }
    }
}

impl LoginAttempts {
    /// The record with one more attempt counted at `now`, or how long the address stays
    /// locked when it is locked at `now`.
    pub fn reserve(self, now: Timestamp) -> Reservation {
        let current = self.as_of(now);
        match current.locked_for(now) {
            Some(retry_after) => Reservation::Locked { retry_after },
            None => Reservation::Granted(current.after_failure(now)),
        }
    }
}

/// 1 s at the fifth failure, doubling with each one after, at most 15 minutes.
fn lock_seconds(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(FAILURES_BEFORE_LOCK);
    FIRST_LOCK_SECONDS
        .checked_shl(doublings)
        .filter(|seconds| *seconds > 0)
        .map_or(MAX_LOCK_SECONDS, |seconds| seconds.min(MAX_LOCK_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + seconds * 1000).unwrap()
    }

    #[test]
    fn the_fifth_failure_locks_for_a_second_and_each_next_one_doubles_up_to_15_minutes() {
        let mut attempts = LoginAttempts::default();
        for failure in 1..=4 {
            attempts = attempts.after_failure(at(0));
            assert_eq!(attempts.locked_for(at(0)), None, "failure {failure}");
        }
        let expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900];
        for seconds in expected {
            attempts = attempts.after_failure(at(0));
            assert_eq!(attempts.locked_for(at(0)), Some(seconds));
        }
        attempts.failures = u32::MAX - 1;
        assert_eq!(attempts.after_failure(at(0)).locked_for(at(0)), Some(900));
    }

    #[test]
    fn a_lock_lifts_when_its_time_is_up_and_15_quiet_minutes_forget_everything() {
        let mut attempts = LoginAttempts::default();
        for _ in 0..5 {
            attempts = attempts.after_failure(at(0));
        }
        assert_eq!(attempts.locked_for(at(0)), Some(1));
        assert_eq!(attempts.locked_for(at(1)), None);
        assert_eq!(attempts.as_of(at(QUIET_SECONDS - 1)).failures, 5);
        assert_eq!(attempts.as_of(at(QUIET_SECONDS)), LoginAttempts::default());
    }

    #[test]
    fn a_reservation_counts_the_attempt_in_advance_and_a_locked_address_reserves_nothing() {
        let mut attempts = LoginAttempts::default();
        for failure in 1..=FAILURES_BEFORE_LOCK {
            match attempts.reserve(at(0)) {
                Reservation::Granted(next) => attempts = next,
                Reservation::Locked { .. } => panic!("attempt {failure} was refused"),
            }
            assert_eq!(attempts.failures, failure);
        }
        assert_eq!(
            attempts.reserve(at(0)),
            Reservation::Locked { retry_after: 1 }
        );
        assert!(
            matches!(attempts.reserve(at(1)), Reservation::Granted(next) if next.failures == 6)
        );
        assert!(
            matches!(attempts.reserve(at(QUIET_SECONDS)), Reservation::Granted(next) if next.failures == 1),
            "a quiet address counts from one again"
        );
    }

    proptest! {
        #[test]
        fn a_lock_never_exceeds_15_minutes_and_never_comes_before_the_fifth_failure(failures in 0u32..200) {
            let mut attempts = LoginAttempts::default();
            for _ in 0..failures {
                attempts = attempts.after_failure(at(0));
            }
            let locked = attempts.locked_for(at(0));
            prop_assert_eq!(locked.is_some(), failures >= FAILURES_BEFORE_LOCK);
            prop_assert!(locked.unwrap_or(0) <= MAX_LOCK_SECONDS);
        }
    }
}
