//! `orchestrator run`: ordered step pipelines with apply and delete flows and layered env files
//! (seed 001's `run.sh`, without its leaks and with `--resume`).
//!
//! [`plan_pipeline`] loads the env layers ([`env::resolve_env`]), decides every step of the flow
//! ([`plan::select_steps`], pure) and checks that each selected program exists, changing nothing:
//! that is `--dry-run`, and every problem it finds is bad input (exit 2) before anything runs.
//! [`PipelineRunner::execute`] runs the selected steps one after another on the engine,
//! journaled under run kind [`RUN_KIND`] and the pipeline's name, so `--resume` starts at the
//! first step that did not finish.
//!
//! One concept per file: the request (`request`), the plan it becomes (`planned`) and how
//! (`prepare`), the run (`run`), what a run records (`params`) and which run `--resume`
//! continues (`resume`).

pub mod builtin;
pub mod command;
pub mod condition;
pub mod config;
pub mod env;
pub mod envfile;
pub mod group;
pub mod plan;

mod params;
mod planned;
mod prepare;
mod program;
mod request;
mod resume;
mod run;

pub use builtin::{BuiltinAction, line_diff};
pub use command::{CommandOutcome, CommandSpec, run_command, run_command_scanned};
pub use condition::{Condition, ConditionTest, is_truthy};
pub use env::{LayerReport, REDACTED, ResolvedEnv, VarSource, looks_secret, resolve_env};
pub use params::{PipelineParams, RUN_KIND};
pub use plan::{OnlySelection, StepDecision, mode_name, select_steps};
pub use planned::{PipelinePlan, PlannedPipelineStep, VariableView};
pub use prepare::plan_pipeline;
pub(crate) use program::find_program;
pub use request::{INHERITED_LOCK_VAR, OrchestratorProgram, PipelineRequest, process_env};
pub use run::{PipelineReport, PipelineRunner, PipelineStepReport};
