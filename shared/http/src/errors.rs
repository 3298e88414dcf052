//! The one place where use-case errors become HTTP problems. Business outcomes map to 4xx;
//! store failures map to 503 or 500, and their cause is logged here, once, never sent.

use crate::FieldError;
use crate::Problem;
use crate::problem::SecondStep;
use application::credentials::{
    ChangePasswordError, ConfirmPasswordResetError, LoginError, LogoutError, RefreshError,
    RequestPasswordResetError, SessionsError, StartError, StepUpError,
};
use application::orders::{GetOrderError, ListUserOrdersError, PlaceOrderError};
use application::ports::RepositoryError;
use application::users::{
    ConfirmEmailChangeError, CreateUserError, GetUserError, ListUsersError, UserChangeError,
};
use application::{Denied, error_chain};

/// Seconds a client should wait before retrying when the store is throttled or unreachable.
const RETRY_AFTER_SECONDS: u32 = 1;

impl From<RepositoryError> for Problem {
    fn from(error: RepositoryError) -> Self {
        let cause = error_chain(&error);
        match error {
            RepositoryError::Unavailable(_) => {
                tracing::warn!(error = %cause, "data store unavailable");
                Problem::service_unavailable(RETRY_AFTER_SECONDS)
            }
            RepositoryError::Failed(_) => {
                tracing::error!(error = %cause, "data store failed");
                Problem::internal()
            }
        }
    }
}

impl From<Denied> for Problem {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => Problem::missing_token(false),
            Denied::Forbidden => Problem::forbidden("only an administrator may do this"),
            Denied::NotFound => Problem::user_not_found(),
            Denied::Revoked => Problem::missing_token(true),
            Denied::MfaRequired => Problem::mfa_required(
                "administrator power needs a sign-in with a second factor: turn one on (POST /users/{id}/mfa/totp) and log in with it",
                None,
            ),
        }
    }
}

fn email_taken() -> Problem {
    Problem::conflict(
        "email-taken",
        "Email already registered",
        "this email address is already registered",
    )
}

fn invalid_cursor() -> Problem {
    Problem::bad_request(
        "the cursor is not valid for this listing; pass back next_cursor unchanged, with the same filters",
    )
}

fn contended() -> Problem {
    Problem::conflict(
        "concurrent-update",
        "Concurrent update",
        "the user was changed by other requests meanwhile; retry the request",
    )
}

impl From<CreateUserError> for Problem {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::Denied(denied) => denied.into(),
            CreateUserError::EmailTaken => email_taken(),
            CreateUserError::Repository(error) => error.into(),
        }
    }
}

impl From<GetUserError> for Problem {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::Denied(denied) => denied.into(),
            GetUserError::NotFound => Problem::user_not_found(),
            GetUserError::Repository(error) => error.into(),
        }
    }
}

impl From<ListUsersError> for Problem {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Denied(denied) => denied.into(),
            ListUsersError::InvalidCursor => invalid_cursor(),
            ListUsersError::Repository(error) => error.into(),
        }
    }
}

impl From<UserChangeError> for Problem {
    fn from(error: UserChangeError) -> Self {
        match error {
            UserChangeError::Denied(denied) => denied.into(),
            UserChangeError::NotFound => Problem::user_not_found(),
            UserChangeError::Deleted(transition) => Problem::conflict(
                "user-deleted",
                "User is deleted",
                format!("a deleted user cannot be {transition}"),
            ),
            UserChangeError::NotAllowed { status } => {
                Problem::forbidden(format!("a {status} user cannot log in"))
            }
            UserChangeError::EmailTaken => email_taken(),
            UserChangeError::OwnRole => Problem::conflict(
                "own-role",
                "Own role",
                "administrators cannot change their own role; ask another administrator",
            ),
            UserChangeError::StepUp(error) => error.into(),
            UserChangeError::LastAdmin => Problem::conflict(
                "last-admin",
                "Last administrator",
                "the service must keep an active administrator; promote another one first",
            ),
            UserChangeError::PreconditionFailed => Problem::precondition_failed(),
            UserChangeError::Contended => contended(),
            UserChangeError::Repository(error) => error.into(),
        }
    }
}

impl From<PlaceOrderError> for Problem {
    fn from(error: PlaceOrderError) -> Self {
        match error {
            PlaceOrderError::Denied(denied) => denied.into(),
            PlaceOrderError::UserNotFound => Problem::user_not_found(),
            PlaceOrderError::UserNotActive { status } => {
                Problem::forbidden(format!("a {status} user cannot place orders"))
            }
            PlaceOrderError::InvalidOrder(error) => {
                Problem::validation(vec![FieldError::new("items", error)])
            }
            PlaceOrderError::Repository(error) => error.into(),
        }
    }
}

impl From<ChangePasswordError> for Problem {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::Denied(denied) => denied.into(),
            ChangePasswordError::NotFound => Problem::user_not_found(),
            ChangePasswordError::StepUp(error) => error.into(),
            ChangePasswordError::Contended => contended(),
            ChangePasswordError::Hashing(_) | ChangePasswordError::Start(_) => internal(&error),
            ChangePasswordError::Repository(error) => error.into(),
        }
    }
}

impl From<StepUpError> for Problem {
    fn from(error: StepUpError) -> Self {
        match error {
            StepUpError::WrongPassword => Problem::forbidden_as(
                "wrong-password",
                "Wrong password",
                "the current password is wrong",
            ),
            StepUpError::ReauthenticationRequired => Problem::forbidden_as(
                "reauthentication-required",
                "Reauthentication required",
                "this change needs current_password in the body, or a sign-in of the last 5 minutes",
            ),
            StepUpError::WrongCode => Problem::forbidden_as(
                "wrong-code",
                "Wrong code",
                "the code is wrong, or was used already",
            ),
            StepUpError::Locked { retry_after } => {
                Problem::too_many_attempts(u32::try_from(retry_after).unwrap_or(u32::MAX))
            }
            StepUpError::Repository(error) => error.into(),
        }
    }
}

impl From<SessionsError> for Problem {
    fn from(error: SessionsError) -> Self {
        match error {
            SessionsError::Denied(denied) => denied.into(),
            SessionsError::UserNotFound => Problem::user_not_found(),
            SessionsError::SessionNotFound => Problem::session_not_found(),
            SessionsError::Repository(error) => error.into(),
        }
    }
}

impl From<GetOrderError> for Problem {
    fn from(error: GetOrderError) -> Self {
        match error {
            GetOrderError::Denied(denied) => denied.into(),
            GetOrderError::NotFound => Problem::order_not_found(),
            GetOrderError::Repository(error) => error.into(),
        }
    }
}

impl From<ListUserOrdersError> for Problem {
    fn from(error: ListUserOrdersError) -> Self {
        match error {
            ListUserOrdersError::Denied(denied) => denied.into(),
            ListUserOrdersError::UserNotFound => Problem::user_not_found(),
            ListUserOrdersError::InvalidCursor => invalid_cursor(),
            ListUserOrdersError::Repository(error) => error.into(),
        }
    }
}

/// Logs the cause of a failure that is ours, never the client's, and hides it.
fn internal(cause: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error_chain(cause), "request failed");
    Problem::internal()
}

impl From<RequestPasswordResetError> for Problem {
    fn from(error: RequestPasswordResetError) -> Self {
        match error {
            RequestPasswordResetError::Denied(denied) => denied.into(),
            RequestPasswordResetError::RandomSource(_) => internal(&error),
            RequestPasswordResetError::Repository(error) => error.into(),
        }
    }
}

impl From<StartError> for Problem {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Issuing(_) => internal(&error),
            StartError::Repository(error) => error.into(),
        }
    }
}

/// One detail for every refresh token that does not work.
pub const INVALID_REFRESH_TOKEN_DETAIL: &str =
    "the refresh token is invalid, expired, revoked or already used; log in again";

impl From<RefreshError> for Problem {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Denied(denied) => denied.into(),
            RefreshError::InvalidToken => Problem::unauthorized(INVALID_REFRESH_TOKEN_DETAIL),
            RefreshError::Start(error) => error.into(),
            RefreshError::Repository(error) => error.into(),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Denied(denied) => denied.into(),
            LogoutError::Repository(error) => error.into(),
        }
    }
}

/// One detail for unknown, used and expired tokens alike.
pub const INVALID_TOKEN_DETAIL: &str =
    "the token is invalid, already used, or expired; request a new one";

impl From<ConfirmPasswordResetError> for Problem {
    fn from(error: ConfirmPasswordResetError) -> Self {
        match error {
            ConfirmPasswordResetError::Denied(denied) => denied.into(),
            ConfirmPasswordResetError::InvalidToken => Problem::bad_request(INVALID_TOKEN_DETAIL),
            ConfirmPasswordResetError::Hashing(_) => internal(&error),
            ConfirmPasswordResetError::Repository(error) => error.into(),
        }
    }
}

impl From<ConfirmEmailChangeError> for Problem {
    fn from(error: ConfirmEmailChangeError) -> Self {
        match error {
            ConfirmEmailChangeError::Denied(denied) => denied.into(),
            ConfirmEmailChangeError::InvalidToken => Problem::bad_request(INVALID_TOKEN_DETAIL),
            ConfirmEmailChangeError::EmailTaken => email_taken(),
            ConfirmEmailChangeError::Contended => contended(),
            ConfirmEmailChangeError::Repository(error) => error.into(),
        }
    }
}

/// One detail for an unknown address and a wrong password alike.
pub const INVALID_CREDENTIALS_DETAIL: &str = "the email or password is wrong";

/// The one answer to every failed passkey sign-in, whatever failed.
pub const INVALID_PASSKEY_DETAIL: &str = "the passkey could not sign in; ask for new options (POST /login/passkey/options) and try again";

/// The one answer to every failed second step of a login, whatever failed.
pub const INVALID_SECOND_FACTOR_DETAIL: &str =
    "the code is wrong or used, or the sign-in expired; log in again for a new mfa_token";

impl From<LoginError> for Problem {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Denied(denied) => denied.into(),
            LoginError::InvalidCredentials => Problem::unauthorized(INVALID_CREDENTIALS_DETAIL),
            LoginError::SecondFactorRequired(token) => Problem::mfa_required(
                "the password is right; finish signing in with a code at POST /login/mfa",
                Some(SecondStep {
                    mfa_token: token.token,
                    expires_in: token.expires_in,
                    methods: ["totp", "recovery_code"],
                }),
            ),
            LoginError::InvalidSecondFactor => Problem::unauthorized(INVALID_SECOND_FACTOR_DETAIL),
            LoginError::InvalidPasskey => Problem::unauthorized(INVALID_PASSKEY_DETAIL),
            LoginError::NotAllowed { status } => {
                Problem::forbidden(format!("a {status} user cannot log in"))
            }
            LoginError::Locked { retry_after } => {
                Problem::too_many_attempts(u32::try_from(retry_after).unwrap_or(u32::MAX))
            }
            LoginError::Contended => contended(),
            LoginError::Start(error) => error.into(),
            LoginError::Repository(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::users::Transition;
    use domain::UserStatus;

    #[test]
    fn store_failures_never_show_their_cause() {
        let secret = "arn:aws:dynamodb:eu-west-1:123456789012:table/users AccessDenied";
        for error in [
            RepositoryError::Failed(secret.into()),
            RepositoryError::Unavailable(secret.into()),
        ] {
            let problem = Problem::from(error);
            let body = String::from_utf8(problem.into_response().body().to_vec()).unwrap();
            assert!(!body.contains("arn:aws"), "{body}");
            assert!(!body.contains("AccessDenied"), "{body}");
        }
    }

    #[test]
    fn business_outcomes_get_their_documented_status() {
        assert_eq!(Problem::from(CreateUserError::EmailTaken).status, 409);
        let deleted = Problem::from(UserChangeError::Deleted(Transition::Suspend));
        assert_eq!(deleted.status, 409);
        assert_eq!(deleted.detail, "a deleted user cannot be suspended");
        assert_eq!(Problem::from(UserChangeError::NotFound).status, 404);
        assert_eq!(
            Problem::from(UserChangeError::PreconditionFailed).status,
            412
        );
        assert_eq!(Problem::from(ListUsersError::InvalidCursor).status, 400);
        let refused = UserChangeError::NotAllowed {
            status: UserStatus::Suspended,
        };
        assert_eq!(Problem::from(refused).status, 403);
        let unavailable = Problem::from(RepositoryError::Unavailable("throttled".into()));
        assert_eq!(
            (unavailable.status.as_u16(), unavailable.retry_after),
            (503, Some(1))
        );
    }
}
