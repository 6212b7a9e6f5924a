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
    assert_eq!(strip_lines(&again), strip_lines(&scenario), "text round trip");
    let json = serde_json::to_string(&scenario).expect("serialises");
    let back: scenarios::Scenario = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, scenario, "JSON round trip");
    // Small scenarios also run: the models must not panic on anything the checker accepts.
    if scenarios::check(&scenario, None).map(|a| a.steps < 20_000).unwrap_or(false) {
        for id in scenarios::BackendId::MODELS {
            let _ = scenarios::run_model(&scenario, id);
        }
    }
});

fn strip_lines(s: &scenarios::Scenario) -> String {
    // Line numbers shift when the printer re-indents; compare the canonical text.
    s.to_string()
}
