//! The proxy username grammar on arbitrary text: parse → format → parse round trips (see
//! `proxy::fuzzing::username`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proxy::fuzzing::username(data));
