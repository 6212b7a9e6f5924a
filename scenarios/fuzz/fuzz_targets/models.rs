//! Fuzz the models: whatever the checker accepts, every model runs without
//! panicking (a step a kernel lacks may fail with an error, never a panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(scenario) = scenarios::parse(&text) else {
        return;
    };
    if scenarios::check(&scenario, None).map_or(true, |a| a.steps > 5_000) {
        return;
    }
    for id in scenarios::BackendId::MODELS {
        let _ = scenarios::run_model(&scenario, id);
    }
});
