//! URL redaction: provider URLs carry API keys in the path or query, so
//! nothing but `scheme://host[:port]` ever reaches a log or an error.

use std::fmt;

/// A URL reduced to `scheme://host[:port]`, with `/…` standing for any path,
/// query, fragment or userinfo (where provider API keys live). Unparseable
/// input is shown as `<invalid url>`, never verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    /// Redacts `url` (an unparseable one becomes `<invalid url>`).
    pub fn new(url: &str) -> Self {
        let Ok(parsed) = url::Url::parse(url) else {
            return Redacted("<invalid url>".to_string());
        };
        let mut out = format!("{}://", parsed.scheme());
        let hidden_userinfo = !parsed.username().is_empty() || parsed.password().is_some();
        if hidden_userinfo {
            out.push_str("…@");
        }
        match parsed.host_str() {
            Some(host) => out.push_str(host),
            None => return Redacted(format!("{}://…", parsed.scheme())),
        }
        if let Some(port) = parsed.port() {
            out.push_str(&format!(":{port}"));
        }
        let has_more = (parsed.path() != "/" && !parsed.path().is_empty())
            || parsed.query().is_some()
            || parsed.fragment().is_some();
        if has_more {
            out.push_str("/…");
        }
        Redacted(out)
    }

    /// Removes any secret part of `url` that a foreign error message may echo
    /// (reqwest and hyper errors sometimes include the full URL).
    pub fn scrub(url: &url::Url, message: &str) -> String {
        let mut message = message.replace(url.as_str(), &Redacted::new(url.as_str()).0);
        let mut secrets: Vec<&str> = vec![url.path(), url.username()];
        secrets.extend(url.password());
        secrets.extend(url.query());
        secrets.extend(url.fragment());
        for secret in secrets {
            if secret.len() > 1 {
                message = message.replace(secret, "…");
            }
        }
        message
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_scheme_host_and_port() {
        let cases = [
            (
                "https://eth.example.com/v2/SECRETKEY?key=abc",
                "https://eth.example.com/…",
            ),
            (
                "https://user:pw@eth.example.com:8545/",
                "https://…@eth.example.com:8545",
            ),
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("http://localhost:5052/", "http://localhost:5052"),
            ("wss://x.io/ws#frag", "wss://x.io/…"),
            ("not a url SECRETKEY", "<invalid url>"),
        ];
        for (url, expected) in cases {
            assert_eq!(Redacted::new(url).to_string(), expected, "{url}");
        }
    }

    #[test]
    fn scrub_removes_secrets_echoed_by_foreign_errors() {
        let url = url::Url::parse("https://eth.example.com/v2/SECRETKEY?key=abc").unwrap();
        let message = format!("error sending request for url ({url}): dns error at /v2/SECRETKEY");
        let scrubbed = Redacted::scrub(&url, &message);
        assert!(
            !scrubbed.contains("SECRETKEY") && !scrubbed.contains("key=abc"),
            "{scrubbed}"
        );
    }
}
