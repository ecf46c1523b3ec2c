//! While the database is out of reach, the API answers 503 at once, with `Retry-After: 1`, instead of
//! letting each request wait for a connection (the console and the system endpoints still answer).

use crate::context::RequestInfo;
use crate::error_envelope::answer;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use orgd_core::error::{ApiError, ErrorCode};

/// The layer.
pub async fn when_database_down(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.database_down() || RequestInfo::of(&req).api.is_none() {
        return next.run(req).await;
    }
    let mut e =
        ApiError::new(ErrorCode::ServiceUnavailable).with_message("The database is out of reach; try again shortly.");
    e.retry_after = Some(1);
    answer(e)
}
