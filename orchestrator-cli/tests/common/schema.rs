//! Checks a JSON report against its documented schema in `docs/schemas/`: exactly one document,
//! no object holding a key twice, and valid against the schema (which forbids undocumented fields).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// The schema `docs/schemas/NAME`.
pub fn schema(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails when `text` is not exactly one JSON document, when an object in it holds a key twice
/// (serde_json's `Value` would silently keep the last), or when it does not validate.
pub fn check(what: &str, text: &str, schema_file: &str) {
    let mut de = serde_json::Deserializer::from_str(text);
    NoDuplicateKeys
        .deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    de.end()
        .unwrap_or_else(|e| panic!("{what}: more than one JSON document: {e}"));
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let validator = jsonschema::validator_for(&schema(schema_file))
        .unwrap_or_else(|e| panic!("{schema_file} does not compile: {e}"));
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{what} at '{}': {e}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{what} does not match docs/schemas/{schema_file}:\n{}",
        problems.join("\n")
    );
}

/// Walks a JSON document and refuses any object that holds one key twice.
pub struct NoDuplicateKeys;

impl<'de> DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicateKeys)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("the key {key:?} appears twice")));
            }
            map.next_value_seed(NoDuplicateKeys)?;
        }
        Ok(())
    }
}
