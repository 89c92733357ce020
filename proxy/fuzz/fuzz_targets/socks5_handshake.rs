//! The SOCKS5 server handshake (RFC 1928 greeting and request, RFC 1929 username/password) on
//! whatever a client sends, and the client side on whatever an upstream answers (see
//! `proxy::fuzzing::socks5_handshake`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proxy::fuzzing::socks5_handshake(data));
