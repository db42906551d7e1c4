//! The GraphQL API (async-graphql on axum) and the monitoring port.
//!
//! Middleware, outermost first: request id, tracing, per-request timeout,
//! concurrency limit, 1 MiB body limit. Inside the handler: at most
//! [`MAX_BATCH`] queries per batched request, then async-graphql's depth and
//! complexity limits. The monitoring port serves `/health`, `/ready` and
//! `/metrics` (Prometheus).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::BatchRequest;
use async_graphql_axum::GraphQLSubscription;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId as HttpRequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod metrics;
pub mod scalars;
pub mod schema;

pub use schema::{ApiSchema, RollupHandle, RollupKind, build_schema};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most queries in one batched request.
pub const MAX_BATCH: usize = 10;
/// Per-request time limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests executed at once; further ones wait.
pub const MAX_CONCURRENT_REQUESTS: usize = 512;

/// API-layer errors (start-up only: request errors are GraphQL responses).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// Shared state of both routers.
#[derive(Clone)]
pub struct AppState {
    pub schema: ApiSchema,
    pub metrics: Arc<metrics::ApiMetrics>,
    /// Set once the stores are open (and, for `follow`, caught up with L1).
    pub ready: Arc<AtomicBool>,
    /// Directory holding GraphiQL's browser assets (installed from npm; see README).
    pub graphiql_assets: Option<PathBuf>,
    /// Followers running in this process (`follow`, `demo`): their metrics are
    /// exported here and `/ready` waits until each has caught up with L1.
    pub followers: Vec<Arc<crate::follow::status::FollowStatus>>,
}

/// The GraphQL router: `POST /graphql`, GraphiQL on `GET /graphql`, subscriptions on `/graphql/ws`.
pub fn graphql_router(state: AppState) -> Router {
    let subscriptions = GraphQLSubscription::new(state.schema.clone());
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql_handler))
        .route("/graphiql/{*file}", get(graphiql_asset))
        .route_service("/graphql/ws", subscriptions)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(
                    SequentialRequestId::default(),
                ))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                ))
                .layer(ConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS))
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
        )
}

/// The monitoring router: `/health`, `/ready`, `/metrics`.
pub fn monitor_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/ready",
            get(|State(state): State<AppState>| async move {
                if state.ready.load(Ordering::Relaxed)
                    && state.followers.iter().all(|f| f.caught_up())
                {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    state.metrics.render()
                        + &crate::follow::status::FollowStatus::render(&state.followers),
                )
            }),
        )
        .with_state(state)
}

/// Binds both ports and serves until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    graphql_addr: SocketAddr,
    monitor_addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<
    (
        SocketAddr,
        SocketAddr,
        tokio::task::JoinHandle<Result<(), ApiError>>,
    ),
    ApiError,
> {
    let graphql = tokio::net::TcpListener::bind(graphql_addr)
        .await
        .map_err(|source| ApiError::Bind {
            addr: graphql_addr,
            source,
        })?;
    let monitor = tokio::net::TcpListener::bind(monitor_addr)
        .await
        .map_err(|source| ApiError::Bind {
            addr: monitor_addr,
            source,
        })?;
    let bound = (
        graphql.local_addr().map_err(ApiError::Serve)?,
        monitor.local_addr().map_err(ApiError::Serve)?,
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graphql_app = graphql_router(state.clone());
    let monitor_app = monitor_router(state);
    let task = tokio::spawn(async move {
        let mut rx1 = stop_rx.clone();
        let mut rx2 = stop_rx;
        let stop_graphql = async move {
            let _ = rx1.wait_for(|stop| *stop).await;
        };
        let stop_monitor = async move {
            let _ = rx2.wait_for(|stop| *stop).await;
        };
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let (a, b) = tokio::join!(
            axum::serve(graphql, graphql_app).with_graceful_shutdown(stop_graphql),
            axum::serve(monitor, monitor_app).with_graceful_shutdown(stop_monitor),
        );
        a.map_err(ApiError::Serve)?;
        b.map_err(ApiError::Serve)
    });
    Ok((bound.0, bound.1, task))
}

async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            state.metrics.reject();
            return client_error(
                StatusCode::BAD_REQUEST,
                format!("request body is not a GraphQL request: {e}"),
            );
        }
    };
    if let BatchRequest::Batch(requests) = &request
        && requests.len() > MAX_BATCH
    {
        state.metrics.reject();
        return client_error(
            StatusCode::BAD_REQUEST,
            format!(
                "a batch may hold at most {MAX_BATCH} queries, got {}",
                requests.len()
            ),
        );
    }
    let request = request.data(schema::RequestId(request_id));
    let response = state.schema.execute_batch(request).await;
    state.metrics.observe(started.elapsed(), !response.is_ok());
    Json(response).into_response()
}

fn client_error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(serde_json::json!({ "errors": [{ "message": message }] })),
    )
        .into_response()
}

/// GraphiQL's page; its scripts and styles are served from `/graphiql/` so it works offline.
async fn graphiql_page() -> Html<&'static str> {
    Html(include_str!("graphiql.html"))
}

/// Serves a GraphiQL asset from the configured directory (a fixed allow-list, no path walking).
async fn graphiql_asset(State(state): State<AppState>, UrlPath(file): UrlPath<String>) -> Response {
    const ASSETS: [(&str, &str, &str); 4] = [
        (
            "react.production.min.js",
            "react/umd/react.production.min.js",
            "text/javascript",
        ),
        (
            "react-dom.production.min.js",
            "react-dom/umd/react-dom.production.min.js",
            "text/javascript",
        ),
        (
            "graphiql.min.js",
            "graphiql/graphiql.min.js",
            "text/javascript",
        ),
        ("graphiql.min.css", "graphiql/graphiql.min.css", "text/css"),
    ];
    let Some((_, relative, mime)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "unknown asset").into_response();
    };
    let Some(dir) = &state.graphiql_assets else {
        return (
            StatusCode::NOT_FOUND,
            "GraphiQL assets are not installed (see README)",
        )
            .into_response();
    };
    match tokio::fs::read(dir.join(relative)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, *mime)], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "GraphiQL asset missing (see README)").into_response(),
    }
}

/// Request ids `1, 2, 3, ...` per process: short, unique, and easy to grep in logs.
#[derive(Clone, Default)]
struct SequentialRequestId(Arc<AtomicU64>);

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<HttpRequestId> {
        let id = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        HeaderValue::from_str(&id.to_string())
            .ok()
            .map(HttpRequestId::new)
    }
}
