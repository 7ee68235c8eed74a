//! The built-in `everything` toolset.
//!
//! It holds every fixture the official MCP conformance suite exercises
//! (`test_*` tools, `test://…` resources and template, `test_*` prompts),
//! `echo`, and a few tools a person trying Switchboard would enjoy. It is
//! also the reference example of the tools API.

#![warn(missing_docs)]

mod fixtures;
mod media;
mod prompts;
mod resources;
mod stateless;
mod tasks;
mod toys;

use switchboard_runtime::CatalogBuilder;

/// A catalog builder holding the whole `everything` toolset.
pub fn everything() -> CatalogBuilder {
    // The conformance fixtures first: clients and suites that pick "the
    // first tool" get a harmless one.
    let b = CatalogBuilder::new();
    let b = fixtures::register(b);
    let b = stateless::register(b);
    let b = tasks::register(b);
    let b = toys::register(b);
    let b = resources::register(b);
    prompts::register(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_without_duplicates() {
        let catalog = super::everything().build().expect("unique names");
        for name in [
            "echo",
            "test_simple_text",
            "test_sampling",
            "json_schema_2020_12_tool",
        ] {
            assert!(catalog.tool(name).is_some(), "{name}");
        }
        assert!(catalog.has_resource("test://static-text"));
        assert!(catalog.has_resource("test://template/123/data"));
    }
}
