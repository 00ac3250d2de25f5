//! A WebSocket client for the live-tracking API as the dev server serves it
//! (`ws://127.0.0.1:<port>/ws?token=<access token>`, API Gateway's WebSocket data plane played
//! locally): connect (or learn the handshake's refusal status), send JSON messages, read JSON
//! frames with a deadline.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The path the dev server serves the WebSocket API at.
pub const PATH: &str = "/ws";

/// The WebSocket URL of the dev server at `base` (`http://…`), with `?token=` when given.
pub fn url(base: &str, token: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let ws = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| base.to_owned());
    match token {
        Some(t) => format!("{ws}{PATH}?token={t}"),
        None => format!("{ws}{PATH}"),
    }
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens a connection; `Err(status)` when the handshake is refused (401, 403, …).
pub async fn connect(base: &str, token: Option<&str>) -> Result<WsClient, u16> {
    match tokio_tungstenite::connect_async(url(base, token)).await {
        Ok((stream, _)) => Ok(WsClient { stream }),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("the WebSocket handshake failed without an HTTP answer: {e}"),
    }
}

impl WsClient {
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("sending a WebSocket message");
    }

    pub async fn send_json(&mut self, message: &Value) {
        self.send_text(&message.to_string()).await;
    }

    /// The next text frame as JSON, or `None` if none comes within `within` (pings and pongs
    /// skipped). Panics if the server closes the connection.
    pub async fn next_json(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(
                        serde_json::from_str(text.as_str())
                            .unwrap_or_else(|_| panic!("a frame that is not JSON: {text}")),
                    );
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(other)) => panic!("unexpected WebSocket frame: {other:?}"),
                Some(Err(e)) => panic!("the WebSocket broke: {e}"),
                None => panic!("the server closed the WebSocket"),
            }
        }
    }

    /// Sends a message and returns the answer frame (within 30 s).
    pub async fn ask(&mut self, message: &Value) -> Value {
        self.send_json(message).await;
        self.next_json(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer to {message}"))
    }

    /// `{"action":"subscribe","order_id":…}` and its answer frame.
    pub async fn subscribe(&mut self, order_id: &str) -> Value {
        self.ask(&serde_json::json!({"action": "subscribe", "order_id": order_id}))
            .await
    }

    pub async fn unsubscribe(&mut self, order_id: &str) -> Value {
        self.ask(&serde_json::json!({"action": "unsubscribe", "order_id": order_id}))
            .await
    }

    /// A normal close (1000), waiting for the server's close frame.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_secs(5), self.stream.next()).await
        {}
    }
}
