fn main() {
    use confiaro_protocol::keys::*;
    let s = SwapSecrets::derive(
        &WalletSeed([1; 64]),
        &confiaro_protocol::SwapId([2; 32]),
        confiaro_protocol::Role::Alice,
    );
    let t = std::time::Instant::now();
    let share = s.public_share();
    println!("prove {:?}", t.elapsed());
    let t = std::time::Instant::now();
    share.verify().unwrap();
    println!("verify {:?}", t.elapsed());
}
