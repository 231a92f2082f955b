//! [`ServerUrl`]: where the sync server is, as the phone is configured with it.

use std::fmt;

use super::error::{ClientError, Result};

/// The server's address, `http://HOST[:PORT]` (port 80 when absent; a trailing `/` is
/// allowed). Plain HTTP only: TLS ends at the reverse proxy in front of the server, or a
/// platform layer tunnels it; this client has no TLS stack.
///
/// HOST is a name, an IPv4 address or a bracketed IPv6 address (`[::1]`).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    host: String,
    port: u16,
}

impl ServerUrl {
    /// Parses `text`.
    ///
    /// # Errors
    /// [`ClientError::Url`] for `https://`, `ws://` or any other scheme, a missing or
    /// malformed host, a port that is not 1–65535, a path, query, fragment or user info.
    pub fn parse(text: &str) -> Result<Self> {
        let url = |reason| ClientError::Url {
            url: text.chars().take(100).collect(),
            reason,
        };
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("wss://") {
            return Err(url(
                "TLS is not supported by this client; use http:// to a reverse proxy or tunnel",
            ));
        }
        if !lower.starts_with("http://") {
            return Err(url("must start with http://"));
        }
        let rest = &trimmed["http://".len()..];
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(url("no host"));
        }
        if authority.contains(['/', '?', '#', '@', ' ', '\\']) {
            return Err(url(
                "must be http://HOST[:PORT] without path, query or user",
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err(url("unclosed [ in an IPv6 host"));
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(url("malformed IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| url("junk after ]"))?),
            };
            (format!("[{addr}]"), port)
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(url("no host"));
        }
        if !host.starts_with('[')
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(url(
                "host may contain letters, digits, '.', '-' and '_' only",
            ));
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(url("port must be 1 to 65535")),
            },
        };
        Ok(ServerUrl {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The host as written in a URL (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `HOST:PORT`, for the `Host` header and for resolving.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `http://HOST:PORT` followed by `path` (which starts with `/`).
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority())
    }

    /// `ws://HOST:PORT` followed by `path`.
    pub fn ws(&self, path: &str) -> String {
        format!("ws://{}{path}", self.authority())
    }

    /// The host without IPv6 brackets, for resolving.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerUrl({self})")
    }
}

impl std::str::FromStr for ServerUrl {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self> {
        ServerUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls() {
        let u = ServerUrl::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!((u.host(), u.port()), ("127.0.0.1", 8080));
        assert_eq!(u.ws("/v1/sync"), "ws://127.0.0.1:8080/v1/sync");
        assert_eq!(
            u.http("/v1/auth/refresh"),
            "http://127.0.0.1:8080/v1/auth/refresh"
        );
        let u = ServerUrl::parse(" HTTP://Sync.Example.invalid ").unwrap();
        assert_eq!(u.to_string(), "http://sync.example.invalid:80");
        let u = ServerUrl::parse("http://[::1]:9000").unwrap();
        assert_eq!((u.host(), u.bare_host(), u.port()), ("[::1]", "::1", 9000));
        assert_eq!(
            "http://h:1".parse::<ServerUrl>().unwrap().authority(),
            "h:1"
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (bad, why) in [
            ("https://h", "TLS"),
            ("wss://h", "TLS"),
            ("ws://h", "http://"),
            ("h:80", "http://"),
            ("http://", "no host"),
            ("http://:80", "no host"),
            ("http://h/v1", "path"),
            ("http://h?x=1", "path"),
            ("http://user@h", "user"),
            ("http://h:0", "port"),
            ("http://h:65536", "port"),
            ("http://h:x", "port"),
            ("http://h:", "port"),
            ("http://[::1", "unclosed"),
            ("http://[zz]:1", "IPv6"),
            ("http://[::1]x", "junk"),
            ("http://h~", "host may"),
            ("http://a b", "path"),
        ] {
            match ServerUrl::parse(bad) {
                Err(e @ ClientError::Url { .. }) => {
                    assert!(e.to_string().contains(why), "{bad}: {e}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // Long input is cut in the message.
        let long = format!("ftp://{}", "x".repeat(500));
        let ClientError::Url { url, .. } = ServerUrl::parse(&long).unwrap_err() else {
            panic!()
        };
        assert_eq!(url.chars().count(), 100);
    }
}
