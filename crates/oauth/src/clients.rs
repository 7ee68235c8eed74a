//! Clients: configured ones, ones registered dynamically (RFC 7591, kept
//! in the store so any node knows them), and ones identified by a metadata
//! document (an `https://` client id).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_store::EntryStore;

use crate::cimd::Documents;
use crate::client::{AuthMethod, Client};
use crate::config::{OAuthConfig, Registration};
use crate::error::OAuthError;
use crate::hex;

/// The store's group of registered clients.
const REGISTERED: &str = "clients";
/// Largest registration request, in bytes.
pub(crate) const MAX_REGISTRATION: usize = 16 * 1024;

/// Every client the server knows.
#[derive(Debug)]
pub(crate) struct Clients {
    configured: HashMap<String, Arc<Client>>,
    store: Arc<dyn EntryStore>,
    group: String,
    documents: Documents,
    registration: Registration,
    registration_token: Option<String>,
    max_registered: usize,
}

impl Clients {
    pub(crate) fn new(config: &OAuthConfig, store: Arc<dyn EntryStore>) -> Self {
        Self {
            configured: config
                .clients
                .iter()
                .map(|c| (c.id.clone(), Arc::new(Client::configured(c))))
                .collect(),
            store,
            group: REGISTERED.to_owned(),
            documents: Documents::new(config.client_metadata.clone()),
            registration: config.registration,
            registration_token: config
                .registration_token_sha256
                .as_ref()
                .map(|s| s.expose().to_owned()),
            max_registered: config.max_registered_clients,
        }
    }

    /// Whether registration is open to anyone or by token.
    pub(crate) fn registration_on(&self) -> bool {
        self.registration != Registration::Off
    }

    /// Whether metadata documents are on.
    pub(crate) fn documents_on(&self) -> bool {
        self.documents.names_document("https://x")
    }

    /// The client `id`, wherever it is kept; `invalid_client` if none.
    pub(crate) async fn get(&self, id: &str) -> Result<Arc<Client>, OAuthError> {
        if let Some(c) = self.configured.get(id) {
            return Ok(c.clone());
        }
        if self.documents.names_document(id) {
            return self.documents.client(id).await;
        }
        if id.is_empty() || id.len() > 255 {
            return Err(OAuthError::client("unknown client"));
        }
        match self.store.get(&self.group, id).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Arc::new)
                .map_err(|_| OAuthError::unavailable("a stored client is corrupt")),
            None => Err(OAuthError::client("unknown client")),
        }
    }

    /// Register a client (RFC 7591 §3): its answer, with the secret of a
    /// confidential client (shown once, kept only as a digest).
    pub(crate) async fn register(
        &self,
        body: &[u8],
        bearer: Option<&str>,
    ) -> Result<Value, OAuthError> {
        self.may_register(bearer)?;
        if body.len() > MAX_REGISTRATION {
            return Err(OAuthError::client_metadata(format!(
                "the request is larger than {MAX_REGISTRATION} bytes"
            )));
        }
        let req: Value = serde_json::from_slice(body)
            .map_err(|e| OAuthError::client_metadata(format!("not a JSON object: {e}")))?;
        let asked = Registered::parse(&req)?;
        if self.store.names(&self.group).await?.len() >= self.max_registered {
            return Err(OAuthError::unavailable("too many registered clients"));
        }
        let id = format!("sbc_{}", crate::random_id(16));
        let secret = (asked.method != "none").then(|| format!("sbs_{}", crate::random_id(24)));
        let digest = secret
            .as_deref()
            .map(|s| hex(&Sha256::digest(s.as_bytes())));
        let auth = match (asked.method.as_str(), digest) {
            ("client_secret_post", Some(d)) => AuthMethod::ClientSecretPost(d),
            (_, Some(d)) => AuthMethod::ClientSecretBasic(d),
            (_, None) => AuthMethod::None,
        };
        let client = Client {
            id: id.clone(),
            name: asked.name.clone().unwrap_or_else(|| id.clone()),
            redirect_uris: asked.redirect_uris.clone(),
            refresh: asked.grant_types.iter().any(|g| g == "refresh_token"),
            auth,
            from_document: false,
        };
        let bytes = serde_json::to_vec(&client).expect("a client serializes");
        self.store.put(&self.group, &id, &bytes).await?;
        tracing::info!(client_id = %id, "oauth: client registered");
        let mut answer = json!({
            "client_id": id,
            "client_id_issued_at": crate::now(),
            "redirect_uris": client.redirect_uris,
            "grant_types": asked.grant_types,
            "response_types": ["code"],
            "token_endpoint_auth_method": client.auth.name(),
        });
        if let Some(name) = asked.name {
            answer["client_name"] = json!(name);
        }
        if let Some(secret) = secret {
            answer["client_secret"] = json!(secret);
            answer["client_secret_expires_at"] = json!(0);
        }
        Ok(answer)
    }

    fn may_register(&self, bearer: Option<&str>) -> Result<(), OAuthError> {
        match self.registration {
            Registration::Open => Ok(()),
            Registration::Off => Err(OAuthError::denied("client registration is off")),
            Registration::Token => {
                let want = self.registration_token.as_deref().unwrap_or_default();
                let got = bearer.map(|t| hex(&Sha256::digest(t.as_bytes())));
                match got {
                    Some(got) if bool::from(got.as_bytes().ct_eq(want.as_bytes())) => Ok(()),
                    _ => Err(OAuthError::token(
                        "registration needs a valid initial access token",
                    )),
                }
            }
        }
    }
}

/// What a registration request asks for, checked.
struct Registered {
    redirect_uris: Vec<String>,
    name: Option<String>,
    method: String,
    grant_types: Vec<String>,
}

impl Registered {
    fn parse(req: &Value) -> Result<Self, OAuthError> {
        let strings = |field: &str| -> Result<Option<Vec<String>>, OAuthError> {
            match req.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) if a.len() <= 20 => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Some)
                    .ok_or_else(|| OAuthError::client_metadata(format!("{field} must be strings"))),
                Some(_) => Err(OAuthError::client_metadata(format!(
                    "{field} must be an array of at most 20"
                ))),
            }
        };
        let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err(OAuthError::redirect_uri("redirect_uris is required"));
        }
        for u in &redirect_uris {
            crate::urls::redirect_uri(u)
                .map_err(|why| OAuthError::redirect_uri(format!("{u:?}: {why}")))?;
        }
        let grant_types = strings("grant_types")?
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        if let Some(g) = grant_types
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(OAuthError::client_metadata(format!(
                "grant type {g:?} is not supported"
            )));
        }
        if let Some(r) = strings("response_types")?
            && r.iter().any(|t| t != "code")
        {
            return Err(OAuthError::client_metadata(
                "only the response type \"code\" is supported",
            ));
        }
        let method = match req.get("token_endpoint_auth_method") {
            None | Some(Value::Null) => "client_secret_basic".to_owned(),
            Some(Value::String(m))
                if matches!(
                    m.as_str(),
                    "none" | "client_secret_basic" | "client_secret_post"
                ) =>
            {
                m.clone()
            }
            Some(_) => {
                return Err(OAuthError::client_metadata(
                    "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
                ));
            }
        };
        let name = match req.get("client_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) if n.chars().count() <= 100 => Some(n.clone()),
            Some(_) => {
                return Err(OAuthError::client_metadata(
                    "client_name must be a string of at most 100 characters",
                ));
            }
        };
        Ok(Self {
            redirect_uris,
            name,
            method,
            grant_types,
        })
    }
}
