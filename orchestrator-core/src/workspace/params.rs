//! Typed, versioned run parameters: what a run records about its request, and what `--resume`
//! reads back.
//!
//! A run's parameters outlive the binary that wrote them: a release interrupted today is resumed
//! by next week's build. Each workflow's parameters are a serde struct with a format version; the
//! journal stores them as `{"version": N, "params": {...}}`. Reading refuses a version this build
//! does not know with one clear line (rather than misreading a newer layout), and reads the
//! unversioned layout of earlier builds as version 0, so runs interrupted before the upgrade
//! still resume.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::state::RunSummary;

/// A workflow's recorded parameters.
pub trait RunParams: Serialize + DeserializeOwned {
    /// The run kind they belong to (`release`, `run`, `tasks`, `scale-apply`...).
    const KIND: &'static str;
    /// The layout version this build writes and reads. Raise it when a field changes meaning;
    /// older runs then need a conversion in [`decode`]'s caller.
    const VERSION: u32;
}

/// The journal's JSON for `params`: `{"version": P::VERSION, "params": params}`.
pub fn encode<P: RunParams>(params: &P) -> Result<serde_json::Value> {
    let inner = serde_json::to_value(params)
        .map_err(|e| Error::state(format!("recording the {} run's parameters: {e}", P::KIND)))?;
    Ok(serde_json::json!({ "version": P::VERSION, "params": inner }))
}

/// The parameters `run` recorded. A version above [`RunParams::VERSION`] is an error naming the
/// run and both versions; an unversioned record (written before versions existed) is read as it
/// stands.
pub fn decode<P: RunParams>(run: &RunSummary) -> Result<P> {
    let (version, inner) = match (
        run.params
            .get("version")
            .and_then(serde_json::Value::as_u64),
        run.params.get("params"),
    ) {
        (Some(version), Some(inner)) => (version, inner.clone()),
        // The layout before versions: the parameters themselves (a release's `version` there is
        // the release's, a string, so it never reads as a format version).
        _ => (0, run.params.clone()),
    };
    if version > u64::from(P::VERSION) {
        return Err(Error::state(format!(
            "run {} ({}) recorded its parameters in format version {version}; this orchestrator \
             reads up to version {}: resume it with the release that started it",
            run.id,
            P::KIND,
            P::VERSION
        )));
    }
    serde_json::from_value(inner).map_err(|e| {
        Error::state(format!(
            "run {} ({}) recorded parameters this orchestrator cannot read: {e}",
            run.id,
            P::KIND
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RunStatus;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        list: String,
        #[serde(default)]
        tasks: Vec<String>,
    }

    impl RunParams for Sample {
        const KIND: &'static str = "sample";
        const VERSION: u32 = 1;
    }

    fn run(params: serde_json::Value) -> RunSummary {
        RunSummary {
            id: 7,
            kind: "sample".into(),
            key: "k".into(),
            status: RunStatus::Failed,
            params,
            started_at_ms: 0,
            finished_at_ms: None,
        }
    }

    #[test]
    fn parameters_round_trip_with_their_version() {
        let sample = Sample {
            list: "nightly".into(),
            tasks: vec!["a".into()],
        };
        let json = encode(&sample).expect("encode");
        assert_eq!(json["version"], 1);
        assert_eq!(decode::<Sample>(&run(json)).expect("decode"), sample);
    }

    #[test]
    fn an_unknown_version_is_a_clear_error() {
        let json = serde_json::json!({ "version": 9, "params": { "list": "x" } });
        let message = decode::<Sample>(&run(json))
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("run 7 (sample)") && message.contains("format version 9"),
            "{message}"
        );
        assert!(message.contains("up to version 1"), "{message}");
    }

    #[test]
    fn the_layout_before_versions_still_reads() {
        let json = serde_json::json!({ "list": "nightly", "tasks": ["a", "b"] });
        let sample = decode::<Sample>(&run(json)).expect("legacy");
        assert_eq!(sample.tasks, ["a", "b"]);
    }
}
