#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| orderflow::testing::fuzzing::run("engine_kuaidi100_push", data));
