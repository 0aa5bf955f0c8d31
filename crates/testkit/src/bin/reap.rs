//! `confiaro-testkit-reap`: stops the servers (PostgreSQL, monerod, monero-wallet-rpc,
//! `confiaro` parties) that killed test runs left running, and removes their directories.
//! The test command runs it before the tests; it prints one line per leftover and exits 0.

fn main() {
    let said = confiaro_testkit::leftovers::reap();
    for line in &said {
        println!("leftovers: {line}");
    }
    if said.is_empty() {
        println!("leftovers: none");
    }
}
