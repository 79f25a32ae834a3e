//! # orchestrator-core
//!
//! The domain of the orchestrator: configuration, versions, the dependency graph, the planners,
//! the step engine and its journal, and the traits every backend implements. It performs no
//! network or git I/O itself, so a bot, a dashboard or a controller can embed the same release
//! logic the `orchestrator` CLI runs, with backends of its choosing.
//!
//! ## Why traits
//! Each capability talks to the outside world through one small, object-safe trait held as
//! `Arc<dyn _>`:
//! - [`forge::Forge`]: releases and assets, workflow runs, pull requests, issues and comments,
//!   file contents, permissions; one capability trait each ([`forge::ReleaseForge`],
//!   [`forge::WorkflowForge`]...), so a backend of your own implements only what the features
//!   you use need. Backends: [`forge::InMemoryForge`] here (a real implementation with simulated
//!   CI and fault injection), `GitHubForge` in `orchestrator-github`.
//! - [`vcs::Vcs`]: local clones and their `origin`. Backend: `GixVcs` in `orchestrator-git`.
//! - [`step::Step`]: one unit of work with a read-only `check` (is the effect already there?) and
//!   `apply`. Features are planners that turn a request into a [`engine::Plan`] of steps; the
//!   [`engine::Engine`] runs any plan with bounded concurrency and journals every transition in a
//!   [`state::StateStore`], which is what makes `--resume` safe after a crash.
//! - [`cluster::Cluster`]: Kubernetes workloads and HPAs for scaling plans ([`scale`]). Backends:
//!   [`cluster::InMemoryCluster`] here (also a YAML state file for rehearsals), `KubeCluster` in
//!   `orchestrator-k8s`.
//!
//! Every backend runs the same executable contract in [`conformance`], so the in-memory
//! backends used by tests behave like the real ones.
//!
//! ## A first example: a custom step on the engine
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use orchestrator_core::engine::{Engine, EngineOptions, Plan, PlannedStep, StepStatus};
//! use orchestrator_core::state::{MemoryStateStore, StateStore};
//! use orchestrator_core::step::{Check, Step, StepContext, StepOutput};
//!
//! #[derive(Debug)]
//! struct Greet(&'static str);
//!
//! #[async_trait]
//! impl Step for Greet {
//!     fn id(&self) -> &str { self.0 }
//!     fn describe(&self) -> String { format!("greet {}", self.0) }
//!     async fn check(&self, _: &StepContext) -> orchestrator_core::Result<Check> {
//!         Ok(Check::Pending("not greeted yet".into()))
//!     }
//!     async fn apply(&self, _: &StepContext) -> orchestrator_core::Result<StepOutput> {
//!         Ok(StepOutput::summary(format!("hello, {}", self.0)))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(MemoryStateStore::default());
//! let plan = Plan::new(vec![
//!     PlannedStep { step: Arc::new(Greet("proto")), after: vec![] },
//!     PlannedStep { step: Arc::new(Greet("server")), after: vec!["proto".into()] },
//! ])?;
//! let run = store.begin_run("greet", "demo", &serde_json::Value::Null).await?;
//! let engine = Engine::new(store.clone(), EngineOptions::default());
//! let report = engine.run(&plan, run).await?;
//! assert!(report.steps.iter().all(|s| s.status == StepStatus::Succeeded));
//! // Running the same run again: the journal says everything is done; nothing is applied twice.
//! let again = engine.run(&plan, run).await?;
//! assert!(again.steps.iter().all(|s| s.status == StepStatus::AlreadyDone));
//! # Ok::<(), orchestrator_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! A whole capability is embedded through one session, [`workspace::Workspace`]: it opens the
//! state store, takes the workspace lock, builds the forge from `[forge]`, checks credentials
//! before any effect, owns the Ctrl-C token, and drives every capability as a
//! [`workspace::Workflow`]; see `examples/workspace_guarantees.rs` in the repository. The
//! runners underneath ([`release::Releaser`], `examples/release_in_memory.rs`) take the backends
//! they are given and nothing more.

pub mod cluster;
pub mod config;
pub mod conformance;
pub mod engine;
pub mod error;
pub mod forge;
pub mod graph;
pub mod pipeline;
pub mod publish;
pub mod redact;
pub mod release;
pub mod scale;
pub mod secret;
pub mod seeds;
pub mod state;
pub mod step;
pub mod tasks;
#[cfg(all(unix, any(test, feature = "test-support")))]
pub mod testing;
pub mod time;
pub mod vcs;
pub mod version;
pub mod workspace;

pub use error::{Error, PreflightFailure, Result};
