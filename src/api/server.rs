//! The connection layer: what every connection and request is held to, so
//! that idle, slow or hostile clients cannot stop others being served.
//!
//! - Connections are accepted up to `max_connections`; each is served on a
//!   task of its own (hyper's HTTP/1), so hundreds of idle or slow ones
//!   cost a little memory each and hold nobody else up.
//! - A request whose headers do not arrive within `header_timeout` has its
//!   connection closed (so does an idle keep-alive connection).
//! - Headers larger than `max_header_bytes` are answered 431 with a problem
//!   document; bodies are never read (every route is a GET).
//! - Errors that a layer below the handlers answers with an empty or plain
//!   body (405, 408, 413, 431, a path that is not UTF-8) become problem
//!   documents too ([`problem_for_bare_errors`]).
//! - On shutdown the listener closes at once, in-flight requests get up to
//!   `shutdown_grace` to finish, then every computation still running is
//!   cancelled (its requests answered 503) and the server returns within a
//!   few seconds more.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use super::{ApiError, AppState};

/// Rejects requests whose headers (names, values, request line) are larger
/// than `max` bytes with a 431 problem document.
pub async fn limit_headers(State(max): State<usize>, req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + req.uri().to_string().len();
    if size > max {
        return ApiError::TooLarge(format!(
            "the request's line and headers are {size} bytes; this server accepts at most {max}"
        ))
        .into_response();
    }
    next.run(req).await
}

/// Turns an error answered without a problem document (by axum's
/// extractors, the method router or the timeout layer) into one, keeping
/// its status and its text as the detail.
pub async fn problem_for_bare_errors(r: Response) -> Response {
    let status = r.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return r;
    }
    let is_problem = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if is_problem {
        return r;
    }
    let (parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let detail = match (status, text.trim()) {
        (StatusCode::REQUEST_TIMEOUT, _) => {
            "the request took longer than this server allows; its work was cancelled".to_string()
        }
        (StatusCode::METHOD_NOT_ALLOWED, _) => "only GET (and HEAD) requests are served".to_string(),
        (_, "") => status.canonical_reason().unwrap_or("error").to_string(),
        (_, t) => t.to_string(),
    };
    let doc = serde_json::json!({
        "type": format!("https://hotspots.invalid/problems/http-{}", status.as_u16()),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut out = Response::from_parts(parts, Body::from(doc.to_string()));
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    out
}

/// Accepts and serves connections until `shutdown` completes (see the
/// module doc for the limits and the stop).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        let _ = state.public_url.set(
            state
                .config
                .public_url
                .clone()
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("http://{addr}")),
        );
    }
    let config = state.config.clone();
    let engine = state.engine.clone();
    let app = super::router(state);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a little, go on.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_buf_size((config.max_header_bytes * 4).max(64 << 10))
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("stopping: finishing in-flight requests");
    let all_done = graceful.shutdown();
    tokio::pin!(all_done);
    tokio::select! {
        _ = &mut all_done => {}
        _ = tokio::time::sleep(config.shutdown_grace) => {
            tracing::info!("stopping: cancelling the work still running");
            engine.shut_down();
            let _ = tokio::time::timeout(Duration::from_secs(3), &mut all_done).await;
        }
    }
    engine.shut_down();
    Ok(())
}
