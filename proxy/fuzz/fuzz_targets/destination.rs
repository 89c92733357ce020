//! The destination parser (CONNECT authorities, SOCKS5 domain names, every numeric IPv4 form)
//! on arbitrary text: parse → format → parse round trips (see `proxy::fuzzing::destination`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proxy::fuzzing::destination(data));
