//! Every scenario, briefly, in both eras, against an in-process Switchboard.
//! Asserts only on counts (work done, nothing failed), never on timing.

use clap::Parser;
use switchboard_bench::{BenchArgs, Report, run};
use switchboard_testkit::TestServer;

/// Run `scenario` with `extra` options for 1 s against a fresh server.
async fn bench(era: &str, scenario: &str, extra: &[&str]) -> Report {
    let server = TestServer::start().await;
    let url = server.url();
    let pid = std::process::id().to_string();
    let mut argv = vec![
        "bench",
        scenario,
        "--url",
        &url,
        "--era",
        era,
        "--duration",
        "1s",
        "--timeout",
        "5s",
        "--pid",
        &pid,
        "--no-progress",
    ];
    argv.extend_from_slice(extra);
    let args = BenchArgs::try_parse_from(argv).expect("arguments");
    let report = run(args).await.expect("bench run");
    server.stop().await;
    assert_eq!(report.scenario, scenario);
    assert_eq!(report.era, era);
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(report.rejections, 0, "{report}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON line");
    assert_eq!(json["scenario"], scenario);
    report
}

fn assert_did_work(report: &Report) {
    assert!(report.ok > 0, "{report}");
    let latency = report.latency_us.as_ref().expect("latency percentiles");
    assert_eq!(latency.count, report.ok);
    assert!(latency.p50 <= latency.p99 && latency.p99 <= latency.max);
    let server = report.server.as_ref().expect("--pid readings");
    assert!(server.rss_after_kib > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_both_eras() {
    for era in ["legacy", "modern"] {
        let r = bench(era, "calls", &["--sessions", "4"]).await;
        assert_did_work(&r);
        assert_eq!(r.operation, "tools/call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_stop_at_max_calls() {
    let r = bench("legacy", "calls", &["--sessions", "3", "--max-calls", "10"]).await;
    assert_eq!(r.ok, 10, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_in_both_eras_with_and_without_streams() {
    for era in ["legacy", "modern"] {
        for streams in [false, true] {
            let mut extra = vec!["--sessions", "20", "--sample", "5", "--concurrency", "4"];
            if streams {
                extra.push("--streams");
            }
            let r = bench(era, "idle", &extra).await;
            assert_did_work(&r);
            let idle = r.idle.as_ref().expect("idle details");
            assert_eq!(idle.sessions_opened, 20, "{r}");
            assert_eq!((idle.sample, idle.sample_ok), (5, 5), "{r}");
            let want = if streams { 20 } else { 0 };
            assert_eq!(
                (idle.streams_opened, idle.streams_alive),
                (want, want),
                "{r}"
            );
            let server = r.server.as_ref().expect("server");
            assert!(server.rss_delta_per_session_bytes.is_some());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_cycles_sessions_and_is_not_applicable_to_modern() {
    let r = bench("legacy", "setup", &["--concurrency", "3"]).await;
    assert_did_work(&r);
    let r = bench(
        "legacy",
        "setup",
        &["--concurrency", "2", "--max-cycles", "7"],
    )
    .await;
    assert_eq!(r.ok, 7, "{r}");
    let r = bench("modern", "setup", &[]).await;
    assert_eq!(r.ok, 0);
    assert!(
        r.note.as_deref().unwrap_or("").contains("not applicable"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_in_both_eras() {
    for era in ["legacy", "modern"] {
        let r = bench(era, "overload", &["--clients", "30"]).await;
        assert_did_work(&r);
        assert_eq!(r.clients, 30);
    }
    // With a warm-up, calls made after it are measured.
    let r = bench(
        "legacy",
        "overload",
        &["--clients", "30", "--warmup", "200ms"],
    )
    .await;
    assert_did_work(&r);
}

#[tokio::test]
async fn refuses_remote_targets_and_bad_arguments() {
    let args = BenchArgs::try_parse_from(["bench", "calls", "--url", "http://10.0.0.1:9/mcp"])
        .expect("arguments");
    let err = run(args).await.expect_err("remote refused");
    assert!(err.contains("loopback"), "{err}");
    let args = BenchArgs::try_parse_from(["bench", "calls", "--arguments", "[1]"]).expect("args");
    assert!(run(args).await.is_err());
}
