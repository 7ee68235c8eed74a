//! Aligned text tables of the admin API's answers.

use std::fmt::Write;

use serde_json::Value;

/// Rows under a header, each column as wide as its widest cell.
pub(super) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, w) in cells.zip(&widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `1h02m`, `5m07s`, `42s`.
fn duration(v: &Value) -> String {
    let Some(s) = v.as_u64() else {
        return "-".to_owned();
    };
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `GET /sessions` as a table, with a count under it.
pub(super) fn sessions(body: &Value) -> String {
    let list = body["sessions"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                text(&s["id"]),
                text(&s["tenant"]),
                text(&s["principal"]),
                text(&s["era"]),
                duration(&s["age_secs"]),
                duration(&s["idle_secs"]),
                text(&s["open_streams"]),
                text(&s["in_flight"]),
                text(&s["requests"]),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "ID",
            "TENANT",
            "PRINCIPAL",
            "ERA",
            "AGE",
            "IDLE",
            "STREAMS",
            "IN-FLIGHT",
            "REQUESTS",
        ],
        &rows,
    );
    let _ = writeln!(
        out,
        "{} of {} sessions on node {}",
        rows.len(),
        text(&body["total"]),
        text(&body["node"])
    );
    out
}

/// `GET /sessions/{id}` as `key: value` lines.
pub(super) fn session(s: &Value) -> String {
    let procs: Vec<String> = s["upstream_processes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| format!("{} (pid {})", text(&p["upstream"]), text(&p["pid"])))
                .collect()
        })
        .unwrap_or_default();
    let client = match &s["client"] {
        Value::Object(c) if !c.is_empty() => format!(
            "{} {}",
            text(&s["client"]["name"]),
            text(&s["client"]["version"])
        ),
        _ => "-".to_owned(),
    };
    let rows: Vec<Vec<String>> = [
        ("id", text(&s["id"])),
        ("node", text(&s["node"])),
        ("tenant", text(&s["tenant"])),
        ("principal", text(&s["principal"])),
        ("era", text(&s["era"])),
        ("client", client),
        ("age", duration(&s["age_secs"])),
        ("idle", duration(&s["idle_secs"])),
        ("open streams", text(&s["open_streams"])),
        ("in flight", text(&s["in_flight"])),
        ("requests", text(&s["requests"])),
        (
            "upstream processes",
            if procs.is_empty() {
                "-".to_owned()
            } else {
                procs.join(", ")
            },
        ),
    ]
    .into_iter()
    .map(|(k, v)| vec![format!("{k}:"), v])
    .collect();
    let table = render(&["", ""], &rows);
    // No header row for a record.
    table.lines().skip(1).map(|l| format!("{l}\n")).collect()
}

/// An upstream's pins: one row per tool (its state and digests), then the
/// diff of every changed one.
pub(super) fn pins(body: &Value) -> String {
    let short = |d: &Value| text(d).chars().take(12).collect::<String>();
    let pins = body["pins"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = pins
        .iter()
        .map(|p| {
            vec![
                text(&p["tool"]),
                text(&p["state"]),
                short(&p["approved"]["digest"]),
                short(&p["pending"]["digest"]),
            ]
        })
        .collect();
    let mut out = format!(
        "upstream {} (pinning = {})\n",
        text(&body["upstream"]),
        text(&body["pinning"])
    );
    out.push_str(&render(&["TOOL", "STATE", "APPROVED", "PENDING"], &rows));
    for p in &pins {
        if p["state"] != "approved" {
            let _ = write!(
                out,
                "\n{} ({}), pending digest {}:\n",
                text(&p["tool"]),
                text(&p["state"]),
                text(&p["pending"]["digest"])
            );
            match p["diff"].as_str() {
                Some(diff) => out.push_str(diff),
                None => {
                    let pending = &p["pending"]["definition"];
                    out.push_str(&serde_json::to_string_pretty(pending).unwrap_or_default());
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let out = render(
            &["A", "LONG HEADER"],
            &[
                vec!["wide cell".into(), "x".into()],
                vec!["y".into(), "z".into()],
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "A          LONG HEADER");
        assert_eq!(lines[1], "wide cell  x");
        assert_eq!(lines[2], "y          z");
        assert_eq!(duration(&Value::from(3725)), "1h02m");
        assert_eq!(duration(&Value::from(65)), "1m05s");
    }
}
