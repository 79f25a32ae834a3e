//! The text after each command's options in `--help` (and in the man pages): examples, exit codes,
//! environment. Kept in one place so every command, nested ones included, gets both, and a test
//! can insist on it.

use clap::Command;

/// The environment every command reads.
const ENVIRONMENT: &str = "\
Environment:
  GITHUB_TOKEN, else GH_TOKEN   forge token (read only from the environment, never printed)
  ORCHESTRATOR_FORGE_URL        overrides [forge] api_url
  ORCHESTRATOR_STATE_DIR        the state directory, as --state-dir
  ORCHESTRATOR_CONFIG           the config file, as --config
  ORCHESTRATOR_OUTPUT           human or json, as --output
  NO_COLOR                      no colour on stderr (unless --color always)
  ORCHESTRATOR_LOG              log filter (e.g. debug), as with -v";

/// Exit codes of a command that acts and journals.
const ACTING_EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the run failed, timed out or was interrupted (the journal says where; --resume continues)
  2  bad input (config, version, flags) or failed preflight: nothing was changed";

/// Exit codes of a command that only reads or prints.
const READING_EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the forge or the state store could not be read
  2  bad input (config, flags): nothing was changed";

/// One command's examples and its exit codes.
struct Page {
    /// The command's path below `orchestrator`, e.g. `["scale", "plan"]`.
    path: &'static [&'static str],
    /// Example command lines, each with a comment saying what it does.
    examples: &'static str,
    /// The exit codes section (with its heading).
    exit_codes: &'static str,
    /// Extra prose placed before the examples, if any.
    notes: &'static str,
}

const RUN_NOTES: &str = "\
Environment, lowest precedence first:
  1. the process environment
  2. the pipeline's env_files, in order (a layer with skip_if = \"PROFILE_EXCLUSIVE\" is skipped
     when that variable is true); each file overrides what is below it, as `source` does in sh;
     write ${VAR:-default} in a file to let the environment win
  3. --profile FILE
Steps see all of it. ONLY is the fallback for --only. Values from secret layers and variables
named like *TOKEN*, *SECRET*, *PASSWORD*, *KEY* are printed as [redacted].";

const TASKS_NOTES: &str = "\
Each task's gate (enabled = \"ENABLE_INFRA_SCALE=1\") is read from the process environment;
SKIP_TASKS (comma or space separated) and --skip skip tasks by name. Skipped tasks are recorded as
skipped. A task's record takes outputs_uri= from its output (else the first pull-request URL) and
its final status word (succeeded, awaiting_approval, failed...).

--resume continues the newest unfinished run of the list (failed, interrupted or killed) under
its run id: tasks it finished keep their records and do not run again; the others run, with
today's gates and skips, and their new records supersede the old ones (runs show <id> lists
every attempt). With nothing unfinished it says so and starts a new run. A list whose task names
or order changed since that run began is refused.";

const PAGES: &[Page] = &[
    Page {
        path: &[],
        examples: "\
  orchestrator demo                                  # a full release against a mock GitHub, offline
  orchestrator config check                          # validate orchestrator.toml, show the waves
  orchestrator release --version 1.2.3 --dry-run     # preflight and plan, change nothing
  orchestrator --output json runs list --limit 1     # the newest run as JSON",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["release"],
        examples: "\
  orchestrator release --version 1.2.3 --dry-run     # preflight every repo, print the plan
  orchestrator release --version 1.2.3               # tag, push and wait, in dependency order
  orchestrator release --version 1.2.3 --resume      # finish an interrupted release
  orchestrator release --version 1.2.3 --only truthdb-net,truthdb-cli --concurrency 2",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["run"],
        examples: "\
  orchestrator run platform --dry-run                # the resolved plan and variables, secrets redacted
  orchestrator run platform --profile prod.env       # the apply flow over one more env layer
  orchestrator run platform --only 3,seed-data       # two steps, by number and by name
  orchestrator run platform --delete                 # the delete flow
  orchestrator run platform --resume                 # continue from the first unfinished step",
        exit_codes: "\
Exit codes:
  0  done
  1  a step failed or was interrupted (--resume continues from it)
  2  bad input (unknown pipeline or --only item, malformed env file, missing script, a step that
     does not support the mode): nothing was run",
        notes: RUN_NOTES,
    },
    Page {
        path: &["tasks"],
        examples: "\
  orchestrator tasks run nightly --dry-run           # which tasks would run, and why
  orchestrator tasks run nightly --skip seo.validate",
        exit_codes: "\
Exit codes:
  0  every task succeeded, awaits approval or was skipped
  1  a task failed or was interrupted (the others still ran); --resume continues
  2  bad input (unknown list or task, missing program, a changed list on --resume): nothing
     was run",
        notes: "",
    },
    Page {
        path: &["tasks", "run"],
        examples: "\
  ENABLE_INFRA_SCALE=1 orchestrator tasks run nightly   # gated tasks run when their gate is set
  orchestrator tasks run nightly --skip seo.validate    # skip one task (recorded as skipped)
  orchestrator tasks run nightly --resume               # run only what the last run did not finish",
        exit_codes: "\
Exit codes:
  0  every task succeeded, awaits approval or was skipped
  1  a task failed or was interrupted (the others still ran); --resume continues
  2  bad input (unknown list or task, missing program, a changed list on --resume): nothing
     was run",
        notes: TASKS_NOTES,
    },
    Page {
        path: &["demo"],
        examples: "\
  orchestrator demo                                  # in a temp dir, removed afterwards
  orchestrator demo --dir /tmp/rehearsal             # keep the sandbox to look around
  orchestrator demo --version 2.0.0-rc.1",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["runs"],
        examples: "\
  orchestrator runs                                  # the newest 20 runs
  orchestrator runs list --limit 5
  orchestrator runs show 42                          # one run's journal and task records
  orchestrator --output json runs list --limit 1",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["runs", "list"],
        examples: "\
  orchestrator runs list --limit 5
  orchestrator --output json runs list --limit 1",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["runs", "show"],
        examples: "\
  orchestrator runs show 42
  orchestrator --output json runs show 42 | jq '.journal[-1]'",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["config"],
        examples: "  orchestrator config check",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["config", "check"],
        examples: "\
  orchestrator config check                          # orchestrator.toml here or in a parent
  orchestrator --config ops/orchestrator.toml config check",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["publish"],
        examples: "\
  orchestrator publish --bump auto --dry-run         # versions from conventional commits, the plan
  orchestrator publish --bump minor --packages quill-core --with-dependents
  orchestrator publish --bump prerelease --preid rc
  orchestrator publish --resume                      # continue the recorded plan",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["cascade"],
        examples: "\
  orchestrator cascade --from quill-core --dry-run   # what would be rebuilt, in order
  orchestrator cascade --event-file \"$GITHUB_EVENT_PATH\"   # from a repository_dispatch event
  orchestrator cascade --all --nightly               # nightly prerelease tags for every repo
  orchestrator cascade --resume",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["status"],
        examples: "\
  orchestrator status                                # the table; exit 1 on drift
  orchestrator --output json status
  orchestrator status --update-issue acme/ops#1      # keep the table in an issue",
        exit_codes: "\
Exit codes:
  0  every repo is where the coordination manifest expects
  1  drift: some repo's release differs from what the manifest expects (the table says which)
  2  bad input (config, flags, a malformed coordination manifest)
  3  the forge could not be read (unreachable, 5xx, rate limited, a malformed answer): no verdict",
        notes: "",
    },
    Page {
        path: &["graph"],
        examples: "\
  orchestrator graph                                 # Mermaid, for a README or an issue
  orchestrator graph --format dot | dot -Tsvg > graph.svg
  orchestrator graph --format text --from quill-core # what a change to quill-core reaches
  orchestrator graph --run 42                        # coloured by that run's outcomes",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["ci-snippet"],
        examples: "\
  orchestrator ci-snippet quill-core --orchestrator-repo acme/ops
  orchestrator ci-snippet quill-core --orchestrator-repo acme/ops --needs test,clippy",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["mock-forge"],
        examples: "\
  orchestrator mock-forge --origins ./origins &      # prints: listening on http://127.0.0.1:PORT
  orchestrator mock-forge --listen 127.0.0.1:8787 --fault-rate 0.1 --seed 7
  orchestrator mock-forge --users users.toml --require-token",
        exit_codes: "\
Exit codes:
  0  stopped by Ctrl-C or SIGTERM
  2  bad input (config, flags, a users file): nothing was served",
        notes: "",
    },
    Page {
        path: &["scale"],
        examples: "\
  orchestrator scale plan --cluster file:cluster.yaml --out plan --target prod \\
      --namespace shop --workload Deployment:web:6
  orchestrator scale propose --plan plan/prod --repo acme/infra
  orchestrator scale apply --plan plan/plan.yaml --cluster file:cluster.yaml   # preview only
  orchestrator scale ci-workflows --orchestrator-sha256 \"$SHA256\" \\
      --dir .github/workflows",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["scale", "plan"],
        examples: "\
  orchestrator scale plan --cluster file:cluster.yaml --out plan --target prod \\
      --namespace shop --workload Deployment:web:6 --workload Deployment:worker:3
  orchestrator scale plan --kube-context production --out plan --target prod \\
      --namespace shop --workload Deployment:web:6 --hpa min:4,max:12,cpu:65",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["scale", "propose"],
        examples: "\
  orchestrator scale propose --plan plan/prod --repo acme/infra   # branch, commit, draft PR, checklist",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["scale", "apply"],
        examples: "\
  orchestrator scale apply --plan plan/plan.yaml --cluster file:cluster.yaml   # preview only
  orchestrator scale apply --plan plan/plan.yaml --execute --pr 17",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["scale", "rollback"],
        examples: "\
  orchestrator scale rollback --plan plan/plan.yaml --cluster file:cluster.yaml   # preview only
  orchestrator scale rollback --plan plan/plan.yaml --execute --pr 17",
        exit_codes: ACTING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["scale", "ci-workflows"],
        examples: "\
  orchestrator scale ci-workflows --orchestrator-sha256 \"$SHA256\"   # print the workflow
  orchestrator scale ci-workflows --orchestrator-version 0.1.0 --orchestrator-sha256 \"$SHA256\" \\
      --dir .github/workflows",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["pr-command"],
        examples: "\
  orchestrator pr-command --event-file \"$GITHUB_EVENT_PATH\" --kube-context production
  orchestrator pr-command --event-file event.json --cluster file:cluster.yaml --policy-from base",
        exit_codes: "\
Exit codes:
  0  the command was carried out, answered, or was not a plan command
  1  the apply or rollback failed (the PR comment and the journal say where)
  2  refused: bad event, unqualified or unverifiable approval, a lock, drift: nothing was changed",
        notes: "",
    },
    Page {
        path: &["serve"],
        examples: "\
  ORCHESTRATOR_WEBHOOK_SECRET=... orchestrator serve --listen 0.0.0.0:8080
  orchestrator serve --listen 127.0.0.1:8080 --workers 2   # [serve] nightly = \"0 2 * * *\" schedules
  orchestrator serve --listen 0.0.0.0:8080 --queue /state/serve-queue.db --lease-secs 60",
        exit_codes: "\
Exit codes:
  0  stopped by SIGTERM or Ctrl-C after handing back or journaling the running job
  1  the listener or the queue failed
  2  bad input (config, flags, no ORCHESTRATOR_WEBHOOK_SECRET): nothing was served",
        notes: "\
ORCHESTRATOR_WEBHOOK_SECRET (required) verifies X-Hub-Signature-256 on every delivery;
ORCHESTRATOR_DASHBOARD_TOKEN, when set, guards the dashboard at /.",
    },
    Page {
        path: &["completions"],
        examples: "\
  orchestrator completions bash > /etc/bash_completion.d/orchestrator
  orchestrator completions zsh > \"${fpath[1]}/_orchestrator\"",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
    Page {
        path: &["man"],
        examples: "\
  orchestrator man > orchestrator.1                  # the top-level page
  orchestrator man --dir /usr/local/share/man/man1   # one page per command",
        exit_codes: READING_EXIT_CODES,
        notes: "",
    },
];

/// The after-help text of one page.
fn render(page: &Page) -> String {
    let mut text = String::new();
    if !page.notes.is_empty() {
        text.push_str(page.notes);
        text.push_str("\n\n");
    }
    text.push_str("Examples:\n");
    // A `"\` string continuation eats the first line's indent: put it back.
    if !page.examples.starts_with(' ') {
        text.push_str("  ");
    }
    text.push_str(page.examples);
    text.push_str("\n\n");
    text.push_str(page.exit_codes);
    text.push_str("\n\n");
    text.push_str(ENVIRONMENT);
    text
}

/// Attaches every page to its command: the clap command `orchestrator` parses and documents with.
pub(crate) fn decorate(mut command: Command) -> Command {
    for page in PAGES {
        command = attach(command, page.path, render(page));
    }
    command
}

fn attach(command: Command, path: &[&str], text: String) -> Command {
    match path.split_first() {
        None => command.after_help(text),
        Some((first, rest)) => {
            // A page for a command that does not exist is a bug in this table.
            assert!(
                command.find_subcommand(first).is_some(),
                "help page for an unknown command: {first}"
            );
            let rest = rest.to_vec();
            command.mut_subcommand(*first, move |sub| attach(sub, &rest, text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command, nested ones included, shows examples and its exit codes in `--help`.
    #[test]
    fn every_command_has_examples_and_exit_codes() {
        let mut command = decorate(crate::args::Cli::command());
        command.build();
        let mut missing = Vec::new();
        visit(&command, &mut Vec::new(), &mut missing);
        assert!(
            missing.is_empty(),
            "commands without examples or exit codes: {missing:?}"
        );
    }

    fn visit(command: &Command, path: &mut Vec<String>, missing: &mut Vec<String>) {
        let help = command
            .get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !(help.contains("Examples:\n  ") && help.contains("Exit codes:\n  0")) {
            missing.push(format!("orchestrator {}", path.join(" ")));
        }
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            visit(sub, path, missing);
            path.pop();
        }
    }

    /// Every example line runs the command its page documents, so a renamed command or flag
    /// cannot leave a stale example behind: each parses with the real argument parser.
    #[test]
    fn every_example_parses() {
        for page in PAGES {
            // A line ending in a backslash continues on the next, as in sh.
            let joined = page.examples.replace("\\\n", " ");
            for line in joined.lines() {
                let Some(args) = example_args(line) else {
                    continue;
                };
                let command = decorate(crate::args::Cli::command());
                if let Err(e) = command.try_get_matches_from(&args) {
                    panic!("example `{}` does not parse: {e}", line.trim());
                }
            }
        }
    }

    /// `--bump` lists its values, so completions offer them.
    #[test]
    fn bump_lists_its_values() {
        let command = crate::args::Cli::command();
        let publish = command.find_subcommand("publish").expect("publish");
        let bump = publish
            .get_arguments()
            .find(|a| a.get_id() == "bump")
            .expect("--bump");
        let values: Vec<String> = bump
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(values, ["major", "minor", "patch", "prerelease", "auto"]);
    }

    /// The arguments of an example line: from `orchestrator` up to a comment, pipe or redirection.
    fn example_args(line: &str) -> Option<Vec<String>> {
        let start = line.find("orchestrator ")?;
        let mut args = Vec::new();
        for word in line[start..].split_whitespace() {
            if matches!(word, "#" | "|" | ">" | "&" | "\\") {
                break;
            }
            args.push(word.trim_matches('"').to_string());
        }
        Some(args)
    }
}
