//! Replays every saved fuzzing input (fuzz/corpus/<target>/*) through its target as an
//! ordinary test: a crash found once by `cargo fuzz` stays fixed.

use orderflow::testing::fuzzing::{TARGETS, run};

#[test]
fn every_corpus_file_runs_through_its_target_without_panicking() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            run(target, &data);
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len(), "only {replayed} corpus files found under {}", root.display());
}

#[test]
fn hostile_inputs_do_not_panic_any_target() {
    let inputs: [&[u8]; 8] = [
        b"",
        b"{}",
        b"null",
        b"[{\"v\":1,\"seq\":1}]",
        b"{\"order_number\":\"ZZZZ-ZZZZ-ZZX\",\"txn_id\":\"\",\"amount_minor\":-9223372036854775808,\"currency\":\"XXX\",\"status\":\"succeeded\"}",
        b"\xff\xfe\x00garbage",
        &[b'['; 4096],
        b"{\"customer\":\"a\",\"lines\":[{\"sku\":\"S\",\"product_name\":\"P\",\"quantity\":9223372036854775807,\"unit_price\":{\"minor\":9223372036854775807,\"currency\":\"CNY\"}}],\"shipping_address\":{},\"payment\":{\"kind\":\"cash_on_delivery\"},\"shipping_fee\":{\"minor\":-1,\"currency\":\"USD\"},\"discount\":{\"minor\":0,\"currency\":\"CNY\"}}",
    ];
    for target in TARGETS {
        for input in inputs {
            run(target, input);
        }
    }
}
