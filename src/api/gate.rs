//! Admission and execution of GraphQL requests under the limits: the batch
//! size, per-client and server-wide concurrency, the price of the parsed
//! documents, the deadline and the response size. Everything that can be
//! decided before execution is decided there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse, Request, ServerError, Value};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::budget::{Budget, RequestId};
use super::cost::{CostModel, IntrospectionBounds};
use super::limits::{ApiLimits, LimitError};
use super::schema::{ApiSchema, RollupHandle};

/// Bodies larger than this are parsed and priced on the background threads.
const INLINE_PARSE_BYTES: usize = 64 << 10;

/// The shared admission state of one server.
pub struct Gate {
    /// The limits every request is admitted against.
    pub limits: ApiLimits,
    schema: ApiSchema,
    model: OnceCell<CostModel>,
    /// Threads reading the store for large requests.
    pool: Arc<Semaphore>,
    running: Arc<Semaphore>,
    clients: Mutex<HashMap<IpAddr, usize>>,
    /// Open subscription connections.
    pub ws_connections: Arc<Semaphore>,
}

/// What a request holds while it runs: its client slot and its server slot.
pub struct Admission {
    _client: Option<ClientSlot>,
    _running: OwnedSemaphorePermit,
}

impl Gate {
    /// A gate for `schema` with `limits`; the cost model is measured on first use.
    pub fn new(schema: ApiSchema, limits: ApiLimits) -> Self {
        Gate {
            pool: Arc::new(Semaphore::new(limits.blocking_threads())),
            running: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            ws_connections: Arc::new(Semaphore::new(limits.max_ws_connections)),
            clients: Mutex::new(HashMap::new()),
            model: OnceCell::new(),
            schema,
            limits,
        }
    }

    /// The cost model, its introspection bounds measured on first use.
    pub async fn model(&self) -> &CostModel {
        self.model
            .get_or_init(|| async {
                let rollups = self
                    .schema
                    .data::<Arc<Vec<RollupHandle>>>()
                    .map_or(0, |r| r.len() as u64);
                CostModel {
                    rollups,
                    introspection: measure_introspection(&self.schema).await,
                }
            })
            .await
    }

    /// Takes a client slot and a server slot, or says which limit refused.
    pub async fn admit(
        self: &Arc<Self>,
        client: Option<IpAddr>,
        deadline: Instant,
    ) -> Result<Admission, LimitError> {
        let client = match client {
            Some(ip) => Some(self.client_slot(ip)?),
            None => None,
        };
        let running =
            tokio::time::timeout_at(deadline.into(), self.running.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or(LimitError::ServerBusy {
                    limit: self.limits.max_concurrent,
                })?;
        Ok(Admission {
            _client: client,
            _running: running,
        })
    }

    fn client_slot(self: &Arc<Self>, ip: IpAddr) -> Result<ClientSlot, LimitError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let in_flight = clients.entry(ip).or_insert(0);
        if *in_flight >= self.limits.max_per_client {
            return Err(LimitError::ClientBusy {
                limit: self.limits.max_per_client,
            });
        }
        *in_flight = in_flight.saturating_add(1);
        Ok(ClientSlot {
            gate: self.clone(),
            ip,
        })
    }

    /// Refuses an over-long batch, then parses and prices its queries one by
    /// one (parsed once, for execution too), refusing the request as soon as
    /// the running total passes the cost limit: the rest is never parsed.
    pub async fn price(
        self: &Arc<Self>,
        batch: BatchRequest,
        body_bytes: usize,
    ) -> Result<(BatchRequest, u64), LimitError> {
        if let BatchRequest::Batch(requests) = &batch
            && requests.len() > self.limits.max_batch
        {
            return Err(LimitError::Batch {
                got: requests.len(),
                limit: self.limits.max_batch,
            });
        }
        let model = self.model().await.clone();
        let limits = self.limits.clone();
        let price = move |mut batch: BatchRequest| {
            let mut total = 0u64;
            for request in batch.iter_mut() {
                total = total.saturating_add(price_request(&model, &limits, request)?);
                if total > limits.max_cost {
                    return Err(LimitError::Cost {
                        cost: total,
                        limit: limits.max_cost,
                    });
                }
            }
            Ok::<_, LimitError>((batch, total))
        };
        self.parse(body_bytes, move || price(batch)).await?
    }

    /// Runs `work`, which parses a document of `bytes`: inline when it is
    /// small, else on the low-priority background threads under the server-wide cap on its
    /// threads (parsing a large document takes the CPU for a while).
    pub async fn parse<T: Send + 'static>(
        &self,
        bytes: usize,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LimitError> {
        if bytes <= INLINE_PARSE_BYTES {
            return Ok(work());
        }
        let permit =
            self.pool
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| LimitError::ServerBusy {
                    limit: self.limits.max_concurrent,
                })?;
        super::background::run(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| LimitError::Unpriceable(e.to_string()))
    }

    /// The budget of a request priced at `cost` that must end by `deadline`.
    pub fn budget(&self, request_id: &str, cost: u64, started: Instant) -> Budget {
        let deadline = self.limits.deadline();
        let remaining = deadline.saturating_sub(started.elapsed());
        let pool = (cost > self.limits.inline_cost).then(|| self.pool.clone());
        Budget::new(request_id, remaining, pool)
    }

    /// Executes a priced batch by `deadline`: a request that meets it gets
    /// the deadline error alone, never a partial answer.
    pub async fn execute(
        &self,
        batch: BatchRequest,
        budget: Budget,
        request_id: &str,
        deadline: Instant,
    ) -> Result<BatchResponse, LimitError> {
        let batch = batch.data(RequestId(request_id.to_owned())).data(budget);
        let deadline_error = LimitError::Deadline {
            ms: self.limits.deadline_ms,
        };
        let response = tokio::time::timeout_at(deadline.into(), self.schema.execute_batch(batch))
            .await
            .map_err(|_| deadline_error.clone())?;
        // Resolvers that met the deadline answered with an error each.
        if response_errors(&response).any(|e| is_code(e, deadline_error.code())) {
            return Err(deadline_error);
        }
        Ok(response)
    }

    /// The response as JSON, refused once it grows past the limit (so an
    /// oversized response is never held in full).
    pub fn serialize(&self, response: &BatchResponse) -> Result<Vec<u8>, LimitError> {
        let mut out = CappedWriter {
            bytes: Vec::new(),
            limit: self.limits.max_response_bytes,
        };
        serde_json::to_writer(&mut out, response).map_err(|_| LimitError::ResponseTooLarge {
            limit: self.limits.max_response_bytes,
        })?;
        Ok(out.bytes)
    }
}

/// One query's price, refused when it nests deeper than the limit; a query
/// that does not parse is priced at 0 (execution reports the syntax error at
/// no cost).
pub fn price_request(
    model: &CostModel,
    limits: &ApiLimits,
    request: &mut Request,
) -> Result<u64, LimitError> {
    let variables = request.variables.clone();
    let Ok(doc) = request.parsed_query() else {
        return Ok(0);
    };
    let price = model
        .document(doc, &variables)
        .map_err(|e| LimitError::Unpriceable(e.to_string()))?;
    if price.depth > limits.max_depth {
        return Err(LimitError::Depth {
            depth: price.depth,
            limit: limits.max_depth,
        });
    }
    Ok(price.cost)
}

fn response_errors(response: &BatchResponse) -> impl Iterator<Item = &ServerError> {
    let responses = match response {
        BatchResponse::Single(one) => std::slice::from_ref(one),
        BatchResponse::Batch(many) => many.as_slice(),
    };
    responses.iter().flat_map(|r| r.errors.iter())
}

fn is_code(error: &ServerError, code: &str) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .is_some_and(|c| *c == Value::from(code))
}

/// A client's place among its in-flight requests, freed on drop.
struct ClientSlot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.gate.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(in_flight) = clients.get_mut(&self.ip) {
            *in_flight = in_flight.saturating_sub(1);
            if *in_flight == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

struct CappedWriter {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            return Err(std::io::Error::other("response size limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The largest list of each introspection field in `schema`, measured by
/// introspecting it (no limits apply to this internal query).
async fn measure_introspection(schema: &ApiSchema) -> IntrospectionBounds {
    const QUERY: &str = "{ __schema { types { fields(includeDeprecated: true) { args { name } } \
        inputFields { name } enumValues(includeDeprecated: true) { name } interfaces { name } \
        possibleTypes { name } } directives { args { name } locations } } }";
    let response = schema.execute(QUERY).await;
    let Ok(json) = serde_json::to_value(&response.data) else {
        return IntrospectionBounds::default();
    };
    let list = |v: &serde_json::Value| v.as_array().map_or(0, |a| a.len() as u64);
    let most = |items: &serde_json::Value, key: &str| {
        items
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| list(&item[key]))
            .max()
            .unwrap_or(0)
    };
    let types = &json["__schema"]["types"];
    let directives = &json["__schema"]["directives"];
    let field_args = types
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| most(&t["fields"], "args"))
        .max()
        .unwrap_or(0);
    IntrospectionBounds {
        types: list(types),
        fields: most(types, "fields"),
        args: field_args.max(most(directives, "args")),
        input_fields: most(types, "inputFields"),
        enum_values: most(types, "enumValues"),
        interfaces: most(types, "interfaces"),
        possible_types: most(types, "possibleTypes"),
        directives: list(directives),
        locations: most(directives, "locations"),
    }
}
