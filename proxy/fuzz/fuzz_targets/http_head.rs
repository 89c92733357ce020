//! HTTP/1.x request and response heads as a client or an origin sends them, read the way a
//! connection reads them, then rewritten and re-read (see `proxy::fuzzing::http_head`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proxy::fuzzing::http_head(data));
