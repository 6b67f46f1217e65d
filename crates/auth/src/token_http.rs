//! The bridge between the `oauth2` crate and our `reqwest` client: token requests go through the caller's client (with
//! its timeouts and outbound-address guard), answers are size-capped, and the status is kept to classify failures.

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// The largest token endpoint answer read, in bytes; real answers are well under a kilobyte.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// One token request's HTTP client: the caller's `reqwest::Client` plus the status of the answer it got.
pub(crate) struct TokenHttpClient {
    client: reqwest::Client,
    status: Mutex<Option<http::StatusCode>>,
}

/// A token request that got no usable HTTP answer. Its text never includes a request body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The request could not be built or sent, or the answer not read.
    #[error("{0}")]
    Failed(String),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    #[error("the answer exceeds {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

impl TokenHttpClient {
    pub(crate) fn new(client: reqwest::Client) -> Self {
        Self { client, status: Mutex::new(None) }
    }

    /// The status of the last answer, if one arrived.
    pub(crate) fn status(&self) -> Option<http::StatusCode> {
        *self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let request = reqwest::Request::try_from(request).map_err(describe)?;
        let mut response = self.client.execute(request).await.map_err(describe)?;
        *self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(response.status());
        let mut builder = http::Response::builder().status(response.status()).version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(TransportError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|error| TransportError::Failed(error.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for TokenHttpClient {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A reqwest error with its causes (`connection refused`, `timed out`), without the URL the caller reports anyway.
fn describe(error: reqwest::Error) -> TransportError {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError::Failed(text)
}
