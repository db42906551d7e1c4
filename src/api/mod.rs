//! The GraphQL API (async-graphql on axum) and the monitoring port.
//!
//! Every request is bounded before it runs ([`gate`]): body size, batch size,
//! per-client and server-wide concurrency, and a price computed on the parsed
//! document ([`cost`]) against a cap. While it runs, a deadline holds and large
//! requests read the store off the async workers ([`budget`]); the response is
//! capped in size. Subscriptions ([`ws`]) are limited per connection and in
//! total, and the listener ([`listener`]) sizes its backlog for the
//! connection limit. Each limit is a flag ([`limits::ApiLimits`]) and each
//! refusal a GraphQL error with a code. The monitoring port serves `/health`,
//! `/ready` and `/metrics` (Prometheus).

#![warn(clippy::arithmetic_side_effects)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::BatchRequest;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path as UrlPath, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId as HttpRequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod background;
pub mod batch;
pub mod budget;
pub mod cost;
pub mod gate;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod paging;
pub mod proof;
pub mod rollup;
pub mod scalars;
pub mod schema;
pub mod subscription;
pub mod ws;

pub use budget::RequestId;
pub use limits::{ApiLimits, LimitError};
pub use schema::{ApiSchema, RollupHandle, RollupKind, build_schema};

/// API-layer errors (start-up only: request errors are GraphQL responses).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The GraphQL or monitoring listener could not bind its address (in use, or not permitted).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address that was refused.
        addr: SocketAddr,
        /// Error from the socket bind.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an I/O error after it started.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// Shared state of both routers.
#[derive(Clone)]
pub struct AppState {
    /// The executable GraphQL schema over every served rollup.
    pub schema: ApiSchema,
    /// Request counters and latency histograms exported on `/metrics`.
    pub metrics: Arc<metrics::ApiMetrics>,
    /// Set once the stores are open (and, for `follow`, caught up with L1).
    pub ready: Arc<AtomicBool>,
    /// Directory holding GraphiQL's browser assets (installed from npm; see README).
    pub graphiql_assets: Option<PathBuf>,
    /// Followers running in this process (`follow`, `demo`): their metrics are
    /// exported here and `/ready` waits until each has caught up with L1.
    pub followers: Vec<Arc<crate::follow::status::FollowStatus>>,
    /// The limits and the admission state built from them.
    pub gate: Arc<gate::Gate>,
}

impl AppState {
    /// State for serving `schema` under `limits`, ready, with no followers.
    pub fn new(schema: ApiSchema, limits: ApiLimits) -> Self {
        AppState {
            gate: Arc::new(gate::Gate::new(schema.clone(), limits)),
            schema,
            metrics: Default::default(),
            ready: Arc::new(AtomicBool::new(true)),
            graphiql_assets: None,
            followers: Vec::new(),
        }
    }
}

/// The GraphQL router: `POST /graphql`, GraphiQL on `GET /graphql`, subscriptions on `/graphql/ws`.
pub fn graphql_router(state: AppState) -> Router {
    let limits = state.gate.limits.clone();
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql_handler))
        .route("/graphiql/{*file}", get(graphiql_asset))
        .route("/graphql/ws", get(ws::handler))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(
                    SequentialRequestId::default(),
                ))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http())
                // A backstop for slow uploads: the handler answers its own
                // deadline with a GraphQL error a second earlier.
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    limits.deadline().saturating_add(Duration::from_secs(1)),
                ))
                .layer(RequestBodyLimitLayer::new(limits.max_body_bytes)),
        )
}

/// The monitoring router: `/health`, `/ready`, `/metrics`.
pub fn monitor_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/ready",
            get(|State(state): State<AppState>| async move {
                if let Some(problem) = damaged_store(&state) {
                    return (StatusCode::SERVICE_UNAVAILABLE, problem);
                }
                if state.ready.load(Ordering::Relaxed)
                    && state.followers.iter().all(|f| f.caught_up())
                {
                    (StatusCode::OK, "ready".to_owned())
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready".to_owned())
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    state.metrics.render()
                        + &render_store_damage(&state)
                        + &crate::follow::status::FollowStatus::render(&state.followers),
                )
            }),
        )
        .with_state(state)
}

/// The rollups the schema serves.
fn served(state: &AppState) -> &[RollupHandle] {
    state
        .schema
        .data::<Arc<Vec<RollupHandle>>>()
        .map(|h| h.as_slice())
        .unwrap_or(&[])
}

/// `not ready: store of <chain> is damaged: ...` once any read met damage.
fn damaged_store(state: &AppState) -> Option<String> {
    served(state).iter().find_map(|h| {
        h.store
            .damage()
            .map(|problem| format!("not ready: the store of {} is damaged: {problem}", h.name))
    })
}

/// Reads that met a damaged store, per rollup (Prometheus counter).
fn render_store_damage(state: &AppState) -> String {
    let mut out = String::from(
        "# HELP zkreplay_store_damage_errors_total Store reads that met a damaged file (checksum mismatch, truncation).\n\
         # TYPE zkreplay_store_damage_errors_total counter\n",
    );
    for handle in served(state) {
        out.push_str(&format!(
            "zkreplay_store_damage_errors_total{{rollup=\"{}\"}} {}\n",
            handle.name,
            handle.store.damage_errors()
        ));
    }
    out
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
    let graphql =
        listener::bind(graphql_addr, state.gate.limits.max_connections).map_err(|source| {
            ApiError::Bind {
                addr: graphql_addr,
                source,
            }
        })?;
    let monitor = tokio::net::TcpListener::bind(monitor_addr)
        .await
        .map_err(|source| ApiError::Bind {
            addr: monitor_addr,
            source,
        })?;
    let bound = (
        axum::serve::Listener::local_addr(&graphql).map_err(ApiError::Serve)?,
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
            axum::serve(
                graphql,
                graphql_app.into_make_service_with_connect_info::<listener::ClientAddr>()
            )
            .with_graceful_shutdown(stop_graphql),
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
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let deadline = state.gate.limits.deadline_after(started);
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let client = client_ip(&extensions);
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
    let gate = &state.gate;
    let outcome = async {
        let _admission = gate.admit(client, deadline).await?;
        let (request, cost) = gate.price(request, body.len()).await?;
        let budget = gate.budget(&request_id, cost, started);
        let response = gate.execute(request, budget, &request_id, deadline).await?;
        Ok::<_, LimitError>((gate.serialize(&response)?, !response.is_ok()))
    }
    .await;
    match outcome {
        Ok((json, had_errors)) => {
            state.metrics.observe(started.elapsed(), had_errors);
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Err(limit) => {
            state.metrics.reject();
            limit.into_response()
        }
    }
}

/// The peer's address, set by the listener (absent when a router is driven
/// without one, as in some tests).
fn client_ip(extensions: &Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<listener::ClientAddr>>()
        .map(|info| info.0.0.ip())
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
        let id = self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        HeaderValue::from_str(&id.to_string())
            .ok()
            .map(HttpRequestId::new)
    }
}
