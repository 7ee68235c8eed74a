//! A stdio upstream when things go wrong: cancellation, timeouts, crashes,
//! kill -9, garbage, killing the group, failed starts.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_upstream::{StdioSpec, StdioUpstream, UpstreamError};

/// Start a `hang` call on a task, once the fixture says it is hanging.
async fn hanging_call(
    up: &std::sync::Arc<StdioUpstream>,
    recorder: &Recorder,
) -> tokio::task::JoinHandle<Result<serde_json::Value, UpstreamError>> {
    let task = tokio::spawn({
        let up = up.clone();
        async move { call(&up, "hang", json!({})).await }
    });
    eventually("the fixture hangs", || recorder.logged("hanging")).await;
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_cancels_it_upstream() {
    let (up, recorder) = start(&fixture("drop")).await;
    let up = std::sync::Arc::new(up);
    let task = hanging_call(&up, &recorder).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let hung = all_hung_cancelled(&up).await;
    assert_eq!(hung.len(), 1);
    assert!(up.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_times_out_and_is_cancelled() {
    let (up, _) = start(&fixture("hang")).await;
    let params = json!({"name": "hang", "arguments": {}});
    let outcome = call_params(&up, params, Duration::from_millis(300)).await;
    assert_eq!(outcome, Err(UpstreamError::Timeout));
    all_hung_cancelled(&up).await;
    assert_eq!(call(&up, "count", json!({})).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_fails_calls_and_leaves_no_zombie() {
    let (up, recorder) = start(&fixture("kill9")).await;
    let up = std::sync::Arc::new(up);
    let pid = up.pid().unwrap();
    let task = hanging_call(&up, &recorder).await;
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let outcome = tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
    let Err(UpstreamError::Exited(status)) = outcome else {
        panic!("expected Exited, got {outcome:?}");
    };
    assert!(status.contains('9'), "{status}");
    assert!(!up.is_alive());
    assert_eq!(up.pid(), None);
    assert_eq!(
        tokio::time::timeout(BOUND, up.exited()).await.unwrap(),
        status
    );
    assert!(
        proc_state(pid).is_none_or(|s| s != 'Z'),
        "pid {pid} is a zombie"
    );
    // Later calls fail at once.
    let later = call(&up, "count", json!({})).await;
    assert_eq!(later, Err(UpstreamError::Exited(status)));
    assert!(up.notify("notifications/x", None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_call_is_exited() {
    let (up, _) = start(&fixture("crash")).await;
    let outcome = call(&up, "crash", json!({})).await;
    assert_eq!(outcome, Err(UpstreamError::Exited("exit status: 1".into())));
    assert!(!up.is_alive());
}

async fn cut_off(spec: StdioSpec, args: serde_json::Value) -> String {
    let (up, _) = start(&spec).await;
    let pid = up.pid().unwrap();
    let outcome = call(&up, "garbage", args).await;
    let Err(UpstreamError::Misbehaving(reason)) = outcome else {
        panic!("expected Misbehaving, got {outcome:?}");
    };
    tokio::time::timeout(BOUND, up.exited()).await.unwrap();
    assert!(!up.is_alive());
    eventually("the process is gone", || dead(pid)).await;
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_beyond_the_limit_cuts_the_process_off() {
    let mut spec = fixture("garbage");
    spec.max_garbage = 3;
    let reason = cut_off(spec, json!({"lines": 10})).await;
    assert!(reason.contains("4 invalid lines"), "{reason}");

    let mut spec = fixture("long-lines");
    spec.max_line_bytes = 1024;
    spec.max_garbage = 2;
    let reason = cut_off(spec, json!({"lines": 5, "long": true, "size": 5000})).await;
    assert!(reason.contains("longer than 1024 bytes"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn some_garbage_is_tolerated() {
    let (up, _) = start(&fixture("tolerated")).await;
    let answer = call(&up, "garbage", json!({"lines": 16})).await.unwrap();
    assert_eq!(answer, "survived");
    let answer = call(&up, "garbage", json!({"lines": 0})).await.unwrap();
    assert_eq!(answer, "survived", "the count is per process, not per call");
    assert!(up.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_takes_the_whole_group() {
    let (up, recorder) = start(&fixture("group")).await;
    let up = std::sync::Arc::new(up);
    let grandchild = call(&up, "spawn_child", json!({})).await.unwrap();
    let grandchild = u32::try_from(grandchild.as_u64().unwrap()).unwrap();
    assert!(!dead(grandchild), "sleep 300 runs");
    let task = hanging_call(&up, &recorder).await;

    tokio::time::timeout(BOUND, up.kill()).await.unwrap();
    assert!(!up.is_alive());
    let outcome = task.await.unwrap();
    assert!(
        matches!(outcome, Err(UpstreamError::Exited(ref s)) if s.contains('9')),
        "{outcome:?}"
    );
    // Reaping the orphan is its new parent's job: a zombie is dead enough.
    eventually("the grandchild is gone", || dead(grandchild)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_kills_the_process() {
    let (up, _) = start(&fixture("dropped")).await;
    let pid = up.pid().unwrap();
    drop(up);
    eventually("the dropped upstream's process is gone", || dead(pid)).await;
}

async fn start_error(spec: &StdioSpec) -> UpstreamError {
    let recorder = std::sync::Arc::new(Recorder::default());
    let started = StdioUpstream::start(spec, json!({}), json!({"name": "t"}), recorder);
    match tokio::time::timeout(BOUND, started).await.unwrap() {
        Ok(up) => panic!("{up:?} should not have started"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_starts_say_why() {
    let spec = StdioSpec::new("missing", "/nonexistent/mcp-server");
    let e = start_error(&spec).await;
    assert!(
        matches!(&e, UpstreamError::Spawn(m) if m.contains("/nonexistent")),
        "{e}"
    );

    let spec = StdioSpec::new("exits", "python3").with_args(["-c", "import sys; sys.exit(3)"]);
    let e = start_error(&spec).await;
    assert!(
        matches!(&e, UpstreamError::Init(m) if m.contains("exit status: 3")),
        "{e}"
    );

    let mut spec = StdioSpec::new("silent", "sleep").with_args(["60"]);
    spec.init_timeout = Duration::from_millis(300);
    let e = start_error(&spec).await;
    assert!(
        matches!(&e, UpstreamError::Init(m) if m.contains("no answer")),
        "{e}"
    );
}
