//! Authentication: the `Authorization: Bearer` header becomes a `Caller`, verified in-process
//! against the service's public keys. What a caller may do is the use case's `Policy`; the
//! handlers apply it here first, in API.md's order (401, then 403/404), before reading a body.

use crate::Problem;
use crate::request::UserPath;
use application::ports::{AccessClaims, AccessTokenVerifier, InvalidAccessToken};
use application::{AdminMfa, Caller, Policy};
use domain::Timestamp;
use lambda_http::Request;
use lambda_http::http::header;

/// What the request's `Authorization` header proved, set by `serve` on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// No `Authorization` header.
    Anonymous,
    Bearer(AccessClaims),
    /// A header was sent, but not a valid access token of this service.
    Refused,
}

impl Authentication {
    /// Reads and verifies the bearer token of `request`.
    pub fn of(request: &Request, verifier: &impl AccessTokenVerifier) -> Self {
        let Some(value) = request
            .headers()
            .get(header::AUTHORIZATION)
            .filter(|_| verifier.reads_tokens())
        else {
            return Self::Anonymous;
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token.map(|token| verifier.verify(token, Timestamp::now())) {
            Some(Ok(claims)) => Self::Bearer(claims),
            Some(Err(reason)) => {
                // The kind of failure is for the operator; the client gets one answer.
                tracing::info!(reason = reason.0, "access token refused");
                Self::Refused
            }
            None => Self::Refused,
        }
    }

    pub(crate) fn of_request(request: &Request) -> Self {
        request
            .extensions()
            .get::<Self>()
            .copied()
            .unwrap_or(Self::Anonymous)
    }
}

/// The caller of a route with this policy: a public route takes anyone (and ignores a bad
/// token, as a token endpoint must); any other needs a valid token (401), and an admin route
/// an admin (403).
pub fn caller(policy: Policy, request: &Request) -> Result<Caller, Problem> {
    let caller = match (Authentication::of_request(request), policy) {
        (Authentication::Bearer(claims), _) => Caller::User {
            id: claims.user_id,
            role: claims.role,
            proof: claims.proof,
        },
        (_, Policy::Anyone) => Caller::Anonymous,
        (Authentication::Anonymous, _) => return Err(Problem::missing_token(false)),
        (Authentication::Refused, _) => return Err(Problem::missing_token(true)),
    };
    policy.check(&caller, None).or_else(|denied| match denied {
        // Whose resource it is comes with the path; `for_user` decides that.
        application::Denied::NotFound => Ok(()),
        denied => Err(Problem::from(denied)),
    })?;
    if policy == Policy::Admin {
        admin_mfa_of(request).check(&caller, policy, None)?;
    }
    Ok(caller)
}

/// The stack's admin MFA setting, as `serve` put it on the request; `Required` if absent.
fn admin_mfa_of(request: &Request) -> AdminMfa {
    request
        .extensions()
        .get::<AdminMfa>()
        .copied()
        .unwrap_or(AdminMfa::Required)
}

/// The admin MFA setting of this process: `ADMIN_MFA` (`required` or `optional`), read once;
/// anything else, or nothing, is `required`, the safe side.
pub(crate) fn admin_mfa_setting() -> AdminMfa {
    static SETTING: std::sync::OnceLock<AdminMfa> = std::sync::OnceLock::new();
    *SETTING.get_or_init(|| {
        let raw = std::env::var("ADMIN_MFA").unwrap_or_default();
        AdminMfa::parse(&raw).unwrap_or_else(|| {
            if !raw.is_empty() {
                tracing::warn!(value = raw, "ADMIN_MFA is neither required nor optional");
            }
            AdminMfa::Required
        })
    })
}

/// The caller of a `/users/{id}...` route and the `{id}`: 401, then 404 for a malformed id,
/// then 403, or 404 for another user's resource, exactly as for an unknown id.
pub fn for_user(policy: Policy, request: &Request) -> Result<(Caller, UserPath), Problem> {
    let caller = caller(policy, request)?;
    let path = UserPath::read(request)?;
    policy.check(&caller, Some(path.id))?;
    admin_mfa_of(request).check(&caller, policy, Some(path.id))?;
    Ok((caller, path))
}

/// For functions whose routes are all public: every token is refused, and ignored.
pub struct NoTokens;

impl AccessTokenVerifier for NoTokens {
    fn verify(&self, _: &str, _: Timestamp) -> Result<AccessClaims, InvalidAccessToken> {
        Err(InvalidAccessToken("this function takes no tokens"))
    }

    fn reads_tokens(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::fakes::{FakeAccessTokens, user_with_email};
    use application::ports::AccessTokenIssuer;
    use lambda_http::Body;
    use lambda_http::http::Request as HttpRequest;

    fn proof() -> domain::SessionProof {
        let now = Timestamp::now();
        domain::SessionProof {
            session: domain::SessionId::start(now),
            auth_time: now,
            methods: domain::AuthMethods::Password,
        }
    }

    fn with(authorization: Option<&str>) -> Request {
        let mut builder = HttpRequest::builder().uri("/users/x");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn a_bearer_token_is_verified_and_anything_else_is_refused() {
        let ada = user_with_email("ada@example.com");
        let token = FakeAccessTokens
            .issue(&ada, &proof(), Timestamp::now())
            .unwrap()
            .token;
        let verified =
            Authentication::of(&with(Some(&format!("Bearer {token}"))), &FakeAccessTokens);
        assert!(matches!(verified, Authentication::Bearer(claims) if claims.user_id == ada.id()));
        let lower = Authentication::of(&with(Some(&format!("bearer {token}"))), &FakeAccessTokens);
        assert!(
            matches!(lower, Authentication::Bearer(_)),
            "the scheme ignores case"
        );
        assert_eq!(
            Authentication::of(&with(None), &FakeAccessTokens),
            Authentication::Anonymous
        );
        for refused in [
            format!("Basic {token}"),
            "Bearer".to_owned(),
            "Bearer not-a-token".to_owned(),
            token.clone(),
        ] {
            assert_eq!(
                Authentication::of(&with(Some(&refused)), &FakeAccessTokens),
                Authentication::Refused,
                "{refused}"
            );
        }
    }

    #[test]
    fn a_function_that_takes_no_tokens_reads_every_request_as_anonymous() {
        let token = FakeAccessTokens
            .issue(
                &user_with_email("ada@example.com"),
                &proof(),
                Timestamp::now(),
            )
            .unwrap()
            .token;
        for header in [
            Some(format!("Bearer {token}")),
            Some("junk".to_owned()),
            None,
        ] {
            assert_eq!(
                Authentication::of(&with(header.as_deref()), &NoTokens),
                Authentication::Anonymous,
                "{header:?}"
            );
        }
    }

    /// An administrator's claims, signed in with `methods`.
    fn admin_by(methods: domain::AuthMethods) -> Authentication {
        let Authentication::Bearer(mut claims) = crate::testing::admin() else {
            unreachable!("an administrator's claims");
        };
        claims.proof.methods = methods;
        Authentication::Bearer(claims)
    }

    #[test]
    fn with_admin_mfa_required_admin_power_needs_mfa_in_amr_and_its_own_account_does_not() {
        use crate::testing::{Answer, TestRequest};
        let password = admin_by(domain::AuthMethods::Password);
        let Authentication::Bearer(claims) = password else {
            unreachable!()
        };
        let own = claims.user_id.to_string();
        let other = domain::UserId::generate().to_string();
        let request = |authentication, setting, id: &str| {
            TestRequest::new("GET", "/users/x")
                .path("id", id)
                .by(authentication)
                .admin_mfa(setting)
                .build()
        };
        let required = AdminMfa::Required;
        let refused = caller(Policy::Admin, &request(password, required, &own)).unwrap_err();
        let answer = Answer::of(Err(refused));
        assert_eq!(answer.status, 403);
        assert_eq!(answer.body["type"], "/problems/mfa-required");
        assert!(answer.body.get("mfa_token").is_none());
        let on_other = for_user(Policy::SelfOrAdmin, &request(password, required, &other));
        assert_eq!(on_other.unwrap_err().status, 403);
        assert!(
            for_user(Policy::SelfOrAdmin, &request(password, required, &own)).is_ok(),
            "its own account"
        );
        assert!(for_user(Policy::SelfOnly, &request(password, required, &own)).is_ok());
        let strong = admin_by(domain::AuthMethods::PasswordAndOneTimeCode);
        assert!(caller(Policy::Admin, &request(strong, required, &own)).is_ok());
        assert!(for_user(Policy::SelfOrAdmin, &request(strong, required, &other)).is_ok());
        let optional = AdminMfa::Optional;
        assert!(caller(Policy::Admin, &request(password, optional, &own)).is_ok());
        assert!(for_user(Policy::SelfOrAdmin, &request(password, optional, &other)).is_ok());
        let unset = TestRequest::new("GET", "/users").by(password).build();
        let mut unset = unset;
        unset.extensions_mut().remove::<AdminMfa>();
        assert!(
            caller(Policy::Admin, &unset).is_err(),
            "a request that carries no setting is held to the safe one"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_authorization_header_is_read_without_a_panic(value in "[ -~]{0,200}") {
            let _ = Authentication::of(&with(Some(&value)), &FakeAccessTokens);
        }
    }
}
