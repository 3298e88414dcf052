//! Second factors (API.md, "Second factors"): `POST /users/{id}/mfa/totp` starts a TOTP
//! enrolment (step-up) and `POST /users/{id}/mfa/totp/confirm` turns it on with a code;
//! `POST /users/{id}/mfa/recovery-codes` replaces the recovery codes and
//! `DELETE /users/{id}/mfa` turns the factor off. Answers that hold secrets (the TOTP secret,
//! the recovery codes) may not be cached.

use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound, TooManyAttempts};
use crate::request::{JsonObject, StepUpBody, UserPath, verbatim};
use crate::response;
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{
    FactorProof, RecoveryCodesRequest, RemoveFactorRequest, TotpConfirmation, TotpEnrolmentRequest,
};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A new TOTP secret, for an authenticator app.
#[derive(Serialize, ToSchema)]
#[schema(as = TotpEnrolment, example = json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/User%20service:a%2A%2A%2A%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=User%20service"}))]
pub struct TotpEnrolmentBody {
    /// The 160-bit secret in base32 (RFC 4648, no padding), to type in.
    secret: String,
    /// The same for a QR code; its label is the masked address.
    otpauth_uri: String,
}

/// `POST /users/{id}/mfa/totp/confirm`
#[derive(ToSchema)]
#[schema(example = json!({"code": "287082"}))]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmationBody {
    /// The authenticator's current code: 6 digits.
    code: String,
}

impl TotpConfirmationBody {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let code = body.string("code", verbatim);
        let code = body.finish(code)?;
        Ok(Self { code })
    }
}

/// `POST /users/{id}/mfa/recovery-codes`
#[derive(ToSchema)]
#[schema(example = json!({"code": "287082"}))]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodesRequestBody {
    /// Step-up: the current password, unless the access token's sign-in is less than 5
    /// minutes old.
    #[schema(format = Password)]
    current_password: Option<String>,
    /// A current code of the authenticator (6 digits) or a recovery code.
    code: String,
}

impl RecoveryCodesRequestBody {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let current_password = body.optional_string("current_password", verbatim);
        let code = body.string("code", verbatim);
        let (current_password, code) = body.finish(current_password.zip(code))?;
        Ok(Self {
            current_password,
            code,
        })
    }
}

/// `DELETE /users/{id}/mfa`: for one's own factor, step-up and a code; an administrator's
/// account-recovery reset of another user's sends no body.
#[derive(ToSchema)]
#[schema(example = json!({"code": "287082"}))]
#[serde(deny_unknown_fields)]
pub struct RemoveFactorBody {
    /// Step-up: the current password, unless the access token's sign-in is less than 5
    /// minutes old.
    #[schema(format = Password)]
    current_password: Option<String>,
    /// For one's own factor: a current code of the authenticator or a recovery code.
    code: Option<String>,
}

impl RemoveFactorBody {
    /// The body, which may be absent (an administrator's reset).
    fn read(request: &Request) -> Result<Self, Problem> {
        if request.body().as_ref().is_empty() {
            return Ok(Self {
                current_password: None,
                code: None,
            });
        }
        let mut body = JsonObject::from_request(request)?;
        let current_password = body.optional_string("current_password", verbatim);
        let code = body.optional_string("code", verbatim);
        let (current_password, code) = body.finish(current_password.zip(code))?;
        Ok(Self {
            current_password,
            code,
        })
    }
}

/// Recovery codes, shown this once: each signs in once in place of a code.
#[derive(Serialize, ToSchema)]
#[schema(as = RecoveryCodes, example = json!({"recovery_codes": ["ABCD-EFGH-IJKL-MNOP"]}))]
pub struct RecoveryCodesBody {
    recovery_codes: Vec<String>,
}

/// A body with a secret in it, never to be cached on the way.
fn uncached(body: &impl Serialize) -> Response<Body> {
    let mut response = response::json(StatusCode::OK, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(post, path = "/users/{id}/mfa/totp", tag = "Second factors",
    params(UserPath),
    request_body(content = StepUpBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An enrolment started (10 minutes; a new one replaces an unconfirmed one): the secret for an authenticator app. Nothing is on until a code confirms it.", body = TotpEnrolmentBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 429, response = TooManyAttempts),
    ))]
pub async fn start_totp_enrolment(
    use_case: &impl UseCase<TotpEnrolmentRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let StepUpBody { current_password } = StepUpBody::read(&request)?;
    let command = TotpEnrolmentRequest {
        user_id: id,
        current_password,
    };
    let provisioning = use_case.execute(&caller, command).await?;
    Ok(uncached(&TotpEnrolmentBody {
        secret: provisioning.secret,
        otpauth_uri: provisioning.otpauth_uri,
    }))
}

#[utoipa::path(post, path = "/users/{id}/mfa/totp/confirm", tag = "Second factors",
    params(UserPath),
    request_body(content = TotpConfirmationBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Two-step sign-in is on (`mfa_enabled`); the address is told. The recovery codes are shown this once.", body = RecoveryCodesBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn confirm_totp_enrolment(
    use_case: &impl UseCase<TotpConfirmation>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let TotpConfirmationBody { code } = TotpConfirmationBody::read(&request)?;
    let command = TotpConfirmation { user_id: id, code };
    let recovery_codes = use_case.execute(&caller, command).await?;
    Ok(uncached(&RecoveryCodesBody { recovery_codes }))
}

#[utoipa::path(post, path = "/users/{id}/mfa/recovery-codes", tag = "Second factors",
    params(UserPath),
    request_body(content = RecoveryCodesRequestBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ten new recovery codes, shown this once; the earlier ones are void.", body = RecoveryCodesBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 429, response = TooManyAttempts),
    ))]
pub async fn replace_recovery_codes(
    use_case: &impl UseCase<RecoveryCodesRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let RecoveryCodesRequestBody {
        current_password,
        code,
    } = RecoveryCodesRequestBody::read(&request)?;
    let command = RecoveryCodesRequest {
        user_id: id,
        current_password,
        code: FactorProof::either(code),
    };
    let recovery_codes = use_case.execute(&caller, command).await?;
    Ok(uncached(&RecoveryCodesBody { recovery_codes }))
}

#[utoipa::path(delete, path = "/users/{id}/mfa", tag = "Second factors",
    params(UserPath),
    request_body(content = Option<RemoveFactorBody>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Two-step sign-in is off (`mfa_enabled` false), the user's sessions are revoked and the address is told."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 429, response = TooManyAttempts),
    ))]
pub async fn remove_second_factor(
    use_case: &impl UseCase<RemoveFactorRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let RemoveFactorBody {
        current_password,
        code,
    } = RemoveFactorBody::read(&request)?;
    let command = RemoveFactorRequest {
        user_id: id,
        current_password,
        code: code.map(FactorProof::either),
    };
    use_case.execute(&caller, command).await?;
    Ok(response::no_content())
}

impl From<application::credentials::FactorError> for Problem {
    fn from(error: application::credentials::FactorError) -> Self {
        use application::credentials::FactorError as Error;
        match error {
            Error::Denied(denied) => denied.into(),
            Error::NotFound => Problem::user_not_found(),
            Error::StepUp(error) => error.into(),
            Error::FactorOn => Problem::conflict(
                "mfa-enabled",
                "Second factor on",
                "a second factor is on already; remove it first (DELETE /users/{id}/mfa)",
            ),
            Error::NoEnrolment => Problem::bad_request(
                "no enrolment waits for a code: start one with POST /users/{id}/mfa/totp",
            ),
            Error::WrongCode => Problem::bad_request("the code is not the authenticator's"),
            Error::NoFactor => Problem::not_found("no second factor is on for this account"),
            Error::CodeRequired => Problem::bad_request(
                "turning off one's own second factor takes `code` in the body: a current code or a recovery code",
            ),
            Error::Contended => Problem::conflict(
                "concurrent-update",
                "Concurrent update",
                "the user was changed by other requests meanwhile; retry the request",
            ),
            Error::Secret(ref cause) => {
                tracing::error!(error = %application::error_chain(cause.as_ref()), "request failed");
                Problem::internal()
            }
            Error::Repository(error) => error.into(),
        }
    }
}
