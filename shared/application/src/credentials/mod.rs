//! The use cases of the Credentials API: password reset by email, login, step-up, sessions and
//! second factors.

mod change_password;
mod confirm_reset;
mod factor_management;
mod finish_login;
mod lockout;
mod login;
mod passkey_sign_in;
mod passkeys;
mod request_reset;
mod second_factor;
mod sessions;
mod step_up;
mod totp_enrolment;
mod user_sessions;

pub use change_password::{ChangePassword, ChangePasswordError, PasswordChange};
pub use confirm_reset::{ConfirmPasswordReset, ConfirmPasswordResetError, NewPasswordRequest};
pub use factor_management::{
    RecoveryCodesRequest, RemoveFactorRequest, RemoveSecondFactor, ReplaceRecoveryCodes,
};
pub use finish_login::{FinishLogin, FinishLoginRequest};
pub use lockout::{
    FAILURES_BEFORE_LOCK, FAILURES_COUNTED_BLINDLY, LoginAttempts, MAX_LOCK_SECONDS, QUIET_SECONDS,
    Reservation,
};
pub use login::{Login, LoginError, LoginRequest, MfaToken};
pub use passkey_sign_in::{
    PasskeySignIn, PasskeySignInOptions, PasskeySignInRequest, StartPasskeySignIn, StartSignInError,
};
pub use passkeys::{
    CeremonyStarted, ListPasskeys, NewPasskeyRequest, PasskeyError, PasskeyRegistrationRequest,
    PasskeyRemoval, PasskeysQuery, RegisterPasskey, RemovePasskey, StartPasskeyRegistration,
};
pub use request_reset::{
    PasswordResetRequest, RESET_TOKEN_LIFETIME_SECONDS, RequestPasswordReset,
    RequestPasswordResetError,
};
pub use second_factor::{FactorCheck, FactorProof, SecondFactor};
pub use sessions::{
    IssuingError, Logout, LogoutError, LogoutRequest, RefreshError, RefreshRequest, RefreshSession,
    Session, Sessions, StartError,
};
pub use step_up::{STEP_UP_SECONDS, StepUp, StepUpError};
pub use totp_enrolment::{
    ConfirmTotpEnrolment, FactorError, StartTotpEnrolment, TotpConfirmation, TotpEnrolmentRequest,
};
pub use user_sessions::{SessionEnd, SessionView, SessionsError, SessionsQuery, UserSessions};
