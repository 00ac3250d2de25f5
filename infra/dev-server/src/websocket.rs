//! API Gateway's WebSocket data plane, played locally (the emulator holds only the control
//! plane): the WebSocket APIs of template.yaml, as the provisioner describes them in the stack
//! file (`websocket_apis`), served on the dev server's port.
//!
//! - `GET /ws?token=…` (the first WebSocket API; further ones at `/ws/<logical id>`) upgrades to
//!   a WebSocket as `wss://{api}.execute-api.{region}.amazonaws.com/{stage}` does on AWS: the
//!   `$connect` route's identity sources must be present (else 401), its REQUEST authorizer is
//!   invoked with the event API Gateway sends and its IAM policy evaluated against the
//!   `methodArn` (a Deny or no matching Allow: 403), then the `$connect` route (a non-2xx answer
//!   refuses the connection with that status) — all before the upgrade.
//! - Each text message is routed by the API's `RouteSelectionExpression`
//!   (`$request.body.<field>`), falling back to `$default`; the route's function gets an
//!   `ApiGatewayWebsocketProxyRequest` (route key, connection id, event type, the authorizer's
//!   context) and, on a two-way route (one with a route response), its answer's body goes back
//!   to the client as a text frame. Without a route: API Gateway's `{"message":"Forbidden",…}`.
//! - Closing the socket (either side, or a broken connection) invokes `$disconnect`.
//! - The management API: `POST /@connections/{id}` sends its body to the socket as a text
//!   frame, `GET` describes the connection, `DELETE` closes it; an id that is not open answers
//!   410 with a `GoneException` error type, as API Gateway does. `main` points the SDK's
//!   `AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI` here, so the in-process tracking push reaches
//!   these sockets.
//!
//! The functions run in-process, fed the JSON Lambda would get (deserialised into the same
//! `aws_lambda_events` types their `main` takes).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// Where the first WebSocket API of the template is served.
pub const PATH: &str = "/ws";
/// The SDK's per-service endpoint variable for the management API.
pub const MANAGEMENT_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI";

/// `websocket_apis` of the stack file (written by infra/local/provision.py).
#[derive(Debug, Clone, Deserialize)]
pub struct WebSocketApi {
    /// The template's logical id.
    pub api: String,
    /// What `Ref` gave locally (it stands for the API id).
    pub api_id: String,
    pub stage: String,
    pub route_selection_expression: String,
    pub routes: Vec<WsRoute>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WsRoute {
    pub route_key: String,
    pub function: String,
    pub binary: String,
    #[serde(default)]
    pub authorization_type: String,
    #[serde(default)]
    pub two_way: bool,
    #[serde(default)]
    pub authorizer: Option<WsAuthorizer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WsAuthorizer {
    pub function: String,
    pub binary: String,
    #[serde(default)]
    pub identity_source: Vec<String>,
}

#[derive(Deserialize)]
struct StackFile {
    #[serde(default)]
    websocket_apis: Vec<WebSocketApi>,
}

/// The WebSocket APIs of a stack file (none in an older one).
pub fn load(stack_path: &Path) -> anyhow::Result<Vec<WebSocketApi>> {
    let text = std::fs::read_to_string(stack_path)
        .with_context(|| format!("reading {}", stack_path.display()))?;
    Ok(serde_json::from_str::<StackFile>(&text)
        .with_context(|| format!("parsing websocket_apis of {}", stack_path.display()))?
        .websocket_apis)
}

/// A function a WebSocket API invokes, built as its `main` builds it.
enum Function {
    Authorizer(ws_authorizer::Authorizer),
    Connections(ws_connections::Connections),
}

impl Function {
    async fn for_binary(binary: &str) -> anyhow::Result<Option<Self>> {
        Ok(match binary {
            "ws-authorizer" => Some(Self::Authorizer(
                ws_authorizer::Authorizer::from_env().await?,
            )),
            "ws-connections" => Some(Self::Connections(
                ws_connections::Connections::from_env().await?,
            )),
            _ => None,
        })
    }

    /// One invocation: the event JSON in, the result JSON out, as Lambda would.
    async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        Ok(match self {
            Self::Authorizer(a) => {
                serde_json::to_value(a.handle(serde_json::from_value(event)?).await?)?
            }
            Self::Connections(c) => {
                serde_json::to_value(c.handle(serde_json::from_value(event)?).await?)?
            }
        })
    }
}

/// An open socket, as the management API sees it.
struct Socket {
    outbox: mpsc::UnboundedSender<Message>,
    connected_at: String,
    last_active_at: String,
    source_ip: String,
    user_agent: String,
}

/// One WebSocket API's data plane.
pub struct Gateway {
    api: WebSocketApi,
    region: String,
    account_id: String,
    domain: String,
    functions: HashMap<String, Function>,
    sockets: Mutex<HashMap<String, Socket>>,
}

/// The routes of every WebSocket API of the stack file, plus the management API (empty when
/// the template has no WebSocket API). `port` is the dev server's (the `domainName` events
/// carry).
pub async fn router(
    stack_path: &Path,
    region: &str,
    account_id: &str,
    port: u16,
) -> anyhow::Result<Router> {
    let apis = load(stack_path)?;
    let mut router = Router::new();
    let mut gateways: Vec<Arc<Gateway>> = Vec::new();
    for (i, api) in apis.into_iter().enumerate() {
        let mut functions = HashMap::new();
        for binary in api.routes.iter().flat_map(|r| {
            std::iter::once(r.binary.clone()).chain(r.authorizer.iter().map(|a| a.binary.clone()))
        }) {
            if functions.contains_key(&binary) {
                continue;
            }
            match Function::for_binary(&binary).await? {
                Some(f) => {
                    functions.insert(binary, f);
                }
                None => {
                    tracing::warn!(api = %api.api, binary = %binary, "no local handler for this WebSocket function")
                }
            }
        }
        let path = if i == 0 {
            PATH.to_owned()
        } else {
            format!("{PATH}/{}", api.api)
        };
        tracing::info!(api = %api.api, path = %path, routes = api.routes.len(), "serving WebSocket API");
        let gateway = Arc::new(Gateway {
            api,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            domain: format!("127.0.0.1:{port}"),
            functions,
            sockets: Mutex::new(HashMap::new()),
        });
        router = router.merge(
            Router::new()
                .route(&path, get(upgrade))
                .with_state(gateway.clone()),
        );
        gateways.push(gateway);
    }
    if !gateways.is_empty() {
        // One management endpoint for all APIs (as the emulator's: no API id or stage in it).
        router = router.merge(
            Router::new()
                .route(
                    "/@connections/{connection_id}",
                    get(describe_connection)
                        .post(post_to_connection)
                        .delete(delete_connection),
                )
                .with_state(Arc::new(gateways)),
        );
    }
    Ok(router)
}

/// A fresh connection id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`).
fn connection_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut id: String = (0..15)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    id.push('=');
    id
}

fn epoch_ms() -> i64 {
    (shared::now().unix_timestamp_nanos() / 1_000_000) as i64
}

/// API Gateway's error answer to a refused handshake or an unroutable message.
fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// Header map as API Gateway's `headers` / `multiValueHeaders`.
fn headers_json(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.as_str().to_owned(), Value::String(value.clone()));
        multi
            .entry(name.as_str().to_owned())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(Value::String(value));
    }
    (Value::Object(single), Value::Object(multi))
}

fn query_json(pairs: &[(String, String)]) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), Value::String(v.clone()));
        multi
            .entry(k.clone())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(Value::String(v.clone()));
    }
    (Value::Object(single), Value::Object(multi))
}

/// Whether every identity source of an authorizer is in the request (API Gateway answers 401
/// without invoking the authorizer otherwise).
pub fn identity_present(
    sources: &[String],
    headers: &HeaderMap,
    query: &[(String, String)],
) -> bool {
    sources.iter().all(|source| {
        if let Some(name) = source.strip_prefix("route.request.querystring.") {
            query.iter().any(|(k, v)| k == name && !v.is_empty())
        } else if let Some(name) = source.strip_prefix("route.request.header.") {
            headers.get(name).is_some_and(|v| !v.as_bytes().is_empty())
        } else {
            true // stageVariables.* / context.*: nothing a client can leave out
        }
    })
}

/// `*` and `?` wildcards, as IAM matches resources.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether an authorizer's IAM policy lets `execute-api:Invoke` on `method_arn` (an explicit
/// Deny wins; no matching Allow is a Deny).
pub fn policy_allows(response: &Value, method_arn: &str) -> bool {
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = response["policyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut allowed = false;
    for statement in &statements {
        let applies = strings(&statement["Action"])
            .iter()
            .any(|a| glob(a, "execute-api:Invoke"))
            && strings(&statement["Resource"])
                .iter()
                .any(|r| glob(r, method_arn));
        if !applies {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// The route a message takes: the value of the selection expression's body field when a route
/// has that key, else `$default` (if the API has one).
pub fn select_route<'a>(api: &'a WebSocketApi, body: &str) -> Option<&'a WsRoute> {
    let field = api
        .route_selection_expression
        .strip_prefix("$request.body.")
        .unwrap_or("action");
    let key = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get(field).and_then(Value::as_str).map(str::to_owned));
    key.and_then(|k| {
        api.routes
            .iter()
            .find(|r| r.route_key == k && !r.route_key.starts_with('$'))
    })
    .or_else(|| api.routes.iter().find(|r| r.route_key == "$default"))
}

/// What the socket's events carry besides the route.
#[derive(Clone)]
struct Connection {
    id: String,
    connected_at_ms: i64,
    source_ip: String,
    user_agent: String,
    headers: (Value, Value),
    /// The authorizer's context with `principalId` (empty without an authorizer).
    authorizer: Value,
}

impl Gateway {
    fn route(&self, key: &str) -> Option<&WsRoute> {
        self.api.routes.iter().find(|r| r.route_key == key)
    }

    async fn invoke(&self, binary: &str, event: Value) -> anyhow::Result<Value> {
        let function = self
            .functions
            .get(binary)
            .with_context(|| format!("no local handler for {binary}"))?;
        function.invoke(event).await
    }

    fn method_arn(&self, route_key: &str) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{route_key}",
            self.region, self.account_id, self.api.api_id, self.api.stage
        )
    }

    /// `requestContext` of an event on `connection`.
    fn context(&self, connection: &Connection, route_key: &str, event_type: &str) -> Value {
        let now = epoch_ms();
        let mut context = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": ulid::Ulid::new().to_string(),
            "requestId": ulid::Ulid::new().to_string(),
            "requestTimeEpoch": now,
            "requestTime": shared::now_rfc3339(),
            "connectedAt": connection.connected_at_ms,
            "connectionId": connection.id,
            "domainName": self.domain,
            "stage": self.api.stage,
            "apiId": self.api.api_id,
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        });
        if connection
            .authorizer
            .as_object()
            .is_some_and(|a| !a.is_empty())
        {
            context["authorizer"] = connection.authorizer.clone();
        }
        context
    }

    /// Authorizer and `$connect`, before the upgrade: the refusal, or the connection.
    async fn open(
        &self,
        headers: &HeaderMap,
        query: &[(String, String)],
        peer: Option<SocketAddr>,
    ) -> Result<Connection, Response> {
        let (single, multi) = headers_json(headers);
        let mut connection = Connection {
            id: connection_id(),
            connected_at_ms: epoch_ms(),
            source_ip: peer.map_or_else(|| "127.0.0.1".into(), |p| p.ip().to_string()),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            headers: (single, multi),
            authorizer: json!({}),
        };
        let Some(connect) = self.route("$connect") else {
            return Ok(connection);
        };
        let (qs, mqs) = query_json(query);
        if connect.authorization_type == "CUSTOM" {
            let Some(authorizer) = &connect.authorizer else {
                return Err(refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ));
            };
            if !identity_present(&authorizer.identity_source, headers, query) {
                return Err(refusal(StatusCode::UNAUTHORIZED, "Unauthorized"));
            }
            let method_arn = self.method_arn("$connect");
            let event = json!({
                "type": "REQUEST",
                "methodArn": method_arn,
                "headers": connection.headers.0,
                "multiValueHeaders": connection.headers.1,
                "queryStringParameters": qs,
                "multiValueQueryStringParameters": mqs,
                "stageVariables": {},
                "requestContext": self.context(&connection, "$connect", "CONNECT"),
            });
            let answer = match self.invoke(&authorizer.binary, event).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::error!(function = %authorizer.function, error = format!("{e:#}"), "the WebSocket authorizer failed");
                    return Err(refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal server error",
                    ));
                }
            };
            if !policy_allows(&answer, &method_arn) {
                tracing::info!(connection_id = %connection.id, "WebSocket connection denied by the authorizer");
                return Err(refusal(StatusCode::FORBIDDEN, "Forbidden"));
            }
            let mut context = answer["context"].as_object().cloned().unwrap_or_default();
            context.insert("principalId".into(), answer["principalId"].clone());
            context.insert("integrationLatency".into(), json!(0));
            connection.authorizer = Value::Object(context);
        }
        let mut event = json!({
            "headers": connection.headers.0,
            "multiValueHeaders": connection.headers.1,
            "queryStringParameters": qs,
            "multiValueQueryStringParameters": mqs,
            "requestContext": self.context(&connection, "$connect", "CONNECT"),
            "isBase64Encoded": false,
        });
        if query.is_empty() {
            event["queryStringParameters"] = Value::Null;
            event["multiValueQueryStringParameters"] = Value::Null;
        }
        match self.invoke(&connect.binary, event).await {
            Ok(answer) => {
                let status = answer["statusCode"].as_u64().unwrap_or(200);
                if (200..300).contains(&status) {
                    Ok(connection)
                } else {
                    let status = StatusCode::from_u16(status as u16)
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    Err(refusal(
                        status,
                        status.canonical_reason().unwrap_or("Refused"),
                    ))
                }
            }
            Err(e) => {
                tracing::error!(function = %connect.function, error = format!("{e:#}"), "the $connect route failed");
                Err(refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ))
            }
        }
    }

    /// The socket's life after `$connect`: messages in (routed), frames out (route answers and
    /// the management API's posts), `$disconnect` at the end.
    async fn serve(self: Arc<Self>, mut socket: WebSocket, connection: Connection) {
        let (outbox, mut frames) = mpsc::unbounded_channel::<Message>();
        let now = shared::now_rfc3339();
        self.sockets.lock().expect("sockets lock").insert(
            connection.id.clone(),
            Socket {
                outbox: outbox.clone(),
                connected_at: now.clone(),
                last_active_at: now,
                source_ip: connection.source_ip.clone(),
                user_agent: connection.user_agent.clone(),
            },
        );
        tracing::info!(connection_id = %connection.id, "WebSocket connected");
        let (mut code, mut reason) = (1006u16, "Going away".to_owned());
        loop {
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        self.touch(&connection.id);
                        let gateway = self.clone();
                        let (connection, outbox) = (connection.clone(), outbox.clone());
                        tokio::spawn(async move {
                            gateway.message(&connection, text.as_str(), &outbox).await
                        });
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let _ = outbox.send(Message::Text(
                            json!({"message": "Binary frames are not supported", "connectionId": connection.id}).to_string().into(),
                        ));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => self.touch(&connection.id),
                    Some(Ok(Message::Close(frame))) => {
                        if let Some(frame) = frame {
                            code = frame.code;
                            reason = format!("Client-side close frame status code '{}' | client-side close frame reason '{}'", frame.code, frame.reason);
                        } else {
                            (code, reason) = (1005, "Client-side close frame without status code".into());
                        }
                        break;
                    }
                    Some(Err(_)) | None => break,
                },
                outgoing = frames.recv() => match outgoing {
                    Some(Message::Close(frame)) => {
                        (code, reason) = (1000, "Connection deleted through the management API".into());
                        let _ = socket.send(Message::Close(frame)).await;
                        break;
                    }
                    Some(frame) => {
                        if socket.send(frame).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        self.sockets
            .lock()
            .expect("sockets lock")
            .remove(&connection.id);
        tracing::info!(connection_id = %connection.id, close_status = code, "WebSocket closed");
        if let Some(route) = self.route("$disconnect") {
            let mut context = self.context(&connection, "$disconnect", "DISCONNECT");
            context["disconnectStatusCode"] = json!(code);
            context["disconnectReason"] = json!(reason);
            let event = json!({
                "headers": connection.headers.0,
                "multiValueHeaders": connection.headers.1,
                "requestContext": context,
                "isBase64Encoded": false,
            });
            if let Err(e) = self.invoke(&route.binary, event).await {
                tracing::error!(function = %route.function, error = format!("{e:#}"), "the $disconnect route failed");
            }
        }
    }

    fn touch(&self, connection_id: &str) {
        if let Some(socket) = self
            .sockets
            .lock()
            .expect("sockets lock")
            .get_mut(connection_id)
        {
            socket.last_active_at = shared::now_rfc3339();
        }
    }

    async fn message(
        &self,
        connection: &Connection,
        body: &str,
        outbox: &mpsc::UnboundedSender<Message>,
    ) {
        let error = |message: &str, request_id: &str| {
            Message::Text(
                json!({"message": message, "connectionId": connection.id, "requestId": request_id})
                    .to_string()
                    .into(),
            )
        };
        let Some(route) = select_route(&self.api, body) else {
            let _ = outbox.send(error("Forbidden", &ulid::Ulid::new().to_string()));
            return;
        };
        let mut context = self.context(connection, &route.route_key, "MESSAGE");
        context["messageId"] = json!(ulid::Ulid::new().to_string());
        let request_id = context["requestId"].as_str().unwrap_or_default().to_owned();
        let event = json!({
            "requestContext": context,
            "body": body,
            "isBase64Encoded": false,
        });
        match self.invoke(&route.binary, event).await {
            Ok(answer) if route.two_way => {
                if let Some(body) = answer["body"].as_str() {
                    let _ = outbox.send(Message::Text(body.to_owned().into()));
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(function = %route.function, route = %route.route_key, error = format!("{e:#}"), "a WebSocket route failed");
                let _ = outbox.send(error("Internal server error", &request_id));
            }
        }
    }
}

async fn upgrade(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match gateway.open(&parts.headers, &query, peer).await {
        Ok(connection) => ws.on_upgrade(move |socket| gateway.serve(socket, connection)),
        Err(refused) => refused,
    }
}

type Gateways = Arc<Vec<Arc<Gateway>>>;

/// API Gateway's answer for a connection that is not open.
fn gone() -> Response {
    (
        StatusCode::GONE,
        [("x-amzn-errortype", "GoneException")],
        axum::Json(json!({ "message": null })),
    )
        .into_response()
}

fn with_socket<T>(gateways: &Gateways, id: &str, f: impl FnOnce(&Socket) -> T) -> Option<T> {
    for gateway in gateways.iter() {
        if let Some(socket) = gateway.sockets.lock().expect("sockets lock").get(id) {
            return Some(f(socket));
        }
    }
    None
}

async fn post_to_connection(
    State(gateways): State<Gateways>,
    UrlPath(connection_id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    match with_socket(&gateways, &connection_id, |s| {
        s.outbox.send(Message::Text(text.into())).is_ok()
    }) {
        Some(true) => StatusCode::OK.into_response(),
        _ => gone(),
    }
}

async fn delete_connection(
    State(gateways): State<Gateways>,
    UrlPath(connection_id): UrlPath<String>,
) -> Response {
    let close = Message::Close(Some(CloseFrame {
        code: 1000,
        reason: "".into(),
    }));
    match with_socket(&gateways, &connection_id, |s| s.outbox.send(close).is_ok()) {
        Some(true) => StatusCode::NO_CONTENT.into_response(),
        _ => gone(),
    }
}

async fn describe_connection(
    State(gateways): State<Gateways>,
    UrlPath(connection_id): UrlPath<String>,
) -> Response {
    match with_socket(&gateways, &connection_id, |s| {
        json!({
            "connectedAt": s.connected_at,
            "lastActiveAt": s.last_active_at,
            "identity": {"sourceIp": s.source_ip, "userAgent": s.user_agent},
        })
    }) {
        Some(description) => axum::Json(description).into_response(),
        None => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> WebSocketApi {
        serde_json::from_value(json!({
            "api": "WebSocketApi", "api_id": "abc", "stage": "dev",
            "route_selection_expression": "$request.body.action",
            "routes": [
                {"route_key": "$connect", "function": "F", "binary": "ws-connections", "authorization_type": "CUSTOM",
                 "authorizer": {"function": "A", "binary": "ws-authorizer", "identity_source": ["route.request.querystring.token"]}},
                {"route_key": "$disconnect", "function": "F", "binary": "ws-connections"},
                {"route_key": "subscribe", "function": "F", "binary": "ws-connections", "two_way": true},
                {"route_key": "$default", "function": "F", "binary": "ws-connections", "two_way": true},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn messages_are_routed_by_their_action_else_to_default() {
        let api = api();
        let key = |body| select_route(&api, body).map(|r| r.route_key.as_str());
        assert_eq!(
            key(r#"{"action":"subscribe","order_id":"o1"}"#),
            Some("subscribe")
        );
        assert_eq!(key(r#"{"action":"unsubscribe"}"#), Some("$default"));
        assert_eq!(key(r#"{"action":"$connect"}"#), Some("$default"));
        assert_eq!(key("not json"), Some("$default"));
        let mut without_default = api.clone();
        without_default.routes.retain(|r| r.route_key != "$default");
        assert!(select_route(&without_default, "{}").is_none());
    }

    #[test]
    fn an_authorizer_policy_allows_only_a_matching_allow_without_deny() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect";
        let policy = |effect: &str, resource: &str| {
            json!({"principalId": "u1", "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": ["execute-api:Invoke"], "Effect": effect, "Resource": [resource]}]}})
        };
        assert!(policy_allows(&policy("Allow", arn), arn));
        assert!(policy_allows(
            &policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc/*"),
            arn
        ));
        assert!(!policy_allows(&policy("Deny", arn), arn));
        assert!(!policy_allows(
            &policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:other/*"
            ),
            arn
        ));
        assert!(!policy_allows(&json!({}), arn));
        let mut both = policy("Allow", "*");
        both["policyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Action": "execute-api:*", "Effect": "Deny", "Resource": arn}));
        assert!(!policy_allows(&both, arn), "an explicit Deny wins");
    }

    #[test]
    fn a_missing_identity_source_is_told_apart_from_a_bad_one() {
        let sources = vec!["route.request.querystring.token".to_owned()];
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let headers = HeaderMap::new();
        assert!(identity_present(&sources, &headers, &q(&[("token", "x")])));
        assert!(!identity_present(&sources, &headers, &q(&[("token", "")])));
        assert!(!identity_present(&sources, &headers, &q(&[("other", "x")])));
        let header_source = vec!["route.request.header.Authorization".to_owned()];
        let mut with = HeaderMap::new();
        with.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(identity_present(&header_source, &with, &[]));
        assert!(!identity_present(&header_source, &headers, &[]));
    }

    #[test]
    fn connection_ids_look_like_api_gateways() {
        let (a, b) = (connection_id(), connection_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
    }
}
