//! One browser-level DevTools websocket, shared by every page (flat sessions).
//!
//! A background task owns the socket: it writes the commands queued by
//! [`Connection::call`], routes each reply by `id` to the caller's oneshot, and hands
//! each event to the page whose `sessionId` it carries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_websockets::{ClientBuilder, Limits, Message};

use crate::BrowserError;

/// Events buffered per page subscriber before the slowest one starts missing some.
const EVENT_CAPACITY: usize = 4096;

/// A CDP event for one page.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) method: String,
    pub(crate) params: Value,
}

/// What the socket task keeps for each attached page.
#[derive(Debug)]
pub(crate) struct SessionState {
    pub(crate) events: broadcast::Sender<Arc<Event>>,
    console_errors: Mutex<Vec<String>>,
    main_frame: Mutex<Option<String>>,
    last_status: Mutex<Option<u16>>,
}

impl SessionState {
    fn new() -> Self {
        Self {
            events: broadcast::channel(EVENT_CAPACITY).0,
            console_errors: Mutex::new(Vec::new()),
            main_frame: Mutex::new(None),
            last_status: Mutex::new(None),
        }
    }

    pub(crate) fn console_errors(&self) -> Vec<String> {
        lock(&self.console_errors).clone()
    }

    pub(crate) fn set_main_frame(&self, frame: String) {
        *lock(&self.main_frame) = Some(frame);
    }

    pub(crate) fn last_status(&self) -> Option<u16> {
        *lock(&self.last_status)
    }

    /// Bookkeeping done on the socket task, so that nothing is lost even when no one
    /// is subscribed: console errors, and the status of the latest main-frame document.
    fn record(&self, method: &str, params: &Value) {
        match method {
            "Runtime.consoleAPICalled" if params["type"] == "error" => {
                let text = params["args"]
                    .as_array()
                    .map(|args| args.iter().map(remote_object_text).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .join(" ");
                lock(&self.console_errors).push(format!("console.error: {text}"));
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or_else(|| details["text"].as_str())
                    .unwrap_or("unknown exception");
                lock(&self.console_errors).push(format!("uncaught exception: {text}"));
            }
            "Log.entryAdded" if params["entry"]["level"] == "error" => {
                let entry = &params["entry"];
                let source = entry["source"].as_str().unwrap_or("log");
                let text = entry["text"].as_str().unwrap_or_default();
                let url = entry["url"]
                    .as_str()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                lock(&self.console_errors).push(format!("{source}: {text}{url}"));
            }
            "Network.responseReceived" if params["type"] == "Document" => {
                let main = lock(&self.main_frame);
                if main.as_deref().is_some_and(|f| params["frameId"] == f) {
                    let status = params["response"]["status"].as_u64();
                    *lock(&self.last_status) = status.and_then(|s| u16::try_from(s).ok());
                }
            }
            _ => {}
        }
    }
}

fn remote_object_text(arg: &Value) -> String {
    match &arg["value"] {
        Value::String(s) => s.clone(),
        Value::Null => arg["description"]
            .as_str()
            .or_else(|| arg["unserializableValue"].as_str())
            .or_else(|| arg["type"].as_str())
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Deserialize)]
struct CdpError {
    code: i64,
    message: String,
    #[serde(default)]
    data: Option<String>,
}

type Reply = Result<Value, CdpError>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Incoming {
    id: Option<u64>,
    result: Option<Value>,
    error: Option<CdpError>,
    method: Option<String>,
    params: Option<Value>,
    session_id: Option<String>,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    sessions: Mutex<HashMap<String, Arc<SessionState>>>,
}

/// The browser-level CDP connection.
#[derive(Debug)]
pub(crate) struct Connection {
    out: mpsc::UnboundedSender<String>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    command_timeout: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl Connection {
    pub(crate) async fn connect(
        url: &str,
        command_timeout: Duration,
    ) -> Result<Self, BrowserError> {
        let connect_err = |message: String| BrowserError::Connect {
            url: url.to_owned(),
            message,
        };
        let builder = ClientBuilder::new()
            .uri(url)
            .map_err(|e| connect_err(e.to_string()))?
            // Screenshots of long pages come back as one large base64 message.
            .limits(Limits::default().max_payload_len(Some(512 * 1024 * 1024)));
        let (ws, _) = builder
            .connect()
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        let (out, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(ws, rx, Arc::clone(&shared)));
        Ok(Self {
            out,
            shared,
            next_id: AtomicU64::new(1),
            command_timeout,
            task,
        })
    }

    /// Sends a command (to a page when `session` is given) and waits for its reply.
    pub(crate) async fn call(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        if self.out.send(message(id, method, params, session)).is_err() {
            lock(&self.shared.pending).remove(&id);
            return Err(BrowserError::Disconnected);
        }
        match tokio::time::timeout(self.command_timeout, rx).await {
            Err(_) => {
                lock(&self.shared.pending).remove(&id);
                Err(BrowserError::Timeout {
                    what: format!("Chromium to answer the CDP command {method}"),
                    after: self.command_timeout,
                })
            }
            Ok(Err(_)) => Err(BrowserError::Disconnected),
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(e))) => Err(BrowserError::Protocol {
                method: method.to_owned(),
                code: e.code,
                message: match e.data {
                    Some(data) => format!("{} ({data})", e.message),
                    None => e.message,
                },
            }),
        }
    }

    /// Sends a command without waiting for its reply (used from `Drop`).
    pub(crate) fn send_and_forget(&self, method: &str, params: Value, session: Option<&str>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Nothing to do if the connection is gone: the browser is gone too.
        let _ = self.out.send(message(id, method, params, session));
    }

    pub(crate) fn register(&self, session_id: &str) -> Arc<SessionState> {
        let state = Arc::new(SessionState::new());
        lock(&self.shared.sessions).insert(session_id.to_owned(), Arc::clone(&state));
        state
    }

    pub(crate) fn unregister(&self, session_id: &str) {
        lock(&self.shared.sessions).remove(session_id);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn message(id: u64, method: &str, params: Value, session: Option<&str>) -> String {
    let mut msg = json!({ "id": id, "method": method, "params": params });
    if let Some(session) = session {
        msg["sessionId"] = Value::from(session);
    }
    msg.to_string()
}

async fn run<S>(
    mut ws: tokio_websockets::WebSocketStream<S>,
    mut rx: mpsc::UnboundedReceiver<String>,
    shared: Arc<Shared>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = ws.next() => match incoming {
                Some(Ok(msg)) => {
                    if let Some(text) = msg.as_text() {
                        dispatch(&shared, text);
                    }
                }
                Some(Err(_)) | None => break,
            },
        }
    }
    // Fail every command still waiting: dropping its sender wakes it with an error.
    lock(&shared.pending).clear();
    lock(&shared.sessions).clear();
}

fn dispatch(shared: &Shared, text: &str) {
    let Ok(msg) = serde_json::from_str::<Incoming>(text) else {
        return;
    };
    if let Some(id) = msg.id {
        if let Some(tx) = lock(&shared.pending).remove(&id) {
            let reply = match msg.error {
                Some(e) => Err(e),
                None => Ok(msg.result.unwrap_or(Value::Null)),
            };
            let _ = tx.send(reply);
        }
        return;
    }
    let (Some(method), Some(session)) = (msg.method, msg.session_id) else {
        return;
    };
    let state = lock(&shared.sessions).get(&session).cloned();
    if let Some(state) = state {
        let params = msg.params.unwrap_or(Value::Null);
        state.record(&method, &params);
        // No subscriber is fine: events only matter while someone waits for them.
        let _ = state.events.send(Arc::new(Event { method, params }));
    }
}
