//! Every limit of the GraphQL server, its flag and environment variable, and
//! the error a client gets when it hits one.

use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Limits of the GraphQL server (flags of `serve`, `follow` and `demo`).
#[derive(Debug, Clone, clap::Args)]
pub struct ApiLimits {
    /// Most cost units one HTTP request (all its batched queries) may be
    /// priced at before it runs (see README, "API limits").
    #[arg(long = "graphql-max-cost", env = "ZKREPLAY_GRAPHQL_MAX_COST", default_value_t = DEFAULT_MAX_COST)]
    pub max_cost: u64,
    /// Deepest nesting of fields a query may have (leaf fields count; the
    /// introspection query GraphiQL sends on load is 13 deep).
    #[arg(long = "graphql-max-depth", env = "ZKREPLAY_GRAPHQL_MAX_DEPTH", default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
    /// Largest response body in bytes.
    #[arg(long = "graphql-max-response-bytes", env = "ZKREPLAY_GRAPHQL_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,
    /// Largest request body in bytes (413 beyond it).
    #[arg(long = "graphql-max-body-bytes", env = "ZKREPLAY_GRAPHQL_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most queries in one batched request.
    #[arg(long = "graphql-max-batch", env = "ZKREPLAY_GRAPHQL_MAX_BATCH", default_value_t = DEFAULT_MAX_BATCH)]
    pub max_batch: usize,
    /// Milliseconds a request may run, from arrival to its last store read.
    #[arg(long = "graphql-deadline-ms", env = "ZKREPLAY_GRAPHQL_DEADLINE_MS", default_value_t = DEFAULT_DEADLINE_MS)]
    pub deadline_ms: u64,
    /// Requests priced at most this many units read the store on the async
    /// worker; larger ones on the low-priority background threads.
    #[arg(long = "graphql-inline-cost", env = "ZKREPLAY_GRAPHQL_INLINE_COST", default_value_t = DEFAULT_INLINE_COST)]
    pub inline_cost: u64,
    /// Threads reading the store for large requests (0: half the CPUs, at
    /// least one, so large requests leave the other half to cheap ones).
    #[arg(long = "graphql-blocking-threads", env = "ZKREPLAY_GRAPHQL_BLOCKING_THREADS", default_value_t = DEFAULT_BLOCKING_THREADS)]
    pub blocking_threads: usize,
    /// Requests executing at once over all clients; more wait until their deadline.
    #[arg(long = "graphql-max-concurrent", env = "ZKREPLAY_GRAPHQL_MAX_CONCURRENT", default_value_t = DEFAULT_MAX_CONCURRENT)]
    pub max_concurrent: usize,
    /// Requests one client (IP address) may have in flight; more get 429.
    #[arg(long = "graphql-max-per-client", env = "ZKREPLAY_GRAPHQL_MAX_PER_CLIENT", default_value_t = DEFAULT_MAX_PER_CLIENT)]
    pub max_per_client: usize,
    /// Open TCP connections to the GraphQL port; the listen backlog is sized
    /// to it, so more connections wait in the kernel instead of being reset.
    #[arg(long = "graphql-max-connections", env = "ZKREPLAY_GRAPHQL_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Open WebSocket (subscription) connections; more get 503.
    #[arg(long = "graphql-max-ws-connections", env = "ZKREPLAY_GRAPHQL_MAX_WS_CONNECTIONS", default_value_t = DEFAULT_MAX_WS_CONNECTIONS)]
    pub max_ws_connections: usize,
    /// Active subscriptions on one WebSocket connection.
    #[arg(long = "graphql-max-subscriptions", env = "ZKREPLAY_GRAPHQL_MAX_SUBSCRIPTIONS", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS)]
    pub max_subscriptions_per_connection: usize,
    /// Root fields (streams) of one subscription.
    #[arg(long = "graphql-max-subscription-fields", env = "ZKREPLAY_GRAPHQL_MAX_SUBSCRIPTION_FIELDS", default_value_t = DEFAULT_MAX_SUBSCRIPTION_FIELDS)]
    pub max_subscription_fields: u64,
}

/// Default `--graphql-max-cost`, in cost units.
pub const DEFAULT_MAX_COST: u64 = 200_000;
/// Default `--graphql-max-depth`, in fields.
pub const DEFAULT_MAX_DEPTH: usize = 16;
/// Default `--graphql-max-response-bytes` (8 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Default `--graphql-max-body-bytes` (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default `--graphql-max-batch`, in queries per request.
pub const DEFAULT_MAX_BATCH: usize = 10;
/// Default `--graphql-deadline-ms` (10 s).
pub const DEFAULT_DEADLINE_MS: u64 = 10_000;
/// Default `--graphql-inline-cost`, in cost units.
pub const DEFAULT_INLINE_COST: u64 = 100;
/// Default `--graphql-blocking-threads`: 0, half the CPUs.
pub const DEFAULT_BLOCKING_THREADS: usize = 0;
/// Default `--graphql-max-concurrent`, in requests.
pub const DEFAULT_MAX_CONCURRENT: usize = 512;
/// Default `--graphql-max-per-client`, in requests per IP address.
pub const DEFAULT_MAX_PER_CLIENT: usize = 64;
/// Default `--graphql-max-connections`, in TCP connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// Default `--graphql-max-ws-connections`, in WebSocket connections.
pub const DEFAULT_MAX_WS_CONNECTIONS: usize = 256;
/// Default `--graphql-max-subscriptions`, per WebSocket connection.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 16;
/// Default `--graphql-max-subscription-fields`, root fields per subscription.
pub const DEFAULT_MAX_SUBSCRIPTION_FIELDS: u64 = 4;

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_cost: DEFAULT_MAX_COST,
            max_depth: DEFAULT_MAX_DEPTH,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            deadline_ms: DEFAULT_DEADLINE_MS,
            inline_cost: DEFAULT_INLINE_COST,
            blocking_threads: DEFAULT_BLOCKING_THREADS,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_per_client: DEFAULT_MAX_PER_CLIENT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_ws_connections: DEFAULT_MAX_WS_CONNECTIONS,
            max_subscriptions_per_connection: DEFAULT_MAX_SUBSCRIPTIONS,
            max_subscription_fields: DEFAULT_MAX_SUBSCRIPTION_FIELDS,
        }
    }
}

impl ApiLimits {
    /// Time a request may run, from `deadline_ms`.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// The instant a request that arrived at `started` runs out of time.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "the deadline is at most u64::MAX ms (about 1.8e16 s), far inside Instant's range"
    )]
    pub fn deadline_after(&self, started: Instant) -> Instant {
        started + self.deadline()
    }

    /// Units of expensive work running at once: the flag, or half the CPUs (at least one).
    pub fn blocking_threads(&self) -> usize {
        match self.blocking_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }
}

/// A request refused (or stopped) by a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A batched request holds more queries than `--graphql-max-batch`.
    #[error("a batch may hold at most {limit} queries, got {got}")]
    Batch {
        /// Queries in the request.
        got: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The request is priced above `--graphql-max-cost`; refused before it runs.
    #[error(
        "query is too complex: it is priced at {cost} units and the limit is {limit} \
         (smaller pages, fewer aliases or fewer fragment spreads lower the price)"
    )]
    Cost {
        /// Price of the request, in cost units.
        cost: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A query nests fields deeper than `--graphql-max-depth`.
    #[error("query nests fields {depth} deep and the limit is {limit}")]
    Depth {
        /// Depth of the deepest field.
        depth: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The document does not parse, or cannot be priced (fragment cycle, nesting); holds the reason.
    #[error("query cannot be priced: {0}")]
    Unpriceable(String),
    /// The client (IP address) already has `--graphql-max-per-client` requests in flight (HTTP 429).
    #[error("this client already has {limit} requests in flight; retry when one completes")]
    ClientBusy {
        /// The configured limit.
        limit: usize,
    },
    /// No execution slot (`--graphql-max-concurrent`) or background thread freed up before the deadline (HTTP 503).
    #[error("the server is at its limit of {limit} concurrent requests; retry later")]
    ServerBusy {
        /// The configured `--graphql-max-concurrent`.
        limit: usize,
    },
    /// The request ran past `--graphql-deadline-ms` and was stopped (HTTP 408).
    #[error("the request ran past its deadline of {ms} ms and was stopped")]
    Deadline {
        /// The deadline, in milliseconds.
        ms: u64,
    },
    /// The response would exceed `--graphql-max-response-bytes`.
    #[error("the response would exceed {limit} bytes; ask for less (smaller pages, fewer fields)")]
    ResponseTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// A subscription has more root fields than `--graphql-max-subscription-fields`.
    #[error("a subscription may have at most {limit} root fields, got {got}")]
    SubscriptionFields {
        /// Root fields in the subscription.
        got: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The WebSocket connection already has `--graphql-max-subscriptions` active subscriptions.
    #[error("this connection already has {limit} active subscriptions")]
    Subscriptions {
        /// The configured limit.
        limit: usize,
    },
    /// All `--graphql-max-ws-connections` WebSocket connections are open (HTTP 503).
    #[error("the server is at its limit of {limit} subscription connections; retry later")]
    WsConnections {
        /// The configured limit.
        limit: usize,
    },
}

impl LimitError {
    /// A stable code for clients, in the error's `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::Batch { .. } => "BATCH_LIMIT",
            LimitError::Cost { .. } => "COST_LIMIT",
            LimitError::Depth { .. } => "DEPTH_LIMIT",
            LimitError::Unpriceable(_) => "INVALID_QUERY",
            LimitError::ClientBusy { .. } => "CLIENT_CONCURRENCY_LIMIT",
            LimitError::ServerBusy { .. } => "SERVER_BUSY",
            LimitError::Deadline { .. } => "DEADLINE_EXCEEDED",
            LimitError::ResponseTooLarge { .. } => "RESPONSE_TOO_LARGE",
            LimitError::SubscriptionFields { .. } => "SUBSCRIPTION_FIELD_LIMIT",
            LimitError::Subscriptions { .. } => "SUBSCRIPTION_LIMIT",
            LimitError::WsConnections { .. } => "CONNECTION_LIMIT",
        }
    }

    /// HTTP status of the refusal: 429, 503, 408, or 400 for the rest.
    pub fn status(&self) -> StatusCode {
        match self {
            LimitError::ClientBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
            LimitError::ServerBusy { .. } | LimitError::WsConnections { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            LimitError::Deadline { .. } => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The error as a GraphQL error object.
    pub fn graphql(&self) -> async_graphql::ServerError {
        let mut error = async_graphql::ServerError::new(self.to_string(), None);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", self.code());
        error.extensions = Some(extensions);
        error
    }
}

impl IntoResponse for LimitError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(serde_json::json!({ "errors": [self.graphql()] })),
        )
            .into_response()
    }
}
