//! The one error response of the API: an RFC 9457 problem document
//! (`application/problem+json`) with `type`, `title`, `status`, `detail`
//! and, when a request parameter is at fault, `parameter` naming it.
//!
//! Every handler returns [`ApiError`]; bad input is always a 4xx, never a
//! panic or a 500. Only a failure of the server itself (a dataset column
//! missing, a worker thread lost) is a 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::analysis::AnalysisError;

/// Errors answering a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// A query or path parameter is malformed or out of range.
    #[error("parameter `{parameter}`: {message}")]
    BadParameter { parameter: String, message: String },
    /// A parameter the resource does not accept.
    #[error("unknown parameter `{0}`")]
    UnknownParameter(String),
    /// No such collection (the parameter is `collectionId`).
    #[error("no collection `{0}`")]
    NoCollection(String),
    /// No such feature in a collection (the parameter is `featureId`).
    #[error("collection `{collection}` has no feature `{feature}`")]
    NoFeature { collection: String, feature: String },
    /// No ward with this code (the parameter is `code`).
    #[error("no ward has the code {0:?}; ward codes are the `code` of /collections/wards/items, such as E05000138")]
    NoWard(String),
    /// No such path.
    #[error("no resource at {0}")]
    NotFound(String),
    /// The selection matched no incidents: nothing to analyse.
    #[error("{0}")]
    Empty(String),
    /// The request would cost more than the server's limits allow
    /// ([`crate::analysis::cost`]): 422, naming the parameter to change.
    #[error("parameter `{parameter}`: {message}")]
    TooCostly { parameter: String, message: String },
    /// Every computation slot and the queue are taken: 503 with `Retry-After`.
    #[error("the server is busy: {running} computations running and {queued} waiting; try again shortly")]
    Busy { running: usize, queued: usize },
    /// The computation was cancelled (its requester left, or the server is stopping).
    #[error("the computation was cancelled")]
    Cancelled,
    /// The server cannot take the request now (shutting down): 503.
    #[error("{0}")]
    Unavailable(String),
    /// The request's headers or body are too large.
    #[error("{0}")]
    TooLarge(String),
    /// A failure of the server, not of the request.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A bad-parameter error.
    pub fn param(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            parameter: parameter.to_string(),
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } | ApiError::UnknownParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::NoCollection(_) | ApiError::NoFeature { .. } | ApiError::NoWard(_) | ApiError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Empty(_) | ApiError::TooCostly { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Busy { .. } | ApiError::Cancelled | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The parameter at fault, if one is.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            ApiError::BadParameter { parameter, .. } | ApiError::TooCostly { parameter, .. } => Some(parameter),
            ApiError::UnknownParameter(p) => Some(p),
            ApiError::NoCollection(_) => Some("collectionId"),
            ApiError::NoFeature { .. } => Some("featureId"),
            ApiError::NoWard(_) => Some("code"),
            _ => None,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "bad-parameter",
            ApiError::UnknownParameter(_) => "unknown-parameter",
            ApiError::NoCollection(_) => "no-collection",
            ApiError::NoFeature { .. } => "no-feature",
            ApiError::NoWard(_) => "no-ward",
            ApiError::NotFound(_) => "not-found",
            ApiError::Empty(_) => "empty-selection",
            ApiError::TooCostly { .. } => "too-costly",
            ApiError::Busy { .. } => "busy",
            ApiError::Cancelled => "cancelled",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooLarge(_) => "too-large",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem document (RFC 9457).
    pub fn problem(&self) -> serde_json::Value {
        let status = self.status();
        let mut doc = json!({
            "type": format!("https://hotspots.invalid/problems/{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        if let Some(p) = self.parameter() {
            doc["parameter"] = p.into();
        }
        doc
    }
}

impl From<AnalysisError> for ApiError {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Param { name, message } => ApiError::BadParameter {
                parameter: name,
                message,
            },
            AnalysisError::Empty(m) => ApiError::Empty(format!("no incidents match the selection ({m})")),
            AnalysisError::TooCostly { param, message } => ApiError::TooCostly {
                parameter: param,
                message,
            },
            AnalysisError::Cancelled => ApiError::Cancelled,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{self}");
        }
        let body = self.problem().to_string();
        let mut r = (self.status(), body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_param_errors_become_400s_naming_the_parameter() {
        let e: ApiError = AnalysisError::Param {
            name: "cell".into(),
            message: "must be positive".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let doc = e.problem();
        assert_eq!(doc["parameter"], "cell");
        assert_eq!(doc["status"], 400);
        assert!(doc["detail"].as_str().unwrap().contains("must be positive"));
        assert_eq!(
            ApiError::NoCollection("x".into()).problem()["parameter"],
            "collectionId"
        );
        assert_eq!(ApiError::NoCollection("x".into()).status(), StatusCode::NOT_FOUND);
    }
}
