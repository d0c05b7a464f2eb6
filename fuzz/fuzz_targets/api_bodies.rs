//! Fuzzes the API's JSON request bodies: the same bytes are parsed, as the
//! API's `Json` extractor parses them (`watchpost_web::extract::parse_json`),
//! into every body type the route table accepts. A body that parses must
//! serialise and parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use watchpost_web::extract::parse_json;
use watchpost_web::types::{
    AssignRequest, CloseRequest, DismissRequest, ImpactBody, IncidentUpdateRequest, LinkRequest,
    MergeRequest, NewNoteRequest, NewReportRequest, NewSuppressionRequest, NewTaskRequest,
    NewUserRequest, StatusChangeRequest, TaskUpdateRequest,
};

/// Parses `data` as a `T`; when it parses, checks the round trip.
fn body<T: DeserializeOwned + Serialize>(data: &[u8]) -> Option<T> {
    match parse_json::<T>(data) {
        Ok(value) => {
            let again = serde_json::to_vec(&value).expect("a parsed body serialises");
            if let Err(error) = parse_json::<T>(&again) {
                panic!("a parsed body does not parse again: {error}");
            }
            Some(value)
        }
        Err(error) => {
            let _ = error.to_string();
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    body::<NewReportRequest>(data);
    body::<IncidentUpdateRequest>(data);
    body::<StatusChangeRequest>(data);
    body::<AssignRequest>(data);
    body::<NewNoteRequest>(data);
    body::<NewTaskRequest>(data);
    body::<TaskUpdateRequest>(data);
    body::<LinkRequest>(data);
    body::<MergeRequest>(data);
    if let Some(impact) = body::<ImpactBody>(data) {
        let _: watchpost_incidents::incident::Impact = impact.into();
    }
    body::<CloseRequest>(data);
    body::<DismissRequest>(data);
    body::<NewSuppressionRequest>(data);
    body::<NewUserRequest>(data);
});
