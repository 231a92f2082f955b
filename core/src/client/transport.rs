//! [`SyncSocket`]: the blocking WebSocket to the server's `GET /v1/sync`.
//!
//! Plain `ws://` over a std `TcpStream`, binary messages only. The upgrade request is written
//! here rather than by tungstenite, whose handshake logs the raw request (with its
//! `Authorization` header) at trace level; the token must never reach a log. After the
//! upgrade, tungstenite does the framing. Reads time out every
//! [`TransportConfig::poll_interval`] so the caller's loop can watch its idle timeout and a
//! stop flag; nothing here blocks for longer than the configured timeouts.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::error::{ClientError, Result, from_answer};
use super::server_url::ServerUrl;

/// The sync route.
pub const SYNC_PATH: &str = "/v1/sync";

/// Largest upgrade answer head read (status line and headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Largest error body read from a refused upgrade.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// How long [`SyncSocket::close`] waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Timeouts and limits of a [`SyncSocket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// Bound of the TCP connect, and again of the WebSocket upgrade (default 10 s).
    pub connect_timeout: Duration,
    /// Read timeout of the socket: how often [`SyncSocket::receive`] returns
    /// [`Incoming::Nothing`] when nothing arrives, i.e. how quickly a stop flag is seen
    /// (default 200 ms).
    pub poll_interval: Duration,
    /// Bound of writing one message (default 30 s).
    pub write_timeout: Duration,
    /// Largest message (and frame) accepted from the server, bytes (default
    /// [`crate::sync::MAX_INCOMING_MESSAGE_BYTES`], 8 MiB: the server bounds what it sends
    /// below it).
    pub max_message_bytes: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(200),
            write_timeout: Duration::from_secs(30),
            max_message_bytes: crate::sync::MAX_INCOMING_MESSAGE_BYTES,
        }
    }
}

/// Counters of one connection (WebSocket payload bytes, not counting framing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Binary messages sent.
    pub frames_sent: u64,
    /// Binary messages received.
    pub frames_received: u64,
}

/// What [`SyncSocket::receive`] got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A binary message.
    Frame(Vec<u8>),
    /// Nothing within the poll interval (or a control frame).
    Nothing,
    /// The server closed the connection; `reason` is its close frame's text (may be empty).
    Closed {
        /// The server's reason.
        reason: String,
    },
}

/// A WebSocket connection to the sync route. See the [module docs](self).
pub struct SyncSocket {
    ws: WebSocket<TcpStream>,
    stats: TransportStats,
    max_message_bytes: usize,
}

impl std::fmt::Debug for SyncSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSocket")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SyncSocket {
    /// Connects to `ws://HOST:PORT/v1/sync` of `url` with `Authorization: Bearer
    /// <access_token>`. Gives up when `cancel` is set (checked every poll interval).
    ///
    /// # Errors
    /// [`ClientError::Network`] when the host does not resolve, the connection fails or
    /// times out; the server's refusal of the upgrade as [`ClientError::TokenExpired`] (401
    /// `token_expired`), [`ClientError::Unauthorized`] (other 401, 403 e.g. a device-bound
    /// token used from another device), [`ClientError::Server`]; [`ClientError::Protocol`] when
    /// the answer is not a WebSocket upgrade; [`ClientError::Unauthorized`] (`invalid_token`)
    /// when the token is not a valid header value; [`ClientError::Cancelled`].
    pub fn connect(
        url: &ServerUrl,
        access_token: &str,
        config: &TransportConfig,
        cancel: &AtomicBool,
    ) -> Result<Self> {
        if access_token.is_empty() || !access_token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ClientError::Unauthorized {
                code: "invalid_token".to_owned(),
                message: "the stored access token is malformed".to_owned(),
            });
        }
        let mut stream = open(url, config)?;
        let key = tungstenite::handshake::client::generate_key();
        let request = format!(
            "GET {SYNC_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
             Authorization: Bearer {access_token}\r\nUser-Agent: zhichao-core/{version}\r\n\r\n",
            host = url.authority(),
            version = env!("CARGO_PKG_VERSION"),
        );
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| ClientError::network(io_reason(&e)))?;
        let deadline = Instant::now() + config.connect_timeout;
        let (head, rest) = read_head(&mut stream, deadline, cancel)?;
        let answer = Head::parse(&head)?;
        if answer.status != 101 {
            let body = read_body(&mut stream, rest, answer.content_length(), deadline, cancel);
            return Err(from_answer(answer.status, &body));
        }
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let upgraded = answer
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
            && answer.header("connection").is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
            && answer.header("sec-websocket-accept") == Some(accept.as_str());
        if !upgraded {
            return Err(ClientError::Protocol {
                reason: "the server's answer to the upgrade is not a WebSocket handshake"
                    .to_owned(),
            });
        }
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(32 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        Ok(SyncSocket {
            ws: WebSocket::from_partially_read(stream, rest, Role::Client, Some(ws_config)),
            stats: TransportStats::default(),
            max_message_bytes: config.max_message_bytes,
        })
    }

    /// Sends one binary message.
    ///
    /// # Errors
    /// [`ClientError::Network`] when the connection failed or the write timed out;
    /// [`ClientError::Protocol`] when the connection is already closed.
    pub fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        let len = frame.len() as u64;
        self.ws
            .send(Message::Binary(frame.into()))
            .map_err(|e| self.error(e))?;
        self.stats.bytes_sent += len;
        self.stats.frames_sent += 1;
        Ok(())
    }

    /// Waits up to the poll interval for a message.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] for a text message, a message over the size limit or a
    /// WebSocket protocol violation; [`ClientError::Network`] when the connection failed.
    pub fn receive(&mut self) -> Result<Incoming> {
        match self.ws.read() {
            Ok(Message::Binary(bytes)) => {
                self.stats.bytes_received += bytes.len() as u64;
                self.stats.frames_received += 1;
                Ok(Incoming::Frame(bytes.to_vec()))
            }
            Ok(Message::Text(_)) => Err(ClientError::Protocol {
                reason: "text message from the server (the protocol is binary)".to_owned(),
            }),
            Ok(Message::Close(frame)) => Ok(Incoming::Closed {
                reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
            }),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Ok(Incoming::Nothing),
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(Incoming::Nothing),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Ok(Incoming::Closed {
                    reason: String::new(),
                })
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// What went through so far.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// Closes the connection: sends a close frame and waits briefly (at most a second) for
    /// the server's. Best effort: errors are ignored, the socket is dropped in any case.
    pub fn close(mut self) {
        if self.ws.close(None).is_err() {
            return;
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    }

    fn error(&self, e: tungstenite::Error) -> ClientError {
        match e {
            tungstenite::Error::Io(e) => ClientError::network(io_reason(&e)),
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                ClientError::network("connection closed")
            }
            tungstenite::Error::Capacity(_) => ClientError::Protocol {
                reason: format!(
                    "message from the server larger than {} bytes",
                    self.max_message_bytes
                ),
            },
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ) => ClientError::network("connection reset"),
            tungstenite::Error::Protocol(p) => ClientError::Protocol {
                reason: p.to_string(),
            },
            other => ClientError::network(other.to_string()),
        }
    }
}

/// Resolves and connects (each address within the connect timeout), then sets the socket's
/// timeouts.
fn open(url: &ServerUrl, config: &TransportConfig) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (url.bare_host(), url.port())
        .to_socket_addrs()
        .map_err(|_| ClientError::network("host not found"))?
        .collect();
    let mut last = ClientError::network("host not found");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, config.connect_timeout) {
            Ok(stream) => {
                let setup = stream
                    .set_nodelay(true)
                    .and_then(|()| stream.set_read_timeout(Some(nonzero(config.poll_interval))))
                    .and_then(|()| stream.set_write_timeout(Some(nonzero(config.write_timeout))));
                return match setup {
                    Ok(()) => Ok(stream),
                    Err(e) => Err(ClientError::network(io_reason(&e))),
                };
            }
            Err(e) => last = ClientError::network(io_reason(&e)),
        }
    }
    Err(last)
}

/// A zero timeout means "block forever" to std: use a millisecond instead.
fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

/// Reads until the end of the answer head; returns the head and the bytes read past it.
fn read_head(
    stream: &mut TcpStream,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ClientError::Protocol {
                reason: format!("upgrade answer head larger than {MAX_HEAD_BYTES} bytes"),
            });
        }
        wait_check(deadline, cancel)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ClientError::network("connection closed during the upgrade")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ClientError::network(io_reason(&e))),
        }
    }
}

/// Reads the body of a refused upgrade (best effort: what arrived by the deadline, bounded).
fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    length: Option<usize>,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Vec<u8> {
    let want = length
        .unwrap_or(MAX_ERROR_BODY_BYTES)
        .min(MAX_ERROR_BODY_BYTES);
    let mut chunk = [0u8; 1024];
    while body.len() < want && wait_check(deadline, cancel).is_ok() {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    body.truncate(want);
    body
}

fn wait_check(deadline: Instant, cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        return Err(ClientError::Cancelled);
    }
    if Instant::now() >= deadline {
        return Err(ClientError::network("timed out"));
    }
    Ok(())
}

/// Status and headers of the upgrade answer.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(bytes: &[u8]) -> Result<Head> {
        let malformed = || ClientError::Protocol {
            reason: "malformed HTTP answer to the upgrade".to_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| malformed())?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().ok_or_else(malformed)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().ok_or_else(malformed)?;
        if !version.starts_with("HTTP/1.") {
            return Err(malformed());
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..600).contains(s))
            .ok_or_else(malformed)?;
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or_else(malformed)?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        Ok(Head { status, headers })
    }

    /// The first value of header `name` (lower case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A short, secret-free description of an I/O failure.
pub(crate) fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::WouldBlock | K::TimedOut => "timed out".to_owned(),
        K::ConnectionRefused => "cannot connect (connection refused)".to_owned(),
        K::ConnectionReset => "connection reset".to_owned(),
        K::ConnectionAborted => "connection aborted".to_owned(),
        K::BrokenPipe | K::UnexpectedEof | K::NotConnected => "connection closed".to_owned(),
        K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown => {
            "network unreachable".to_owned()
        }
        K::AddrNotAvailable => "cannot connect (address not available)".to_owned(),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::thread;

    use tungstenite::handshake::server::{Request, Response};

    use super::*;

    fn listener() -> (TcpListener, ServerUrl) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = ServerUrl::parse(&format!("http://{}", l.local_addr().unwrap())).unwrap();
        (l, url)
    }

    fn quick() -> TransportConfig {
        TransportConfig {
            connect_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(20),
            write_timeout: Duration::from_secs(5),
            max_message_bytes: 1024,
        }
    }

    fn no_cancel() -> AtomicBool {
        AtomicBool::new(false)
    }

    /// Receives until a frame or a close arrives (bounded).
    fn next(socket: &mut SyncSocket) -> Result<Incoming> {
        for _ in 0..250 {
            match socket.receive()? {
                Incoming::Nothing => {}
                other => return Ok(other),
            }
        }
        panic!("nothing arrived");
    }

    #[test]
    #[allow(clippy::result_large_err)] // tungstenite's handshake callback type
    fn upgrades_with_the_bearer_token_and_exchanges_binary_frames() {
        let (l, url) = listener();
        let (tx, rx) = mpsc::channel();
        let server = thread::spawn(move || {
            let (stream, _) = l.accept().unwrap();
            let mut ws = tungstenite::accept_hdr(stream, |req: &Request, resp: Response| {
                tx.send((
                    req.uri().path().to_owned(),
                    req.headers()["authorization"].to_str().unwrap().to_owned(),
                ))
                .unwrap();
                Ok(resp)
            })
            .unwrap();
            // Echo one binary message, then a ping, then close with a reason.
            let m = ws.read().unwrap();
            ws.send(m).unwrap();
            ws.send(Message::Ping(vec![1].into())).unwrap();
            ws.send(Message::binary(vec![9u8; 3])).unwrap();
            ws.close(Some(tungstenite::protocol::CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: "bye".into(),
            }))
            .unwrap();
            while ws.read().is_ok() {}
        });
        let mut socket = SyncSocket::connect(&url, "zat_abc", &quick(), &no_cancel()).unwrap();
        assert_eq!(
            rx.recv().unwrap(),
            ("/v1/sync".to_owned(), "Bearer zat_abc".to_owned())
        );
        socket.send(vec![1, 2, 3]).unwrap();
        assert_eq!(next(&mut socket).unwrap(), Incoming::Frame(vec![1, 2, 3]));
        assert_eq!(next(&mut socket).unwrap(), Incoming::Frame(vec![9, 9, 9]));
        assert_eq!(
            next(&mut socket).unwrap(),
            Incoming::Closed {
                reason: "bye".to_owned()
            }
        );
        let stats = socket.stats();
        assert_eq!(
            (
                stats.frames_sent,
                stats.bytes_sent,
                stats.frames_received,
                stats.bytes_received
            ),
            (1, 3, 2, 6)
        );
        socket.close();
        server.join().unwrap();
    }

    /// A server that answers the upgrade with `answer` (raw HTTP).
    fn answering(answer: &'static str) -> (ServerUrl, thread::JoinHandle<()>) {
        let (l, url) = listener();
        let server = thread::spawn(move || {
            let (mut stream, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
        });
        (url, server)
    }

    #[test]
    fn refused_upgrades_carry_the_servers_code() {
        let body = r#"{"error":{"code":"token_expired","message":"the token has expired"}}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = answering(answer);
        let e = SyncSocket::connect(&url, "zat_old", &quick(), &no_cancel()).unwrap_err();
        server.join().unwrap();
        assert_eq!(e, ClientError::TokenExpired);

        let body = r#"{"error":{"code":"forbidden","message":"device-bound token"}}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = answering(answer);
        let e = SyncSocket::connect(&url, "zat", &quick(), &no_cancel()).unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(&e, ClientError::Unauthorized { code, .. } if code == "forbidden"),
            "{e:?}"
        );
    }

    #[test]
    fn answers_that_are_not_an_upgrade_are_refused() {
        for answer in [
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            let (url, server) = answering(answer);
            let e = SyncSocket::connect(&url, "zat", &quick(), &no_cancel()).unwrap_err();
            server.join().unwrap();
            assert!(
                matches!(
                    e,
                    ClientError::Protocol { .. } | ClientError::Server { status: 200, .. }
                ),
                "{answer:?}: {e:?}"
            );
        }
    }

    #[test]
    fn a_silent_server_times_out_and_a_stop_flag_cancels() {
        let (l, url) = listener();
        let config = TransportConfig {
            connect_timeout: Duration::from_millis(300),
            ..quick()
        };
        let started = Instant::now();
        let e = SyncSocket::connect(&url, "zat", &config, &no_cancel()).unwrap_err();
        assert_eq!(e, ClientError::network("timed out"));
        assert!(started.elapsed() < Duration::from_secs(3));

        let cancel = Arc::new(AtomicBool::new(false));
        let setter = {
            let cancel = Arc::clone(&cancel);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(100));
                cancel.store(true, Ordering::SeqCst);
            })
        };
        let started = Instant::now();
        let e = SyncSocket::connect(&url, "zat", &quick(), &cancel).unwrap_err();
        assert_eq!(e, ClientError::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(2));
        setter.join().unwrap();
        drop(l);
    }

    #[test]
    fn oversized_and_text_messages_are_protocol_errors() {
        let (l, url) = listener();
        let server = thread::spawn(move || {
            let (stream, _) = l.accept().unwrap();
            let mut ws = tungstenite::accept(stream).unwrap();
            ws.send(Message::text("hello")).unwrap();
            let (stream, _) = l.accept().unwrap();
            let mut ws2 = tungstenite::accept(stream).unwrap();
            ws2.send(Message::binary(vec![0u8; 2048])).unwrap();
            // Keep both open until the client has read.
            let _ = ws.read();
            let _ = ws2.read();
        });
        let mut socket = SyncSocket::connect(&url, "zat", &quick(), &no_cancel()).unwrap();
        let e = next(&mut socket).unwrap_err();
        assert!(
            matches!(&e, ClientError::Protocol { reason } if reason.contains("text")),
            "{e:?}"
        );
        let mut socket2 = SyncSocket::connect(&url, "zat", &quick(), &no_cancel()).unwrap();
        let e = next(&mut socket2).unwrap_err();
        assert!(
            matches!(&e, ClientError::Protocol { reason } if reason.contains("1024")),
            "{e:?}"
        );
        drop(socket);
        drop(socket2);
        server.join().unwrap();
    }

    #[test]
    fn malformed_tokens_and_unreachable_servers() {
        let url = ServerUrl::parse("http://127.0.0.1:1").unwrap();
        let e = SyncSocket::connect(&url, "zat with space", &quick(), &no_cancel()).unwrap_err();
        assert!(matches!(&e, ClientError::Unauthorized { code, .. } if code == "invalid_token"));
        let e = SyncSocket::connect(&url, "zat\r\nX-Evil: 1", &quick(), &no_cancel()).unwrap_err();
        assert!(matches!(e, ClientError::Unauthorized { .. }));
        let e = SyncSocket::connect(&url, "zat", &quick(), &no_cancel()).unwrap_err();
        assert!(matches!(e, ClientError::Network { .. }), "{e:?}");
    }

    #[test]
    fn heads_parse_strictly() {
        let h =
            Head::parse(b"HTTP/1.1 101 Switching\r\nUpgrade: WebSocket\r\nX: a:b\r\n\r\n").unwrap();
        assert_eq!(h.status, 101);
        assert_eq!(h.header("upgrade"), Some("WebSocket"));
        assert_eq!(h.header("x"), Some("a:b"));
        for bad in [
            &b"HTTP/1.1 abc\r\n"[..],
            b"HTTP/2 200\r\n",
            b"HTTP/1.1 200\r\nnocolon\r\n",
            b"\xff\xfe",
        ] {
            assert!(Head::parse(bad).is_err(), "{bad:?}");
        }
    }
}
