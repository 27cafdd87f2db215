//! `GET /wards/{code}/briefing`: a ward's briefing page
//! ([`crate::briefing`]), the same page `hotspots briefing` writes. The
//! London-wide work (Gi* cells, POI risk, emerging hot spots, the surge
//! plan, the pledge by borough) is built in the background when the server
//! starts ([`warm`]) and kept for its life; each page is the ward's own
//! figures. An unknown ward code is a 404 problem
//! document; the route takes no query parameters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;
use super::{params, AppState};
use crate::briefing::{self, BriefingError, Context, Options};

fn api_error(e: BriefingError) -> ApiError {
    match e {
        BriefingError::UnknownWard(code) => ApiError::NoWard(code),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The shared London-wide work, built once (on a blocking thread).
async fn context(st: &AppState) -> Result<Arc<Context>, ApiError> {
    let ds = st.dataset.clone();
    st.briefing
        .get_or_init(|| async move {
            tokio::task::spawn_blocking(move || Context::build(&ds, Options::default()).map(Arc::new))
                .await
                .map_err(|e| format!("the briefing's shared work stopped: {e}"))
                .and_then(|r| r.map_err(|e| e.to_string()))
        })
        .await
        .clone()
        .map_err(ApiError::Internal)
}

/// Builds the shared work in the background when the server starts, so the
/// first ward's page does not wait for it (a request arriving meanwhile
/// waits for the one build).
pub async fn warm(st: AppState) {
    if let Err(e) = context(&st).await {
        tracing::warn!("ward briefings are unavailable: {e}");
    }
}

/// Whether the dataset has a ward with this code (checked before any work).
fn known_ward(st: &AppState, code: &str) -> bool {
    st.dataset
        .wards
        .column(crate::dataset::schema::areas::CODE)
        .ok()
        .and_then(|c| c.str().ok().map(|s| s.iter().any(|v| v == Some(code))))
        .unwrap_or(false)
}

/// `GET /wards/{code}/briefing`.
pub async fn page(State(st): State<AppState>, Path(code): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    if let Some((name, _)) = params::pairs(uri.query())?.first() {
        return Err(ApiError::UnknownParameter(name.clone()));
    }
    if !known_ward(&st, &code) {
        return Err(ApiError::NoWard(code));
    }
    let ctx = context(&st).await?;
    let ds = st.dataset.clone();
    let html = tokio::task::spawn_blocking(move || {
        briefing::figures::ward_briefing(&ds, &ctx, &code)
            .map(|b| briefing::html::page(&b, &crate::month::now_rfc3339()))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the briefing stopped: {e}")))?
    .map_err(api_error)?;
    Ok(Html(html).into_response())
}
