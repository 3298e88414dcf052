//! Signing in with a passkey (API.md, "Passkeys"): `POST /login/passkey/options` answers
//! request options naming no credential (the authenticator offers the user's own), and
//! `POST /login/passkey` signs in with the assertion, as `POST /login` with a password does.

use crate::openapi::{Forbidden, InvalidPasskey};
use crate::request::{JsonObject, session_origin};
use crate::response::{self, SessionBody};
use crate::routes::users::passkeys::{CredentialOptions, uncached};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{PasskeySignInOptions, PasskeySignInRequest, StartSignInError};
use domain::CeremonyId;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /login/passkey/options`
#[derive(Serialize, ToSchema)]
#[schema(as = PasskeySignInOptions)]
pub struct SignInOptionsBody {
    /// Sent back with the assertion, within 5 minutes, once.
    #[schema(format = "uuid")]
    challenge_id: String,
    options: CredentialOptions,
}

/// `POST /login/passkey`
#[derive(ToSchema)]
#[schema(example = json!({"challenge_id": "01939e5c-7b1a-7cc3-8f2e-6c1d2a3b4c5d", "credential": {"id": "...", "rawId": "...", "type": "public-key", "response": {"clientDataJSON": "...", "authenticatorData": "...", "signature": "...", "userHandle": "..."}, "clientExtensionResults": {}}}))]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the body's schema; the handler reads the body field by field"
)]
pub struct PasskeySignInBody {
    #[schema(format = "uuid")]
    challenge_id: String,
    /// The browser's `credential.toJSON()` of the assertion.
    #[schema(value_type = Object)]
    credential: Value,
}

#[utoipa::path(post, path = "/login/passkey/options", tag = "Credentials",
    responses(
        (status = 200, description = "Request options for any discoverable credential (`allowCredentials` empty, user verification required) and the challenge they belong to, valid 5 minutes, once.", body = SignInOptionsBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
    ))]
pub async fn passkey_sign_in_options(
    use_case: &impl UseCase<PasskeySignInOptions>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let started = use_case.execute(&caller, PasskeySignInOptions).await?;
    let body = SignInOptionsBody {
        challenge_id: started.id.to_string(),
        options: CredentialOptions::of(&started)?,
    };
    Ok(uncached(response::json(StatusCode::OK, &body)))
}

#[utoipa::path(post, path = "/login/passkey", tag = "Credentials",
    request_body(content = PasskeySignInBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A session whose access token's `amr` is `[\"hwk\", \"mfa\"]`: a passkey with user verification counts as two factors.", body = SessionBody,
            headers(("ETag" = String, description = "The user's version"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = InvalidPasskey), (status = 403, response = Forbidden),
    ))]
pub async fn passkey_sign_in(
    use_case: &impl UseCase<PasskeySignInRequest>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let mut body = JsonObject::from_request(&request)?;
    let challenge_id = body.string("challenge_id", CeremonyId::parse);
    let credential = body.opaque_object("credential");
    let (challenge_id, assertion_json) = body.finish(challenge_id.zip(credential))?;
    let command = PasskeySignInRequest {
        challenge_id,
        assertion_json,
        origin: session_origin(&request),
    };
    let session = use_case.execute(&caller, command).await?;
    Ok(response::session(&session))
}

impl From<StartSignInError> for Problem {
    fn from(error: StartSignInError) -> Self {
        match error {
            StartSignInError::Denied(denied) => denied.into(),
            StartSignInError::Ceremony(ref cause) => {
                tracing::error!(error = %application::error_chain(cause.as_ref()), "request failed");
                Problem::internal()
            }
            StartSignInError::Repository(error) => error.into(),
        }
    }
}
