//! The job a repo adds to its own CI so a green push to its default branch notifies the
//! orchestrator repo (`repository_dispatch`). Unlike seed 004's snippet it never runs under
//! `always()`: `needs` plus the default `success()` means it fires only when every job it needs
//! succeeded.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::forge::RepoId;
use crate::publish::config::event_type_of;

/// The YAML job for `repo`, dispatching to `orchestrator_repo`; `needs` are the jobs that must
/// succeed first.
pub fn ci_snippet(
    config: &Config,
    repo: &str,
    orchestrator_repo: &RepoId,
    needs: &[String],
) -> Result<String> {
    let r = config.repo(repo).ok_or_else(|| {
        Error::invalid_input(format!(
            "unknown repo {repo:?} (configured: {})",
            config.graph.names().join(", ")
        ))
    })?;
    let event_type = event_type_of(&r.name, &r.publish);
    let branch = r.publish.branch();
    let needs = if needs.is_empty() {
        vec!["test".to_owned()]
    } else {
        needs.to_vec()
    };
    // Each is pasted into YAML as a job id: an empty one would leave the job ungated, and a
    // newline or a bracket would inject YAML. GitHub's job ids: a letter or `_`, then letters,
    // digits, `-` and `_`.
    for job in &needs {
        let mut chars = job.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(Error::invalid_input(format!(
                "--needs: invalid job id {job:?}: expected a letter or _, then letters, digits, - or _"
            )));
        }
    }
    Ok(format!(
        r#"  # Notifies {orchestrator_repo} after a green push to {branch}; paste under `jobs:`.
  # Runs only when every job in `needs` succeeded (the default success() gate): a red build
  # triggers nothing.
  trigger-orchestrator:
    needs: [{needs}]
    if: github.event_name == 'push' && github.ref == 'refs/heads/{branch}'
    runs-on: ubuntu-latest
    steps:
      - name: Notify the orchestrator
        uses: actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea # v7.0.1
        with:
          github-token: ${{{{ secrets.ORCHESTRATOR_DISPATCH_TOKEN }}}}
          script: |
            await github.rest.repos.createDispatchEvent({{
              owner: '{owner}',
              repo: '{name}',
              event_type: '{event_type}',
              client_payload: {{ repo: '{repo}', ref: context.ref, sha: context.sha }},
            }});
"#,
        needs = needs.join(", "),
        owner = orchestrator_repo.owner,
        name = orchestrator_repo.name,
        repo = r.name,
    ))
}
