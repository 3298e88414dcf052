//! One handler per route: parse, run the use case, respond. A handler answers every
//! business outcome itself; only `serve` sees the truly unexpected.

use crate::request::{self, JsonObject};
use crate::response::{self, PageBody, UserBody};
use crate::{FieldError, Problem};
use application::ports::{
    Clock, Cursor, EmailSender, IdGenerator, PageLimit, StatusFilter, UserListQuery, UserRepository,
};
use application::users::{
    ActivateUser, ChangeEmail, CreateUser, DeleteUser, GetUser, ListUsers, NewUser, RecordLogin,
    SuspendUser, UpdateUserEmail,
};
use domain::{Email, UserName, UserStatus};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub type HandlerResult = Result<Response<Body>, Problem>;

/// `POST /users`
pub async fn create_user<R, M, C, I>(
    use_case: &CreateUser<R, M, C, I>,
    request: Request,
) -> HandlerResult
where
    R: UserRepository,
    M: EmailSender,
    C: Clock,
    I: IdGenerator,
{
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let name = body.string("name", UserName::parse);
    let (email, name) = body.finish(email.zip(name))?;
    let user = use_case.execute(NewUser { email, name }).await?;
    Ok(response::created_user(&user))
}

/// `GET /users/{id}`
pub async fn get_user<R: UserRepository>(use_case: &GetUser<R>, request: Request) -> HandlerResult {
    let user = use_case.execute(request::user_id(&request)?).await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `GET /users?status=&limit=&cursor=`
pub async fn list_users<R: UserRepository>(
    use_case: &ListUsers<R>,
    request: Request,
) -> HandlerResult {
    let mut errors = Vec::new();
    let status = match request::single_query_value(&request, "status", &mut errors) {
        None => Some(StatusFilter::NotDeleted),
        Some(raw) => UserStatus::parse(&raw).map(StatusFilter::Only).or_else(|| {
            errors.push(FieldError::new(
                "status",
                "must be one of active, suspended, deleted",
            ));
            None
        }),
    };
    let limit = match request::single_query_value(&request, "limit", &mut errors) {
        None => Some(PageLimit::DEFAULT),
        Some(raw) => PageLimit::parse(&raw)
            .map_err(|error| errors.push(FieldError::new("limit", error)))
            .ok(),
    };
    let cursor = request::single_query_value(&request, "cursor", &mut errors).map(Cursor::new);
    let (Some(status), Some(limit), true) = (status, limit, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let page = use_case
        .execute(UserListQuery {
            status,
            limit,
            cursor,
        })
        .await?;
    let body = PageBody {
        items: page.items.iter().map(UserBody::from).collect(),
        next_cursor: page.next_cursor.map(|cursor| cursor.as_str().to_owned()),
    };
    Ok(response::json(StatusCode::OK, &body))
}

/// `PUT /users/{id}/email`
pub async fn update_user_email<R: UserRepository>(
    use_case: &UpdateUserEmail<R>,
    request: Request,
) -> HandlerResult {
    let id = request::user_id(&request)?;
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let email = body.finish(email)?;
    let if_match = request::if_match(&request);
    let user = use_case
        .execute(ChangeEmail {
            id,
            email,
            if_match,
        })
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `POST /users/{id}/suspend`
pub async fn suspend_user<R: UserRepository>(
    use_case: &SuspendUser<R>,
    request: Request,
) -> HandlerResult {
    let user = use_case.execute(request::user_id(&request)?).await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `POST /users/{id}/activate`
pub async fn activate_user<R: UserRepository>(
    use_case: &ActivateUser<R>,
    request: Request,
) -> HandlerResult {
    let user = use_case.execute(request::user_id(&request)?).await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `DELETE /users/{id}`
pub async fn delete_user<R: UserRepository>(
    use_case: &DeleteUser<R>,
    request: Request,
) -> HandlerResult {
    use_case.execute(request::user_id(&request)?).await?;
    Ok(response::no_content())
}

/// `POST /users/{id}/logins`
pub async fn record_login<R: UserRepository, C: Clock>(
    use_case: &RecordLogin<R, C>,
    request: Request,
) -> HandlerResult {
    let user = use_case.execute(request::user_id(&request)?).await?;
    Ok(response::user(StatusCode::OK, &user))
}
