//! Policy conditions: a CEL expression ([cel.dev](https://cel.dev)) over
//! what a request asks and who asks it, compiled once when the
//! configuration is read and evaluated per request.
//!
//! A [`Condition`] is compiled by [`Condition::compile`]; a syntax error
//! names its line and column. [`Condition::holds`] evaluates it against
//! the [`Facts`] of one request and says whether it holds: an expression
//! that does not give a boolean, or that reads a key the request does not
//! have, is an error, which the caller treats as a refusal (a policy that
//! cannot decide does not let a request through).
//!
//! The [`Redactor`] masks secrets in results by pattern (built-in ones for
//! common cloud keys, tokens and private keys, and the configuration's).
//!
//! The variables an expression can read are those of [`Facts`]:
//! `method`, `name`, `args`, `annotations`, `tenant`, `subject`,
//! `scopes` and `claims`. The expression language is the `cel` crate's;
//! nothing here parses expressions.

use std::fmt;
use std::sync::Arc;

mod redact;

pub use redact::{BUILTIN, MAX_PATTERN_BYTES, Redactor};

use serde_json::{Map, Value};

/// What a condition can read about one request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// `tools/call`, `resources/read` or `prompts/get`.
    pub method: &'a str,
    /// The tool's or prompt's name as the client names it, or the
    /// resource's URI.
    pub name: &'a str,
    /// The call's or prompt's arguments (an object; empty for reads).
    pub args: &'a Value,
    /// The tool's annotations (an object; empty when it has none, and
    /// for prompts and resources).
    pub annotations: &'a Value,
    /// The caller's tenant.
    pub tenant: &'a str,
    /// The caller's subject (a token's `sub`, an API key's id).
    pub subject: &'a str,
    /// The scopes the caller's token grants (none for API keys).
    pub scopes: &'a [String],
    /// Every claim of the caller's JWT (empty for API keys and anonymous
    /// callers).
    pub claims: &'a Map<String, Value>,
}

thread_local! {
    /// The CEL standard library (functions, macros): building it costs more
    /// than most evaluations.
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}

/// A compiled CEL expression that decides a request.
#[derive(Clone)]
pub struct Condition {
    source: Arc<str>,
    program: Arc<cel::Program>,
    reads_annotations: bool,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// Why an expression did not compile: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// The line of the first error, from 1.
    pub line: usize,
    /// Its column, from 1.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for CompileError {}

impl Condition {
    /// Compile `source`. An empty expression is an error.
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        if source.trim().is_empty() {
            return Err(CompileError {
                line: 1,
                column: 1,
                message: "the expression is empty".into(),
            });
        }
        let program = cel::Program::compile(source).map_err(|e| {
            let first = e.errors.first();
            let at = |n: isize| usize::try_from(n).unwrap_or(0).max(1);
            CompileError {
                line: first.map_or(1, |f| at(f.pos.0)),
                column: first.map_or(1, |f| at(f.pos.1)),
                message: first.map_or_else(|| e.to_string(), |f| f.msg.clone()),
            }
        })?;
        Ok(Self {
            source: Arc::from(source),
            reads_annotations: program.references().has_variable("annotations"),
            program: Arc::new(program),
        })
    }

    /// Whether the expression reads `annotations` (looking a tool's
    /// definition up is skipped when it does not).
    pub fn reads_annotations(&self) -> bool {
        self.reads_annotations
    }

    /// The expression as it was written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the condition holds for `facts`; an error says why it could
    /// not be decided (a missing key, a type mismatch, a result that is
    /// not a boolean).
    pub fn holds(&self, facts: &Facts<'_>) -> Result<bool, String> {
        // The standard library is built once per thread; each evaluation
        // adds its variables in a scope of its own.
        ROOT.with(|root| self.holds_in(root.new_inner_scope(), facts))
    }

    fn holds_in(&self, mut ctx: cel::Context<'_, '_>, facts: &Facts<'_>) -> Result<bool, String> {
        let add = |ctx: &mut cel::Context<'_, '_>, name: &str, value: &Value| {
            ctx.add_variable(name, value)
                .map_err(|e| format!("cannot read `{name}`: {e}"))
        };
        ctx.add_variable_from_value("method", facts.method.to_owned());
        ctx.add_variable_from_value("name", facts.name.to_owned());
        ctx.add_variable_from_value("tenant", facts.tenant.to_owned());
        ctx.add_variable_from_value("subject", facts.subject.to_owned());
        ctx.add_variable_from_value("scopes", facts.scopes.to_vec());
        add(&mut ctx, "args", facts.args)?;
        add(&mut ctx, "annotations", facts.annotations)?;
        ctx.add_variable("claims", facts.claims)
            .map_err(|e| format!("cannot read `claims`: {e}"))?;
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the expression gave {:?}, not a boolean",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;

// Conditions are shared by every request's task.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Condition>();
};
