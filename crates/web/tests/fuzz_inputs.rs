//! Replays the stored corpus of the `api_bodies` fuzz target (`fuzz/`, see
//! docs/fuzzing.md): each input is parsed, as the API's `Json` extractor
//! parses bodies, into every request body type the route table accepts.
//! None may panic; a refusal is 400 (syntax) or 422 (values); a body that
//! parses serialises and parses again.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use watchpost_web::ApiError;
use watchpost_web::extract::parse_json;
use watchpost_web::types::{
    AssignRequest, CloseRequest, DismissRequest, ImpactBody, IncidentUpdateRequest, LinkRequest,
    MergeRequest, NewNoteRequest, NewReportRequest, NewSuppressionRequest, NewTaskRequest,
    NewUserRequest, StatusChangeRequest, TaskUpdateRequest,
};

/// Parses `data` as a `T` as the fuzz target does; returns whether it parsed.
fn body<T: DeserializeOwned + Serialize>(path: &Path, data: &[u8]) -> bool {
    match parse_json::<T>(data) {
        Ok(value) => {
            let again = serde_json::to_vec(&value).expect("a parsed body serialises");
            if let Err(error) = parse_json::<T>(&again) {
                panic!("{}: parsed, but not again: {error}", path.display());
            }
            true
        }
        Err(ApiError::InvalidJson(message) | ApiError::Unprocessable(message)) => {
            assert!(!message.is_empty(), "{}", path.display());
            false
        }
        Err(other) => panic!("{}: neither 400 nor 422: {other:?}", path.display()),
    }
}

#[test]
fn stored_api_body_fuzz_inputs_parse_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/api_bodies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    let mut accepted = 0;
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let parsed = [
            body::<NewReportRequest>(path, &data),
            body::<IncidentUpdateRequest>(path, &data),
            body::<StatusChangeRequest>(path, &data),
            body::<AssignRequest>(path, &data),
            body::<NewNoteRequest>(path, &data),
            body::<NewTaskRequest>(path, &data),
            body::<TaskUpdateRequest>(path, &data),
            body::<LinkRequest>(path, &data),
            body::<MergeRequest>(path, &data),
            body::<ImpactBody>(path, &data),
            body::<CloseRequest>(path, &data),
            body::<DismissRequest>(path, &data),
            body::<NewSuppressionRequest>(path, &data),
            body::<NewUserRequest>(path, &data),
        ];
        accepted += parsed.iter().filter(|p| **p).count();
    }
    // The hand-written seeds are valid bodies of their types.
    assert!(accepted >= 10, "only {accepted} bodies parsed");
}
