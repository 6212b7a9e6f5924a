//! Fuzz the scenario parser: it must never panic, and whatever it accepts must
//! print back to text that parses to the same scenario, and survive JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(scenario) = scenarios::parse(&text) else {
        return;
    };
    let printed = scenario.to_string();
    let again = scenarios::parse(&printed).expect("printed scenarios parse");
    // Line numbers may move (the printer re-indents); the canonical text may not.
    assert_eq!(again.to_string(), printed, "text round trip");
    let json = serde_json::to_string(&scenario).expect("serialises");
    let back: scenarios::Scenario = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, scenario, "JSON round trip");
});
