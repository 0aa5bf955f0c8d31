//! Feeds arbitrary bytes to the message decoder: it must never panic, and whatever it accepts
//! must survive an encode/decode round trip unchanged.
#![no_main]

use confiaro_protocol::messages;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = messages::decode(data) {
        let encoded = message.encode();
        let again = messages::decode(&encoded).expect("a re-encoded valid message decodes");
        assert_eq!(again, message, "decode(encode(m)) == m");
    }
});
