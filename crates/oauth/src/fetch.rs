//! The one reader of other servers' JSON answers (client metadata
//! documents, the identity provider's discovery and token answers): sent
//! with `Accept: application/json`, read up to a size, failures said
//! without the URL's secrets or the body.

use reqwest::{RequestBuilder, StatusCode};

/// Send `req` and read its answer, at most `max` bytes: the status and
/// the body, or why not (`timed out`, `unreachable`, `answered more than …`).
pub(crate) async fn answer(
    req: RequestBuilder,
    max: usize,
) -> Result<(StatusCode, Vec<u8>), String> {
    let mut resp = req
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out"
            } else {
                "unreachable"
            }
            .to_owned()
        })?;
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| "timed out or broke off".to_owned())?
    {
        if body.len() + chunk.len() > max {
            return Err(format!("answered more than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}
