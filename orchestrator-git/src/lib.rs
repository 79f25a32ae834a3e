//! `GixVcs`: the orchestrator's [`Vcs`](orchestrator_core::vcs::Vcs) over real git clones.
//!
//! # Why two engines
//!
//! * **Local reads use [gix](https://docs.rs/gix)** (gitoxide): where HEAD points, what a ref or
//!   tag resolves to, whether the work tree is dirty, a remote's URL, and creating annotated
//!   tags. These run in-process, need no `git` binary on the hot path, and are fast enough to
//!   check hundreds of clones in a preflight. gix is synchronous, so every call runs on tokio's
//!   blocking pool.
//! * **Commits and branch checkouts use the `git` command line too** (`commit_files`,
//!   `checkout_new_branch`): gix 0.90 writes objects and refs but cannot update the index and
//!   work tree as `git add`, `git commit` and `git checkout` do. History reads (`commits_since`)
//!   are a gix rev-walk.
//! * **Network operations use the `git` command line**: `fetch`, `ls-remote` and `push`. Users'
//!   SSH keys and agents, `~/.ssh/config`, `insteadOf` rewrites and credential helpers then work
//!   exactly as they do for `git` itself; we link no second TLS or SSH stack (gix is built
//!   without network transports); and gix 0.90 cannot push at all. Commands are spawned with an
//!   argument vector (never a shell), with `GIT_TERMINAL_PROMPT=0` so a missing credential
//!   fails instead of hanging, and git's own stderr ends up in the error.
//!
//! # Testing
//!
//! [`sandbox`] builds real repositories with bare origins in a temporary directory; the crate's
//! tests run the shared [`Vcs` conformance suite](orchestrator_core::conformance::vcs) against
//! [`GixVcs`] on them.

mod cli;
mod commit;
mod gix_vcs;
mod history;
mod network;
mod read;
pub mod sandbox;
mod status;
mod tags;
mod util;

pub use gix_vcs::GixVcs;
