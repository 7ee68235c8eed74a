//! `switchboard import FILE`: an `mcpServers` JSON file (Claude Desktop,
//! Cursor, VS Code) as the equivalent `[[upstreams]]` TOML, for those who
//! go on in TOML.

use std::path::PathBuf;

use clap::Args;
use switchboard_server::mcp_servers;

/// Print the `[[upstreams]]` TOML of an `mcpServers` JSON file.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The JSON file (`claude_desktop_config.json`, `.vscode/mcp.json`, …).
    file: PathBuf,
    /// Write the values of `env` and `headers` as they are in the file
    /// (they may be credentials). By default each becomes a reference to
    /// an environment variable, listed in a comment.
    #[arg(long)]
    inline_secrets: bool,
}

pub(crate) fn run(args: ImportArgs) -> Result<(), String> {
    let servers = mcp_servers::read(&args.file)?;
    for w in &servers.warnings {
        eprintln!("switchboard import: {w}");
    }
    let (toml, vars) = servers.to_toml(args.inline_secrets);
    println!("# Imported from {}.", args.file.display());
    if !vars.is_empty() {
        println!("# Set these environment variables: {}.", vars.join(", "));
    }
    print!("\n{toml}");
    Ok(())
}
