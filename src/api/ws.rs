//! GraphQL over WebSocket (`/graphql/ws`, both graphql-ws protocols) under the
//! limits: connections in total, subscriptions per connection, root fields
//! per subscription, and the price and deadline of anything else sent over
//! the socket.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchRequest, BatchResponse, Data, Executor, Request, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::Extensions;
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use super::AppState;
use super::gate::{Gate, price_request};
use super::limits::LimitError;
use super::schema::ApiSchema;

/// Queries over a socket carry no request id header; logs name them so.
const WS_REQUEST_ID: &str = "ws";

/// Upgrades to a WebSocket when a connection slot is free, else 503.
pub async fn handler(
    State(state): State<AppState>,
    extensions: Extensions,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let gate = state.gate.clone();
    let Ok(slot) = gate.ws_connections.clone().try_acquire_owned() else {
        state.metrics.reject();
        return LimitError::WsConnections {
            limit: gate.limits.max_ws_connections,
        }
        .into_response();
    };
    let executor = LimitedExecutor {
        schema: state.schema.clone(),
        gate: gate.clone(),
        client: super::client_ip(&extensions),
        active: Arc::new(AtomicUsize::new(0)),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(gate.limits.max_body_bytes)
        .max_frame_size(gate.limits.max_body_bytes)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            GraphQLWebSocket::new(socket, executor, protocol)
                .serve()
                .await;
        })
}

/// The schema as one WebSocket connection may use it.
#[derive(Clone)]
struct LimitedExecutor {
    schema: ApiSchema,
    gate: Arc<Gate>,
    /// The peer, for the per-client limit on queries sent over the socket.
    client: Option<IpAddr>,
    /// Subscriptions open on this connection.
    active: Arc<AtomicUsize>,
}

impl LimitedExecutor {
    /// Parses and prices a subscription and counts its root fields and the
    /// connection's open subscriptions; on success the returned guard holds
    /// its place.
    async fn admit_subscription(&self, request: Request) -> Result<(Request, Active), LimitError> {
        let limits = self.gate.limits.clone();
        let model = self.gate.model().await.clone();
        let check = move |mut request: Request| {
            let cost = price_request(&model, &limits, &mut request)?;
            if cost > limits.max_cost {
                return Err(LimitError::Cost {
                    cost,
                    limit: limits.max_cost,
                });
            }
            let operation = request.operation_name.clone();
            if let Ok(doc) = request.parsed_query() {
                let fields = model
                    .root_fields(doc, operation.as_deref())
                    .map_err(|e| LimitError::Unpriceable(e.to_string()))?;
                if fields > limits.max_subscription_fields {
                    return Err(LimitError::SubscriptionFields {
                        got: fields,
                        limit: limits.max_subscription_fields,
                    });
                }
            }
            Ok(request)
        };
        let request = self
            .gate
            .parse(request.query.len(), move || check(request))
            .await??;
        let limit = self.gate.limits.max_subscriptions_per_connection;
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then(|| n.saturating_add(1))
            })
            .map_err(|_| LimitError::Subscriptions { limit })?;
        Ok((request, Active(self.active.clone())))
    }
}

impl Executor for LimitedExecutor {
    /// A query sent over the socket: admitted, priced and held to the
    /// deadline like one over HTTP.
    async fn execute(&self, request: Request) -> Response {
        let started = Instant::now();
        let deadline = self.gate.limits.deadline_after(started);
        let gate = &self.gate;
        let bytes = request.query.len();
        let outcome = async {
            let _admission = gate.admit(self.client, deadline).await?;
            let (batch, cost) = gate.price(BatchRequest::Single(request), bytes).await?;
            let budget = gate.budget(WS_REQUEST_ID, cost, started);
            gate.execute(batch, budget, WS_REQUEST_ID, deadline).await
        }
        .await;
        match outcome {
            Ok(BatchResponse::Single(response)) => response,
            // A single request is answered with a single response.
            Ok(BatchResponse::Batch(_)) => Response::default(),
            Err(limit) => Response::from_errors(vec![limit.graphql()]),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        stream::once(async move {
            match this.admit_subscription(request).await {
                Ok((request, active)) => this
                    .schema
                    .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                    .map(move |response| {
                        let _held = &active;
                        response
                    })
                    .boxed(),
                Err(limit) => {
                    stream::once(async move { Response::from_errors(vec![limit.graphql()]) })
                        .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// One open subscription of a connection, released when its stream is dropped.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
