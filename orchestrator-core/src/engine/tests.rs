//! Engine behaviour over test steps and the in-memory store.

use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::state::MemoryStateStore;
use crate::step::StepOutput;

/// When each probe started and ended.
type Log = Arc<Mutex<Vec<(String, &'static str, Instant)>>>;

/// A step that sleeps, records when it ran, and can fail; its effect is a flag `check` reads.
#[derive(Debug)]
struct Probe {
    id: String,
    fail: bool,
    delay: Duration,
    log: Log,
    applied: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Step for Probe {
    fn id(&self) -> &str {
        &self.id
    }
    fn describe(&self) -> String {
        format!("probe {}", self.id)
    }
    async fn check(&self, _ctx: &StepContext) -> Result<Check> {
        let done = self.applied.lock().expect("lock").contains(&self.id);
        Ok(if done {
            Check::Done("flag set".into())
        } else {
            Check::Pending("flag unset".into())
        })
    }
    async fn apply(&self, ctx: &StepContext) -> Result<StepOutput> {
        self.log
            .lock()
            .expect("lock")
            .push((self.id.clone(), "start", Instant::now()));
        ctx.sleep(self.delay).await?;
        self.log
            .lock()
            .expect("lock")
            .push((self.id.clone(), "end", Instant::now()));
        if self.fail {
            return Err(Error::Transient {
                message: "boom".into(),
            });
        }
        self.applied.lock().expect("lock").push(self.id.clone());
        Ok(StepOutput::summary(format!("{} done", self.id)))
    }
}

struct Harness {
    log: Log,
    applied: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    fn new() -> Self {
        Self {
            log: Arc::default(),
            applied: Arc::default(),
        }
    }
    fn plan(&self, spec: &[(&str, &[&str], bool)]) -> Plan {
        Plan::new(
            spec.iter()
                .map(|(id, after, fail)| PlannedStep {
                    step: Arc::new(Probe {
                        id: (*id).into(),
                        fail: *fail,
                        delay: Duration::from_millis(40),
                        log: self.log.clone(),
                        applied: self.applied.clone(),
                    }),
                    after: after.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        )
        .expect("valid plan")
    }
    fn time(&self, id: &str, what: &str) -> Instant {
        self.log
            .lock()
            .expect("lock")
            .iter()
            .find(|(i, w, _)| i == id && *w == what)
            .map(|(_, _, t)| *t)
            .expect("logged")
    }
}

const DIAMOND: &[(&str, &[&str], bool)] = &[
    ("base", &[], false),
    ("left", &["base"], false),
    ("right", &["base"], false),
    ("top", &["left", "right"], false),
];

#[tokio::test]
async fn diamond_respects_order_and_overlaps_independent_steps() {
    let h = Harness::new();
    let store = Arc::new(MemoryStateStore::default());
    let run = store
        .begin_run("test", "k", &serde_json::Value::Null)
        .await
        .expect("begin");
    let report = Engine::new(store.clone(), EngineOptions::default())
        .run(&h.plan(DIAMOND), run)
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(h.time("left", "start") >= h.time("base", "end"));
    assert!(h.time("top", "start") >= h.time("left", "end").max(h.time("right", "end")));
    // Overlap: each side started before the other ended.
    assert!(
        h.time("left", "start") < h.time("right", "end")
            && h.time("right", "start") < h.time("left", "end")
    );
    let journal = store.journal(run).await.expect("journal");
    assert_eq!(journal.len(), 9, "4 x (started, succeeded) + finished");
}

#[tokio::test]
async fn concurrency_one_serialises() {
    let h = Harness::new();
    let store = Arc::new(MemoryStateStore::default());
    let run = store
        .begin_run("test", "k", &serde_json::Value::Null)
        .await
        .expect("begin");
    let options = EngineOptions {
        concurrency: 1,
        ..EngineOptions::default()
    };
    Engine::new(store, options)
        .run(&h.plan(DIAMOND), run)
        .await
        .expect("run");
    let (l, r) = ("left", "right");
    assert!(h.time(r, "start") >= h.time(l, "end") || h.time(l, "start") >= h.time(r, "end"));
}

#[tokio::test]
async fn failure_blocks_only_dependents() {
    let h = Harness::new();
    let store = Arc::new(MemoryStateStore::default());
    let run = store
        .begin_run("test", "k", &serde_json::Value::Null)
        .await
        .expect("begin");
    let plan = h.plan(&[
        ("a", &[], true),
        ("b", &["a"], false),
        ("c", &["b"], false),
        ("x", &[], false),
    ]);
    let report = Engine::new(store, EngineOptions::default())
        .run(&plan, run)
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.step("a").expect("a").status, StepStatus::Failed);
    assert_eq!(
        report.step("b").expect("b").status,
        StepStatus::Blocked { by: "a".into() }
    );
    assert_eq!(
        report.step("c").expect("c").status,
        StepStatus::Blocked { by: "a".into() }
    );
    assert_eq!(report.step("x").expect("x").status, StepStatus::Succeeded);
}

#[tokio::test]
async fn resume_skips_journaled_steps_and_checks_the_rest() {
    let h = Harness::new();
    let store = Arc::new(MemoryStateStore::default());
    let run = store
        .begin_run("test", "k", &serde_json::Value::Null)
        .await
        .expect("begin");
    // An earlier attempt journaled `base`, and applied `left` without journaling it (a crash).
    store
        .append(
            run,
            &JournalEntry::StepSucceeded {
                step: "base".into(),
                summary: String::new(),
                data: serde_json::Value::Null,
            },
        )
        .await
        .expect("append");
    h.applied.lock().expect("lock").push("left".into());
    let report = Engine::new(store, EngineOptions::default())
        .run(&h.plan(DIAMOND), run)
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(
        report.step("base").expect("base").status,
        StepStatus::AlreadyDone
    );
    assert_eq!(
        report.step("left").expect("left").status,
        StepStatus::AlreadyDone
    );
    let starts: Vec<String> = h
        .log
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, w, _)| *w == "start")
        .map(|(i, _, _)| i.clone())
        .collect();
    assert_eq!(
        starts,
        vec!["right", "top"],
        "only the unfinished steps applied"
    );
}

#[tokio::test]
async fn cancel_interrupts_running_steps_and_journals_it() {
    let h = Harness::new();
    let store = Arc::new(MemoryStateStore::default());
    let run = store
        .begin_run("test", "k", &serde_json::Value::Null)
        .await
        .expect("begin");
    let engine = Engine::new(store.clone(), EngineOptions::default());
    let cancel = engine.cancel_token().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        cancel.cancel();
    });
    let report = engine.run(&h.plan(DIAMOND), run).await.expect("run");
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(
        report.step("base").expect("base").status,
        StepStatus::Interrupted
    );
    assert!(!report.step("top").expect("top").status.is_done());
    let last = store
        .journal(run)
        .await
        .expect("journal")
        .pop()
        .expect("entries");
    assert_eq!(
        last.entry,
        JournalEntry::RunFinished {
            status: RunStatus::Cancelled
        }
    );
}

#[test]
fn plans_reject_cycles_and_unknown_steps() {
    let h = Harness::new();
    let err = Plan::new(vec![PlannedStep {
        step: Arc::new(Probe {
            id: "a".into(),
            fail: false,
            delay: Duration::ZERO,
            log: h.log.clone(),
            applied: h.applied.clone(),
        }),
        after: vec!["ghost".into()],
    }])
    .expect_err("unknown");
    assert!(err.to_string().contains("ghost"), "{err}");
}
