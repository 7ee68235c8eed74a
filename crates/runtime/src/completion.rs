//! `completion/complete`: argument values offered for prompts and templates.

use serde_json::{Value, json};
use switchboard_proto::RpcError;
use switchboard_proto::params::{Completion, Reference};

use crate::caller::Access;
use crate::catalog::Catalog;

/// At most this many values are returned (the spec's limit).
const MAX_VALUES: usize = 100;

impl Catalog {
    pub(crate) fn complete(&self, p: &Completion, access: &dyn Access) -> Result<Value, RpcError> {
        let candidates = match &p.reference {
            Reference::Prompt { name } => {
                let prompt = self
                    .prompt_index
                    .get(name)
                    .map(|&i| &self.prompts[i])
                    .filter(|_| access.prompt(name))
                    .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
                prompt.completions.get(&p.argument.name)
            }
            Reference::Resource { uri } => {
                let template = self
                    .templates
                    .iter()
                    .find(|t| t.uri_template() == uri && access.resource(uri))
                    .ok_or_else(|| {
                        RpcError::invalid_params(format!("unknown resource template: {uri}"))
                    })?;
                template.completions.get(&p.argument.name)
            }
        };
        let matching: Vec<&String> = candidates
            .into_iter()
            .flatten()
            .filter(|v| v.starts_with(&p.argument.value))
            .collect();
        let total = matching.len();
        let values: Vec<&String> = matching.into_iter().take(MAX_VALUES).collect();
        Ok(json!({"completion": {"values": values, "total": total, "hasMore": total > MAX_VALUES}}))
    }
}
