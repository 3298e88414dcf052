//! Passkeys of an account (API.md, "Passkeys"): `POST /users/{id}/passkeys/registration`
//! starts a registration (step-up), `POST /users/{id}/passkeys` finishes it, and
//! `GET /users/{id}/passkeys` and `DELETE /users/{id}/passkeys/{passkey_id}` list and remove.
//! Options and credentials travel as WebAuthn JSON, which the browser's
//! `PublicKeyCredential.parseCreationOptionsFromJSON` and `credential.toJSON()` speak.

use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound, TooManyAttempts};
use crate::request::{JsonObject, PasskeyIdPath, StepUpBody, UserPath};
use crate::response;
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{
    CeremonyStarted, NewPasskeyRequest, PasskeyError, PasskeyRegistrationRequest, PasskeyRemoval,
    PasskeysQuery,
};
use application::ports::Passkey;
use domain::PasskeyName;
use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A passkey as listed.
#[derive(Serialize, ToSchema)]
#[schema(as = Passkey, example = json!({"id": "01939e5c-7b1a-7cc3-8f2e-6c1d2a3b4c5d", "name": "Laptop", "created_at": "2026-12-07T10:15:30.123Z", "last_used_at": null}))]
pub struct PasskeyBody {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

impl From<&Passkey> for PasskeyBody {
    fn from(passkey: &Passkey) -> Self {
        Self {
            id: passkey.id.to_string(),
            name: passkey.name.as_str().to_owned(),
            created_at: passkey.created_at.to_rfc3339(),
            last_used_at: passkey.last_used_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// `GET /users/{id}/passkeys`
#[derive(Serialize, ToSchema)]
#[schema(as = Passkeys)]
pub struct PasskeysBody {
    items: Vec<PasskeyBody>,
}

/// Options for `navigator.credentials.create()` / `.get()`, under `publicKey`.
#[derive(Serialize, ToSchema)]
pub struct CredentialOptions {
    /// WebAuthn JSON (binary members base64url), for `PublicKeyCredential.parseCreationOptionsFromJSON` or `parseRequestOptionsFromJSON`.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: Value,
}

impl CredentialOptions {
    pub(crate) fn of(started: &CeremonyStarted) -> Result<Self, Problem> {
        let public_key = serde_json::from_str(&started.options_json).map_err(|error| {
            tracing::error!(%error, "the relying party's options are not JSON");
            Problem::internal()
        })?;
        Ok(Self { public_key })
    }
}

/// `POST /users/{id}/passkeys/registration`
#[derive(Serialize, ToSchema)]
#[schema(as = PasskeyRegistration)]
pub struct RegistrationBody {
    /// Sent back with the credential, within 5 minutes, once.
    #[schema(format = "uuid")]
    registration_id: String,
    options: CredentialOptions,
}

/// `POST /users/{id}/passkeys`
#[derive(ToSchema)]
#[schema(example = json!({"registration_id": "01939e5c-7b1a-7cc3-8f2e-6c1d2a3b4c5d", "name": "Laptop", "credential": {"id": "...", "rawId": "...", "type": "public-key", "response": {"clientDataJSON": "...", "attestationObject": "..."}, "clientExtensionResults": {}}}))]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the body's schema; the handler reads the body field by field"
)]
pub struct NewPasskeyBody {
    #[schema(format = "uuid")]
    registration_id: String,
    /// 1 to 64 characters, to tell the user's passkeys apart.
    name: String,
    /// The browser's `credential.toJSON()`.
    #[schema(value_type = Object)]
    credential: Value,
}

#[utoipa::path(post, path = "/users/{id}/passkeys/registration", tag = "Passkeys",
    params(UserPath),
    request_body(content = StepUpBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options (resident key and user verification required, the user's passkeys excluded) and the registration they belong to, valid 5 minutes.", body = RegistrationBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 429, response = TooManyAttempts),
    ))]
pub async fn start_passkey_registration(
    use_case: &impl UseCase<PasskeyRegistrationRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let StepUpBody { current_password } = StepUpBody::read(&request)?;
    let command = PasskeyRegistrationRequest {
        user_id: id,
        current_password,
    };
    let started = use_case.execute(&caller, command).await?;
    let body = RegistrationBody {
        registration_id: started.id.to_string(),
        options: CredentialOptions::of(&started)?,
    };
    Ok(uncached(response::json(StatusCode::OK, &body)))
}

#[utoipa::path(post, path = "/users/{id}/passkeys", tag = "Passkeys",
    params(UserPath),
    request_body(content = NewPasskeyBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The passkey; the address is told.", body = PasskeyBody),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn register_passkey(
    use_case: &impl UseCase<NewPasskeyRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let mut body = JsonObject::from_request(&request)?;
    let registration_id = body.string("registration_id", domain::CeremonyId::parse);
    let name = body.string("name", PasskeyName::parse);
    let credential = body.opaque_object("credential");
    let ((registration_id, name), credential_json) =
        body.finish(registration_id.zip(name).zip(credential))?;
    let command = NewPasskeyRequest {
        user_id: id,
        registration_id,
        name,
        credential_json,
    };
    let passkey = use_case.execute(&caller, command).await?;
    Ok(response::json(
        StatusCode::CREATED,
        &PasskeyBody::from(&passkey),
    ))
}

#[utoipa::path(get, path = "/users/{id}/passkeys", tag = "Passkeys",
    params(UserPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's passkeys, oldest first.", body = PasskeysBody),
        (status = 404, response = NotFound),
    ))]
pub async fn list_passkeys(
    use_case: &impl UseCase<PasskeysQuery>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let passkeys = use_case
        .execute(&caller, PasskeysQuery { user_id: id })
        .await?;
    let items = passkeys.iter().map(PasskeyBody::from).collect();
    Ok(response::json(StatusCode::OK, &PasskeysBody { items }))
}

#[utoipa::path(delete, path = "/users/{id}/passkeys/{passkey_id}", tag = "Passkeys",
    params(UserPath, PasskeyIdPath),
    request_body(content = Option<StepUpBody>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The passkey signs in no more; the address is told."),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 429, response = TooManyAttempts),
    ))]
pub async fn remove_passkey(
    use_case: &impl UseCase<PasskeyRemoval>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let PasskeyIdPath { passkey_id } = PasskeyIdPath::read(&request)?;
    // The body may be left out: step-up by the token's fresh sign-in (or an admin's, none).
    let StepUpBody { current_password } = StepUpBody::read_optional(&request)?;
    let command = PasskeyRemoval {
        user_id: id,
        passkey_id,
        current_password,
    };
    use_case.execute(&caller, command).await?;
    Ok(response::no_content())
}

/// An answer with a ceremony's challenge in it, never to be cached on the way.
pub(crate) fn uncached(
    mut response: lambda_http::Response<lambda_http::Body>,
) -> lambda_http::Response<lambda_http::Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl From<PasskeyError> for Problem {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Denied(denied) => denied.into(),
            PasskeyError::NotFound => Problem::user_not_found(),
            PasskeyError::PasskeyNotFound => Problem::not_found("no passkey with this id"),
            PasskeyError::StepUp(error) => error.into(),
            PasskeyError::VerificationFailed => Problem::bad_request(
                "the passkey could not be verified, or its registration is unknown, used or expired; start a new one",
            ),
            PasskeyError::CredentialTaken => Problem::conflict(
                "passkey-registered",
                "Passkey registered",
                "this passkey is registered already",
            ),
            PasskeyError::Ceremony(ref cause) => {
                tracing::error!(error = %application::error_chain(cause.as_ref()), "request failed");
                Problem::internal()
            }
            PasskeyError::Repository(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestRequest, assert_body_rows, signed_in};
    use application::credentials::RegisterPasskey;
    use application::fakes::{
        FakeCeremonies, FixedClock, InMemoryPasskeys, InMemoryUsers, user_with_email,
    };

    #[tokio::test]
    async fn a_new_passkey_takes_a_registration_a_name_and_a_credential_object() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let use_case = RegisterPasskey::new(
            users.clone(),
            InMemoryPasskeys::beside(&users),
            FakeCeremonies,
            FixedClock::default(),
        );
        let post = || {
            TestRequest::new("POST", &format!("/users/{}/passkeys", ada.id()))
                .path("id", ada.id())
                .by(signed_in(&users, &ada))
        };
        let handle = |request| register_passkey(&use_case, request);
        assert_body_rows(post, handle, &["registration_id", "name", "credential"]).await;
        let not_an_object = post()
            .json(serde_json::json!({
                "registration_id": domain::CeremonyId::generate().to_string(),
                "name": "Laptop",
                "credential": "a string",
            }))
            .build();
        let answer = crate::testing::Answer::of(register_passkey(&use_case, not_an_object).await);
        assert_eq!(answer.invalid_fields(), vec!["credential"]);
        let unknown = post()
            .json(serde_json::json!({
                "registration_id": domain::CeremonyId::generate().to_string(),
                "name": "Laptop",
                "credential": {},
            }))
            .build();
        let answer = crate::testing::Answer::of(register_passkey(&use_case, unknown).await);
        answer.problem(400);
    }
}
