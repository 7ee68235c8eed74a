//! Who a request comes from, what they may see and use, and how a policy
//! judges their calls, reads and prompts by arguments and caller.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::{ErrorCode, RpcError};

/// What a caller may see and use: its tenant's policy. Lists show only what
/// is allowed; anything else is answered exactly like something that does
/// not exist.
pub trait Access: Send + Sync + fmt::Debug {
    /// Whether the tool `name` is visible and callable.
    fn tool(&self, name: &str) -> bool;
    /// Whether the resource `uri` (or a template's `uriTemplate`) is visible
    /// and readable.
    fn resource(&self, uri: &str) -> bool;
    /// Whether the prompt `name` is visible and usable.
    fn prompt(&self, name: &str) -> bool;
    /// Whether any rule judges requests by their arguments or caller
    /// ([`Access::judge`]); asked on every call, read and prompt, so a
    /// policy without such rules costs nothing more.
    fn judges(&self) -> bool {
        false
    }
    /// Whether `request` (a call, read or prompt the caller may see) may
    /// go ahead, by its arguments and its caller.
    fn judge(&self, _request: &Judged<'_>) -> Result<(), Refusal> {
        Ok(())
    }
    /// Mask what must not reach the caller in a result of a call, read or
    /// prompt; the names of the patterns that matched (none: untouched).
    fn redact(&self, _result: &mut Value) -> Vec<Arc<str>> {
        Vec::new()
    }
    /// Whether the caller sees some tools under other names or shapes
    /// (a virtual server's overrides); asked on every call and listing.
    fn rewrites(&self) -> bool {
        false
    }
    /// The tool the caller's `name` stands for and the arguments it gets,
    /// if the caller sees it otherwise (`Ok(None)`: as it is); an error
    /// refuses the call before anything runs.
    fn rewrite_call(
        &self,
        _name: &str,
        _arguments: Option<&RawValue>,
    ) -> Result<Option<(String, Value)>, RpcError> {
        Ok(None)
    }
    /// A listed tool's definition (under the catalog's name) as the
    /// caller sees it.
    fn present_tool(&self, _definition: &mut Value) {}
    /// Whether the caller finds its tools by search (progressive
    /// discovery): `tools/list` lists the search tool alone.
    fn searches(&self) -> bool {
        false
    }
    /// Whether guardrail hooks look at some of the caller's calls; asked
    /// on every call.
    fn guards(&self) -> bool {
        false
    }
    /// Run the hooks of `stage` on a call of `tool` (its complete
    /// arguments; after the call, its `result` too): `Ok(Some(v))` is the
    /// arguments (before) or the result (after) a hook made of them;
    /// `Err` refuses the call (a hook denied it, or failed and fails
    /// closed). Each hook's decision is told to `report`.
    fn guard<'a>(
        &'a self,
        _stage: Stage,
        _call: GuardedCall<'a>,
        _report: &'a (dyn Fn(&str, Stage, &'static str) + Sync),
    ) -> BoxFuture<'a, Result<Option<Value>, Refusal>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// A future a hook's verdict comes in.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// When a guardrail hook looks at a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the tool is called: it sees the arguments.
    Before,
    /// After: it sees the result too.
    After,
}

impl Stage {
    /// `before` or `after`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::After => "after",
        }
    }
}

/// A call as a guardrail hook sees it: no credential of the caller's.
#[derive(Debug, Clone, Copy)]
pub struct GuardedCall<'a> {
    /// The tool, by the catalog's name.
    pub tool: &'a str,
    /// Its complete arguments.
    pub arguments: &'a Value,
    /// The result, after the call.
    pub result: Option<&'a Value>,
    /// Who asked (tenant, subject, scopes; never a token).
    pub caller: &'a Caller,
}

/// Everything is allowed: the policy when no tenant policy applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Access for AllowAll {
    fn tool(&self, _: &str) -> bool {
        true
    }
    fn resource(&self, _: &str) -> bool {
        true
    }
    fn prompt(&self, _: &str) -> bool {
        true
    }
}

/// The authenticated (or anonymous) caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant the caller belongs to.
    pub tenant: Arc<str>,
    /// Who the caller is within its tenant (an API key's id, a token's `sub`).
    pub subject: Arc<str>,
    /// The session the request belongs to (none in the stateless era).
    pub session: Option<Arc<str>>,
    /// What the caller may see and use.
    pub access: Arc<dyn Access>,
    /// Upstream processes the caller's tenant may hold at once (the
    /// gateway enforces it), if it has a cap.
    pub max_upstream_processes: Option<usize>,
    /// The JWT the caller authenticated with, for an upstream whose
    /// credentials are exchanged for it (RFC 8693); none for API keys,
    /// anonymous callers and work the server runs on its own.
    pub token: Option<Arc<switchboard_secret::ClientToken>>,
    /// The scopes the caller's token grants (none for API keys).
    pub scopes: Arc<[String]>,
    /// Every claim of the caller's JWT, for policies (none for API keys,
    /// anonymous callers and work the server runs on its own).
    pub claims: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
}

impl Caller {
    /// The caller of a server with no tenants: anonymous, allowed everything.
    pub fn anonymous() -> Self {
        // Made once and shared: its parts are immutable `Arc`s.
        static ANONYMOUS: std::sync::LazyLock<Caller> = std::sync::LazyLock::new(|| Caller {
            tenant: Arc::from("anonymous"),
            subject: Arc::from("anonymous"),
            session: None,
            access: Arc::new(AllowAll),
            max_upstream_processes: None,
            token: None,
            scopes: Arc::from([]),
            claims: None,
        });
        ANONYMOUS.clone()
    }
}

impl Default for Caller {
    fn default() -> Self {
        Self::anonymous()
    }
}

/// One request as a policy sees it.
pub struct Judged<'a> {
    /// `tools/call`, `resources/read` or `prompts/get`.
    pub method: &'a str,
    /// The tool's or prompt's name as the client gave it, or the URI.
    pub name: &'a str,
    /// The arguments as sent (none for reads).
    pub arguments: Option<&'a RawValue>,
    /// Who asks.
    pub caller: &'a Caller,
    /// The tool's annotations, looked up only when a rule reads them.
    pub annotations: &'a (dyn Fn() -> Option<Value> + Sync),
}

impl fmt::Debug for Judged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Judged")
            .field("method", &self.method)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A policy's refusal: which rule, and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule that refused.
    pub rule: Arc<str>,
    /// Why, for the client.
    pub reason: String,
}

impl Refusal {
    /// The JSON-RPC error the client gets: -32006 with the reason, and the
    /// rule in `data.policy`.
    pub fn to_rpc(&self) -> RpcError {
        RpcError::new(ErrorCode::POLICY_DENIED, self.reason.clone())
            .with_data(serde_json::json!({ "policy": &*self.rule }))
    }
}

/// Where the catalog reports what policies decided (counted and audited
/// by the server).
pub trait DecisionObserver: Send + Sync + fmt::Debug {
    /// `request` was refused by `refusal`.
    fn refused(&self, request: &Judged<'_>, refusal: &Refusal);

    /// The result of `method` on `name` for `caller` had secrets masked,
    /// matched by `patterns`.
    fn redacted(&self, caller: &Caller, method: &str, name: &str, patterns: &[Arc<str>]);

    /// The guardrail `hook` decided on `caller`'s call of `tool` at
    /// `stage`: `allow`, `deny`, `modify`, `failed_open` or
    /// `failed_closed`.
    fn hook(&self, caller: &Caller, tool: &str, hook: &str, stage: Stage, decision: &'static str);
}
