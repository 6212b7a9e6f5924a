//! Fuzz the trace importer: any bytes, fed whole or in two pieces cut
//! anywhere, import without a panic and to the same result; every VM found
//! rebuilds into a run whose scenario parses back from its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scenarios::import::{ImportLimits, Importer, import};

fuzz_target!(|data: &[u8]| {
    let whole = import(data, ImportLimits::DEFAULT);
    let cut = data.first().map_or(0, |&b| usize::from(b)) % (data.len() + 1);
    let mut importer = Importer::new(ImportLimits::DEFAULT);
    importer.push_bytes(&data[..cut]);
    importer.push_bytes(&data[cut..]);
    let pieces = importer.finish();
    assert_eq!(whole.vms, pieces.vms, "the same VMs whatever the chunks");
    assert_eq!(whole.problems, pieces.problems, "the same problems whatever the chunks");
    for vm in &whole.vms {
        if let Some(run) = whole.run(vm.id, 2_600_000) {
            let again = scenarios::parse(&run.text).expect("a rebuilt scenario parses");
            assert_eq!(again.to_string(), run.text, "its text is canonical");
        }
    }
});
