//! `switchboard completions SHELL` and `switchboard man DIR`: shell
//! completions and man pages, generated from the command line itself
//! (`clap_complete`, `clap_mangen`), so they cannot drift from it.

use std::path::PathBuf;

use clap::{Args, Command};

/// Print the completion script of a shell.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Write the man pages.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The directory to write them to: `switchboard.1`, and
    /// `switchboard-<command>.1` for each command.
    dir: PathBuf,
}

pub(crate) fn completions(args: CompletionsArgs, mut cli: Command) -> Result<(), String> {
    clap_complete::generate(args.shell, &mut cli, "switchboard", &mut std::io::stdout());
    Ok(())
}

pub(crate) fn man(args: ManArgs, cli: Command) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut pages = vec![("switchboard".to_owned(), cli.clone())];
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("switchboard-{}", sub.get_name());
        // The page's title; this command runs once per process.
        let title: &'static str = Box::leak(name.clone().into_boxed_str());
        pages.push((name, sub.clone().name(title)));
    }
    for (name, page) in pages {
        let path = args.dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
