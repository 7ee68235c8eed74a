//! Reading the node's own Prometheus exposition back as numbers, so the
//! admin API shows the counters `/metrics` has (requests, latencies,
//! rejections) without keeping a second set on the hot path.

use std::collections::BTreeMap;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) value: f64,
}

impl Sample {
    pub(super) fn label(&self, key: &str) -> &str {
        self.labels.get(key).map_or("", String::as_str)
    }
}

/// Every sample of the text exposition (comments skipped).
pub(super) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.trim().parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)),
        None => (head, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (values without quotes or commas inside, as ours are).
fn labels(text: &str) -> BTreeMap<String, String> {
    text.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim_matches('"').to_owned()))
        })
        .collect()
}

/// The sum of the samples named `name` whose labels match `filter`.
pub(super) fn sum(samples: &[Sample], name: &str, filter: impl Fn(&Sample) -> bool) -> u64 {
    samples
        .iter()
        .filter(|s| s.name == name && filter(s))
        .map(|s| s.value)
        .sum::<f64>() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_and_values() {
        let text = "# HELP x y\nswitchboard_requests_total{method=\"tools/call\",outcome=\"ok\"} 3\n\
                    switchboard_in_flight 2\nswitchboard_request_duration_seconds_bucket{le=\"0.5\",method=\"ping\"} 7\n";
        let s = parse(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label("method"), "tools/call");
        assert_eq!(s[0].label("outcome"), "ok");
        assert_eq!(s[1].value, 2.0);
        assert_eq!(s[2].label("le"), "0.5");
        assert_eq!(sum(&s, "switchboard_requests_total", |_| true), 3);
    }
}
